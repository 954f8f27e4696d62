//! The Node.js addon: a thin napi-rs layer over `roomcast::RealtimeServer`. Everything here
//! converts arguments and forwards; behaviour lives in core. Payloads cross as JSON text or
//! Buffers (opaque), never as JS objects converted field by field. By concept: `emits` (the
//! hot paths and the handle registry), `hooks` (validator, handshake hook, events, acks),
//! `sockets` (per-socket handshake and data), `http` (same-port mode), `options`.

mod cluster;
mod emits;
mod error;
mod fast_emit;
mod handles;
mod hooks;
mod http;
mod io;
mod options;
mod sockets;
mod validator;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;
use roomcast::RealtimeServer;

pub use emits::{emit_batch, emit_to_all};
pub use fast_emit::install_fast_emits;
pub use hooks::ServerEvent;
pub use http::HttpAnswer;
pub use io::{IoEvent, IoOptions, NativeIo};
pub use options::ServerOptions;

use error::{js_async_error, Result};
use handles::register;

/// The address `start` binds: the configured one with the given `port` and/or `host`.
fn bind_address(
    config: &roomcast::EngineConfig,
    port: Option<u32>,
    host: Option<String>,
) -> roomcast::error::Result<std::net::SocketAddr> {
    let port = port
        .map(u16::try_from)
        .transpose()
        .map_err(|_| roomcast::Error::invalid_argument("port out of range"))?;
    config.bind_with(host.as_deref(), port)
}

/// Where a server listens.
#[napi(object)]
pub struct BoundAddress {
    pub host: String,
    pub port: u32,
}

#[napi]
pub struct NativeServer {
    server: RealtimeServer,
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

    /// socket.io's Server API on this engine, for namespaces beside the dashboard's `/`.
    #[napi]
    pub fn io(&self) -> NativeIo {
        NativeIo::over(self.server.engine().clone())
    }

    /// The handle the hot-path functions (`emitToRoom`, `emitToUser`, …) take.
    #[napi]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Binds `host:port` (each absent one as configured) and serves; resolves with the bound
    /// address.
    #[napi]
    pub async fn start(
        &self,
        port: Option<u32>,
        host: Option<String>,
    ) -> napi::Result<BoundAddress> {
        let addr = crate::bind_address(&self.server.config().engine, port, host)
            .map_err(js_async_error)?;
        let bound = self.server.start_on(addr).await.map_err(js_async_error)?;
        Ok(BoundAddress {
            host: bound.ip().to_string(),
            port: u32::from(bound.port()),
        })
    }

    /// The Socket.IO path the engine serves (`attach` listens for it).
    #[napi]
    pub fn path(&self) -> String {
        self.server.config().engine.path.clone()
    }

    /// Starts without a listener (same-port mode: requests come from `attach`).
    #[napi]
    pub fn start_detached(&self) {
        napi::bindgen_prelude::within_runtime_if_available(|| self.server.start_detached());
    }

    #[napi]
    pub fn stats_json(&self) -> Result<String> {
        serde_json::to_string(&self.server.stats()).map_err(|e| error::invalid(e.to_string()))
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

    /// The dashboard shutdown; resolves when every connection is closed. Without `grace_ms`:
    /// the configured shutdown grace.
    #[napi]
    pub async fn shutdown(&self, grace_ms: Option<u32>) -> napi::Result<()> {
        let server = self.server.clone();
        let stopped = server
            .shutdown(grace_ms.map_or(self.server.config().shutdown_grace, |ms| {
                Duration::from_millis(u64::from(ms))
            }))
            .await;
        self.server.held_acks().clear();
        if let Some(slot) = REGISTRY.write().get_mut(self.handle as usize) {
            *slot = None;
        }
        stopped.map_err(js_async_error)
    }
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
