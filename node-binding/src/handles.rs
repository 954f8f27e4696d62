//! Servers by handle (the hot paths' free functions skip napi-rs's per-call receiver work) and
//! the payload conversion those paths share: the bottom of the binding, used by emits.rs and
//! fast_emit.rs alike.

use roomcast::{Args, Error, ErrorKind, RealtimeServer};

use crate::error::{js_error, Result};
use crate::REGISTRY;

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

pub(crate) fn args_from(json: &str) -> Result<Args> {
    Args::json(json).map_err(|e| js_error(Error::from(e).context("payload must be JSON text")))
}
