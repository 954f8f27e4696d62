//! An `Endpoint` is one mounted Engine.IO path: its configuration, its live sessions and the
//! upper-layer handler that each new session is given.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

use super::allow_request::AllowRequestSlot;
use super::packet::{OutFrame, PacketType};
use super::session::{CloseReason, Session, SessionHandler, TransportKind};
use crate::clock::now_ms;
use crate::config::EngineConfig;
use crate::ids::new_wire_id;
use crate::stats::Stats;

/// What the handshake request told us about the client. Kept for the session's lifetime (a later
/// namespace connect runs the middleware again), so it is stored compactly: headers that only
/// matter to the HTTP/WebSocket handshake itself are dropped and the rest own their bytes.
#[derive(Debug, Clone)]
pub struct HandshakeRequest {
    headers: Box<[(HeaderName, HeaderValue)]>,
    pub remote_addr: SocketAddr,
    /// The raw query string of the handshake request.
    pub query: Box<str>,
    /// When the handshake arrived, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
}

impl HandshakeRequest {
    pub fn new(headers: &HeaderMap, remote_addr: SocketAddr, query: &str) -> Self {
        let kept: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .filter(|(name, _)| !is_handshake_only(name))
            .filter_map(|(name, value)| {
                // hyper's values are slices of the connection's read buffer; copying detaches
                // them so the session does not pin that buffer.
                HeaderValue::from_bytes(value.as_bytes())
                    .ok()
                    .map(|v| (name.clone(), v))
            })
            .collect();
        Self {
            headers: kept.into_boxed_slice(),
            remote_addr,
            query: query.into(),
            issued_ms: unix_ms(),
        }
    }

    /// The query parameters, percent-decoded (`+` as a space), in request order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The request headers (minus handshake-only ones: upgrade, connection, sec-websocket-*).
    pub fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in self.headers.iter() {
            map.append(name.clone(), value.clone());
        }
        map
    }

    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn is_handshake_only(name: &HeaderName) -> bool {
    use hyper::header;
    name == header::UPGRADE
        || name == header::CONNECTION
        || name == header::SEC_WEBSOCKET_KEY
        || name == header::SEC_WEBSOCKET_VERSION
        || name == header::SEC_WEBSOCKET_EXTENSIONS
        || name == header::CONTENT_LENGTH
        || name == header::ACCEPT_ENCODING
}

/// The layer above Engine.IO: gives each new session its handler.
pub trait EngineHandler: Send + Sync + 'static {
    /// A session opened; its handshake request is `session.request()`.
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler>;
}

pub struct Endpoint {
    pub(crate) config: Arc<EngineConfig>,
    pub(crate) path: String,
    sessions: DashMap<Box<str>, Arc<Session>>,
    handler: Arc<dyn EngineHandler>,
    pub(crate) stats: Arc<Stats>,
    /// WebSocket connections still being driven (they may be flushing a closed session).
    pub(crate) live_sockets: AtomicUsize,
    /// False once shutdown began: new sessions are refused, existing ones are still served (a
    /// polling client needs new requests, often new TCP connections, to receive its last packets).
    accepting: AtomicBool,
    /// The runtime the endpoint was started on: work that must not run inside a caller's locks
    /// (closing a slow consumer mid-broadcast) is moved onto it, even when the caller is a
    /// host thread outside any runtime.
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    /// The host's handshake hook, if it set one.
    pub(crate) allow_request: AllowRequestSlot,
}

impl Endpoint {
    pub(crate) fn new(
        path: &str,
        config: Arc<EngineConfig>,
        handler: Arc<dyn EngineHandler>,
        stats: Arc<Stats>,
        allow_request: AllowRequestSlot,
    ) -> Self {
        Self {
            allow_request,
            path: EngineConfig::normalized_path(path),
            config,
            sessions: DashMap::new(),
            runtime: tokio::runtime::Handle::try_current().ok(),
            handler,
            stats,
            live_sockets: AtomicUsize::new(0),
            accepting: AtomicBool::new(true),
        }
    }

    /// Opens a session. For WebSocket the open packet is queued as its first frame; for polling
    /// the caller returns it as the handshake response body.
    pub(crate) fn open_session(
        self: &Arc<Self>,
        transport: TransportKind,
        request: HandshakeRequest,
    ) -> (Arc<Session>, String) {
        let id = new_wire_id();
        let session = Arc::new(Session::new(id.clone(), transport, request, self.clone()));
        let open = self.open_packet(&id, transport == TransportKind::Polling);
        if transport == TransportKind::WebSocket {
            session.send(OutFrame::Text(open.clone().into()), false);
        }
        self.sessions.insert(id, session.clone());
        self.stats.sessions_opened.fetch_add(1, Ordering::Relaxed);
        self.stats.sessions_open.fetch_add(1, Ordering::Relaxed);
        let handler = self.handler.on_open(&session);
        session.set_handler(handler);
        tracing::debug!(sid = %session.id, ?transport, "session opened");
        (session, open)
    }

    /// The open packet: exactly the five handshake fields, in the order Node sends them.
    fn open_packet(&self, sid: &str, polling: bool) -> String {
        let upgrades = if polling && self.config.allow_upgrades {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        format!(
            r#"{}{{"sid":"{}","upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            PacketType::Open.digit(),
            sid,
            upgrades,
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload
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
            self.stats.sessions_open.fetch_sub(1, Ordering::Relaxed);
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
        let connect_ms = self.config.connect_timeout.as_millis() as u64;
        let mut expired = Vec::new();
        let linger_ms = self.config.ping_interval.as_millis() as u64;
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
                && now.saturating_sub(session.opened_ms) > connect_ms
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
