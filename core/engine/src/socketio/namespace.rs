//! A `Namespace`: its sockets, its room index, its middleware and the host's handlers.

use std::sync::Arc;

use compact_str::CompactString;
use dashmap::DashMap;
use parking_lot::RwLock;

use super::packet::{encode_event, Args};
use super::recovery::{LogCut, LoggedBroadcast, PeerClaim, RecoveryConfig, RecoveryStore};
use super::socket::{AckError, AckReply, ClientEvent, Socket, SocketHome, SocketRef};
use crate::auth::Middleware;
use crate::engineio::deflate::deflatable;
use crate::engineio::packet::OutFrame;
use crate::engineio::session::TransportKind;
use crate::rooms::broadcast::{Audience, BroadcastTarget, LazyFrames};
use crate::rooms::room_index::RoomIndex;
use crate::socketio::adapter::SharedAdapter;
use crate::socketio::cluster::request::ServerSideHandler;
use crate::stats::Stats;

pub type ConnectionHandler = Arc<dyn Fn(&SocketRef) + Send + Sync>;
pub type EventHandler = Arc<dyn Fn(&SocketRef, ClientEvent) + Send + Sync>;
pub type DisconnectHandler = Arc<dyn Fn(&SocketRef, &str) + Send + Sync>;

#[derive(Default, Clone)]
pub(crate) struct Handlers {
    pub middleware: Option<Middleware>,
    pub connection: Option<ConnectionHandler>,
    pub event: Option<EventHandler>,
    pub disconnect: Option<DisconnectHandler>,
    /// Events other servers sent with `server_side_emit`.
    pub server_side: Option<ServerSideHandler>,
}

pub(crate) struct NamespaceShared {
    pub(crate) name: Arc<str>,
    /// By socket id: resolves the implicit room of each socket's own id, and `socket(id)`.
    sockets: DashMap<CompactString, SocketRef>,
    pub(crate) rooms: RoomIndex<u64, SocketRef>,
    /// Handlers are read on every event; they are swapped whole so a read is one lock + one clone.
    handlers: RwLock<Arc<Handlers>>,
    pub(crate) stats: Arc<Stats>,
    /// Carries this namespace's broadcasts to other nodes, when clustered.
    adapter: RwLock<Option<SharedAdapter>>,
    /// The packet log and saved sessions, when connection-state recovery is on.
    pub(crate) recovery: Option<RecoveryStore>,
    /// Text frames of at least this size may go out compressed (permessage-deflate is on).
    deflate_threshold: Option<usize>,
}

/// Everyone this namespace can address: room members, all sockets, each socket's own id.
impl Audience<SocketRef> for NamespaceShared {
    fn index(&self) -> &RoomIndex<u64, SocketRef> {
        &self.rooms
    }

    fn for_each(&self, visit: &mut dyn FnMut(u64, &SocketRef)) {
        for entry in self.sockets.iter() {
            visit(entry.value().key, entry.value());
        }
    }

    fn by_id(&self, id: &str) -> Option<(u64, SocketRef)> {
        // Every socket id has the wire id's length: other room names skip the hash lookup.
        if id.len() != crate::ids::WIRE_ID_LEN {
            return None;
        }
        self.sockets.get(id).map(|s| (s.key, s.value().clone()))
    }
}

impl SocketHome for NamespaceShared {
    fn name(&self) -> &Arc<str> {
        &self.name
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }

    fn rooms(&self) -> &RoomIndex<u64, SocketRef> {
        &self.rooms
    }

    fn recovery(&self) -> Option<&RecoveryStore> {
        self.recovery.as_ref()
    }

    fn broadcast(&self, target: &BroadcastTarget, event: &str, args: &Args) -> usize {
        NamespaceShared::broadcast(self, target, event, args)
    }

    fn encode(&self, event: &str, ack: Option<u64>, args: &Args, plain: bool) -> Vec<OutFrame> {
        NamespaceShared::encode(self, event, ack, args, plain)
    }

    fn remove_socket(&self, socket: &SocketRef) {
        NamespaceShared::remove_socket(self, socket);
    }

    fn notify_disconnect(&self, socket: &SocketRef, reason: &str) {
        NamespaceShared::notify_disconnect(self, socket, reason);
    }

    fn room_changed(&self, room: &str, private: bool) {
        if let Some(adapter) = self.adapter() {
            adapter.room_changed(&self.name, room, private);
        }
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

impl Socket {
    /// The namespace this socket belongs to (its handlers, broadcasts from inside a handler).
    pub(crate) fn namespace_shared(&self) -> Arc<NamespaceShared> {
        match self.home.clone().as_any().downcast::<NamespaceShared>() {
            Ok(shared) => shared,
            // Only namespaces implement `SocketHome` (it is crate-private).
            Err(_) => unreachable!("a socket's home is its namespace"),
        }
    }

    /// The namespace this socket belongs to, for broadcasts from inside a handler.
    pub fn server_namespace(&self) -> Namespace {
        Namespace {
            shared: self.namespace_shared(),
        }
    }
}

impl NamespaceShared {
    pub(crate) fn handlers(&self) -> Arc<Handlers> {
        self.handlers.read().clone()
    }

    /// The frames of an event packet, deflatable where permessage-deflate is on (unless `plain`).
    pub(crate) fn encode(
        &self,
        event: &str,
        ack: Option<u64>,
        args: &Args,
        plain: bool,
    ) -> Vec<OutFrame> {
        let frames = encode_event(&self.name, event, ack, args);
        deflatable(frames, self.deflate_threshold.filter(|_| !plain))
    }

    pub(crate) fn adapter(&self) -> Option<SharedAdapter> {
        self.adapter.read().clone()
    }

    /// A socket's own room is its entry here, not a room-index entry: it appears and goes
    /// with the socket.
    pub(crate) fn add_socket(&self, socket: &SocketRef) {
        self.sockets.insert(socket.inline_id(), socket.clone());
        self.room_changed(socket.id(), true);
    }

    pub(crate) fn remove_socket(&self, socket: &SocketRef) {
        let removed = self
            .sockets
            .remove_if(socket.id(), |_, s| Arc::ptr_eq(s, socket));
        if removed.is_some() {
            self.room_changed(socket.id(), true);
        }
    }

    /// Whether `room` has a member here: an index entry or a socket of that id.
    fn has_member(&self, room: &str) -> bool {
        self.rooms.member_count(room) > 0 || self.by_id(room).is_some()
    }

    pub(crate) fn notify_disconnect(&self, socket: &SocketRef, reason: &str) {
        self.stats
            .disconnects
            .add(crate::stats::disconnect_label(reason), 1);
        if let Some(handler) = &self.handlers().disconnect {
            handler(socket, reason);
        }
    }

    fn publish(&self, target: &BroadcastTarget, event: &str, args: &Args, offset: Option<&str>) {
        if let Some(adapter) = self.adapter() {
            adapter.publish(&self.name, target, event, args, offset);
        }
    }

    /// Whether this node's recovery log holds every broadcast the socket `sid` in `rooms` missed
    /// since a moment (`clock::now_ms`): where rooms reach a node only while it subscribes to
    /// them (dynamic sharded modes), it must have been receiving all of them since then
    /// (`saved_here`: the socket dropped from this node).
    pub(crate) fn log_is_complete<'a>(
        &'a self,
        sid: &'a str,
        rooms: &'a [Arc<str>],
        saved_here: bool,
    ) -> impl Fn(u64) -> bool + 'a {
        let adapter = self.adapter();
        move |since_ms| {
            adapter.as_ref().is_none_or(|adapter| {
                adapter.saw_socket_since(&self.name, sid, rooms, since_ms, saved_here)
            })
        }
    }

    /// A broadcast that starts on this node: delivered here and published to the others.
    pub(crate) fn broadcast(&self, target: &BroadcastTarget, event: &str, args: &Args) -> usize {
        self.deliver_and_log(target, event, args, None, Origin::Cluster)
    }

    /// Delivers to this node's members and, with recovery on, logs under `offset` (or, without
    /// one, an offset of this node's, chosen now, once, so every node logs a broadcast under
    /// the same offset and a client can recover on any of them). A broadcast for the whole
    /// cluster is published to the others under the log's lock: this node publishes its own
    /// broadcasts in the order it logs them (a replay between nodes cuts the log by that
    /// order, see `recovery::peer_replay`).
    fn deliver_and_log(
        &self,
        target: &BroadcastTarget,
        event: &str,
        args: &Args,
        offset: Option<&str>,
        origin: Origin,
    ) -> usize {
        let publish = origin == Origin::Cluster;
        let delivered = match &self.recovery {
            Some(store) if !target.volatile => {
                let own_offset;
                let offset = match offset {
                    Some(offset) => offset,
                    None => {
                        own_offset = store.next_offset();
                        &own_offset
                    }
                };
                let encode = |args: &Args| self.encode(event, None, args, target.plain);
                let local = origin != Origin::Remote;
                store.log_and_deliver(target, args, offset, local, encode, |frames| {
                    if publish {
                        self.publish(target, event, args, Some(offset));
                    }
                    self.deliver(target, &LazyFrames::new(|| frames.to_vec(), &self.stats))
                })
            }
            _ => {
                if publish {
                    self.publish(target, event, args, None);
                }
                self.deliver(
                    target,
                    &LazyFrames::new(|| self.encode(event, None, args, target.plain), &self.stats),
                )
            }
        };
        self.count_out(delivered)
    }

    /// One counter update per broadcast, not one per recipient.
    fn count_out(&self, delivered: usize) -> usize {
        self.stats
            .messages_out
            .fetch_add(delivered as u64, std::sync::atomic::Ordering::Relaxed);
        delivered
    }
}

/// Where a broadcast starts, which decides where it goes and how it is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// On this node, for every node.
    Cluster,
    /// On this node, for its members only (`local`).
    ThisNode,
    /// On another node.
    Remote,
}

/// A handle to a namespace; cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    pub(crate) shared: Arc<NamespaceShared>,
}

impl Namespace {
    pub(crate) fn new(
        name: &str,
        stats: Arc<Stats>,
        recovery: Option<RecoveryConfig>,
        deflate_threshold: Option<usize>,
    ) -> Self {
        Self {
            shared: Arc::new(NamespaceShared {
                name: Arc::from(name),
                sockets: DashMap::new(),
                rooms: RoomIndex::default(),
                handlers: RwLock::new(Arc::default()),
                stats,
                adapter: RwLock::new(None),
                recovery: recovery.map(RecoveryStore::new),
                deflate_threshold,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    fn update(&self, f: impl FnOnce(&mut Handlers)) {
        let mut guard = self.shared.handlers.write();
        let mut handlers = (**guard).clone();
        f(&mut handlers);
        *guard = Arc::new(handlers);
    }

    /// Clusters this namespace: broadcasts are also published through `adapter`, and cluster
    /// requests go through it (`Server::set_adapter` does it for every namespace).
    pub fn set_adapter(&self, adapter: Option<SharedAdapter>) {
        if let Some(adapter) = &adapter {
            adapter.serve(&self.shared.name);
            if let (Some(recovery), Some(store)) = (
                &self.shared.recovery,
                adapter.session_store(&self.shared.name),
            ) {
                recovery.share_sessions(store);
            }
        }
        *self.shared.adapter.write() = adapter;
    }

    /// Whether this namespace is clustered.
    pub fn is_clustered(&self) -> bool {
        self.shared.adapter.read().is_some()
    }

    pub(crate) fn set_server_side_handler(&self, handler: ServerSideHandler) {
        self.update(|h| h.server_side = Some(handler));
    }

    /// Disconnects the members of `rooms` on every node (through the adapter, when clustered);
    /// returns how many were disconnected on this node.
    pub fn disconnect_rooms(&self, rooms: &[Arc<str>], close: bool) -> usize {
        if rooms.is_empty() {
            return 0;
        }
        let mut operator = self.everyone();
        operator.target.rooms = rooms.to_vec();
        let here = operator.sockets().len();
        operator.disconnect_sockets(close);
        here
    }

    /// Delivers a broadcast that came from another node to this node's members, logged under
    /// the origin's recovery offset when it has one.
    pub fn deliver_remote(
        &self,
        target: &BroadcastTarget,
        event: &str,
        args: &Args,
        offset: Option<&str>,
    ) -> usize {
        let delivered = self
            .shared
            .deliver_and_log(target, event, args, offset, Origin::Remote);
        let stats = &self.shared.stats;
        stats
            .cluster_broadcasts_in
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if delivered == 0 {
            stats
                .cluster_broadcasts_unmatched
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        delivered
    }

    /// Whether connection-state recovery is on in this namespace.
    pub fn has_recovery(&self) -> bool {
        self.shared.recovery.is_some()
    }

    /// How long a dropped socket may come back and recover (None: recovery is off).
    pub fn recovery_window(&self) -> Option<std::time::Duration> {
        self.shared.recovery.as_ref().map(|r| r.window())
    }

    /// This node's recovery id in this namespace (None: recovery is off).
    pub(crate) fn recovery_node(&self) -> Option<&str> {
        self.shared.recovery.as_ref().map(|r| r.node())
    }

    /// Runs `f` with the recovery log's next position, no broadcast of this node being logged
    /// or published meanwhile (None: recovery is off).
    pub(crate) fn at_log_position<R>(&self, f: impl FnOnce(u64) -> R) -> Option<R> {
        self.shared.recovery.as_ref().map(|r| r.at_position(f))
    }

    /// The half of a replay this node sends the node a socket that dropped from here came back
    /// to (see `recovery::peer_replay`); None when this node's log cannot give it.
    pub(crate) fn missed_before(
        &self,
        claim: &PeerClaim,
        cut: &LogCut,
    ) -> Option<Vec<LoggedBroadcast>> {
        let store = self.shared.recovery.as_ref()?;
        let complete_since = self.shared.log_is_complete(&claim.sid, &claim.rooms, true);
        store.missed_before(claim, complete_since, cut)
    }

    /// Sets the connect middleware; it runs for every connect to this namespace.
    pub fn set_middleware(&self, middleware: Middleware) {
        self.update(|h| h.middleware = Some(middleware));
    }

    pub fn on_connection(&self, handler: impl Fn(&SocketRef) + Send + Sync + 'static) {
        self.update(|h| h.connection = Some(Arc::new(handler)));
    }

    /// Receives every client event. Handlers run on the connection's task: they must not block
    /// (spawn for async work).
    pub fn on_event(&self, handler: impl Fn(&SocketRef, ClientEvent) + Send + Sync + 'static) {
        self.update(|h| h.event = Some(Arc::new(handler)));
    }

    pub fn on_disconnect(&self, handler: impl Fn(&SocketRef, &str) + Send + Sync + 'static) {
        self.update(|h| h.disconnect = Some(Arc::new(handler)));
    }

    /// Starts a broadcast to every socket of the namespace (narrow it with `to`/`except`).
    pub fn everyone(&self) -> Broadcast<'_> {
        Broadcast {
            ns: &self.shared,
            target: BroadcastTarget::default(),
            local: false,
        }
    }

    /// Starts a broadcast to `room`.
    pub fn to(&self, room: &str) -> Broadcast<'_> {
        self.everyone().to(room)
    }

    /// Starts a broadcast that excludes the members of `room`.
    pub fn except(&self, room: &str) -> Broadcast<'_> {
        self.everyone().except(room)
    }

    /// Emits to the members of one room: the hot path of host broadcasts, with no target to
    /// build and nothing encoded when the room is empty.
    pub fn emit_to_room(&self, room: &str, event: &str, args: &Args) -> usize {
        if self.is_clustered() || self.shared.recovery.is_some() {
            let target = BroadcastTarget {
                rooms: vec![Arc::from(room)],
                ..BroadcastTarget::default()
            };
            return self.shared.broadcast(&target, event, args);
        }
        let frames = LazyFrames::new(
            || self.shared.encode(event, None, args, false),
            &self.shared.stats,
        );
        let delivered = self.shared.deliver_to_room(room, false, &frames);
        self.shared.count_out(delivered)
    }

    /// Emits to every socket of the namespace; returns how many queued it.
    pub fn emit(&self, event: &str, args: &Args) -> usize {
        self.shared
            .broadcast(&BroadcastTarget::default(), event, args)
    }

    pub fn socket(&self, id: &str) -> Option<SocketRef> {
        self.shared.sockets.get(id).map(|s| s.value().clone())
    }

    /// An emit to socket `id`, connected now or not: a live socket sends it; with recovery on
    /// (and not volatile) it is logged under the socket's own room either way, so a client that
    /// is away gets it when it recovers, as socket.io stores such an emit. Returns whether a
    /// live socket took it.
    pub fn emit_to_socket_id(
        &self,
        id: &str,
        event: &str,
        args: &Args,
        options: crate::socketio::socket::EmitOptions,
    ) -> bool {
        if let Some(socket) = self.socket(id) {
            return socket.emit_with(event, args, options).is_ok();
        }
        if self.shared.recovery.is_some() && !options.volatile {
            let target = BroadcastTarget {
                rooms: vec![Arc::from(id)],
                plain: !options.compress,
                ..Default::default()
            };
            self.shared.broadcast(&target, event, args);
        }
        false
    }

    /// Connected sockets by transport: `(polling, websocket)`.
    pub fn socket_counts_by_transport(&self) -> (usize, usize) {
        let (mut polling, mut websocket) = (0, 0);
        for socket in self.shared.sockets.iter() {
            match socket.transport() {
                TransportKind::Polling => polling += 1,
                TransportKind::WebSocket => websocket += 1,
            }
        }
        (polling, websocket)
    }

    pub fn sockets(&self) -> Vec<SocketRef> {
        self.shared
            .sockets
            .iter()
            .map(|e| e.value().clone())
            .collect()
    }

    pub fn socket_count(&self) -> usize {
        self.shared.sockets.len()
    }

    /// Whether an emit to `room` would reach anyone or anything: a member on this node,
    /// other nodes (clustered) or the recovery log.
    pub fn would_deliver_to_room(&self, room: &str) -> bool {
        self.is_clustered() || self.shared.recovery.is_some() || self.shared.has_member(room)
    }

    /// Whether `room` has a member on this node (a socket's own room included).
    pub fn has_local_member(&self, room: &str) -> bool {
        self.shared.has_member(room)
    }

    pub fn room_size(&self, room: &str) -> usize {
        self.shared.rooms.member_count(room)
    }

    pub fn room_count(&self) -> usize {
        self.shared.rooms.room_count()
    }

    /// Disconnects every socket of the namespace (they see `io server disconnect`).
    pub fn disconnect_all(&self, close: bool) {
        for socket in self.sockets() {
            socket.disconnect(close);
        }
    }
}

/// A broadcast being built: `ns.to("a").to("b").except("c").volatile().emit(...)`.
pub struct Broadcast<'a> {
    pub(crate) ns: &'a NamespaceShared,
    pub(crate) target: BroadcastTarget,
    /// On this node only (not published, not asked of other nodes).
    pub(crate) local: bool,
}

impl Broadcast<'_> {
    pub fn to(mut self, room: &str) -> Self {
        self.target.rooms.push(Arc::from(room));
        self
    }

    pub fn except(mut self, room: &str) -> Self {
        self.target.except.push(Arc::from(room));
        self
    }

    pub fn volatile(mut self) -> Self {
        self.target.volatile = true;
        self
    }

    /// Sends uncompressed even where permessage-deflate is on (socket.io's `compress(false)`).
    pub fn uncompressed(mut self) -> Self {
        self.target.plain = true;
        self
    }

    /// Encodes once and queues to every recipient (on every node, unless `local`); returns how
    /// many queued it on this node.
    pub fn emit(self, event: &str, args: &Args) -> usize {
        if self.local {
            let origin = Origin::ThisNode;
            return self
                .ns
                .deliver_and_log(&self.target, event, args, None, origin);
        }
        self.ns.broadcast(&self.target, event, args)
    }

    /// The sockets of this node the broadcast addresses (`fetch_sockets` for every node's).
    pub fn sockets(&self) -> Vec<SocketRef> {
        self.ns.recipients(&self.target)
    }

    /// Acks from many on this node: emits to every addressed socket here with its own ack id
    /// (ack ids differ, so each gets its own frame) and waits at most `timeout` for all of them;
    /// one result per socket, in no particular order. `collect_acks` covers every node.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: &Args,
        timeout: std::time::Duration,
    ) -> Vec<(SocketRef, Result<AckReply, AckError>)> {
        let asks = self.sockets().into_iter().map(|socket| async move {
            let reply = socket.emit_with_ack(event, args, timeout).await;
            (socket, reply)
        });
        futures_util::future::join_all(asks).await
    }
}
