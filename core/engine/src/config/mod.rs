//! Engine configuration. Defaults follow the dashboard (`pingInterval` 25 s, `pingTimeout` 60 s) and the
//! Node server's other defaults; tests shrink the timings.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::error::{Error, Result};

mod cors;
pub use cors::{CorsOrigin, CorsPolicy};

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
    /// The CORS headers of HTTP answers (socket.io's `cors`); `None` echoes an allowed origin
    /// with credentials.
    pub cors: Option<CorsPolicy>,
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
    /// Write coalescing on WebSocket connections: one that wrote less than this long ago leaves
    /// new frames queued until the next tick (at most this long), so a feed emitting one at a
    /// time faster than this reaches each client in fewer, larger writes. A connection quiet for
    /// this long writes at once. Zero turns it off.
    pub ws_write_coalesce: Duration,
    /// Listen backlog; tokio's default of 128 drops SYNs in connection storms.
    pub backlog: u32,
    /// After this many sessions opened or closed, once none has for one heartbeat sweep, the
    /// allocator's free pages go back to the system (glibc keeps a connect storm's transient
    /// memory otherwise). `None` never does.
    pub release_memory_after: Option<u64>,
    /// Whether polling sessions may upgrade to WebSocket (Node's `allowUpgrades`). When false
    /// the open packet offers no upgrade and an upgrade request is refused.
    pub allow_upgrades: bool,
    /// Which transports clients may use (Node's `transports`); a request for another one gets
    /// `Transport unknown`, and the open packet offers an upgrade only when WebSocket is allowed.
    pub allow_polling: bool,
    pub allow_websocket: bool,
    /// Connection-state recovery; off unless set.
    pub recovery: Option<RecoveryConfig>,
    /// permessage-deflate on WebSocket connections (Node's `perMessageDeflate`); off unless set.
    pub per_message_deflate: Option<DeflateConfig>,
    /// gzip/deflate-encoded long-polling responses (Node's `httpCompression`); off unless set.
    pub http_compression: Option<DeflateConfig>,
    /// The Socket.IO client bundle served under the path (socket.io's `serveClient`); none
    /// unless set.
    pub client_bundle: Option<ClientBundle>,
}

/// Where the client bundle's files are (`socket.io.js`, `.min.js`, `.esm.min.js`,
/// `.msgpack.min.js` and their `.map`s: a `socket.io-client` package's `dist/`), and the
/// version its ETag names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientBundle {
    pub dir: std::path::PathBuf,
    pub version: String,
}

/// Compression settings (permessage-deflate, polling responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// Frames (or polling payloads) of at least this many bytes are compressed (Node's default:
    /// 1024).
    pub threshold: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self { threshold: 1024 }
    }
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
            cors: None,
            queue_capacity: 1024,
            upgrade_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            connect_timeout: Duration::from_secs(45),
            max_attachments: 64,
            max_json_depth: 64,
            ws_write_coalesce: Duration::from_millis(1),
            backlog: 4096,
            release_memory_after: Some(1000),
            allow_upgrades: true,
            allow_polling: true,
            allow_websocket: true,
            recovery: None,
            per_message_deflate: None,
            http_compression: None,
            client_bundle: None,
        }
    }
}

impl EngineConfig {
    /// Listens on `host` (an IP literal) and `port` (0 picks a free port).
    pub fn set_listen(&mut self, host: &str, port: u16) -> Result<()> {
        self.bind = listen_addr(host, port)?;
        Ok(())
    }

    /// The configured address with `host` (an IP literal) and/or `port` put in its place.
    pub fn bind_with(&self, host: Option<&str>, port: Option<u16>) -> Result<SocketAddr> {
        let port = port.unwrap_or(self.bind.port());
        match host {
            Some(host) => listen_addr(host, port),
            None => Ok(SocketAddr::new(self.bind.ip(), port)),
        }
    }

    /// Turns permessage-deflate on, compressing text frames of at least `threshold` bytes
    /// (`DeflateConfig::default()`'s when None), or off (`enabled` false).
    pub fn set_per_message_deflate(&mut self, enabled: bool, threshold: Option<usize>) {
        self.per_message_deflate = enabled.then(|| DeflateConfig {
            threshold: threshold.unwrap_or(DeflateConfig::default().threshold),
        });
    }

    /// Turns compressed polling responses on (payloads of at least `threshold` bytes, the
    /// default's when None) or off.
    pub fn set_http_compression(&mut self, enabled: bool, threshold: Option<usize>) {
        self.http_compression = enabled.then(|| DeflateConfig {
            threshold: threshold.unwrap_or(DeflateConfig::default().threshold),
        });
    }

    pub fn set_path(&mut self, path: &str) -> Result<()> {
        check_path(path)?;
        self.path = path.to_owned();
        Ok(())
    }

    pub fn set_ping(&mut self, interval: Duration, timeout: Duration) -> Result<()> {
        check_ping(interval, timeout)?;
        self.ping_interval = interval;
        self.ping_timeout = timeout;
        Ok(())
    }

    /// Refuses settings the engine cannot run with; `Server::start` calls it, hosts may call
    /// it earlier to report a mistake where it was made.
    pub fn validate(&self) -> Result<()> {
        check_path(&self.path)?;
        check_ping(self.ping_interval, self.ping_timeout)?;
        if self.queue_capacity == 0 {
            return Err(Error::invalid_argument("queue capacity must be > 0"));
        }
        if self.max_payload == 0 {
            return Err(Error::invalid_argument("max payload must be > 0"));
        }
        if !self.allow_polling && !self.allow_websocket {
            return Err(Error::invalid_argument(
                "at least one transport must be allowed",
            ));
        }
        Ok(())
    }

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

/// The address to listen on from an IP literal and a port (0 picks a free port).
pub fn listen_addr(host: &str, port: u16) -> Result<SocketAddr> {
    let ip: IpAddr = host
        .parse()
        .map_err(|_| Error::invalid_argument(format!("not an IP address: {host}")))?;
    Ok(SocketAddr::new(ip, port))
}

fn check_path(path: &str) -> Result<()> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(Error::invalid_argument("path must start with '/'"))
    }
}

fn check_ping(interval: Duration, timeout: Duration) -> Result<()> {
    if interval.is_zero() || timeout.is_zero() {
        Err(Error::invalid_argument(
            "ping interval and timeout must be > 0",
        ))
    } else {
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn setters_refuse_what_the_engine_cannot_run_with() {
        let mut config = EngineConfig::default();
        let refused = config.set_path("socket.io").unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::InvalidArgument);
        assert_eq!(config.path, "/socket.io/");
        assert!(config
            .set_ping(Duration::ZERO, Duration::from_secs(1))
            .is_err());
        assert!(config.set_listen("localhost", 80).is_err());
        config.set_listen("::1", 8080).unwrap();
        assert_eq!(config.bind, "[::1]:8080".parse().unwrap());
        config.queue_capacity = 0;
        assert_eq!(
            config.validate().unwrap_err().message(),
            "queue capacity must be > 0"
        );
    }
}
