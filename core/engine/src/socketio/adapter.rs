//! The adapter trait: what carries a namespace's broadcasts to other nodes. A namespace with an
//! adapter publishes every broadcast it delivers locally; what arrives from other nodes is
//! delivered locally only. Implementations live in `adapters` (Redis), above this layer.

use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::packet::Args;

pub trait Adapter: Send + Sync + 'static {
    /// Sends a broadcast already delivered locally to the other nodes. Never blocks.
    /// `offset` is the broadcast's recovery offset, when connection-state recovery is on.
    fn publish(
        &self,
        namespace: &str,
        target: &BroadcastTarget,
        event: &str,
        args: &Args,
        offset: Option<&str>,
    );
    /// Asks the other nodes to disconnect the members of `rooms`.
    fn publish_disconnect(&self, namespace: &str, rooms: &[std::sync::Arc<str>], close: bool);
    /// Whether the adapter is currently connected to its backend.
    fn is_connected(&self) -> bool;
}
