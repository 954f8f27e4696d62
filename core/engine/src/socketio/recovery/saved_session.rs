//! Saved sessions: what is kept of a socket that dropped (its id, identity, rooms and host
//! data) until it comes back or the window ends, on this node or, clustered, in a shared store.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::auth::{shared_strings, Identity};

/// What is kept of a socket that dropped, to restore it.
#[derive(Debug, Clone)]
pub(crate) struct SavedSession {
    pub sid: Box<str>,
    pub identity: Option<Identity>,
    pub rooms: Vec<Arc<str>>,
    /// The host's `socket.data`.
    pub data: Option<serde_json::Value>,
    /// The node that saved it (its recovery store's id; empty when unknown).
    pub node: Box<str>,
    pub(crate) at_ms: u64,
}

/// Where saved sessions live when clustered, so any node can restore them. The Redis
/// implementation is in `adapters::redis`, above this layer.
pub trait SessionStore: Send + Sync {
    /// Keeps `json` under `pid` for `ttl_ms`. Never waits: the disconnect that saves a session
    /// must not wait on the network, and a later take on this node must still find it.
    fn save(&self, pid: &str, json: String, ttl_ms: u64);
    /// Takes (and removes) the session saved under `pid`; None when absent or unreachable.
    fn take(&self, pid: &str) -> BoxFuture<'static, Option<String>>;
}

impl SavedSession {
    pub(crate) fn to_json(&self) -> String {
        let identity = self.identity.as_ref().map(|i| {
            serde_json::json!({ "userId": &*i.user_id, "userName": &*i.user_name, "userRole": &*i.user_role })
        });
        let rooms: Vec<&str> = self.rooms.iter().map(|r| r.as_ref()).collect();
        serde_json::json!({ "sid": &*self.sid, "identity": identity, "rooms": rooms, "data": self.data, "node": &*self.node })
            .to_string()
    }

    pub(crate) fn from_json(json: &str, now: u64) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let identity = value["identity"].as_object().and_then(|i| {
            Some(Identity {
                user_id: i.get("userId")?.as_str()?.into(),
                user_name: i.get("userName")?.as_str()?.into(),
                user_role: shared_strings::shared(i.get("userRole")?.as_str()?),
            })
        });
        let rooms = value["rooms"]
            .as_array()?
            .iter()
            .filter_map(|r| r.as_str().map(Arc::from))
            .collect();
        let data = Some(value["data"].clone()).filter(|d| !d.is_null());
        Some(Self {
            sid: Box::from(value["sid"].as_str()?),
            identity,
            rooms,
            data,
            node: Box::from(value["node"].as_str().unwrap_or_default()),
            at_ms: now,
        })
    }
}
