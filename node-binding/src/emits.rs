//! The hot paths: servers by handle (free functions skip napi-rs's per-call receiver work) and
//! the emits that take a handle; the binary and user emits and `disconnectUser` of the class.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use roomcast::{Args, Error, ErrorKind, RealtimeServer};

use crate::error::{invalid, js_error, Result};
use crate::{NativeServer, REGISTRY};

pub(crate) fn register(server: RealtimeServer) -> u32 {
    let mut registry = REGISTRY.write();
    registry.push(Some(server));
    (registry.len() - 1) as u32
}

pub(crate) fn with_server<T>(
    handle: u32,
    f: impl FnOnce(&RealtimeServer) -> Result<T>,
) -> Result<T> {
    let registry = REGISTRY.read();
    match registry.get(handle as usize) {
        Some(Some(server)) => f(server),
        _ => Err(js_error(Error::new(
            ErrorKind::NotRunning,
            "unknown or shut down server handle",
        ))),
    }
}

/// The payload of the hot-path emits: JSON text made by `JSON.stringify` in the JS layer, so
/// it is taken as is (see `Args::trusted_json`); with `validate` it is checked first (for JSON
/// text that came from elsewhere).
pub(crate) fn payload_args(json: String, validate: bool) -> Result<Args> {
    if validate {
        args_from(&json)
    } else {
        Ok(Args::trusted_json(json))
    }
}

/// Defines the hot single emits on `target` (see fast_emit.rs):
/// `emitToRoom(handle, room, event, json, validate)` and
/// `emitToUser(handle, userId, event, json, validate)`, each returning the number of
/// connections that queued the payload. `validate` false is for `JSON.stringify` output only.
#[napi]
pub fn install_fast_emits(env: Env, target: Object) -> napi::Result<()> {
    crate::fast_emit::install(env.raw(), target.raw())
}

/// Emits one JSON payload to every connection.
#[napi]
pub fn emit_to_all(handle: u32, event: String, json: String, validate: bool) -> Result<u32> {
    let args = payload_args(json, validate)?;
    with_server(
        handle,
        |server| Ok(server.emit_to_all(&event, &args) as u32),
    )
}

/// Many emits in one call. `packed` holds the items separated by `\x1e`, each
/// `room \x1f event \x1f json`: one string crosses the boundary instead of three per item (every
/// string argument costs napi work before any of ours). JSON
/// text never contains raw control characters; the JS layer refuses JSON-text items that do and
/// sends room and event names with separators in them on their own, so the separators are
/// unambiguous. With `validate`, every payload is checked before anything is sent (all or
/// nothing). Returns the deliveries.
#[napi]
pub fn emit_batch(handle: u32, packed: String, validate: bool) -> Result<u32> {
    let mut items = Vec::new();
    for item in packed.split('\x1e') {
        let mut parts = item.splitn(3, '\x1f');
        let (Some(room), Some(event), Some(json)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("malformed batch item"));
        };
        items.push((room, event, payload_args(json.to_owned(), validate)?));
    }
    with_server(handle, |server| {
        let delivered: usize = items
            .iter()
            .map(|(room, event, args)| server.emit_to_room(room, event, args))
            .sum();
        Ok(delivered as u32)
    })
}

pub(crate) fn args_from(json: &str) -> Result<Args> {
    Args::json(json).map_err(|e| js_error(Error::from(e).context("payload must be JSON text")))
}

#[napi]
impl NativeServer {
    /// One binary argument (a Buffer) to a room.
    #[napi]
    pub fn emit_binary_to_room(&self, room: String, event: String, data: Buffer) -> u32 {
        let args = Args::binary(data.to_vec().into());
        self.server.emit_to_room(&room, &event, &args) as u32
    }

    #[napi]
    pub fn emit_binary_to_user(&self, user_id: String, event: String, data: Buffer) -> u32 {
        let args = Args::binary(data.to_vec().into());
        self.server.emit_to_user(&user_id, &event, &args) as u32
    }

    #[napi]
    pub fn disconnect_user(&self, user_id: String, reason: Option<String>) -> u32 {
        self.server.disconnect_user(&user_id, reason.as_deref()) as u32
    }
}
