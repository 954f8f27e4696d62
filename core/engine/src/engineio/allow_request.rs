//! The handshake hook (Node's `allowRequest`): the host sees every request that would open a
//! new session, before any session state exists, and may accept it, refuse it (HTTP 403 with
//! the Engine.IO error body) or take its time deciding. Requests for an existing session never
//! reach it.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use hyper::HeaderMap;
use parking_lot::RwLock;

use super::handshake::{headers_object, parse_query, query_object};

/// What the hook sees of a handshake request.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: String,
    /// Path and query, as the client sent them.
    pub url: String,
    pub headers: HeaderMap,
    pub remote_addr: SocketAddr,
}

impl IncomingRequest {
    /// The shape every host's hook receives: `{method, url, query, headers, address, port}`
    /// (repeated headers and query keys keep their first value).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "method": self.method,
            "url": self.url,
            "query": query_object(&self.query_pairs()),
            "headers": headers_object(&self.headers),
            "address": self.remote_addr.ip().to_string(),
            "port": self.remote_addr.port(),
        })
        .to_string()
    }

    /// The query parameters, percent-decoded, in request order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(self.url.split_once('?').map_or("", |(_, q)| q))
    }
}

/// A refused handshake. The client gets 403 `{"code":4,"message":…}` with this message, or
/// `Forbidden` when there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRefused {
    pub message: Option<String>,
}

impl RequestRefused {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
        }
    }

    /// A refusal as hosts state it: an empty message means the default `Forbidden`.
    pub fn from_message(message: &str) -> Self {
        Self {
            message: (!message.is_empty()).then(|| message.to_owned()),
        }
    }
}

pub type AllowRequest =
    Arc<dyn Fn(IncomingRequest) -> BoxFuture<'static, Result<(), RequestRefused>> + Send + Sync>;

/// Where the hook lives: shared by the server and its endpoints, so it can be set before or
/// after `start`.
pub(crate) type AllowRequestSlot = Arc<RwLock<Option<AllowRequest>>>;

/// Whether a hook is set (the request it would see is only built then).
pub(crate) fn is_set(slot: &AllowRequestSlot) -> bool {
    slot.read().is_some()
}

/// Runs the hook for a handshake; a hook that panics refuses only that request.
pub(crate) async fn check(
    slot: &AllowRequestSlot,
    request: IncomingRequest,
) -> Result<(), RequestRefused> {
    use futures_util::FutureExt;
    let Some(hook) = slot.read().clone() else {
        return Ok(());
    };
    let decision = std::panic::AssertUnwindSafe(async move { hook(request).await })
        .catch_unwind()
        .await;
    decision.unwrap_or_else(|_| {
        tracing::warn!("allowRequest hook panicked: handshake refused");
        Err(RequestRefused::default())
    })
}

impl RequestRefused {
    /// The Engine.IO error body for this refusal.
    pub(crate) fn body(&self) -> String {
        let message = self.message.as_deref().unwrap_or("Forbidden");
        serde_json::json!({ "code": 4, "message": message }).to_string()
    }
}
