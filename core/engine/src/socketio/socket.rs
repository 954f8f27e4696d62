//! A `Socket`: one client connected to one namespace. It sends through its Engine.IO session's
//! queue, tracks the rooms it joined (to leave them all on disconnect) and its pending acks.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use compact_str::CompactString;
use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::packet::{encode_ack, encode_disconnect, Args};
use super::recovery::{is_recoverable, RecoveryStore};
use crate::auth::Identity;
use crate::engineio::delivery_timer::DeliveryTimer;
use crate::engineio::handshake::{headers_object, query_object};
use crate::engineio::outbound::PushOutcome;
use crate::engineio::packet::OutFrame;
use crate::engineio::session::{CloseReason, Session, TransportKind};
use crate::rooms::broadcast::{BroadcastTarget, Recipient};
use crate::rooms::room_index::{RoomChange, RoomIndex};
use crate::stats::Stats;

pub type SocketRef = Arc<Socket>;

/// A per-packet middleware (socket.io's `socket.use`): sees every client event of its socket
/// before the handler; an `Err` drops the event (its reason is logged).
pub type PacketMiddleware =
    Arc<dyn Fn(&SocketRef, &ClientEvent) -> Result<(), String> + Send + Sync>;

/// What a socket needs of the namespace that holds it. The namespace implements it
/// (namespace.rs); a socket reaches its namespace only through it, so the socket does not
/// depend on the registry that holds sockets.
pub(crate) trait SocketHome: Send + Sync {
    fn name(&self) -> &Arc<str>;
    fn stats(&self) -> &Stats;
    fn rooms(&self) -> &RoomIndex<u64, SocketRef>;
    fn recovery(&self) -> Option<&RecoveryStore>;
    /// A broadcast through the namespace (the socket's own room, under recovery).
    fn broadcast(&self, target: &BroadcastTarget, event: &str, args: &Args) -> usize;
    /// The frames of an event packet (deflatable where permessage-deflate is on, unless `plain`).
    fn encode(&self, event: &str, ack: Option<u64>, args: &Args, plain: bool) -> Vec<OutFrame>;
    fn remove_socket(&self, socket: &SocketRef);
    /// `room` got its first local member or lost its last one (`private`: it is a socket's
    /// own room).
    fn room_changed(&self, room: &str, private: bool);
    fn notify_disconnect(&self, socket: &SocketRef, reason: &str);
    /// The namespace itself (`Socket::server_namespace` in namespace.rs takes it back).
    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
}

/// socket.io's per-emit flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmitOptions {
    /// Dropped rather than queued when the client is behind.
    pub volatile: bool,
    /// May go out compressed where permessage-deflate is on (socket.io's `compress`, default true).
    pub compress: bool,
}

impl Default for EmitOptions {
    fn default() -> Self {
        Self {
            volatile: false,
            compress: true,
        }
    }
}

/// Why an emit did not reach the client's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitError {
    /// The socket is disconnected.
    Closed,
    /// The client's queue was full: a volatile packet was dropped, or the client was disconnected
    /// as a slow consumer.
    QueueFull,
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Closed => "socket is disconnected",
            Self::QueueFull => "client queue is full",
        })
    }
}

impl std::error::Error for EmitError {}

/// Why an emit with ack got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    Timeout,
    Disconnected,
    Emit(EmitError),
}

impl std::fmt::Display for AckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("ack timed out"),
            Self::Disconnected => f.write_str("socket disconnected before the ack"),
            Self::Emit(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AckError {}

/// What a client answered to an emit with ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReply {
    pub args: Args,
}

type PendingAcks = HashMap<u64, oneshot::Sender<AckReply>>;

pub struct Socket {
    pub(crate) key: u64,
    id: CompactString,
    pub(crate) home: Arc<dyn SocketHome>,
    pub(crate) session: Arc<Session>,
    identity: Option<Identity>,
    auth: Arc<str>,
    rooms: Mutex<Vec<Arc<str>>>,
    extras: Mutex<SocketExtras>,
    /// Ack ids wrap at 32 bits: only ids in flight at once must differ.
    next_ack: AtomicU32,
    connected: AtomicBool,
    recovered: bool,
    /// Private session id for connection-state recovery (when enabled).
    pid: Option<CompactString>,
}

/// What only some sockets use, each part allocated on first use: every socket carries one
/// lock and four pointers for them, not four locks and the empty collections.
#[derive(Default)]
struct SocketExtras {
    /// Emits waiting for the client's acknowledgement.
    acks: Option<Box<PendingAcks>>,
    /// What the host attached to this socket (Node's `socket.data`); kept across a recovery.
    data: Option<Box<serde_json::Value>>,
    /// Per-packet middlewares, in the order they were added.
    #[allow(clippy::box_collection)]
    packet_middlewares: Option<Box<Vec<PacketMiddleware>>>,
    /// The client events the host handles, once it said (None: every event reaches it).
    #[allow(clippy::box_collection)]
    handled: Option<Box<HashSet<Box<str>>>>,
}

/// How a socket starts: fresh, or restored from a recovered session.
pub(crate) struct SocketStart {
    pub id: Option<CompactString>,
    pub pid: Option<CompactString>,
    pub recovered: bool,
    pub data: Option<serde_json::Value>,
}

impl SocketStart {
    /// A new socket id; `pid` when recovery is on.
    pub fn fresh(pid: Option<CompactString>) -> Self {
        Self {
            id: None,
            pid,
            recovered: false,
            data: None,
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("namespace", self.home.name())
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(
        key: u64,
        home: Arc<dyn SocketHome>,
        session: Arc<Session>,
        identity: Option<Identity>,
        auth: Arc<str>,
        start: SocketStart,
    ) -> Self {
        Self {
            key,
            id: start.id.unwrap_or_else(crate::ids::new_wire_id),
            pid: start.pid,
            recovered: start.recovered,
            extras: Mutex::new(SocketExtras {
                data: start.data.map(Box::new),
                ..SocketExtras::default()
            }),
            home,
            session,
            identity,
            auth,
            rooms: Mutex::new(Vec::new()),
            next_ack: AtomicU32::new(0),
            connected: AtomicBool::new(true),
        }
    }

    /// The Socket.IO id the client sees as `socket.id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn inline_id(&self) -> CompactString {
        self.id.clone()
    }

    /// What the host attached to this socket, if anything.
    pub fn data(&self) -> Option<serde_json::Value> {
        self.extras.lock().data.as_deref().cloned()
    }

    /// Adds a per-packet middleware (runs after those added before it).
    pub fn use_packet(&self, middleware: PacketMiddleware) {
        self.extras
            .lock()
            .packet_middlewares
            .get_or_insert_with(Default::default)
            .push(middleware);
    }

    /// From now on only client events named in `events` reach the namespace's event handler;
    /// the others are dropped here, as socket.io drops an event nothing listens to (an ack it
    /// asked for is never answered). For hosts across a language boundary, so that events
    /// cross only when something handles them. Per-packet middlewares still see every event.
    pub fn handle_only<'a>(&self, events: impl IntoIterator<Item = &'a str>) {
        let names = events.into_iter().map(Box::from).collect();
        self.extras.lock().handled = Some(Box::new(names));
    }

    /// Adds `event` to those `handle_only` let through (nothing to do when all pass).
    pub fn handle_also(&self, event: &str) {
        if let Some(names) = self.extras.lock().handled.as_mut() {
            names.insert(Box::from(event));
        }
    }

    /// Every client event reaches the handler again (the default).
    pub fn handle_all(&self) {
        self.extras.lock().handled = None;
    }

    /// Whether the client event `name` reaches the namespace's handler.
    pub(crate) fn handles(&self, name: &str) -> bool {
        self.extras
            .lock()
            .handled
            .as_ref()
            .is_none_or(|names| names.contains(name))
    }

    /// Runs the per-packet middlewares on a client event: `Err` with the first refusal.
    pub(crate) fn admit_packet(self: &Arc<Self>, event: &ClientEvent) -> Result<(), String> {
        // Copied out so a middleware may add another; most sockets have none (no copy then).
        let middlewares = {
            let extras = self.extras.lock();
            match extras.packet_middlewares.as_deref() {
                Some(installed) if !installed.is_empty() => installed.clone(),
                _ => return Ok(()),
            }
        };
        middlewares.iter().try_for_each(|m| m(self, event))
    }

    /// Attaches host data to this socket (replacing what was there); a recovered socket gets
    /// it back.
    pub fn set_data(&self, data: serde_json::Value) {
        self.extras.lock().data = Some(Box::new(data));
    }

    /// The data as JSON text (`null` when none), for hosts across a language boundary.
    pub fn data_json(&self) -> String {
        match self.extras.lock().data.as_deref() {
            Some(value) => value.to_string(),
            None => "null".to_owned(),
        }
    }

    /// `set_data` from JSON text; `InvalidJson` when it is not JSON.
    pub fn set_data_json(&self, json: &str) -> crate::error::Result<()> {
        let value = serde_json::from_str(json).map_err(|e| {
            crate::error::Error::new(
                crate::error::ErrorKind::InvalidJson,
                format!("data is not JSON: {e}"),
            )
        })?;
        self.set_data(value);
        Ok(())
    }

    /// The handshake this socket connected with: headers, query, address, time, url, auth.
    pub fn handshake(&self) -> Handshake {
        let request = self.session.request();
        Handshake {
            headers: request.headers(),
            query: request.query_pairs(),
            address: request.remote_addr,
            issued_ms: request.issued_ms,
            url: format!("{}?{}", self.session.context.path, request.query()),
            auth: serde_json::from_str(&self.auth).unwrap_or_else(|_| serde_json::json!({})),
        }
    }

    pub fn namespace(&self) -> &str {
        self.home.name()
    }

    /// True when this socket is a recovered session (its rooms and missed broadcasts restored).
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    pub(crate) fn pid(&self) -> Option<&str> {
        self.pid.as_deref()
    }

    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// The `auth` payload the client connected with, as JSON text.
    pub fn auth_json(&self) -> &str {
        &self.auth
    }

    pub fn remote_addr(&self) -> SocketAddr {
        self.session.remote_addr()
    }

    pub fn transport(&self) -> TransportKind {
        self.session.transport()
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Emits to this client. With connection-state recovery on, the packet goes through the
    /// socket's own room as a broadcast does (as Node routes it): it carries an offset and is
    /// logged, so the client's last offset always names a packet the server can replay from.
    pub fn emit(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        self.emit_with(event, args, EmitOptions::default())
    }

    /// `emit` with socket.io's per-emit flags (`volatile`, `compress`).
    pub fn emit_with(
        &self,
        event: &str,
        args: &Args,
        options: EmitOptions,
    ) -> Result<(), EmitError> {
        let plain = !options.compress;
        if options.volatile || self.home.recovery().is_none() {
            let frames = self.home.encode(event, None, args, plain);
            return self.send(&frames, options.volatile);
        }
        // Sent to the socket's own room even once it left: the log keeps it for a recovery.
        let target = BroadcastTarget {
            rooms: vec![Arc::from(self.id.as_str())],
            plain,
            ..Default::default()
        };
        match self.home.broadcast(&target, event, args) {
            0 if !self.is_connected() => Err(EmitError::Closed),
            0 => Err(EmitError::QueueFull),
            _ => Ok(()),
        }
    }

    /// An emit that is dropped, not queued, when the client is behind.
    pub fn emit_volatile(&self, event: &str, args: &Args) -> Result<(), EmitError> {
        let volatile = EmitOptions {
            volatile: true,
            ..EmitOptions::default()
        };
        self.emit_with(event, args, volatile)
    }

    /// Emits and waits for the client's acknowledgement.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: &Args,
        timeout: Duration,
    ) -> Result<AckReply, AckError> {
        let id = u64::from(self.next_ack.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.extras
            .lock()
            .acks
            .get_or_insert_with(Default::default)
            .insert(id, tx);
        if let Err(error) = self.send(&self.home.encode(event, Some(id), args, false), false) {
            self.take_ack(id);
            return Err(AckError::Emit(error));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                self.take_ack(id);
                Err(AckError::Timeout)
            }
        }
    }

    fn take_ack(&self, id: u64) -> Option<oneshot::Sender<AckReply>> {
        self.extras
            .lock()
            .acks
            .as_mut()
            .and_then(|acks| acks.remove(&id))
    }

    pub(crate) fn send(&self, frames: &[OutFrame], volatile: bool) -> Result<(), EmitError> {
        self.push(frames, volatile, None)?;
        self.home
            .stats()
            .messages_out
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Queues without counting: broadcasts count their deliveries once, not per recipient.
    fn push(
        &self,
        frames: &[OutFrame],
        volatile: bool,
        timer: Option<&Arc<DeliveryTimer>>,
    ) -> Result<(), EmitError> {
        if !self.is_connected() {
            return Err(EmitError::Closed);
        }
        match self.session.send_all(frames, volatile, timer) {
            PushOutcome::Queued => Ok(()),
            PushOutcome::Closed => Err(EmitError::Closed),
            PushOutcome::DroppedVolatile | PushOutcome::Overflow => Err(EmitError::QueueFull),
        }
    }

    /// Joins `room` in this socket's namespace.
    pub fn join(self: &Arc<Self>, room: &str) {
        if !self.is_connected() {
            return;
        }
        let (change, room) = self.home.rooms().join(room, self.key, self.clone());
        if change.changed() {
            self.rooms.lock().push(room.clone());
        }
        self.report_room(&room, change);
    }

    pub fn leave(&self, room: &str) {
        let change = self.home.rooms().leave(room, self.key);
        if change.changed() {
            self.rooms.lock().retain(|r| r.as_ref() != room);
        }
        self.report_room(room, change);
    }

    /// A room that appeared or went away is the adapter's business (per-room channels).
    fn report_room(&self, room: &str, change: RoomChange) {
        if change == RoomChange::Room {
            self.home.room_changed(room, room == &*self.id);
        }
    }

    pub fn in_room(&self, room: &str) -> bool {
        self.home.rooms().contains(room, self.key)
    }

    pub fn rooms(&self) -> Vec<Arc<str>> {
        self.rooms.lock().clone()
    }

    /// Server-side disconnect: the client sees `io server disconnect`. With `close`, the whole
    /// connection (every namespace) is closed after the packet is written.
    pub fn disconnect(self: &Arc<Self>, close: bool) {
        if !self.is_connected() {
            return;
        }
        let _ = self
            .session
            .send(encode_disconnect(self.home.name()), false);
        self.finalize("server namespace disconnect");
        if close {
            self.session.close(CloseReason::ForcedClose);
        }
    }

    /// Shutdown: the host sees "server shutting down"; the client sees `io server disconnect`
    /// when `notify_client`, else only its transport close.
    pub(crate) fn disconnect_for_shutdown(self: &Arc<Self>, notify_client: bool) {
        if self.is_connected() {
            if notify_client {
                let _ = self
                    .session
                    .send(encode_disconnect(self.home.name()), false);
            }
            self.finalize(CloseReason::ServerShutdown.as_str());
        }
    }

    /// An ack from the client for one of our emits.
    pub(crate) fn on_ack(&self, id: u64, args: Args) {
        match self.take_ack(id) {
            Some(tx) => {
                let _ = tx.send(AckReply { args });
            }
            None => tracing::debug!(sid = %self.id, id, "ack for an unknown id ignored"),
        }
    }

    /// Answers a client's emit-with-ack.
    pub(crate) fn send_ack(&self, id: u64, args: &Args) -> Result<(), EmitError> {
        self.send(&encode_ack(self.home.name(), id, args), false)
    }

    /// Tears the socket down exactly once: leaves every room, drops pending acks (their waiters
    /// see `Disconnected`), leaves the namespace and tells the host.
    pub(crate) fn finalize(self: &Arc<Self>, reason: &str) {
        if !self.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        // The room list stays readable during the host's disconnect hook (like Node's
        // `disconnecting`), so hosts can release per-room resources; it is cleared afterwards.
        let rooms = self.rooms.lock().clone();
        for room in &rooms {
            let change = self.home.rooms().leave(room, self.key);
            self.report_room(room, change);
        }
        self.extras.lock().acks.take();
        self.home.remove_socket(self);
        if let (Some(store), Some(pid)) = (self.home.recovery(), &self.pid) {
            if is_recoverable(reason) {
                let saved = store.new_session(
                    Box::from(&*self.id),
                    self.identity.clone(),
                    rooms.clone(),
                    self.data(),
                );
                store.save(pid, saved);
            }
        }
        self.home.notify_disconnect(self, reason);
        self.rooms.lock().clear();
    }
}

impl Recipient for SocketRef {
    fn deliver(&self, frames: &[OutFrame], volatile: bool, timer: &Arc<DeliveryTimer>) -> bool {
        self.push(frames, volatile, Some(timer)).is_ok()
    }
}

/// The handle a host uses to answer a client's emit-with-ack; answering consumes it.
#[derive(Debug)]
pub struct AckSender {
    socket: SocketRef,
    id: u64,
}

impl AckSender {
    pub(crate) fn new(socket: SocketRef, id: u64) -> Self {
        Self { socket, id }
    }

    pub fn send(self, args: &Args) -> Result<(), EmitError> {
        self.socket.send_ack(self.id, args)
    }

    /// The id of the socket that asked for this ack.
    pub fn socket_id(&self) -> &str {
        self.socket.id()
    }
}

/// An event a client emitted.
#[derive(Debug)]
pub struct ClientEvent {
    pub name: String,
    pub args: Args,
    /// Present when the client asked for an acknowledgement.
    pub ack: Option<AckSender>,
}

impl ClientEvent {
    pub fn attachments(&self) -> &[Bytes] {
        self.args.attachments()
    }
}

/// The request a socket connected with, in the shape of socket.io's `socket.handshake`.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub headers: hyper::HeaderMap,
    /// Query parameters, percent-decoded, in request order.
    pub query: Vec<(String, String)>,
    pub address: SocketAddr,
    /// When the Engine.IO handshake arrived, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
    /// Path and query of the handshake request.
    pub url: String,
    /// The `auth` payload of the namespace connect (`{}` when the client sent none).
    pub auth: serde_json::Value,
}

impl Handshake {
    /// As socket.io shows it: `{headers, time, address, xdomain, secure, issued, url, query,
    /// auth}`. Repeated headers and query keys keep their first value, as Node's do not
    /// (it joins headers and lists query values); hosts that need all values read the fields.
    pub fn to_json(&self) -> serde_json::Value {
        let (headers, query) = (headers_object(&self.headers), query_object(&self.query));
        let time = std::time::UNIX_EPOCH + Duration::from_millis(self.issued_ms);
        serde_json::json!({
            "headers": headers,
            "time": humantime::format_rfc3339_millis(time).to_string(),
            "address": self.address.ip().to_string(),
            "xdomain": self.headers.contains_key(hyper::header::ORIGIN),
            "secure": false,
            "issued": self.issued_ms,
            "url": self.url,
            "query": query,
            "auth": self.auth,
        })
    }
}
