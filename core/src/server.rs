//! `Server`: the typed host API. Build it from an `EngineConfig`, register namespaces and
//! handlers, `start` it, emit through namespaces, and `shutdown` it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::config::EngineConfig;
use crate::engineio::endpoint::{Endpoint, EngineHandler};
use crate::engineio::heartbeat;
use crate::engineio::session::CloseReason;
use crate::socketio::client::{SocketIoHandler, SocketIoShared};
use crate::socketio::namespace::Namespace;
use crate::socketio::packet::DecodeLimits;
use crate::stats::{Stats, StatsSnapshot};
use crate::transport::http::{ExtraRoute, Router};
use crate::transport::listener::{accept_loop, bind, HttpLimits};

struct Running {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    endpoints: Vec<Arc<Endpoint>>,
}

struct ServerInner {
    config: Arc<EngineConfig>,
    sio: Arc<SocketIoShared>,
    stats: Arc<Stats>,
    raw_endpoints: Mutex<Vec<(String, Arc<dyn EngineHandler>)>>,
    extra_route: Mutex<Option<ExtraRoute>>,
    running: Mutex<Option<Running>>,
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
        let server = Self {
            inner: Arc::new(ServerInner {
                config: Arc::new(config),
                sio: Arc::new(SocketIoShared::new(limits, stats.clone())),
                stats,
                raw_endpoints: Mutex::new(Vec::new()),
                extra_route: Mutex::new(None),
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
        let mut namespaces = self.inner.sio.namespaces.write();
        namespaces
            .entry(Arc::from(name.as_str()))
            .or_insert_with(|| Namespace::new(&name, self.inner.stats.clone()))
            .clone()
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

    /// Binds the listener and starts serving in the background. Must run inside a tokio runtime.
    pub async fn start(&self) -> std::io::Result<SocketAddr> {
        if let Some(running) = self.inner.running.lock().as_ref() {
            return Ok(running.local_addr);
        }
        let config = &self.inner.config;
        let listener = bind(config.bind, config.backlog)?;
        let local_addr = listener.local_addr()?;
        let mut endpoints = vec![Arc::new(Endpoint::new(
            &config.path,
            config.clone(),
            Arc::new(SocketIoHandler(self.inner.sio.clone())),
            self.inner.stats.clone(),
        ))];
        for (path, handler) in self.inner.raw_endpoints.lock().iter() {
            endpoints.push(Arc::new(Endpoint::new(
                path,
                config.clone(),
                handler.clone(),
                self.inner.stats.clone(),
            )));
        }
        for endpoint in &endpoints {
            tokio::spawn(heartbeat::run(Arc::downgrade(endpoint)));
        }
        let router = Arc::new(Router {
            endpoints: endpoints.clone(),
            extra: self.inner.extra_route.lock().clone(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let limits = HttpLimits {
            header_timeout: config.header_timeout,
            max_header_bytes: config.max_header_bytes,
        };
        tokio::spawn(accept_loop(listener, router, limits, stop_rx));
        tracing::info!(%local_addr, path = %config.path, "roomcast listening");
        *self.inner.running.lock() = Some(Running {
            local_addr,
            stop,
            endpoints,
        });
        Ok(local_addr)
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.running.lock().as_ref().map(|r| r.local_addr)
    }

    pub(crate) fn stats_ref(&self) -> &Stats {
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
        self.stop_accepting();
        let Some(running) = self.inner.running.lock().take() else {
            return;
        };
        tokio::time::sleep(grace).await;
        let namespaces: Vec<Namespace> =
            self.inner.sio.namespaces.read().values().cloned().collect();
        for ns in namespaces {
            for socket in ns.sockets() {
                socket.disconnect_for_shutdown();
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
                .any(|e| e.undelivered() > 0 || e.live_sockets.load(Ordering::Acquire) > 0)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Only now close the listener: polling clients needed it to collect their last packets.
        let _ = running.stop.send(true);
        tracing::info!("roomcast stopped");
    }
}
