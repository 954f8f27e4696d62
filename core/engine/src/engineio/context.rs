//! `EngineContext`: what a session needs of the endpoint that owns it — the options, the path,
//! the stats, the runtime for deferred work, the count of driven WebSockets, and a way to leave
//! the endpoint's session map.
//! Sessions hold this instead of the endpoint, so the endpoint (which holds sessions) and the
//! session do not refer to each other.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Weak};

use super::client_bundle::BundleCache;
use super::write_holds::WriteHolds;
use crate::config::EngineConfig;
use crate::stats::Stats;

/// Where sessions are registered (the endpoint); a closed session removes itself.
pub(crate) trait SessionRegistry: Send + Sync {
    fn remove_session(&self, sid: &str);
}

pub(crate) struct EngineContext {
    pub config: Arc<EngineConfig>,
    /// The mounted path, `/x/` form.
    pub path: String,
    pub stats: Arc<Stats>,
    /// The runtime the endpoint was started on: work that must not run inside a caller's locks
    /// (closing a slow consumer mid-broadcast) is moved onto it, even when the caller is a host
    /// thread outside any runtime.
    pub runtime: Option<tokio::runtime::Handle>,
    /// Where busy WebSocket connections wait to coalesce their writes.
    pub write_holds: Arc<WriteHolds>,
    /// WebSocket connections still being driven (they may be flushing a closed session).
    pub live_sockets: AtomicUsize,
    /// The client bundle's files as served (`config.client_bundle`).
    pub bundle_cache: Arc<BundleCache>,
    registry: Weak<dyn SessionRegistry>,
}

impl EngineContext {
    pub fn new(
        config: Arc<EngineConfig>,
        path: String,
        stats: Arc<Stats>,
        registry: Weak<dyn SessionRegistry>,
    ) -> Self {
        let runtime = tokio::runtime::Handle::try_current().ok();
        Self {
            write_holds: WriteHolds::new(config.ws_write_coalesce, runtime.clone()),
            config,
            path,
            stats,
            runtime,
            live_sockets: AtomicUsize::new(0),
            bundle_cache: Arc::default(),
            registry,
        }
    }

    pub fn remove_session(&self, sid: &str) {
        if let Some(registry) = self.registry.upgrade() {
            registry.remove_session(sid);
        }
    }
}
