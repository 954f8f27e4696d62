//! The preset's state behind every `RealtimeServer` clone, and what it does when a socket
//! connects or leaves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::RwLock;
use roomcast_engine::adapters::redis::RedisAdapter;
use roomcast_engine::socketio::held_acks::HeldAcks;
use roomcast_engine::socketio::namespace::Namespace;
use roomcast_engine::socketio::packet::Args;
use roomcast_engine::socketio::socket::{ClientEvent, SocketRef};
use roomcast_engine::stats::Stats;
use roomcast_engine::Server;
use serde_json::json;

use crate::clock::iso_now;
use crate::config::RealtimeConfig;
use crate::connections::ActiveConnections;
use crate::limits::{RateLimiter, RedisSubscriptionCounter, SubscriptionCounter};
use crate::rooms::{is_subscription_room, user_room};
use crate::validator::AuthGate;

pub type ConnectHook = Arc<dyn Fn(&SocketRef) + Send + Sync>;
pub type DisconnectHook = Arc<dyn Fn(&SocketRef, &str) + Send + Sync>;
pub type EventHook = Arc<dyn Fn(&SocketRef, ClientEvent) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Hooks {
    pub(crate) connect: Option<ConnectHook>,
    pub(crate) disconnect: Option<DisconnectHook>,
    pub(crate) event: Option<EventHook>,
}

pub(crate) struct RealtimeShared {
    pub(crate) config: RealtimeConfig,
    pub(crate) server: Server,
    /// The `/` namespace, looked up once: every host emit goes through it.
    pub(crate) io: Namespace,
    pub(crate) auth: AuthGate,
    pub(crate) connections: ActiveConnections,
    pub(crate) rate_limiter: RateLimiter,
    pub(crate) subscriptions: Arc<dyn SubscriptionCounter>,
    /// Rate-limit violations per socket id; only violators have an entry.
    pub(crate) violations: DashMap<Arc<str>, u32>,
    /// Client acks the host answers later by id (C and JavaScript hosts).
    pub(crate) held_acks: Arc<HeldAcks>,
    pub(crate) hooks: RwLock<Hooks>,
    pub(crate) initialized: AtomicBool,
    pub(crate) redis: parking_lot::Mutex<Option<Arc<RedisAdapter>>>,
    pub(crate) cluster_counter: parking_lot::Mutex<Option<Arc<RedisSubscriptionCounter>>>,
}

impl RealtimeShared {
    pub(crate) fn engine_stats(&self) -> &Stats {
        self.server.live_stats()
    }

    /// Counts a rate-limit violation; a socket that keeps going is disconnected.
    pub(crate) fn note_violation(&self, socket: &SocketRef) {
        let count = {
            let mut entry = self.violations.entry(Arc::from(socket.id())).or_insert(0);
            *entry += 1;
            *entry
        };
        if count > self.config.max_rate_violations {
            tracing::info!(
                sid = socket.id(),
                count,
                "disconnecting client that ignores rate limits"
            );
            socket.disconnect(true);
        }
    }

    pub(crate) fn on_connection(&self, socket: &SocketRef) {
        let Some(identity) = socket.identity() else {
            socket.disconnect(true);
            return;
        };
        let window = self.config.reconnect_window;
        if self.connections.add(&identity.user_id, socket.id(), window) {
            self.engine_stats().reconnections.record();
        }
        socket.join(&user_room(&identity.user_id));
        if socket.recovered() {
            // Its subscription rooms came back with it: count them again (they were released
            // when it dropped). The cap was checked when they were first taken.
            let held = socket
                .rooms()
                .iter()
                .filter(|r| is_subscription_room(r))
                .count() as u32;
            self.subscriptions
                .try_reserve(&identity.user_id, held, u32::MAX);
        }
        tracing::info!(sid = socket.id(), user = %identity.user_id, "websocket connected");
        let welcome = json!({
            "socketId": socket.id(),
            "userId": &*identity.user_id,
            "timestamp": iso_now(),
            "message": "WebSocket connection established",
        });
        if let Ok(args) = Args::serialize(&welcome) {
            let _ = socket.emit("connected", &args);
        }
        let hook = self.hooks.read().connect.clone();
        if let Some(hook) = hook {
            hook(socket);
        }
    }

    pub(crate) fn on_disconnect(&self, socket: &SocketRef, reason: &str) {
        if let Some(identity) = socket.identity() {
            let held = socket
                .rooms()
                .iter()
                .filter(|r| is_subscription_room(r))
                .count() as u32;
            self.subscriptions.release(&identity.user_id, held);
            if self.connections.remove(&identity.user_id, socket.id()) {
                self.rate_limiter.forget_idle(&identity.user_id);
                self.connections.prune(self.config.reconnect_window);
            }
            tracing::info!(sid = socket.id(), user = %identity.user_id, reason, "websocket disconnected");
        }
        self.violations.remove(socket.id());
        self.held_acks.forget_socket(socket.id());
        let hook = self.hooks.read().disconnect.clone();
        if let Some(hook) = hook {
            hook(socket, reason);
        }
    }

    /// A client event the preset does not handle itself goes to the host's hook.
    pub(crate) fn forward_event(&self, socket: &SocketRef, event: ClientEvent) {
        let hook = self.hooks.read().event.clone();
        if let Some(hook) = hook {
            hook(socket, event);
        }
    }

    pub(crate) fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// Connections and unique users on this node.
    pub(crate) fn connection_counts(&self) -> (usize, usize) {
        (self.connections.total(), self.connections.unique_users())
    }

    /// Whether the Redis adapter is connected (false when not configured).
    pub(crate) fn redis_connected(&self) -> bool {
        self.redis
            .lock()
            .as_ref()
            .is_some_and(|a| roomcast_engine::socketio::adapter::Adapter::is_connected(a.as_ref()))
    }
}
