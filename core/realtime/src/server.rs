//! `RealtimeServer`: the preset's public API over the engine's `Server`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::RwLock;
use roomcast_engine::adapters::redis::endpoint::RedisEndpoint;
use roomcast_engine::adapters::redis::{cluster_through_redis, PubSub, RedisAdapterConfig};
use roomcast_engine::error::{Error, ErrorKind, Result};
use roomcast_engine::socketio::held_acks::HeldAcks;
use roomcast_engine::socketio::namespace::Namespace;
use roomcast_engine::socketio::packet::Args;
use roomcast_engine::socketio::socket::{ClientEvent, SocketRef};
use roomcast_engine::Server;
use serde_json::json;

use crate::clock::iso_now;
use crate::config::RealtimeConfig;
use crate::connections::ActiveConnections;
use crate::limits::{
    LocalSubscriptionCounter, RateLimiter, RedisSubscriptionCounter, SubscriptionCounter,
};
use crate::report::{self, RealtimeStats};
use crate::rooms;
use crate::shared::{Hooks, RealtimeShared};
use crate::subscriptions;
use crate::validator::{self, AuthGate, SessionValidator};

/// The trading dashboard's real-time server: the preset over `Server`. Cheap to clone.
#[derive(Clone)]
pub struct RealtimeServer {
    shared: Arc<RealtimeShared>,
}

impl RealtimeServer {
    /// With a Redis URL in the config, subscription caps hold across the cluster.
    pub fn new(config: RealtimeConfig) -> Self {
        let cluster = config.redis_url.as_deref().and_then(|url| {
            let endpoint = match config.redis_pubsub {
                PubSub::Classic => RedisEndpoint::single(url),
                PubSub::Sharded(_) => RedisEndpoint::cluster(url),
            };
            endpoint
                .and_then(|endpoint| {
                    RedisSubscriptionCounter::new(
                        endpoint,
                        &config.redis_prefix,
                        config.redis_node_ttl,
                    )
                })
                .map_err(|error| tracing::error!(%error, "cluster subscription counter disabled"))
                .ok()
        });
        let counter: Arc<dyn SubscriptionCounter> = match &cluster {
            Some(c) => c.clone(),
            None => Arc::new(LocalSubscriptionCounter::default()),
        };
        let this = Self::with_subscription_counter(config, counter);
        *this.shared.cluster_counter.lock() = cluster;
        this
    }

    /// With a custom subscription counter (the Redis adapter supplies a cluster-wide one).
    pub fn with_subscription_counter(
        config: RealtimeConfig,
        counter: Arc<dyn SubscriptionCounter>,
    ) -> Self {
        let mut engine = config.engine.clone();
        if let Some(recovery) = &mut engine.recovery {
            // The dashboard validates the session on every connect, recovered or not: a client
            // that logged out while away must not get its socket back.
            recovery.skip_middlewares = false;
        }
        let server = Server::new(engine);
        let shared = Arc::new(RealtimeShared {
            auth: AuthGate::new(config.auth_timeout),
            rate_limiter: RateLimiter::new(config.rate_limits.clone()),
            config,
            io: server.io(),
            server,
            connections: ActiveConnections::default(),
            subscriptions: counter,
            violations: DashMap::new(),
            held_acks: Arc::default(),
            hooks: RwLock::new(Hooks::default()),
            initialized: AtomicBool::new(false),
            redis: parking_lot::Mutex::new(None),
            cluster_counter: parking_lot::Mutex::new(None),
        });
        let this = Self { shared };
        this.wire();
        this
    }

    /// Puts `ns` (a namespace beside the dashboard's `/`) behind the same login: every connect
    /// to it is validated by the session validator, as connects to `/` are.
    pub fn authenticate(&self, ns: &Namespace) {
        ns.set_middleware(self.session_middleware());
    }

    /// The connect middleware that validates sessions (what `authenticate` installs). It holds
    /// the server weakly: a namespace keeping it does not keep the server alive.
    pub fn session_middleware(&self) -> roomcast_engine::Middleware {
        let weak = Arc::downgrade(&self.shared);
        Arc::new(move |request| {
            let weak = weak.clone();
            Box::pin(async move {
                match weak.upgrade() {
                    Some(shared) => shared.auth.authenticate(request).await.inspect_err(|_| {
                        shared
                            .engine_stats()
                            .record_error(roomcast_engine::stats::error_kind::HANDSHAKE, "");
                    }),
                    None => Err(roomcast_engine::auth::ConnectError::new(
                        validator::AUTHENTICATION_FAILED,
                    )),
                }
            })
        })
    }

    fn wire(&self) {
        let ns = self.shared.server.io();
        self.authenticate(&ns);
        let weak = Arc::downgrade(&self.shared);
        ns.on_connection(move |socket| {
            if let Some(shared) = weak.upgrade() {
                shared.on_connection(socket);
            }
        });
        let weak = Arc::downgrade(&self.shared);
        ns.on_disconnect(move |socket, reason| {
            if let Some(shared) = weak.upgrade() {
                shared.on_disconnect(socket, reason);
            }
        });
        let weak = Arc::downgrade(&self.shared);
        ns.on_event(move |socket, event| {
            if let Some(shared) = weak.upgrade() {
                if let Some(event) = subscriptions::handle(&shared, socket, event) {
                    shared.forward_event(socket, event);
                }
            }
        });
        let weak = Arc::downgrade(&self.shared);
        self.shared
            .server
            .set_extra_route(Arc::new(move |method, path| {
                let shared = weak.upgrade()?;
                if method != hyper::Method::GET {
                    return None;
                }
                let this = RealtimeServer { shared };
                match path {
                    "/health/websocket" => Some((200, "application/json", this.health_json())),
                    "/metrics" => {
                        Some((200, roomcast_engine::metrics::CONTENT_TYPE, this.metrics()))
                    }
                    _ => None,
                }
            }));
    }

    /// The engine underneath, for anything beyond the preset's API (other namespaces, raw emits).
    pub fn engine(&self) -> &Server {
        &self.shared.server
    }

    pub fn config(&self) -> &RealtimeConfig {
        &self.shared.config
    }

    /// The host's session validator (see `AuthRequest`, `AuthDecision`).
    pub fn set_session_validator(&self, validator: SessionValidator) {
        self.shared.auth.set_validator(validator);
    }

    pub fn on_connect(&self, hook: impl Fn(&SocketRef) + Send + Sync + 'static) {
        self.shared.hooks.write().connect = Some(Arc::new(hook));
    }

    /// Called with the Socket.IO disconnect reason (`transport close`, `ping timeout`, …).
    pub fn on_disconnect(&self, hook: impl Fn(&SocketRef, &str) + Send + Sync + 'static) {
        self.shared.hooks.write().disconnect = Some(Arc::new(hook));
    }

    /// Receives every client event that is not built in, with its ack when the client asked for one.
    pub fn on_client_event(&self, hook: impl Fn(&SocketRef, ClientEvent) + Send + Sync + 'static) {
        self.shared.hooks.write().event = Some(Arc::new(hook));
    }

    pub async fn start(&self) -> Result<SocketAddr> {
        self.start_on(self.shared.config.engine.bind).await
    }

    /// Starts on `addr` instead of the configured bind address.
    pub async fn start_on(&self, addr: SocketAddr) -> Result<SocketAddr> {
        self.shared.config.validate()?;
        if let Some(addr) = self.local_addr() {
            return Err(Error::new(
                ErrorKind::AlreadyRunning,
                format!("already listening on {addr}"),
            ));
        }
        self.start_adapter()?;
        let addr = self.shared.server.start_at(addr).await?;
        self.relay_requests_at(addr);
        self.shared.initialized.store(true, Ordering::Release);
        Ok(addr)
    }

    /// Clustered: other nodes relay requests for this node's sessions to its listener (no
    /// sticky sessions needed).
    fn relay_requests_at(&self, addr: SocketAddr) {
        if let Some(adapter) = self.shared.redis.lock().clone() {
            adapter.relay_requests_at(addr.to_string());
        }
    }

    /// With a Redis URL configured, clusters the server through the Redis adapter.
    fn start_adapter(&self) -> Result<()> {
        let Some(url) = self.shared.config.redis_url.clone() else {
            return Ok(());
        };
        if self.shared.redis.lock().is_some() {
            return Ok(());
        }
        let config = RedisAdapterConfig {
            prefix: self.shared.config.redis_prefix.clone(),
            pubsub: self.shared.config.redis_pubsub,
            ..RedisAdapterConfig::new(&url)
        };
        let adapter = cluster_through_redis(&self.shared.server, &config)?;
        *self.shared.redis.lock() = Some(adapter);
        if let Some(counter) = self.shared.cluster_counter.lock().as_ref() {
            counter.start_heartbeat();
        }
        Ok(())
    }

    /// Whether the Redis adapter is connected (false when not configured).
    pub fn redis_connected(&self) -> bool {
        self.shared.redis_connected()
    }

    /// Starts without a listener: the host passes requests in (see `Server::handle_http` and
    /// `Server::adopt_websocket`, reachable through `engine()`).
    pub fn start_detached(&self) {
        if let Err(error) = self.start_adapter() {
            tracing::error!(%error, "redis adapter not started");
        }
        self.shared.server.start_detached();
        self.shared.initialized.store(true, Ordering::Release);
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.server.local_addr()
    }

    /// A broadcast on the main namespace: narrow it with `to`/`except`/`volatile`, then `emit`
    /// (or `emit_with_ack`, `sockets`).
    pub fn broadcast(&self) -> roomcast_engine::Broadcast<'_> {
        self.shared.io.everyone()
    }

    fn io(&self) -> &Namespace {
        &self.shared.io
    }

    /// Emits to every connection of `user_id`; returns how many connections queued it.
    /// Client acks held for the host to answer by id (acks of a socket that left are dropped).
    /// Hooks keep this `Arc`, not the server: a hook holding the server would keep it alive.
    pub fn held_acks(&self) -> &Arc<HeldAcks> {
        &self.shared.held_acks
    }

    /// The connected socket with this id in the main namespace.
    pub fn socket(&self, socket_id: &str) -> Option<SocketRef> {
        self.shared.io.socket(socket_id)
    }

    pub fn emit_to_user(&self, user_id: &str, event: &str, args: &Args) -> usize {
        self.emit_to_room(&Self::user_room(user_id), event, args)
    }

    /// Why a user was disconnected when the host gives no reason.
    pub const DEFAULT_DISCONNECT_REASON: &'static str = "disconnected by the server";

    /// The room every connection of `user_id` joins.
    pub fn user_room(user_id: &str) -> String {
        rooms::user_room(user_id)
    }

    /// Whether an emit to `room` would reach anyone: a connection here, another node
    /// (clustered) or the recovery log. A host can skip building a payload nobody gets.
    pub fn would_deliver_to_room(&self, room: &str) -> bool {
        self.io().would_deliver_to_room(room)
    }

    pub fn emit_to_room(&self, room: &str, event: &str, args: &Args) -> usize {
        self.io().emit_to_room(room, event, args)
    }

    pub fn emit_to_all(&self, event: &str, args: &Args) -> usize {
        self.io().emit(event, args)
    }

    /// Disconnects every connection of `user_id` on every node (they see
    /// `io server disconnect`); returns how many were on this node.
    /// `reason` is logged (clients see `io server disconnect` either way); None logs
    /// [`Self::DEFAULT_DISCONNECT_REASON`].
    pub fn disconnect_user(&self, user_id: &str, reason: Option<&str>) -> usize {
        let reason = reason.unwrap_or(Self::DEFAULT_DISCONNECT_REASON);
        tracing::info!(user = user_id, reason, "disconnecting user");
        let room: Arc<str> = Arc::from(Self::user_room(user_id));
        self.io().disconnect_rooms(&[room], true)
    }

    pub fn subscription_count(&self, user_id: &str) -> u32 {
        self.shared.subscriptions.count(user_id)
    }

    pub fn stats(&self) -> RealtimeStats {
        RealtimeStats::collect(&self.shared)
    }

    /// The health document (`{status, stats: {…}}`).
    pub fn health_json(&self) -> String {
        report::health_json(&self.stats())
    }

    /// Prometheus text exposition of the same figures.
    pub fn metrics(&self) -> String {
        report::prometheus(&self.shared, self.stats())
    }

    /// The dashboard shutdown: stop accepting, `server:shutdown` to everyone, wait the grace,
    /// then disconnect everyone (clients see `io server disconnect`) after their queues are
    /// written. Anything emitted before this call is delivered. `NotRunning` when the server was
    /// never started or is shut down already.
    pub async fn shutdown(&self, grace: std::time::Duration) -> Result<()> {
        if !self.shared.initialized.swap(false, Ordering::AcqRel) {
            return Err(Error::new(ErrorKind::NotRunning, "server is not running"));
        }
        self.shared.server.stop_accepting();
        let notice = json!({
            "message": "Server is shutting down for maintenance",
            "timestamp": iso_now(),
        });
        if let Ok(args) = Args::serialize(&notice) {
            // This node's clients only: the other nodes of a cluster keep running.
            let everyone = roomcast_engine::rooms::broadcast::BroadcastTarget::default();
            self.shared
                .io
                .deliver_remote(&everyone, "server:shutdown", &args, None);
        }
        self.shared
            .server
            .shutdown(grace, self.shared.config.shutdown_drain)
            .await;
        let adapter = self.shared.redis.lock().take();
        if let Some(adapter) = adapter {
            self.shared.io.set_adapter(None);
            adapter.close();
        }
        let counter = self.shared.cluster_counter.lock().clone();
        if let Some(counter) = counter {
            counter.stop().await;
        }
        Ok(())
    }
}
