//! `NativeIo`: the engine's `Server` for socket.io's programming model in JavaScript (the JS
//! `Server`, `Namespace` and `Socket` classes in io.js sit on it). Sockets are addressed by
//! namespace and id; client events cross into JavaScript only for namespaces JavaScript
//! handles; everything here converts arguments and calls the engine.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use parking_lot::Mutex;
use roomcast::auth::{AuthPayload, ConnectError, ConnectRequest};
use roomcast::socketio::dynamic::DynamicNamespaces;
use roomcast::{
    AckError, Args, Broadcast, EmitOptions, EngineConfig, Error, ErrorKind, HeldAcks, Namespace,
    Server, SocketRef,
};

use crate::error::{invalid, js_async_error, js_error, Result};
use crate::hooks::{buffers, js_callback, EventParts, JsCallback};
use crate::http::{adopt_websocket_on, bytes_from, handle_http_on, HttpAnswer};
use crate::BoundAddress;

/// socket.io's server options that the engine has (by socket.io's names, converted in io.js).
#[napi(object)]
#[derive(Default)]
pub struct IoOptions {
    pub path: Option<String>,
    pub ping_interval: Option<u32>,
    pub ping_timeout: Option<u32>,
    pub max_http_buffer_size: Option<u32>,
    pub cors_origins: Option<Vec<String>>,
    /// socket.io's `cors`: the CORS headers of HTTP answers.
    pub cors: Option<crate::options::CorsOption>,
    /// socket.io's `serveClient`: the client bundle served under the path.
    pub serve_client: Option<crate::options::ClientBundleOption>,
    pub allow_upgrades: Option<bool>,
    /// socket.io's `transports`: `polling`, `websocket`.
    pub transports: Option<Vec<String>>,
    pub connect_timeout: Option<u32>,
    /// roomcast's WebSocket write coalescing window in ms (0: off).
    pub write_coalesce: Option<u32>,
    /// socket.io's `connectionStateRecovery`; recovery is off without it.
    pub connection_state_recovery: Option<crate::options::RecoveryOption>,
    /// socket.io's `perMessageDeflate`: on when set, with its `threshold`.
    pub per_message_deflate: Option<crate::options::DeflateOption>,
    /// socket.io's `httpCompression`: on when set, with its `threshold`.
    pub http_compression: Option<crate::options::DeflateOption>,
}

/// One notification: `connection`, `event` or `disconnect` of a socket in a namespace, or
/// `serverSideEmit` (an event from another server; no socket).
#[napi(object)]
pub struct IoEvent {
    pub kind: String,
    pub nsp: String,
    pub socket_id: String,
    /// The event name (`event`) or the disconnect reason (`disconnect`).
    pub name: Option<String>,
    /// The event's arguments as a JSON array text.
    pub args: Option<String>,
    pub attachments: Option<Vec<Buffer>>,
    /// Present when the client wants an acknowledgement: answer with `ack(ackId, json)`.
    pub ack_id: Option<i64>,
    /// `connection`: whether the socket was recovered.
    pub recovered: Option<bool>,
    /// `connection` and `disconnect`: the rooms the socket is in (for `disconnecting`).
    pub rooms: Option<Vec<String>>,
    /// `connection`: the data the middlewares attached (JSON), when any.
    pub data: Option<String>,
}

/// Who a broadcast reaches: the union of `rooms` (everyone when empty) minus the members of
/// `except`; `volatile` ones are dropped for clients that are behind.
#[napi(object)]
pub struct IoTarget {
    pub rooms: Vec<String>,
    pub except: Vec<String>,
    pub volatile: bool,
    /// This server only (socket.io's `local` flag): not sent to the other nodes.
    pub local: Option<bool>,
    /// socket.io's `compress(false)`: sent uncompressed where permessage-deflate is on.
    pub compress: Option<bool>,
}

/// socket.io's per-emit flags of a socket emit (absent: neither).
#[napi(object)]
#[derive(Default)]
pub struct IoEmitFlags {
    /// Dropped rather than queued when the client is behind.
    pub volatile: Option<bool>,
    /// False: sent uncompressed where permessage-deflate is on.
    pub compress: Option<bool>,
}

/// What came of an emit with ack: the reply's arguments (JSON array), or `error` (`timeout`,
/// `disconnected`).
#[napi(object)]
pub struct AckOutcome {
    pub args: Option<String>,
    /// Binary values of the reply, referenced by placeholders in `args`.
    pub attachments: Option<Vec<Buffer>>,
    pub error: Option<String>,
}

impl AckOutcome {
    pub(crate) fn replied(args: &Args) -> Self {
        Self {
            args: Some(args.to_json_array()),
            attachments: Some(buffers(args.attachments())),
            error: None,
        }
    }

    fn failed(error: &str) -> Self {
        Self {
            args: None,
            attachments: None,
            error: Some(error.to_owned()),
        }
    }
}

type EventFn = JsCallback<IoEvent, ()>;
type MatcherFn = JsCallback<String, Promise<bool>>;
type MiddlewareFn = JsCallback<String, Promise<Option<String>>>;

/// An emit's arguments from the JSON array text io.js makes of them, with the binary
/// arguments its placeholders stand for.
pub(crate) fn args_array(
    json_array: &str,
    attachments: Option<Vec<Buffer>>,
) -> roomcast::error::Result<Args> {
    let parsed = match attachments {
        Some(buffers) if !buffers.is_empty() => {
            let bytes = buffers.iter().map(bytes_from).collect();
            Args::with_attachments(json_array, bytes)
        }
        _ => Args::json_array(json_array),
    };
    parsed.map_err(|e| Error::from(e).context("arguments"))
}

fn ms(value: u32) -> Duration {
    Duration::from_millis(u64::from(value))
}

fn to_config(options: IoOptions) -> Result<EngineConfig> {
    let mut config = EngineConfig::default();
    if let Some(path) = options.path {
        config.path = path;
    }
    if let Some(v) = options.ping_interval {
        config.ping_interval = ms(v);
    }
    if let Some(v) = options.ping_timeout {
        config.ping_timeout = ms(v);
    }
    if let Some(v) = options.max_http_buffer_size {
        config.max_payload = v as usize;
    }
    if let Some(origins) = options.cors_origins {
        config.allowed_origins = Some(origins);
    }
    config.cors = options.cors.map(crate::options::cors_policy);
    config.client_bundle = options
        .serve_client
        .map(|bundle| roomcast::config::ClientBundle {
            dir: bundle.dir.into(),
            version: bundle.version,
        });
    if let Some(v) = options.allow_upgrades {
        config.allow_upgrades = v;
    }
    if let Some(transports) = options.transports {
        config.allow_polling = transports.iter().any(|t| t == "polling");
        config.allow_websocket = transports.iter().any(|t| t == "websocket");
    }
    if let Some(v) = options.connect_timeout {
        config.connect_timeout = ms(v);
    }
    if let Some(v) = options.write_coalesce {
        config.ws_write_coalesce = ms(v);
    }
    if let Some(recovery) = options.connection_state_recovery {
        config.recovery = Some(crate::options::recovery_config(recovery)?);
    }
    if let Some(deflate) = options.per_message_deflate {
        let threshold = deflate.threshold.map(|t| t as usize);
        config.set_per_message_deflate(true, threshold);
    }
    if let Some(compression) = options.http_compression {
        let threshold = compression.threshold.map(|t| t as usize);
        config.set_http_compression(true, threshold);
    }
    config.validate().map_err(js_error)?;
    Ok(config)
}

#[napi]
pub struct NativeIo {
    pub(crate) server: Server,
    pub(crate) held_acks: Arc<HeldAcks>,
    events: Arc<Mutex<Option<Arc<EventFn>>>>,
    /// The `emitToNamespaceRoom` handles given out, released on close.
    handles: Mutex<Vec<u32>>,
    /// The Redis adapter, once clustered (`useRedis`).
    pub(crate) redis: Mutex<Option<Arc<roomcast::adapters::redis::RedisAdapter>>>,
}

/// The engine's broadcast operator for `target`.
pub(crate) fn operator<'a>(ns: &'a Namespace, target: &IoTarget) -> Broadcast<'a> {
    let mut operator = ns.everyone();
    for room in &target.rooms {
        operator = operator.to(room);
    }
    for room in &target.except {
        operator = operator.except(room);
    }
    if target.volatile {
        operator = operator.volatile();
    }
    if target.local == Some(true) {
        operator = operator.local();
    }
    if target.compress == Some(false) {
        operator = operator.uncompressed();
    }
    operator
}

fn rooms_of(socket: &SocketRef) -> Vec<String> {
    socket.rooms().iter().map(|r| r.to_string()).collect()
}

fn io_event(kind: &str, socket: &SocketRef) -> IoEvent {
    IoEvent {
        kind: kind.to_owned(),
        nsp: socket.namespace().to_owned(),
        socket_id: socket.id().to_owned(),
        name: None,
        args: None,
        attachments: None,
        ack_id: None,
        recovered: None,
        rooms: None,
        data: None,
    }
}

impl NativeIo {
    /// The Server API over an engine that already runs (the dashboard preset's): its existing
    /// namespaces keep their own handlers; namespaces made through `of` report here.
    pub(crate) fn over(server: Server) -> Self {
        Self {
            server,
            held_acks: Arc::default(),
            events: Arc::default(),
            handles: Mutex::default(),
            redis: Mutex::default(),
        }
    }

    pub(crate) fn namespace(&self, nsp: &str) -> Result<Namespace> {
        self.find_namespace(nsp).map_err(js_error)
    }

    pub(crate) fn find_namespace(&self, nsp: &str) -> roomcast::error::Result<Namespace> {
        self.server
            .namespace(nsp)
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no namespace {nsp}")))
    }

    fn socket(&self, nsp: &str, socket_id: &str) -> Option<SocketRef> {
        self.server.namespace(nsp)?.socket(socket_id)
    }

    /// Sends the namespace's connections, events and disconnects to the JS handler.
    fn wire(&self, ns: &Namespace) {
        wire_namespace(ns, &self.events, &self.held_acks);
    }
}

#[napi]
impl NativeIo {
    #[napi(constructor)]
    pub fn new(options: Option<IoOptions>) -> Result<Self> {
        let config = to_config(options.unwrap_or_default())?;
        let this = Self {
            server: Server::new(config),
            held_acks: Arc::default(),
            events: Arc::default(),
            handles: Mutex::default(),
            redis: Mutex::default(),
        };
        this.wire(&this.server.io());
        Ok(this)
    }

    /// Creates namespace `nsp` (clients can connect to it from now on).
    #[napi]
    pub fn of(&self, nsp: String) {
        if self.server.namespace(&nsp).is_none() {
            let ns = self.server.of(&nsp);
            self.wire(&ns);
        }
    }

    /// The handle of namespace `nsp` for the fast `emitToNamespaceRoom` (see fast_emit.rs).
    #[napi]
    pub fn namespace_handle(&self, nsp: String) -> Result<u32> {
        let handle = crate::fast_emit::namespace_handle(self.namespace(&nsp)?);
        self.handles.lock().push(handle);
        Ok(handle)
    }

    /// Receives every connection, client event and disconnect.
    #[napi]
    pub fn set_event_handler(&self, handler: Function<IoEvent, ()>) -> napi::Result<()> {
        let tsfn: EventFn = js_callback(handler)?;
        *self.events.lock() = Some(Arc::new(tsfn));
        Ok(())
    }

    /// The connect middleware of `nsp`: `hook(requestJson) => Promise<string>`, JSON
    /// `{"accept": true, "data": …}` to admit the socket with that data, `{"message", "data"}`
    /// to refuse it with a `connect_error`.
    #[napi]
    pub fn set_middleware(
        &self,
        nsp: String,
        hook: Function<String, Promise<Option<String>>>,
    ) -> napi::Result<()> {
        let tsfn: Arc<MiddlewareFn> = Arc::new(js_callback(hook)?);
        self.server.of(&nsp).set_middleware(middleware_bridge(tsfn));
        Ok(())
    }

    /// The handshake hook (socket.io's `allowRequest`), as for `NativeServer`.
    #[napi]
    pub fn set_allow_request(
        &self,
        hook: Function<String, Promise<Option<String>>>,
    ) -> napi::Result<()> {
        self.server
            .set_allow_request(crate::hooks::allow_request_bridge(hook)?);
        Ok(())
    }

    /// Dynamic namespaces (socket.io's `of(RegExp | fn)`): `matcher(requestJson)` (`{"nsp",
    /// "auth"}`) resolves true to create a namespace a client asks for; the created namespace
    /// reports to the event handler and runs `middleware` (as `set_middleware`, told the
    /// namespace in its request) on every connect.
    #[napi]
    pub fn set_dynamic_namespaces(
        &self,
        matcher: Function<String, Promise<bool>>,
        middleware: Function<String, Promise<Option<String>>>,
    ) -> napi::Result<()> {
        let matcher: Arc<MatcherFn> = Arc::new(js_callback(matcher)?);
        let middleware = middleware_bridge(Arc::new(js_callback(middleware)?));
        let (events, held) = (self.events.clone(), self.held_acks.clone());
        self.server.set_dynamic_namespaces(DynamicNamespaces {
            matcher: Arc::new(move |nsp: &str, auth: &AuthPayload| {
                let matcher = matcher.clone();
                let request = format!(
                    r#"{{"nsp":{},"auth":{}}}"#,
                    serde_json::Value::from(nsp),
                    auth.text()
                );
                Box::pin(async move {
                    match matcher.call_async_catch(request).await {
                        Ok(promise) => promise.await.unwrap_or(false),
                        Err(_) => false,
                    }
                })
            }),
            setup: Arc::new(move |ns: &Namespace| {
                wire_namespace(ns, &events, &held);
                ns.set_middleware(middleware.clone());
            }),
        });
        Ok(())
    }

    /// `handler(errorJson)` for every request the engine refuses with an Engine.IO error
    /// (`{"code","message","req":{"method","url","headers"},"address"}`).
    #[napi]
    pub fn set_connection_error_handler(&self, handler: Function<String, ()>) -> napi::Result<()> {
        let tsfn: JsCallback<String, ()> = js_callback(handler)?;
        self.server.on_connection_error(Arc::new(move |error| {
            tsfn.call(error.to_json(), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        Ok(())
    }

    /// Binds `host:port` (each absent one as configured) and serves.
    #[napi]
    pub async fn start(
        &self,
        port: Option<u32>,
        host: Option<String>,
    ) -> napi::Result<BoundAddress> {
        let addr = crate::bind_address(self.server.config(), port, host).map_err(js_async_error)?;
        let bound = self.server.start_at(addr).await.map_err(js_async_error)?;
        Ok(BoundAddress {
            host: bound.ip().to_string(),
            port: u32::from(bound.port()),
        })
    }

    /// Starts without a listener (requests come from `handleHttp` / `adoptWebsocket`).
    #[napi]
    pub fn start_detached(&self) {
        napi::bindgen_prelude::within_runtime_if_available(|| self.server.start_detached());
    }

    #[napi]
    pub fn path(&self) -> String {
        self.server.config().path.clone()
    }

    /// Closes every connection (clients see `io server disconnect`) and stops listening.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        self.server.close_transports(Duration::from_secs(2)).await;
        self.held_acks.clear();
        crate::fast_emit::release_namespaces(&self.handles.lock());
        Ok(())
    }

    #[napi]
    pub fn adopt_websocket(
        &self,
        fd: i32,
        method: String,
        url: String,
        headers: Vec<String>,
        head: Buffer,
    ) -> Result<()> {
        adopt_websocket_on(&self.server, fd, &method, &url, &headers, &head)
    }

    #[napi]
    pub async fn handle_http(
        &self,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Buffer,
        remote_ip: String,
        remote_port: u32,
    ) -> napi::Result<HttpAnswer> {
        let body = bytes_from(&body);
        handle_http_on(
            &self.server,
            &method,
            &url,
            &headers,
            body,
            &remote_ip,
            remote_port,
        )
        .await
    }

    /// Emits to one socket (`json_array`: the arguments; `flags`: socket.io's `volatile` and
    /// `compress`); false when it is not connected.
    #[napi]
    pub fn emit_to_socket(
        &self,
        nsp: String,
        socket_id: String,
        event: String,
        json_array: String,
        attachments: Option<Vec<Buffer>>,
        flags: Option<IoEmitFlags>,
    ) -> Result<bool> {
        let args = args_array(&json_array, attachments).map_err(js_error)?;
        let Some(ns) = self.server.namespace(&nsp) else {
            return Ok(false);
        };
        let flags = flags.unwrap_or_default();
        let options = EmitOptions {
            volatile: flags.volatile == Some(true),
            compress: flags.compress != Some(false),
        };
        Ok(ns.emit_to_socket_id(&socket_id, &event, &args, options))
    }

    /// Emits to one socket and waits for its ack, at most `timeout_ms` (none: until the socket
    /// leaves). Resolves with the outcome, never rejects.
    #[napi]
    pub async fn emit_with_ack(
        &self,
        nsp: String,
        socket_id: String,
        event: String,
        json_array: String,
        attachments: Option<Vec<Buffer>>,
        timeout_ms: Option<u32>,
    ) -> napi::Result<AckOutcome> {
        let args = args_array(&json_array, attachments).map_err(js_async_error)?;
        let Some(socket) = self.socket(&nsp, &socket_id) else {
            return Ok(AckOutcome::failed("disconnected"));
        };
        // No timeout: as long as the socket stays (its disconnect ends the wait).
        let timeout = timeout_ms.map_or(Duration::from_secs(365 * 24 * 3600), ms);
        Ok(match socket.emit_with_ack(&event, &args, timeout).await {
            Ok(reply) => AckOutcome::replied(&reply.args),
            Err(AckError::Timeout) => AckOutcome::failed("timeout"),
            Err(_) => AckOutcome::failed("disconnected"),
        })
    }

    /// A broadcast to the members of one room (the common case, without a target to convert);
    /// returns how many sockets queued it. `json_array` is `JSON.stringify` output (io.js makes
    /// it), so it is taken as is.
    #[napi]
    pub fn emit_to_room(
        &self,
        nsp: String,
        room: String,
        event: String,
        json_array: String,
    ) -> Result<u32> {
        let args = Args::trusted_json_array(json_array)
            .map_err(|e| js_error(Error::from(e).context("arguments")))?;
        Ok(self.namespace(&nsp)?.emit_to_room(&room, &event, &args) as u32)
    }

    /// A broadcast to `target`; returns how many sockets queued it.
    #[napi]
    pub fn broadcast(
        &self,
        nsp: String,
        target: IoTarget,
        event: String,
        json_array: String,
        attachments: Option<Vec<Buffer>>,
    ) -> Result<u32> {
        let args = args_array(&json_array, attachments).map_err(js_error)?;
        let ns = self.namespace(&nsp)?;
        Ok(operator(&ns, &target).emit(&event, &args) as u32)
    }

    /// Puts a socket in `rooms`; false when it is not connected.
    #[napi]
    pub fn join(&self, nsp: String, socket_id: String, rooms: Vec<String>) -> bool {
        let Some(socket) = self.socket(&nsp, &socket_id) else {
            return false;
        };
        for room in &rooms {
            socket.join(room);
        }
        true
    }

    #[napi]
    pub fn leave(&self, nsp: String, socket_id: String, room: String) -> bool {
        let Some(socket) = self.socket(&nsp, &socket_id) else {
            return false;
        };
        socket.leave(&room);
        true
    }

    /// The rooms of a socket (its own id first), or null when it is not connected.
    #[napi]
    pub fn rooms(&self, nsp: String, socket_id: String) -> Option<Vec<String>> {
        let socket = self.socket(&nsp, &socket_id)?;
        let mut rooms = vec![socket.id().to_owned()];
        rooms.extend(rooms_of(&socket));
        Some(rooms)
    }

    /// Disconnects a socket from its namespace (with `close`, the whole connection).
    #[napi]
    pub fn disconnect(&self, nsp: String, socket_id: String, close: bool) -> bool {
        let Some(socket) = self.socket(&nsp, &socket_id) else {
            return false;
        };
        socket.disconnect(close);
        true
    }

    /// socket.io's `socket.handshake` as JSON, or null when the socket is not connected.
    #[napi]
    pub fn handshake(&self, nsp: String, socket_id: String) -> Option<String> {
        let socket = self.socket(&nsp, &socket_id)?;
        Some(socket.handshake().to_json().to_string())
    }

    /// Replaces a socket's data (socket.io's `socket.data`, JSON): what other servers fetch and
    /// what a recovered socket gets back. False when it is not connected.
    #[napi]
    pub fn set_data(&self, nsp: String, socket_id: String, json: String) -> Result<bool> {
        let Some(socket) = self.socket(&nsp, &socket_id) else {
            return Ok(false);
        };
        socket.set_data_json(&json).map_err(js_error)?;
        Ok(true)
    }

    /// Only client events named in `events` cross into JavaScript for this socket from now on
    /// (those with listeners); `handle_also` adds one, `handle_all` lets every event through.
    #[napi]
    pub fn handle_only(&self, nsp: String, socket_id: String, events: Vec<String>) {
        if let Some(socket) = self.socket(&nsp, &socket_id) {
            socket.handle_only(events.iter().map(String::as_str));
        }
    }

    #[napi]
    pub fn handle_also(&self, nsp: String, socket_id: String, event: String) {
        if let Some(socket) = self.socket(&nsp, &socket_id) {
            socket.handle_also(&event);
        }
    }

    #[napi]
    pub fn handle_all(&self, nsp: String, socket_id: String) {
        if let Some(socket) = self.socket(&nsp, &socket_id) {
            socket.handle_all();
        }
    }

    /// The transport of a connected socket (`polling` or `websocket`).
    #[napi]
    pub fn transport(&self, nsp: String, socket_id: String) -> Option<String> {
        let socket = self.socket(&nsp, &socket_id)?;
        Some(socket.transport().as_str().to_owned())
    }

    /// Answers a client's ack; false when it is not pending.
    #[napi]
    pub fn ack(
        &self,
        ack_id: i64,
        json_array: String,
        attachments: Option<Vec<Buffer>>,
    ) -> Result<bool> {
        let args = args_array(&json_array, attachments).map_err(js_error)?;
        let Ok(id) = u64::try_from(ack_id) else {
            return Err(invalid("ack id out of range"));
        };
        Ok(self.held_acks.answer(id, &args).is_ok())
    }
}

/// Sends a namespace's connections, events and disconnects to the JS handler.
fn wire_namespace(
    ns: &Namespace,
    events_slot: &Arc<Mutex<Option<Arc<EventFn>>>>,
    held_acks: &Arc<HeldAcks>,
) {
    let events = events_slot.clone();
    ns.on_connection(move |socket| {
        if let Some(tsfn) = events.lock().clone() {
            let mut event = io_event("connection", socket);
            event.recovered = Some(socket.recovered());
            event.rooms = Some(rooms_of(socket));
            event.data = socket.data().map(|d| d.to_string());
            tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        }
    });
    let events = events_slot.clone();
    let held = held_acks.clone();
    ns.on_event(move |socket, client_event| {
        let Some(tsfn) = events.lock().clone() else {
            return;
        };
        let parts = EventParts::of(client_event, &held);
        let mut event = io_event("event", socket);
        (event.name, event.args, event.attachments, event.ack_id) = (
            Some(parts.name),
            Some(parts.args),
            parts.attachments,
            parts.ack_id,
        );
        tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
    });
    let events = events_slot.clone();
    let held = held_acks.clone();
    let nsp = ns.name().to_owned();
    ns.on_server_side_emit(move |name, args, ack| {
        let Some(tsfn) = events.lock().clone() else {
            return;
        };
        tsfn.call(
            IoEvent {
                kind: "serverSideEmit".to_owned(),
                nsp: nsp.clone(),
                socket_id: String::new(),
                name: Some(name.to_owned()),
                args: Some(args.to_json_array()),
                attachments: None,
                ack_id: ack.map(|ack| held.hold_server_ack(ack) as i64),
                recovered: None,
                rooms: None,
                data: None,
            },
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    });
    let events = events_slot.clone();
    let held = held_acks.clone();
    ns.on_disconnect(move |socket, reason| {
        held.forget_socket(socket.id());
        if let Some(tsfn) = events.lock().clone() {
            let mut event = io_event("disconnect", socket);
            event.name = Some(reason.to_owned());
            event.rooms = Some(rooms_of(socket));
            tsfn.call(event, ThreadsafeFunctionCallMode::NonBlocking);
        }
    });
}

/// A JS middleware (see `set_middleware`) as the engine's.
fn middleware_bridge(tsfn: Arc<MiddlewareFn>) -> roomcast::Middleware {
    Arc::new(move |request: ConnectRequest| {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let json = connect_request_json(&request);
            let answer = match tsfn.call_async_catch(json).await {
                Ok(promise) => promise.await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(Some(answer)) => admit_or_refuse(&request, &answer),
                Ok(None) => Ok(None),
                Err(error) => Err(ConnectError::new(error.reason)),
            }
        })
    })
}

/// What a JS middleware sees: `{"auth", "id", "headers", "query", "address", "nsp"}`.
fn connect_request_json(request: &ConnectRequest) -> String {
    let headers = roomcast::engineio::handshake::headers_object(&request.headers);
    let query = roomcast::engineio::handshake::parse_query(&request.query);
    let rest = serde_json::json!({
        "id": request.socket_id.as_str(),
        "headers": headers,
        "query": roomcast::engineio::handshake::query_object(&query),
        "address": request.remote_addr.ip().to_string(),
        "nsp": &*request.namespace,
    })
    .to_string();
    format!(r#"{{"auth":{},{}"#, request.auth.text(), &rest[1..])
}

/// The JS middlewares' answer: `{"accept": true, "data": {…}}` admits (with that socket data),
/// `{"message": "...", "data": any}` refuses.
fn admit_or_refuse(request: &ConnectRequest, answer: &str) -> roomcast::ConnectResult {
    let value: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
    if value["accept"] == true {
        match value.get("data") {
            Some(data) if data.as_object().is_some_and(|o| !o.is_empty()) => {
                request.data.set(data.clone());
            }
            _ => {}
        }
        return Ok(None);
    }
    let message = value["message"].as_str().unwrap_or("Forbidden").to_owned();
    let error = ConnectError::new(message);
    Err(match value.get("data") {
        Some(data) if !data.is_null() => error.with_data(data.clone()),
        _ => error,
    })
}
