//! An `Endpoint` is one mounted Engine.IO path: its configuration, its live sessions and the
//! upper-layer handler that each new session is given.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use compact_str::CompactString;
use dashmap::DashMap;

use super::allow_request::AllowRequestSlot;
use super::connection_error::ConnectionErrorSlot;
use super::context::{EngineContext, SessionRegistry};
use super::forward::SessionLocatorSlot;
use super::handshake::HandshakeRequest;
use super::packet::{OutFrame, PacketType};
use super::session::{CloseReason, Session, SessionHandler, TransportKind};
use crate::clock::now_ms;
use crate::config::EngineConfig;
use crate::ids::new_wire_id;
use crate::stats::Stats;

/// The layer above Engine.IO: gives each new session its handler.
pub trait EngineHandler: Send + Sync + 'static {
    /// A session opened; its handshake request is `session.request()`.
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler>;
}

pub struct Endpoint {
    /// The options, path, stats and runtime, shared with every session.
    pub(crate) context: Arc<EngineContext>,
    sessions: DashMap<CompactString, Arc<Session>>,
    handler: Arc<dyn EngineHandler>,
    /// False once shutdown began: new sessions are refused, existing ones are still served (a
    /// polling client needs new requests, often new TCP connections, to receive its last packets).
    accepting: AtomicBool,
    /// The host's handshake hook, if it set one.
    pub(crate) allow_request: AllowRequestSlot,
    /// Where refused requests are reported, if the host listens.
    pub(crate) connection_error: ConnectionErrorSlot,
    /// Who owns the sessions of other nodes, when clustered (their requests are relayed).
    pub(crate) session_locator: SessionLocatorSlot,
}

/// The hooks a server shares with all of its endpoints (each set before or after start).
#[derive(Clone, Default)]
pub(crate) struct EndpointHooks {
    pub allow_request: AllowRequestSlot,
    pub connection_error: ConnectionErrorSlot,
    pub session_locator: SessionLocatorSlot,
}

impl Endpoint {
    pub(crate) fn new(
        path: &str,
        config: Arc<EngineConfig>,
        handler: Arc<dyn EngineHandler>,
        stats: Arc<Stats>,
        hooks: EndpointHooks,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me: &Weak<Self>| {
            let registry: Weak<dyn SessionRegistry> = me.clone();
            Self {
                context: Arc::new(EngineContext::new(
                    config,
                    EngineConfig::normalized_path(path),
                    stats,
                    registry,
                )),
                allow_request: hooks.allow_request,
                connection_error: hooks.connection_error,
                session_locator: hooks.session_locator,
                sessions: DashMap::new(),
                handler,
                accepting: AtomicBool::new(true),
            }
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.context.path
    }

    /// Opens a session. For WebSocket the open packet is queued as its first frame; for polling
    /// the caller returns it as the handshake response body.
    pub(crate) fn open_session(
        self: &Arc<Self>,
        transport: TransportKind,
        request: HandshakeRequest,
    ) -> (Arc<Session>, String) {
        let id = self.new_session_id();
        let session = Arc::new(Session::new(
            id.clone(),
            transport,
            request,
            self.context.clone(),
        ));
        let open = self.open_packet(&id, transport == TransportKind::Polling);
        if transport == TransportKind::WebSocket {
            session.send(OutFrame::Text(open.clone().into()), false);
        }
        self.sessions.insert(id, session.clone());
        self.context
            .stats
            .sessions_opened
            .fetch_add(1, Ordering::Relaxed);
        self.context
            .stats
            .sessions_open
            .fetch_add(1, Ordering::Relaxed);
        let handler = self.handler.on_open(&session);
        session.set_handler(handler);
        tracing::debug!(sid = %session.id, ?transport, "session opened");
        (session, open)
    }

    /// A fresh session id; clustered, it starts with this node's tag (so another node that
    /// gets one of its requests knows where to relay it), and keeps the usual 20 characters.
    fn new_session_id(&self) -> CompactString {
        let id = new_wire_id();
        let locator = self.session_locator.read().clone();
        match locator {
            Some(locator) if id.len() > locator.tag().len() => {
                let tag = locator.tag();
                compact_str::format_compact!("{tag}{}", &id[tag.len()..])
            }
            _ => id,
        }
    }

    /// The open packet: exactly the five handshake fields, in the order Node sends them.
    fn open_packet(&self, sid: &str, polling: bool) -> String {
        let config = &self.context.config;
        let upgrades = if polling && config.allow_upgrades && config.allow_websocket {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        format!(
            r#"{}{{"sid":"{}","upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            PacketType::Open.digit(),
            sid,
            upgrades,
            self.context.config.ping_interval.as_millis(),
            self.context.config.ping_timeout.as_millis(),
            self.context.config.max_payload
        )
    }

    pub(crate) fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    pub(crate) fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    pub(crate) fn session(&self, sid: &str) -> Option<Arc<Session>> {
        self.sessions.get(sid).map(|s| s.clone())
    }

    pub(crate) fn remove_session(&self, sid: &str) {
        if self.sessions.remove(sid).is_some() {
            self.context
                .stats
                .sessions_open
                .fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions that still have packets waiting to be written (shutdown waits for them).
    pub(crate) fn undelivered(&self) -> usize {
        self.sessions
            .iter()
            .filter(|e| !e.value().queue.is_empty())
            .count()
    }

    pub(crate) fn sessions(&self) -> Vec<Arc<Session>> {
        self.sessions.iter().map(|e| e.value().clone()).collect()
    }

    /// One heartbeat pass: pings sessions that are due and closes those that missed their pong or
    /// never joined the upper layer in time. Closing happens after the map is released, because
    /// closing removes from the same map.
    pub(crate) fn sweep(&self) {
        let now = now_ms();
        let connect_ms = self.context.config.connect_timeout.as_millis() as u64;
        let mut expired = Vec::new();
        let linger_ms = self.context.config.ping_interval.as_millis() as u64;
        let mut lingering = Vec::new();
        for entry in self.sessions.iter() {
            let session = entry.value();
            if session.is_closed() {
                if now.saturating_sub(session.closed_ms()) > linger_ms {
                    lingering.push(session.id.clone());
                }
            } else if session.heartbeat_tick(now) {
                expired.push((session.clone(), CloseReason::PingTimeout));
            } else if !session.connected_upper.load(Ordering::Acquire)
                && now.saturating_sub(session.opened_ms()) > connect_ms
            {
                expired.push((session.clone(), CloseReason::TransportClose));
            }
        }
        for sid in lingering {
            self.remove_session(&sid);
        }
        for (session, reason) in expired {
            tracing::debug!(sid = %session.id, reason = reason.as_str(), "heartbeat closes session");
            session.close(reason);
        }
    }

    /// Closes every session (shutdown), letting queued frames be written first.
    pub(crate) fn close_all(&self, reason: CloseReason) {
        for session in self.sessions() {
            session.close(reason);
        }
    }
}

impl SessionRegistry for Endpoint {
    fn remove_session(&self, sid: &str) {
        Endpoint::remove_session(self, sid);
    }
}
