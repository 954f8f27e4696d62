//! Requests the engine refuses with an Engine.IO error (unknown transport or session, bad
//! handshake method, bad request, forbidden origin, unsupported protocol), reported to the host
//! with the request: socket.io's `io.engine.on('connection_error')`.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::HeaderMap;
use parking_lot::RwLock;

use super::error::EngineError;
use super::handshake::headers_object;

#[derive(Debug, Clone)]
pub struct ConnectionError {
    /// Engine.IO's error code (0 unknown transport … 5 unsupported protocol version).
    pub code: u8,
    pub message: &'static str,
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
    pub remote_addr: SocketAddr,
}

impl ConnectionError {
    pub(crate) fn new(error: EngineError, request: RequestFacts) -> Self {
        Self {
            code: error.code(),
            message: error.message(),
            method: request.method,
            url: request.url,
            headers: request.headers,
            remote_addr: request.remote_addr,
        }
    }

    /// For hosts across a language boundary: `{"code","message","req":{"method","url",
    /// "headers"},"address"}` (headers keep their first value).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "code": self.code,
            "message": self.message,
            "req": { "method": self.method, "url": self.url, "headers": headers_object(&self.headers) },
            "address": self.remote_addr.ip().to_string(),
        })
        .to_string()
    }
}

/// What is kept of a request while it is routed, so a refusal can be reported.
pub(crate) struct RequestFacts {
    pub method: String,
    pub url: String,
    pub headers: HeaderMap,
    pub remote_addr: SocketAddr,
}

pub type ConnectionErrorHook = Arc<dyn Fn(&ConnectionError) + Send + Sync>;

/// The hook, shared by the server and its endpoints (set at any time).
pub(crate) type ConnectionErrorSlot = Arc<RwLock<Option<ConnectionErrorHook>>>;
