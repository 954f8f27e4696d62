//! Engine configuration. Defaults follow the dashboard (`pingInterval` 25 s, `pingTimeout` 60 s) and the
//! Node server's other defaults; tests shrink the timings.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Address to listen on; port 0 picks a free port (see `Server::local_addr`).
    pub bind: SocketAddr,
    /// Path of the Socket.IO endpoint, with leading and trailing slash.
    pub path: String,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Largest accepted WebSocket message or polling body, in bytes.
    pub max_payload: usize,
    /// Allowed `Origin` values; `None` allows every origin (a development default).
    pub allowed_origins: Option<Vec<String>>,
    /// Frames a session may have queued before it is treated as a slow consumer.
    pub queue_capacity: usize,
    /// How long a WebSocket probe may take to complete the upgrade.
    pub upgrade_timeout: Duration,
    /// Deadline for a client to send complete HTTP request headers.
    pub header_timeout: Duration,
    /// Largest accepted HTTP request head (request line + headers), in bytes.
    pub max_header_bytes: usize,
    /// An Engine.IO session that joins no namespace within this time is closed.
    pub connect_timeout: Duration,
    /// Most binary attachments one Socket.IO packet may announce.
    pub max_attachments: usize,
    /// Deepest JSON nesting accepted in a Socket.IO packet.
    pub max_json_depth: usize,
    /// Initial WebSocket read buffer per connection; it grows on demand for larger messages.
    pub ws_read_buffer: usize,
    /// Listen backlog; tokio's default of 128 drops SYNs in connection storms.
    pub backlog: u32,
    /// Whether polling sessions may upgrade to WebSocket (Node's `allowUpgrades`). When false
    /// the open packet offers no upgrade and an upgrade request is refused.
    pub allow_upgrades: bool,
    /// Connection-state recovery; off unless set.
    pub recovery: Option<RecoveryConfig>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(60_000),
            max_payload: 1_000_000,
            allowed_origins: None,
            queue_capacity: 1024,
            upgrade_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            connect_timeout: Duration::from_secs(45),
            max_attachments: 64,
            max_json_depth: 64,
            ws_read_buffer: 512,
            backlog: 4096,
            allow_upgrades: true,
            recovery: None,
        }
    }
}

impl EngineConfig {
    /// The path normalised to `/x/` form.
    pub(crate) fn normalized_path(path: &str) -> String {
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        }
    }
}

/// Socket.IO connection-state recovery (used by the Socket.IO layer; plain data here so the
/// server's options stay below every layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected session stays recoverable (Node's `maxDisconnectionDuration`).
    pub max_disconnection: Duration,
    /// A recovered socket skips the connect middlewares and keeps the identity and data it had
    /// (Node's `skipMiddlewares`, on by default). Turn it off to validate every connect.
    pub skip_middlewares: bool,
    /// Most broadcasts kept for replay, per namespace.
    pub max_packets: usize,
    /// Most encoded bytes kept for replay, per namespace.
    pub max_bytes: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_disconnection: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_bytes: 32 << 20,
        }
    }
}
