//! The Socket.IO side of one Engine.IO session: decodes packets, reassembles binary packets from
//! their attachments, runs namespace connects (through the async middleware) and routes events
//! and acks to the sockets it owns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use compact_str::CompactString;
use parking_lot::Mutex;
use smallvec::SmallVec;

use super::adapter::SharedAdapter;
use super::dynamic::DynamicNamespaces;
use super::namespace::{Namespace, NamespaceShared};
use super::packet::{
    decode, encode_connect, encode_connect_error, event_name, Args, DecodeLimits, SioType,
};
use super::recovery::{Missed, PeerClaim, PeerReplay, RecoveryStore, SavedSession};
use super::socket::{AckSender, ClientEvent, Socket, SocketRef, SocketStart};
use crate::auth::{AuthPayload, ConnectRequest, ConnectResult, DataSlot, Identity};
use crate::config::RecoveryConfig;
use crate::engineio::endpoint::EngineHandler;
use crate::engineio::session::{CloseReason, Message, Session, SessionHandler};
use crate::stats::Stats;

/// Shared by every client of one server: the namespaces and decoding limits.
pub(crate) struct SocketIoShared {
    pub namespaces: parking_lot::RwLock<std::collections::HashMap<Arc<str>, Namespace>>,
    pub limits: DecodeLimits,
    pub stats: Arc<Stats>,
    recovery: Option<RecoveryConfig>,
    deflate_threshold: Option<usize>,
    pub dynamic: parking_lot::RwLock<Option<DynamicNamespaces>>,
    /// The adapter every namespace gets, those created later included.
    pub adapter: parking_lot::RwLock<Option<SharedAdapter>>,
    next_socket_key: AtomicU64,
}

/// A recovered socket's data: the saved data, with what the middlewares set on a recovery that
/// ran them laid over it (socket.io's middlewares see the recovered `socket.data` and change it).
fn restored_data(
    saved: Option<&serde_json::Value>,
    middleware: Option<&serde_json::Value>,
) -> Option<serde_json::Value> {
    match (saved, middleware) {
        (Some(serde_json::Value::Object(saved)), Some(serde_json::Value::Object(set))) => {
            let mut merged = saved.clone();
            merged.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            Some(serde_json::Value::Object(merged))
        }
        (saved, None) => saved.cloned(),
        (_, Some(set)) => Some(set.clone()),
    }
}

/// What a socket admitted fresh (not recovered) starts with: the id its middleware saw and the
/// data the middleware left.
#[derive(Default)]
struct FreshStart {
    id: Option<CompactString>,
    data: Option<serde_json::Value>,
}

impl SocketIoShared {
    pub fn new(
        limits: DecodeLimits,
        stats: Arc<Stats>,
        recovery: Option<RecoveryConfig>,
        deflate_threshold: Option<usize>,
    ) -> Self {
        Self {
            namespaces: Default::default(),
            limits,
            stats,
            recovery,
            deflate_threshold,
            dynamic: Default::default(),
            adapter: Default::default(),
            next_socket_key: AtomicU64::new(1),
        }
    }

    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        self.namespaces.read().get(name).cloned()
    }

    /// The namespace `name` (with its leading `/`), created on first use; the bool says whether
    /// this call created it.
    pub fn of(&self, name: &str) -> (Namespace, bool) {
        let mut namespaces = self.namespaces.write();
        if let Some(ns) = namespaces.get(name) {
            return (ns.clone(), false);
        }
        let ns = Namespace::new(
            name,
            self.stats.clone(),
            self.recovery,
            self.deflate_threshold,
        );
        if let Some(adapter) = self.adapter.read().clone() {
            ns.set_adapter(Some(adapter));
        }
        namespaces.insert(Arc::from(name), ns.clone());
        (ns, true)
    }
}

/// The handler given to the Socket.IO endpoint.
pub(crate) struct SocketIoHandler(pub Arc<SocketIoShared>);

impl EngineHandler for SocketIoHandler {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        Arc::new_cyclic(|me| Client {
            me: me.clone(),
            session: session.clone(),
            shared: self.0.clone(),
            state: Mutex::new(ClientState::default()),
        })
    }
}

/// A binary packet waiting for its attachments.
struct PartialPacket {
    kind: SioType,
    nsp: String,
    id: Option<u64>,
    data: String,
    expected: usize,
    attachments: Vec<Bytes>,
}

#[derive(Default)]
struct ClientState {
    /// Its sockets, one per namespace joined: nearly always one, kept in place.
    sockets: SmallVec<[SocketRef; 1]>,
    /// Boxed: a binary packet in flight is rare, and every idle client carries this slot.
    partial: Option<Box<PartialPacket>>,
    closed: bool,
}

struct Client {
    /// For the async connect continuation, which must outlive the call that started it.
    me: Weak<Client>,
    session: Arc<Session>,
    shared: Arc<SocketIoShared>,
    state: Mutex<ClientState>,
}

impl SessionHandler for Client {
    fn on_message(&self, message: Message) -> Result<(), String> {
        self.shared
            .stats
            .messages_in
            .fetch_add(1, Ordering::Relaxed);
        let outcome = match message {
            Message::Text(text) => self.on_text(text.as_str()),
            Message::Binary(data) => self.on_binary(data),
        };
        if let Err(violation) = outcome {
            self.violation(&violation);
        }
        Ok(())
    }

    fn on_close(&self, reason: CloseReason) {
        let sockets = {
            let mut state = self.state.lock();
            state.closed = true;
            state.partial = None;
            std::mem::take(&mut state.sockets)
        };
        for socket in sockets {
            socket.finalize(reason.as_str());
        }
    }
}

impl Client {
    /// A Socket.IO protocol violation: socket.io closes the connection cleanly (what is queued
    /// is still written, then the close packet).
    fn violation(&self, what: &str) {
        tracing::debug!(sid = %self.session.id(), what, "socket.io protocol violation: closing");
        self.shared.stats.parse_error();
        self.session.close(CloseReason::ProtocolViolation);
    }

    fn on_text(&self, text: &str) -> Result<(), String> {
        if self.state.lock().partial.is_some() {
            return Err("text packet while awaiting binary attachments".into());
        }
        let packet = decode(text, self.shared.limits).map_err(|e| e.to_string())?;
        if packet.attachments > 0 {
            self.state.lock().partial = Some(Box::new(PartialPacket {
                kind: packet.kind,
                nsp: packet.nsp.to_owned(),
                id: packet.id,
                data: packet.data.unwrap_or_default().to_owned(),
                expected: packet.attachments,
                attachments: Vec::with_capacity(packet.attachments),
            }));
            return Ok(());
        }
        let data = packet.data.unwrap_or_default();
        match packet.kind {
            SioType::Connect => {
                self.connect(packet.nsp, packet.data);
                Ok(())
            }
            SioType::Disconnect => {
                if let Some(socket) = self.remove_socket(packet.nsp) {
                    socket.finalize("client namespace disconnect");
                }
                Ok(())
            }
            kind => self.dispatch(kind, packet.nsp, packet.id, data, Vec::new()),
        }
    }

    fn on_binary(&self, data: Bytes) -> Result<(), String> {
        let complete = {
            let mut state = self.state.lock();
            let Some(partial) = state.partial.as_mut() else {
                return Err("binary data without a binary packet".into());
            };
            partial.attachments.push(data);
            if partial.attachments.len() < partial.expected {
                return Ok(());
            }
            state.partial.take()
        };
        match complete {
            Some(p) => self.dispatch(p.kind, &p.nsp, p.id, &p.data, p.attachments),
            None => Ok(()),
        }
    }

    /// Routes an event or ack to its socket. A packet for a namespace this client has not joined
    /// is a protocol violation, as in socket.io.
    fn dispatch(
        &self,
        kind: SioType,
        nsp: &str,
        id: Option<u64>,
        data: &str,
        attachments: Vec<Bytes>,
    ) -> Result<(), String> {
        let Some(socket) = self.socket(nsp) else {
            return Err(format!("packet for namespace {nsp}, not joined"));
        };
        match kind {
            SioType::Event | SioType::BinaryEvent => {
                let (name, rest) = event_name(data).ok_or("invalid event payload")?;
                let mut args = Args::from_raw(&rest);
                args.set_attachments(attachments);
                let ack = id.map(|id| AckSender::new(socket.clone(), id));
                let event = ClientEvent { name, args, ack };
                if let Err(reason) = socket.admit_packet(&event) {
                    tracing::debug!(sid = socket.id(), event = %event.name, %reason, "packet refused by a middleware");
                    return Ok(());
                }
                if !socket.handles(&event.name) {
                    tracing::trace!(sid = socket.id(), event = %event.name, "no handler for the event");
                    return Ok(());
                }
                if let Some(handler) = &socket.namespace_shared().handlers().event {
                    let started = std::time::Instant::now();
                    handler(&socket, event);
                    self.shared.stats.handler_latency.record(started.elapsed());
                }
                Ok(())
            }
            SioType::Ack | SioType::BinaryAck => {
                let items: Vec<&serde_json::value::RawValue> =
                    serde_json::from_str(data).map_err(|_| "invalid ack payload")?;
                let mut args = Args::from_raw(&items);
                args.set_attachments(attachments);
                if let Some(id) = id {
                    socket.on_ack(id, args);
                }
                Ok(())
            }
            _ => Err("unexpected packet type".into()),
        }
    }

    /// The connected socket for `nsp`. Sockets the server disconnected stay in the list until
    /// the next lookup prunes them (a socket does not know its client).
    fn socket(&self, nsp: &str) -> Option<SocketRef> {
        let mut state = self.state.lock();
        state.sockets.retain(|s| s.is_connected());
        state.sockets.iter().find(|s| s.namespace() == nsp).cloned()
    }

    fn remove_socket(&self, nsp: &str) -> Option<SocketRef> {
        let mut state = self.state.lock();
        let index = state.sockets.iter().position(|s| s.namespace() == nsp)?;
        Some(state.sockets.swap_remove(index))
    }

    /// A namespace connect: unknown namespaces are refused with the connection kept; otherwise
    /// the middleware (if any) decides, asynchronously.
    fn connect(&self, nsp: &str, auth: Option<&str>) {
        let auth = AuthPayload::new(auth);
        match self.shared.namespace(nsp) {
            Some(ns) => self.connect_to(&ns, auth),
            None => self.connect_dynamic(nsp, auth),
        }
    }

    /// A connect to a namespace that does not exist: the host's matcher decides whether it is
    /// created (asynchronously, off the connection's task); otherwise `Invalid namespace`.
    fn connect_dynamic(&self, nsp: &str, auth: AuthPayload) {
        let dynamic = self.shared.dynamic.read().clone();
        let (Some(dynamic), Some(client)) = (dynamic, self.me.upgrade()) else {
            self.session
                .send(encode_connect_error(nsp, "Invalid namespace", None), false);
            return;
        };
        let nsp = nsp.to_owned();
        tokio::spawn(async move {
            if !(dynamic.matcher)(&nsp, &auth).await {
                client
                    .session
                    .send(encode_connect_error(&nsp, "Invalid namespace", None), false);
                return;
            }
            let (ns, created) = client.shared.of(&nsp);
            if created {
                (dynamic.setup)(&ns);
            }
            client.connect_to(&ns, auth);
        });
    }

    fn connect_to(&self, ns: &Namespace, auth: AuthPayload) {
        let nsp = ns.name();
        // socket.io closes the connection here when the first CONNECT completed long before;
        // socket.io-client sends a second one while the first is in flight (`io.socket(nsp)`
        // then `connect()`), which socket.io tolerates. Without a way to tell the two apart here,
        // the second CONNECT is ignored.
        if self.socket(nsp).is_some() {
            tracing::debug!(sid = %self.session.id(), nsp, "connect for a namespace already joined");
            return;
        }
        let middleware = ns.shared.handlers().middleware.clone();
        if middleware.is_none() && ns.shared.recovery.is_none() {
            let auth_text = auth.shared_text();
            let start = FreshStart::default();
            self.finish_connect(&ns.shared, Ok(None), auth_text, start, RecoveryClaim::Off);
            return;
        }
        // Parsed once (on this first read): the recovery claim and the middleware share it.
        let claimed = ns.shared.recovery.as_ref().and_then(|_| {
            Some((
                auth["pid"].as_str()?.to_owned(),
                auth["offset"].as_str()?.to_owned(),
            ))
        });
        let auth_text = auth.shared_text();
        let data = DataSlot::default();
        // As in socket.io, the middleware already sees the id a fresh socket will have.
        let socket_id = middleware.as_ref().map(|_| crate::ids::new_wire_id());
        let request = socket_id.as_ref().map(|id| ConnectRequest {
            socket_id: id.clone(),
            namespace: ns.shared.name.clone(),
            auth,
            data: data.clone(),
            headers: self.session.request().headers(),
            remote_addr: self.session.remote_addr(),
            query: self.session.request().query().to_owned(),
        });
        let Some(client) = self.me.upgrade() else {
            return;
        };
        let ns = ns.shared.clone();
        let skip_middlewares = ns.recovery.as_ref().is_some_and(|r| r.skip_middlewares());
        // The middleware and a recovery claim (which may ask Redis) are awaited off the
        // connection's own task.
        tokio::spawn(async move {
            let mut claimed = claimed;
            if skip_middlewares && claimed.is_some() {
                // Node's order: a session that recovers keeps its identity and data and never
                // meets the middleware again; one that cannot recover connects as new.
                if let RecoveryClaim::Restore(restore) =
                    recovery_claim(&ns, claimed.take(), None).await
                {
                    let identity = restore.saved.identity.clone();
                    if let Some(attached) =
                        client.restore(&ns, identity, auth_text.clone(), *restore, None)
                    {
                        client.connected(&ns, attached);
                        return;
                    }
                }
            }
            let result = match (middleware, request) {
                (Some(middleware), Some(request)) => middleware(request).await,
                _ => Ok(None),
            };
            let claim = match &result {
                Ok(identity) => recovery_claim(&ns, claimed, identity.as_ref().map(Some)).await,
                Err(_) => RecoveryClaim::Off,
            };
            let start = FreshStart {
                id: socket_id,
                data: data.take(),
            };
            client.finish_connect(&ns, result, auth_text, start, claim);
        });
    }

    fn finish_connect(
        &self,
        ns: &Arc<NamespaceShared>,
        result: ConnectResult,
        auth: Arc<str>,
        start: FreshStart,
        claim: RecoveryClaim<'_>,
    ) {
        let identity = match result {
            Ok(identity) => identity,
            Err(error) => {
                self.session.send(
                    encode_connect_error(&ns.name, &error.message, error.data.as_ref()),
                    false,
                );
                return;
            }
        };
        let fresh = |pid| SocketStart {
            id: start.id.clone(),
            data: start.data.clone(),
            ..SocketStart::fresh(pid)
        };
        let attached = match claim {
            RecoveryClaim::Off => self.attach_socket(ns, identity, auth, fresh(None), None),
            RecoveryClaim::Fresh => {
                let start = fresh(Some(crate::ids::new_wire_id()));
                self.attach_socket(ns, identity, auth, start, None)
            }
            RecoveryClaim::Restore(restore) => {
                match self.restore(
                    ns,
                    identity.clone(),
                    auth.clone(),
                    *restore,
                    start.data.as_ref(),
                ) {
                    Some(attached) => attached,
                    None => {
                        let start = fresh(Some(crate::ids::new_wire_id()));
                        self.attach_socket(ns, identity, auth, start, None)
                    }
                }
            }
        };
        self.connected(ns, attached);
    }

    /// The host's connection handler, outside the recovery lock: it may broadcast.
    fn connected(&self, ns: &Arc<NamespaceShared>, attached: Option<SocketRef>) {
        if let (Some(socket), Some(handler)) = (attached, &ns.handlers().connection) {
            handler(&socket);
        }
    }

    /// Restores a saved session when its offset is still in the log: `Some` with the attached
    /// socket (None if the client left meanwhile), or `None` when it is too late to recover.
    /// Under the log's lock: every broadcast is either replayed here or delivered live after the
    /// socket joined its rooms (see recovery.rs).
    fn restore(
        &self,
        ns: &Arc<NamespaceShared>,
        identity: Option<Identity>,
        auth: Arc<str>,
        restore: Restore<'_>,
        middleware_data: Option<&serde_json::Value>,
    ) -> Option<Option<SocketRef>> {
        let Restore {
            store,
            pid,
            offset,
            saved,
            peer,
        } = restore;
        let attach = |missed: Option<Missed>| {
            let Some(missed) = missed else {
                ns.stats.not_recovered.fetch_add(1, Ordering::Relaxed);
                return None;
            };
            ns.stats.recovered.fetch_add(1, Ordering::Relaxed);
            let start = SocketStart {
                id: Some(CompactString::from(&*saved.sid)),
                pid: Some(CompactString::from(pid)),
                recovered: true,
                data: restored_data(saved.data.as_ref(), middleware_data),
            };
            Some(self.attach_socket(ns, identity, auth, start, Some((&saved.rooms, &missed))))
        };
        match peer {
            Some(peer) => store.replay_with_peer(&peer, &saved.sid, &saved.rooms, attach),
            None => {
                let here = store.saved_here(&saved);
                let complete_since = ns.log_is_complete(&saved.sid, &saved.rooms, here);
                store.replay(&offset, &saved.sid, &saved.rooms, complete_since, attach)
            }
        }
    }

    /// Creates the socket, adds it to the namespace, restores rooms and missed packets when
    /// recovering, and sends the connect reply. None when the client closed meanwhile or already
    /// has a socket in this namespace.
    fn attach_socket(
        &self,
        ns: &Arc<NamespaceShared>,
        identity: Option<Identity>,
        auth: Arc<str>,
        start: SocketStart,
        restored: Option<(&[Arc<str>], &Missed)>,
    ) -> Option<SocketRef> {
        let key = self.shared.next_socket_key.fetch_add(1, Ordering::Relaxed);
        let socket = Arc::new(Socket::new(
            key,
            ns.clone(),
            self.session.clone(),
            identity,
            auth,
            start,
        ));
        {
            let mut state = self.state.lock();
            state.sockets.retain(|s| s.is_connected());
            if state.closed || state.sockets.iter().any(|s| s.namespace() == &*ns.name) {
                return None;
            }
            state.sockets.push(socket.clone());
        }
        ns.add_socket(&socket);
        self.session.mark_connected();
        if let Some((rooms, _)) = restored {
            for room in rooms {
                socket.join(room);
            }
        }
        // socket.io's order: the missed packets, then the CONNECT reply (the client buffers
        // events until its namespace is connected, so it sees them after `connect`).
        if let Some((_, missed)) = restored {
            for frames in missed {
                let _ = socket.send(frames, false);
            }
        }
        self.session
            .send(encode_connect(&ns.name, socket.id(), socket.pid()), false);
        Some(socket)
    }
}

/// What a connect asks of connection-state recovery.
enum RecoveryClaim<'a> {
    /// Recovery is off in this namespace.
    Off,
    /// A new session (no claim, or one that cannot be honoured).
    Fresh,
    /// A saved session, to be restored if its offset is still in the log.
    Restore(Box<Restore<'a>>),
}

struct Restore<'a> {
    store: &'a RecoveryStore,
    pid: Box<str>,
    offset: String,
    saved: SavedSession,
    /// The other node's half of the replay, when this node's log may lack some of it.
    peer: Option<PeerReplay>,
}

/// The other node's half of the replay (see `recovery::peer_replay`), when `saved`'s socket
/// dropped from another node and this node's log alone cannot replay from `offset`.
async fn peer_replay(
    ns: &NamespaceShared,
    store: &RecoveryStore,
    saved: &SavedSession,
    offset: &str,
) -> Option<PeerReplay> {
    let adapter = ns.adapter()?;
    let here = store.saved_here(saved);
    if here || store.covers(offset, ns.log_is_complete(&saved.sid, &saved.rooms, here)) {
        return None;
    }
    let claim = PeerClaim {
        node: saved.node.clone(),
        sid: saved.sid.clone(),
        rooms: saved.rooms.clone(),
        offset: offset.to_owned(),
    };
    adapter.recover_from_peer(&ns.name, claim).await
}

/// Reads `{pid, offset}` from the connect payload and takes the saved session. With
/// `identity` (the middleware ran and accepted this connect) a session saved for another user
/// is not handed over; a session logged out in between never gets here.
async fn recovery_claim<'a>(
    ns: &'a NamespaceShared,
    claimed: Option<(String, String)>,
    identity: Option<Option<&Identity>>,
) -> RecoveryClaim<'a> {
    let Some(store) = &ns.recovery else {
        return RecoveryClaim::Off;
    };
    let Some((pid, offset)) = claimed else {
        return RecoveryClaim::Fresh;
    };
    let same_user = |saved: &SavedSession| match identity {
        None => true,
        Some(identity) => {
            saved.identity.as_ref().map(|i| &i.user_id) == identity.map(|i| &i.user_id)
        }
    };
    match store.take_session(&pid).await {
        Some(saved) if same_user(&saved) => RecoveryClaim::Restore(Box::new(Restore {
            peer: peer_replay(ns, store, &saved, &offset).await,
            store,
            pid: Box::from(pid),
            offset,
            saved,
        })),
        _ => {
            ns.stats.not_recovered.fetch_add(1, Ordering::Relaxed);
            RecoveryClaim::Fresh
        }
    }
}
