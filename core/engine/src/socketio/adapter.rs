//! The adapter trait: what connects a namespace to the same namespace on other nodes. A
//! namespace with an adapter publishes every broadcast it delivers locally (what arrives from
//! other nodes is delivered locally only) and sends its cluster requests (socketio::cluster)
//! through it. Implementations live in `adapters` (Redis), above this layer.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::cluster::request::{ClusterAnswer, ClusterRequest, Collected};
use crate::socketio::packet::Args;
use crate::socketio::recovery::{PeerClaim, PeerReplay, SessionStore};

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
    /// Whether the adapter is currently connected to its backend.
    fn is_connected(&self) -> bool;
    /// Starts carrying `namespace`'s requests (called for every namespace the adapter is set
    /// on, including those created later).
    fn serve(&self, namespace: &str);
    /// Sends `request` to the other nodes without waiting (join, leave, disconnect, server-side
    /// emit without ack). Never blocks.
    fn tell(&self, namespace: &str, request: &ClusterRequest);
    /// Sends `request` to the other nodes and gathers their answers; incomplete when some node
    /// did not answer in time.
    fn ask(
        &self,
        namespace: &str,
        request: ClusterRequest,
    ) -> BoxFuture<'static, Collected<ClusterAnswer>>;
    /// How many nodes serve `namespace`, this one included.
    fn server_count(&self, namespace: &str) -> BoxFuture<'static, usize>;
    /// `room` of `namespace` got its first member on this node or lost its last one
    /// (`private`: it is a socket's own room). Adapters with a channel per room subscribe or
    /// unsubscribe here; the call only queues that work.
    fn room_changed(&self, _namespace: &str, _room: &str, _private: bool) {}
    /// Whether this node's recovery log holds every broadcast to `room` of `namespace` that a
    /// socket in it missed since `since_ms` (the `clock::now_ms` clock). Adapters on which every
    /// node receives everything always do. One that subscribes per room does when its channel
    /// has flowed without a break since then on the node the socket dropped from
    /// (`saved_here`: what it did not receive, the socket would not have got live either), and
    /// on another node when its channel was already flowing then.
    fn saw_room_since(
        &self,
        _namespace: &str,
        _room: &str,
        _private: bool,
        _since_ms: u64,
        _saved_here: bool,
    ) -> bool {
        true
    }
    /// `saw_room_since` for a socket: its own room and every room it is in.
    fn saw_socket_since(
        &self,
        namespace: &str,
        sid: &str,
        rooms: &[Arc<str>],
        since_ms: u64,
        saved_here: bool,
    ) -> bool {
        let saw = |room: &str, private| {
            self.saw_room_since(namespace, room, private, since_ms, saved_here)
        };
        saw(sid, true) && rooms.iter().all(|room| saw(room, false))
    }
    /// Where this node's log may lack what a socket that dropped from another node missed
    /// (see `recovery::peer_replay`): asks that node (`claim.node`) for its half of the
    /// replay. None when the adapter has no such need (every node receives everything) or
    /// that node did not answer in time.
    fn recover_from_peer(
        &self,
        _namespace: &str,
        _claim: PeerClaim,
    ) -> BoxFuture<'static, Option<PeerReplay>> {
        Box::pin(async { None })
    }
    /// Where `namespace` keeps its recoverable sessions so that any node can restore them
    /// (None: on this node).
    fn session_store(&self, namespace: &str) -> Option<Arc<dyn SessionStore>>;
}

/// A shared adapter, as namespaces hold it.
pub type SharedAdapter = Arc<dyn Adapter>;
