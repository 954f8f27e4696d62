//! The Node.js addon: a thin napi-rs layer over `roomcast::RealtimeServer`. Everything here
//! converts arguments and forwards; behaviour lives in core. Payloads cross as JSON text or
//! Buffers (opaque), never as JS objects converted field by field.

mod fast_emit;
mod options;
mod validator;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use roomcast::engineio::allow_request::{IncomingRequest, RequestRefused};
use roomcast::{AckSender, Args, RealtimeServer, SocketRef};

pub use options::ServerOptions;

/// One notification for JavaScript: `connection`, `disconnect` or `event`.
#[napi(object)]
pub struct ServerEvent {
    pub kind: String,
    pub socket_id: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub user_role: Option<String>,
    /// The event name (`event`) or the disconnect reason (`disconnect`).
    pub name: Option<String>,
    /// The event's arguments as a JSON array text.
    pub args: Option<String>,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Option<Vec<Buffer>>,
    /// Present when the client wants an acknowledgement: answer with `ack(ackId, json)`.
    pub ack_id: Option<u32>,
}

type EventFn = ThreadsafeFunction<ServerEvent, (), ServerEvent, Status, false, true>;

/// A pending client ack with the socket it belongs to, so a disconnect can drop it.
struct PendingAck {
    sender: AckSender,
    socket_id: Arc<str>,
}

#[napi]
pub struct NativeServer {
    server: RealtimeServer,
    acks: Arc<DashMap<u32, PendingAck>>,
    next_ack: Arc<AtomicU32>,
    handle: u32,
    /// Whether JavaScript listens for `connection` / `disconnect`: without listeners those
    /// events are not sent across (a connection storm then costs the Node thread nothing).
    lifecycle: Arc<Lifecycle>,
}

#[derive(Default)]
struct Lifecycle {
    connection: AtomicBool,
    disconnect: AtomicBool,
}

/// Servers by handle, for the hot-path free functions below. A napi class method pays for
/// receiver unwrapping and borrow tracking on every call (several times a free function);
/// emits are called thousands of times a second, so they take a plain handle instead.
static REGISTRY: parking_lot::RwLock<Vec<Option<RealtimeServer>>> =
    parking_lot::RwLock::new(Vec::new());

fn register(server: RealtimeServer) -> u32 {
    let mut registry = REGISTRY.write();
    registry.push(Some(server));
    (registry.len() - 1) as u32
}

fn with_server<T>(handle: u32, f: impl FnOnce(&RealtimeServer) -> Result<T>) -> Result<T> {
    let registry = REGISTRY.read();
    match registry.get(handle as usize) {
        Some(Some(server)) => f(server),
        _ => Err(invalid("unknown or shut down server handle")),
    }
}

/// The payload of the hot-path emits: JSON text made by `JSON.stringify` in the JS layer, so
/// it is taken as is (see `Args::trusted_json`); with `validate` it is checked first (for JSON
/// text that came from elsewhere).
fn payload_args(json: String, validate: bool) -> Result<Args> {
    if validate {
        args_from(&json)
    } else {
        Ok(Args::trusted_json(json))
    }
}

/// Defines the hot single emits on `target` (see fast_emit.rs):
/// `emitToRoom(handle, room, event, json, validate)` and
/// `emitToUser(handle, userId, event, json, validate)`, each returning the number of
/// connections that queued the payload. `validate` false is for `JSON.stringify` output only.
#[napi]
pub fn install_fast_emits(env: Env, target: Object) -> Result<()> {
    fast_emit::install(env.raw(), target.raw())
}

/// Emits one JSON payload to every connection.
#[napi]
pub fn emit_to_all(handle: u32, event: String, json: String, validate: bool) -> Result<u32> {
    let args = payload_args(json, validate)?;
    with_server(
        handle,
        |server| Ok(server.emit_to_all(&event, &args) as u32),
    )
}

/// Many emits in one call. `packed` holds the items separated by `\x1e`, each
/// `room \x1f event \x1f json`: one string crosses the boundary instead of three per item (every
/// string argument costs napi work before any of ours). JSON
/// text never contains raw control characters; the JS layer refuses JSON-text items that do and
/// sends room and event names with separators in them on their own, so the separators are
/// unambiguous. With `validate`, every payload is checked before anything is sent (all or
/// nothing). Returns the deliveries.
#[napi]
pub fn emit_batch(handle: u32, packed: String, validate: bool) -> Result<u32> {
    let mut items = Vec::new();
    for item in packed.split('\x1e') {
        let mut parts = item.splitn(3, '\x1f');
        let (Some(room), Some(event), Some(json)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("malformed batch item"));
        };
        items.push((room, event, payload_args(json.to_owned(), validate)?));
    }
    with_server(handle, |server| {
        let delivered: usize = items
            .iter()
            .map(|(room, event, args)| server.emit_to_room(room, event, args))
            .sum();
        Ok(delivered as u32)
    })
}

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, message.to_string())
}

fn args_from(json: &str) -> Result<Args> {
    Args::json(json).map_err(|e| invalid(format!("payload must be JSON text: {e}")))
}

fn identity_fields(socket: &SocketRef) -> (Option<String>, Option<String>, Option<String>) {
    match socket.identity() {
        Some(i) => (
            Some(i.user_id.to_string()),
            Some(i.user_name.to_string()),
            Some(i.user_role.to_string()),
        ),
        None => (None, None, None),
    }
}

fn event(kind: &str, socket: &SocketRef) -> ServerEvent {
    let (user_id, user_name, user_role) = identity_fields(socket);
    ServerEvent {
        kind: kind.to_owned(),
        socket_id: socket.id().to_owned(),
        user_id,
        user_name,
        user_role,
        name: None,
        args: None,
        attachments: None,
        ack_id: None,
    }
}

#[napi]
impl NativeServer {
    #[napi(constructor)]
    pub fn new(options: Option<ServerOptions>) -> Result<Self> {
        init_tracing();
        let config = options::to_config(options.unwrap_or_default())?;
        let server = RealtimeServer::new(config);
        Ok(Self {
            handle: register(server.clone()),
            server,
            acks: Arc::new(DashMap::new()),
            next_ack: Arc::new(AtomicU32::new(1)),
            lifecycle: Arc::default(),
        })
    }

    /// Which lifecycle events JavaScript has listeners for (the JS layer keeps this current).
    #[napi]
    pub fn set_lifecycle_listeners(&self, connection: bool, disconnect: bool) {
        self.lifecycle
            .connection
            .store(connection, Ordering::Relaxed);
        self.lifecycle
            .disconnect
            .store(disconnect, Ordering::Relaxed);
    }

    /// The handle the hot-path functions (`emitToRoom`, `emitToUser`, …) take.
    #[napi]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// `validator(requestJson) => Promise<string | null>`: identity JSON to accept, null to
    /// reject, a rejection for a failure. The JS layer normalises the user's middleware to this.
    #[napi]
    pub fn set_validator(
        &self,
        validator: Function<String, Promise<Option<String>>>,
    ) -> Result<()> {
        let tsfn = validator
            .build_threadsafe_function()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        self.server
            .set_session_validator(validator::bridge(Arc::new(tsfn)));
        Ok(())
    }

    /// `hook(requestJson) => Promise<string | null>`: null accepts the handshake, a string
    /// refuses it with that message (empty: `Forbidden`); a throw or rejection refuses it.
    #[napi]
    pub fn set_allow_request(&self, hook: Function<String, Promise<Option<String>>>) -> Result<()> {
        let tsfn = Arc::new(
            hook.build_threadsafe_function()
                .weak::<true>()
                .callee_handled::<false>()
                .build()?,
        );
        self.server
            .engine()
            .set_allow_request(Arc::new(move |request: IncomingRequest| {
                let tsfn = tsfn.clone();
                Box::pin(async move {
                    let answer = match tsfn.call_async_catch(request.to_json()).await {
                        Ok(promise) => promise.await,
                        Err(error) => Err(error),
                    };
                    match answer {
                        Ok(None) => Ok(()),
                        Ok(Some(message)) => Err(RequestRefused::from_message(&message)),
                        Err(error) => {
                            tracing::warn!(reason = %error.reason, "allowRequest failed: refused");
                            Err(RequestRefused::default())
                        }
                    }
                })
            }));
        Ok(())
    }

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
        Some(serde_json::to_string(&socket.data()).unwrap_or_else(|_| "null".to_owned()))
    }

    /// Attaches data (JSON text) to a connected socket; false when no such socket.
    #[napi]
    pub fn set_socket_data(&self, socket_id: String, json: String) -> Result<bool> {
        let data: serde_json::Value = serde_json::from_str(&json)
            .map_err(|e| Error::new(Status::InvalidArg, format!("data is not JSON: {e}")))?;
        let Some(socket) = self.server.socket(&socket_id) else {
            return Ok(false);
        };
        socket.set_data(data);
        Ok(true)
    }

    /// Receives connection, disconnect and custom client events.
    #[napi]
    pub fn set_event_handler(&self, handler: Function<ServerEvent, ()>) -> Result<()> {
        let tsfn: Arc<EventFn> = Arc::new(
            handler
                .build_threadsafe_function()
                .weak::<true>()
                .callee_handled::<false>()
                .build()?,
        );
        let on_connect = tsfn.clone();
        let lifecycle = self.lifecycle.clone();
        self.server.on_connect(move |socket| {
            if lifecycle.connection.load(Ordering::Relaxed) {
                on_connect.call(
                    event("connection", socket),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            }
        });
        let on_disconnect = tsfn.clone();
        let acks = self.acks.clone();
        let lifecycle = self.lifecycle.clone();
        self.server.on_disconnect(move |socket, reason| {
            acks.retain(|_, pending| pending.socket_id.as_ref() != socket.id());
            if !lifecycle.disconnect.load(Ordering::Relaxed) {
                return;
            }
            let mut ev = event("disconnect", socket);
            ev.name = Some(reason.to_owned());
            on_disconnect.call(ev, ThreadsafeFunctionCallMode::NonBlocking);
        });
        let acks = self.acks.clone();
        let next_ack = self.next_ack.clone();
        self.server.on_client_event(move |socket, client_event| {
            let mut ev = event("event", socket);
            ev.args = Some(client_event.args.to_json_array());
            let attachments = client_event.attachments();
            if !attachments.is_empty() {
                ev.attachments = Some(
                    attachments
                        .iter()
                        .map(|b| Buffer::from(b.to_vec()))
                        .collect(),
                );
            }
            ev.name = Some(client_event.name);
            if let Some(sender) = client_event.ack {
                let id = next_ack.fetch_add(1, Ordering::Relaxed).max(1);
                acks.insert(
                    id,
                    PendingAck {
                        sender,
                        socket_id: Arc::from(socket.id()),
                    },
                );
                ev.ack_id = Some(id);
            }
            tsfn.call(ev, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(())
    }

    /// Binds `host:port` and serves; resolves with the bound port.
    #[napi]
    pub async fn start(&self, port: u32, host: String) -> Result<u32> {
        let port = u16::try_from(port).map_err(|_| invalid("port out of range"))?;
        let ip: std::net::IpAddr = host
            .parse()
            .map_err(|_| invalid(format!("invalid host address {host}")))?;
        let server = self.server.clone();
        if server.local_addr().is_some() {
            return Err(invalid("already listening"));
        }
        // The engine reads its bind address from the config; set it just before starting.
        let addr = server
            .start_on(std::net::SocketAddr::new(ip, port))
            .await
            .map_err(|e| Error::new(Status::GenericFailure, format!("cannot listen: {e}")))?;
        Ok(u32::from(addr.port()))
    }

    /// Starts without a listener (same-port mode: requests come from `attach`).
    #[napi]
    pub fn start_detached(&self) {
        napi::bindgen_prelude::within_runtime_if_available(|| self.server.start_detached());
    }

    /// One binary argument (a Buffer) to a room.
    #[napi]
    pub fn emit_binary_to_room(&self, room: String, event: String, data: Buffer) -> u32 {
        let args = Args::binary(data.to_vec().into());
        self.server.emit_to_room(&room, &event, &args) as u32
    }

    #[napi]
    pub fn emit_binary_to_user(&self, user_id: String, event: String, data: Buffer) -> u32 {
        let args = Args::binary(data.to_vec().into());
        self.server.emit_to_user(&user_id, &event, &args) as u32
    }

    #[napi]
    pub fn disconnect_user(&self, user_id: String, reason: Option<String>) -> u32 {
        let reason = reason.unwrap_or_else(|| "disconnected by the server".to_owned());
        self.server.disconnect_user(&user_id, &reason) as u32
    }

    /// Answers a client's ack with a JSON array of arguments. False when the ack is unknown
    /// (already answered, or the client left).
    #[napi]
    pub fn ack(&self, ack_id: u32, json_array: String) -> Result<bool> {
        let args =
            Args::json_array(&json_array).map_err(|e| invalid(format!("ack arguments: {e}")))?;
        match self.acks.remove(&ack_id) {
            Some((_, pending)) => Ok(pending.sender.send(&args).is_ok()),
            None => Ok(false),
        }
    }

    #[napi]
    pub fn stats_json(&self) -> Result<String> {
        serde_json::to_string(&self.server.stats()).map_err(|e| Error::from_reason(e.to_string()))
    }

    #[napi]
    pub fn health_json(&self) -> String {
        self.server.health_json()
    }

    #[napi]
    pub fn metrics(&self) -> String {
        self.server.metrics()
    }

    #[napi]
    pub fn subscription_count(&self, user_id: String) -> u32 {
        self.server.subscription_count(&user_id)
    }

    /// The dashboard shutdown; resolves when every connection is closed.
    #[napi]
    pub async fn shutdown(&self, grace_ms: u32) -> Result<()> {
        let server = self.server.clone();
        server
            .shutdown(Duration::from_millis(u64::from(grace_ms)))
            .await;
        self.acks.clear();
        if let Some(slot) = REGISTRY.write().get_mut(self.handle as usize) {
            *slot = None;
        }
        Ok(())
    }

    /// Same-port mode: takes over the socket (by file descriptor, which is duplicated; the
    /// caller destroys its own handle afterwards) of an upgrade request Node already parsed.
    #[napi]
    pub fn adopt_websocket(
        &self,
        fd: i32,
        method: String,
        url: String,
        headers: Vec<String>,
        head: Buffer,
    ) -> Result<()> {
        use std::os::fd::{BorrowedFd, OwnedFd};
        if fd < 0 {
            return Err(invalid("invalid file descriptor"));
        }
        // ok: the fd belongs to the live Node socket for the duration of this call.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let owned: OwnedFd = borrowed
            .try_clone_to_owned()
            .map_err(|e| Error::from_reason(format!("dup failed: {e}")))?;
        let stream = std::net::TcpStream::from(owned);
        let request = build_request(&method, &url, &headers, ())?;
        let leftover = bytes_from(&head);
        let server = self.server.clone();
        napi::bindgen_prelude::within_runtime_if_available(move || {
            server.engine().adopt_websocket(stream, request, leftover)
        })
        .map_err(|e| Error::from_reason(format!("cannot adopt the connection: {e}")))
    }

    /// Same-port mode: serves a polling (or health) request Node received. `headers` is Node's
    /// flat `rawHeaders` list.
    #[napi]
    pub async fn handle_http(
        &self,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Buffer,
        remote_ip: String,
        remote_port: u32,
    ) -> Result<HttpAnswer> {
        let body = http_body_util::Full::new(bytes_from(&body));
        let request = build_request(&method, &url, &headers, body)?;
        let ip = remote_ip
            .parse()
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let remote = std::net::SocketAddr::new(ip, remote_port as u16);
        let response = self.server.engine().handle_http(request, remote).await;
        let (parts, body) = response.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut flat = Vec::with_capacity(parts.headers.len() * 2);
        for (name, value) in &parts.headers {
            flat.push(name.as_str().to_owned());
            flat.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        Ok(HttpAnswer {
            status: u32::from(parts.status.as_u16()),
            headers: flat,
            body: Buffer::from(body.to_vec()),
        })
    }
}

/// An HTTP response for the JS layer to write.
#[napi(object)]
pub struct HttpAnswer {
    pub status: u32,
    /// Flat `[name, value, name, value, ...]`.
    pub headers: Vec<String>,
    pub body: Buffer,
}

fn bytes_from(buffer: &Buffer) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(buffer.as_ref())
}

fn build_request<B>(
    method: &str,
    url: &str,
    headers: &[String],
    body: B,
) -> Result<hyper::Request<B>> {
    let mut builder = hyper::Request::builder().method(method).uri(url);
    for pair in headers.chunks(2) {
        if let [name, value] = pair {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    builder
        .body(body)
        .map_err(|e| invalid(format!("invalid request: {e}")))
}

fn init_tracing() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let filter = std::env::var("ROOMCAST_LOG").unwrap_or_else(|_| "warn".to_owned());
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .try_init();
    });
}
