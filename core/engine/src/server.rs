//! `Server`: the typed host API. Build it from an `EngineConfig`, register namespaces and
//! handlers, `start` it, emit through namespaces, and `shutdown` it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::config::EngineConfig;
use crate::engineio::adopt::adopt;
use crate::engineio::allow_request::AllowRequest;
use crate::engineio::connection_error::ConnectionErrorHook;
use crate::engineio::endpoint::EndpointHooks;
use crate::engineio::endpoint::{Endpoint, EngineHandler};
use crate::engineio::forward::SessionLocator;
use crate::engineio::heartbeat;
use crate::engineio::http::{handle, hyper_upgrade, ExtraRoute, Router};
use crate::engineio::session::CloseReason;
use crate::error::{Error, ErrorKind, Result};
use crate::socketio::adapter::SharedAdapter;
use crate::socketio::client::{SocketIoHandler, SocketIoShared};
use crate::socketio::dynamic::DynamicNamespaces;
use crate::socketio::namespace::Namespace;
use crate::socketio::packet::DecodeLimits;
use crate::stats::{Stats, StatsSnapshot};
use crate::transport::listener::{accept_loop, bind, HttpLimits, HttpService};

/// One request of a connection the listener accepted, through the Engine.IO router.
async fn serve_request(
    router: Arc<Router>,
    req: hyper::Request<hyper::body::Incoming>,
    remote_addr: SocketAddr,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let Ok(response) = handle(router, req, remote_addr, hyper_upgrade()).await;
    response
}

/// A started server: what `start` (or `start_detached`) made and `shutdown` takes back.
struct Running {
    /// Where the listener is bound; None when detached (a host serves the connections).
    local_addr: Option<SocketAddr>,
    /// Tells the accept loop to stop (sent once the sessions drained).
    stop: watch::Sender<bool>,
    /// The mounted Engine.IO endpoints: Socket.IO's and the raw ones.
    endpoints: Vec<Arc<Endpoint>>,
    /// Routes requests to those endpoints (and the host's extra route).
    router: Arc<Router>,
}

/// What every clone of a `Server` shares.
struct ServerInner {
    /// The options the server was made with (validated at start).
    config: Arc<EngineConfig>,
    /// The Socket.IO layer: namespaces, sockets, recovery, the adapter.
    sio: Arc<SocketIoShared>,
    /// Counters and histograms behind `stats()` and the metrics.
    stats: Arc<Stats>,
    /// Raw Engine.IO endpoints a host mounted (`mount_engineio`), by path, for the next start.
    raw_endpoints: Mutex<Vec<(String, Arc<dyn EngineHandler>)>>,
    /// The host's own route beside the endpoints (health, metrics).
    extra_route: Mutex<Option<ExtraRoute>>,
    /// Handshake hooks (allowRequest, connection errors, session locator) every endpoint gets.
    hooks: EndpointHooks,
    /// Some while started.
    running: Mutex<Option<Running>>,
    /// When the server was made (uptime in the stats).
    started: Instant,
}

/// A roomcast server. Cheap to clone; all clones drive the same engine.
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

impl Server {
    pub fn new(config: EngineConfig) -> Self {
        let stats = Arc::new(Stats::default());
        let limits = DecodeLimits {
            max_attachments: config.max_attachments,
            max_depth: config.max_json_depth,
        };
        let deflate = config.per_message_deflate.map(|d| d.threshold);
        let sio = SocketIoShared::new(limits, stats.clone(), config.recovery, deflate);
        let server = Self {
            inner: Arc::new(ServerInner {
                config: Arc::new(config),
                sio: Arc::new(sio),
                stats,
                raw_endpoints: Mutex::new(Vec::new()),
                extra_route: Mutex::new(None),
                hooks: EndpointHooks::default(),
                running: Mutex::new(None),
                started: Instant::now(),
            }),
        };
        server.of("/");
        server
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The namespace `name` (created on first use). Clients can only connect to namespaces that
    /// exist; others get `Invalid namespace`.
    pub fn of(&self, name: &str) -> Namespace {
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        self.inner.sio.of(&name).0
    }

    /// Dynamic namespaces: a connect to a namespace that does not exist asks `dynamic.matcher`;
    /// one it accepts is created, set up by `dynamic.setup`, then connected to.
    pub fn set_dynamic_namespaces(&self, dynamic: DynamicNamespaces) {
        *self.inner.sio.dynamic.write() = Some(dynamic);
    }

    /// Clusters every namespace, present and future, through `adapter` (broadcasts and
    /// cluster requests); `None` makes the server standalone again.
    pub fn set_adapter(&self, adapter: Option<SharedAdapter>) {
        *self.inner.sio.adapter.write() = adapter.clone();
        for ns in self.namespaces() {
            ns.set_adapter(adapter.clone());
        }
    }

    /// Every namespace of this server.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.inner.sio.namespaces.read().values().cloned().collect()
    }

    /// The namespace `name` if it exists (never creates one).
    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        self.inner.sio.namespaces.read().get(name).cloned()
    }

    /// The connected socket `id`, in whichever namespace it is (socket ids are unique).
    pub fn socket(&self, id: &str) -> Option<crate::socketio::socket::SocketRef> {
        let namespaces = self.inner.sio.namespaces.read();
        namespaces.values().find_map(|ns| ns.socket(id))
    }

    /// The main namespace `/`.
    pub fn io(&self) -> Namespace {
        self.of("/")
    }

    /// Serves a raw Engine.IO endpoint at `path` with `handler` (for interoperability tests and
    /// hosts that want Engine.IO without Socket.IO). Call before `start`.
    pub fn mount_engineio(&self, path: &str, handler: Arc<dyn EngineHandler>) {
        self.inner
            .raw_endpoints
            .lock()
            .push((path.to_owned(), handler));
    }

    /// Serves extra HTTP routes (health, metrics) beside the engine. Call before `start`.
    pub fn set_extra_route(&self, route: ExtraRoute) {
        *self.inner.extra_route.lock() = Some(route);
    }

    /// Sets the handshake hook (Node's `allowRequest`): it sees every request that would open a
    /// session and may refuse it (403) or delay it. Takes effect for the next handshake.
    /// Reports every request the engine refuses with an Engine.IO error (socket.io's
    /// `io.engine.on('connection_error')`).
    pub fn on_connection_error(&self, hook: ConnectionErrorHook) {
        *self.inner.hooks.connection_error.write() = Some(hook);
    }

    pub fn set_allow_request(&self, hook: AllowRequest) {
        *self.inner.hooks.allow_request.write() = Some(hook);
    }

    /// When clustered: who owns other nodes' sessions. This node's session ids then start with
    /// the locator's tag, and a request for another node's session is relayed to it
    /// (`engineio::forward`), so a load balancer needs no sticky sessions.
    pub fn set_session_locator(&self, locator: Option<Arc<dyn SessionLocator>>) {
        *self.inner.hooks.session_locator.write() = locator;
    }

    /// Binds the listener and starts serving in the background. Must run inside a tokio runtime.
    pub async fn start(&self) -> Result<SocketAddr> {
        self.start_at(self.inner.config.bind).await
    }

    /// `start` on another address than the configured one.
    /// Fails with `AlreadyRunning` when it listens already, `InvalidArgument` for a config
    /// `EngineConfig::validate` refuses, `Io` when the address cannot be bound.
    pub async fn start_at(&self, bind_addr: SocketAddr) -> Result<SocketAddr> {
        if let Some(addr) = self.local_addr() {
            return Err(Error::new(
                ErrorKind::AlreadyRunning,
                format!("already listening on {addr}"),
            ));
        }
        let config = &self.inner.config;
        config.validate()?;
        let cannot_listen = |e: std::io::Error| Error::from(e).context("cannot listen");
        let listener = bind(bind_addr, config.backlog).map_err(cannot_listen)?;
        let local_addr = listener.local_addr().map_err(cannot_listen)?;
        let (router, stop_rx) = self.prepare(Some(local_addr));
        let limits = HttpLimits {
            header_timeout: config.header_timeout,
            max_header_bytes: config.max_header_bytes,
        };
        let service: HttpService = Arc::new(move |req, remote_addr| {
            Box::pin(serve_request(router.clone(), req, remote_addr))
        });
        tokio::spawn(accept_loop(listener, service, limits, stop_rx));
        tracing::info!(%local_addr, path = %config.path, "roomcast listening");
        Ok(local_addr)
    }

    /// Starts the engine without a listener of its own, for hosts that receive the HTTP
    /// requests themselves and pass them in (`handle_http`, `adopt_websocket`).
    pub fn start_detached(&self) {
        if self.inner.running.lock().is_none() {
            self.prepare(None);
        }
    }

    /// Builds the endpoints, starts their heartbeats and records the running state.
    fn prepare(&self, local_addr: Option<SocketAddr>) -> (Arc<Router>, watch::Receiver<bool>) {
        let config = &self.inner.config;
        let mut endpoints = vec![Endpoint::new(
            &config.path,
            config.clone(),
            Arc::new(SocketIoHandler(self.inner.sio.clone())),
            self.inner.stats.clone(),
            self.inner.hooks.clone(),
        )];
        for (path, handler) in self.inner.raw_endpoints.lock().iter() {
            endpoints.push(Endpoint::new(
                path,
                config.clone(),
                handler.clone(),
                self.inner.stats.clone(),
                self.inner.hooks.clone(),
            ));
        }
        for endpoint in &endpoints {
            tokio::spawn(heartbeat::run(Arc::downgrade(endpoint)));
        }
        let router = Arc::new(Router {
            endpoints: endpoints.clone(),
            extra: self.inner.extra_route.lock().clone(),
        });
        let (stop, stop_rx) = watch::channel(false);
        *self.inner.running.lock() = Some(Running {
            local_addr,
            stop,
            endpoints,
            router: router.clone(),
        });
        (router, stop_rx)
    }

    fn router(&self) -> Option<Arc<Router>> {
        self.inner.running.lock().as_ref().map(|r| r.router.clone())
    }

    /// Serves one HTTP request received by the host (a polling request, the health route...).
    pub async fn handle_http(
        &self,
        request: hyper::Request<http_body_util::Full<bytes::Bytes>>,
        remote_addr: SocketAddr,
    ) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
        let Some(router) = self.router() else {
            return crate::engineio::http::plain(
                503,
                "text/plain",
                bytes::Bytes::from_static(b"Not started"),
            );
        };
        let Ok(response) = handle(router, request, remote_addr, hyper_upgrade()).await;
        response
    }

    /// Takes over a connection whose WebSocket upgrade request the host already read: `head`
    /// is that request (method, URI, headers), `leftover` the bytes read past it. The engine
    /// validates it as any upgrade, answers on the connection and serves it.
    pub fn adopt_websocket(
        &self,
        stream: std::net::TcpStream,
        head: hyper::Request<()>,
        leftover: bytes::Bytes,
    ) -> Result<()> {
        let router = self
            .router()
            .ok_or_else(|| Error::new(ErrorKind::NotRunning, "server not started"))?;
        stream.set_nonblocking(true)?;
        let _ = stream.set_nodelay(true);
        let stream = tokio::net::TcpStream::from_std(stream)?;
        tokio::spawn(adopt(router, stream, head, leftover));
        Ok(())
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner
            .running
            .lock()
            .as_ref()
            .and_then(|r| r.local_addr)
    }

    /// The live counters and histograms (`stats()` is a snapshot of them), for presets and
    /// adapters that count into or report from the same place.
    pub fn live_stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    /// Refuses new sessions (503); existing ones keep being served until `shutdown` closes them.
    pub fn stop_accepting(&self) {
        if let Some(running) = self.inner.running.lock().as_ref() {
            for endpoint in &running.endpoints {
                endpoint.stop_accepting();
            }
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Live Engine.IO sessions over all endpoints.
    pub fn session_count(&self) -> usize {
        self.inner
            .running
            .lock()
            .as_ref()
            .map_or(0, |r| r.endpoints.iter().map(|e| e.session_count()).sum())
    }

    /// Refuses new sessions, waits `grace`, disconnects every socket (clients see
    /// `io server disconnect`), then closes every session after its queue is written, waiting up
    /// to `drain` for that. Frames queued before the call are delivered.
    pub async fn shutdown(&self, grace: Duration, drain: Duration) {
        self.stop(grace, drain, true).await;
    }

    /// socket.io's `io.close()`: refuses new sessions and closes every session after its queue
    /// is written (waiting up to `drain`) without a Socket.IO disconnect, so clients see their
    /// transport close and reconnect (to another node, in a deploy); the host sees every socket
    /// end with "server shutting down".
    pub async fn close_transports(&self, drain: Duration) {
        self.stop(Duration::ZERO, drain, false).await;
    }

    async fn stop(&self, grace: Duration, drain: Duration, notify_clients: bool) {
        self.stop_accepting();
        let Some(running) = self.inner.running.lock().take() else {
            return;
        };
        tokio::time::sleep(grace).await;
        for ns in self.namespaces() {
            for socket in ns.sockets() {
                socket.disconnect_for_shutdown(notify_clients);
            }
        }
        for endpoint in &running.endpoints {
            endpoint.close_all(CloseReason::ServerShutdown);
        }
        let deadline = Instant::now() + drain;
        while Instant::now() < deadline
            && running
                .endpoints
                .iter()
                .any(|e| e.undelivered() > 0 || e.context.live_sockets.load(Ordering::Acquire) > 0)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Only now close the listener: polling clients needed it to collect their last packets.
        let _ = running.stop.send(true);
        // Its counts carry over into the metrics of a server started after it.
        self.inner.stats.retire();
        tracing::info!("roomcast stopped");
    }
}
