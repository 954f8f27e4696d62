//! The emits that take a server handle (see handles.rs), and the binary and user emits and
//! `disconnectUser` of the class.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use roomcast::Args;

use crate::error::{invalid, Result};
use crate::handles::{payload_args, with_server};
use crate::NativeServer;

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
