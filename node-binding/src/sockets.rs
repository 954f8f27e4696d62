//! Per-socket reads and writes: a connected socket's handshake and its host data.

use napi_derive::napi;

use crate::error::{js_error, Result};
use crate::NativeServer;

#[napi]
impl NativeServer {
    /// The handshake of a connected socket (socket.io's `socket.handshake` shape) as JSON, or
    /// null when no such socket is connected.
    #[napi]
    pub fn handshake_json(&self, socket_id: String) -> Option<String> {
        let socket = self.server.socket(&socket_id)?;
        Some(socket.handshake().to_json().to_string())
    }

    /// The data attached to a connected socket as JSON (`null` when none), or None when no
    /// such socket is connected.
    #[napi]
    pub fn socket_data_json(&self, socket_id: String) -> Option<String> {
        let socket = self.server.socket(&socket_id)?;
        Some(socket.data_json())
    }

    /// Attaches data (JSON text) to a connected socket; false when no such socket.
    #[napi]
    pub fn set_socket_data(&self, socket_id: String, json: String) -> Result<bool> {
        let Some(socket) = self.server.socket(&socket_id) else {
            return Ok(false);
        };
        socket.set_data_json(&json).map_err(js_error)?;
        Ok(true)
    }
}
