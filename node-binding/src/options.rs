//! Options from JavaScript → `RealtimeConfig`. Every field is optional; missing ones keep the
//! dashboard defaults.

use std::collections::HashMap;
use std::time::Duration;

use napi_derive::napi;
use roomcast::limits::RateLimit;
use roomcast::RealtimeConfig;

use crate::error::{invalid, js_error, Result};

#[napi(object)]
#[derive(Default)]
pub struct RateLimitOption {
    pub max: u32,
    pub window_ms: u32,
}

#[napi(object)]
#[derive(Default)]
pub struct RecoveryOption {
    /// How long a dropped session stays recoverable, in ms (default 120000).
    pub max_disconnection_duration: Option<u32>,
    /// Most broadcasts kept for replay (default 10000).
    pub max_packets: Option<u32>,
    /// Most encoded bytes kept for replay (default 32 MiB).
    pub max_bytes: Option<i64>,
    /// Whether a recovered socket skips the connect middlewares (the engine's default when absent).
    pub skip_middlewares: Option<bool>,
}

/// socket.io's `connectionStateRecovery` object → the engine's recovery settings; every field
/// left out keeps the engine's default.
pub(crate) fn recovery_config(
    recovery: RecoveryOption,
) -> Result<roomcast::socketio::recovery::RecoveryConfig> {
    let defaults = roomcast::socketio::recovery::RecoveryConfig::default();
    Ok(roomcast::socketio::recovery::RecoveryConfig {
        max_disconnection: recovery
            .max_disconnection_duration
            .map_or(defaults.max_disconnection, ms),
        max_packets: recovery
            .max_packets
            .map_or(defaults.max_packets, |n| n as usize),
        max_bytes: match recovery.max_bytes {
            None => defaults.max_bytes,
            Some(n) => usize::try_from(n).map_err(|_| invalid("maxBytes must not be negative"))?,
        },
        skip_middlewares: recovery
            .skip_middlewares
            .unwrap_or(defaults.skip_middlewares),
    })
}

/// socket.io's `cors` option. `origin`: `true` echoes the request's origin; absent or `"*"`
/// allows any; one origin or a list allows those.
#[napi(object)]
#[derive(Default)]
pub struct CorsOption {
    pub reflect_origin: Option<bool>,
    pub origins: Option<Vec<String>>,
    pub methods: Option<Vec<String>>,
    pub allowed_headers: Option<Vec<String>>,
    pub exposed_headers: Option<Vec<String>>,
    pub credentials: Option<bool>,
    pub max_age: Option<u32>,
}

/// socket.io's `serveClient`: the directory of the client bundle's files and the version its
/// ETag names.
#[napi(object)]
pub struct ClientBundleOption {
    pub dir: String,
    pub version: String,
}

/// `cors` → the engine's `CorsPolicy` (its defaults where a field is absent).
pub(crate) fn cors_policy(cors: CorsOption) -> roomcast::config::CorsPolicy {
    use roomcast::config::{CorsOrigin, CorsPolicy};
    let defaults = CorsPolicy::default();
    let origin = match (cors.reflect_origin, cors.origins) {
        (Some(true), _) => CorsOrigin::Reflect,
        (_, Some(list)) if list.iter().any(|o| o == "*") => CorsOrigin::Any,
        (_, Some(list)) => CorsOrigin::List(list),
        _ => CorsOrigin::Any,
    };
    CorsPolicy {
        origin,
        methods: cors.methods.map_or(defaults.methods, |m| m.join(",")),
        allowed_headers: cors.allowed_headers.map(|h| h.join(",")),
        exposed_headers: cors.exposed_headers.map(|h| h.join(",")),
        credentials: cors.credentials.unwrap_or(defaults.credentials),
        max_age: cors.max_age.map(u64::from),
    }
}

#[napi(object)]
#[derive(Default)]
pub struct ServerOptions {
    /// Socket.IO connection-state recovery; off when absent.
    pub connection_state_recovery: Option<RecoveryOption>,
    /// Socket.IO path, default `/socket.io/`.
    pub path: Option<String>,
    /// Whether polling clients may upgrade to WebSocket (default true).
    pub allow_upgrades: Option<bool>,
    pub ping_interval: Option<u32>,
    pub ping_timeout: Option<u32>,
    pub max_payload: Option<u32>,
    /// Allowed origins; absent allows all (a development default).
    pub cors_origins: Option<Vec<String>>,
    pub queue_capacity: Option<u32>,
    /// WebSocket write coalescing window in ms (0: off).
    pub write_coalesce: Option<u32>,
    pub auth_timeout: Option<u32>,
    pub max_subscriptions: Option<u32>,
    pub max_symbols_per_request: Option<u32>,
    pub max_rate_violations: Option<u32>,
    /// Event name → limit; replaces the default table when given.
    pub rate_limits: Option<HashMap<String, RateLimitOption>>,
    pub shutdown_grace: Option<u32>,
    /// Redis URL: clusters the server with other roomcast or Node Socket.IO nodes.
    pub redis_url: Option<String>,
    /// Redis channel prefix (the Node adapter's `key`), default `socket.io`.
    pub redis_prefix: Option<String>,
    /// Sharded pub/sub on the Redis Cluster `redis_url` lists, in this subscription mode.
    pub redis_sharded: Option<String>,
    /// permessage-deflate: on when set; text frames of at least `threshold` bytes compressed.
    pub per_message_deflate: Option<DeflateOption>,
    /// Compressed polling responses: on when set (payloads of at least `threshold` bytes).
    pub http_compression: Option<DeflateOption>,
}

/// socket.io's `perMessageDeflate` / `httpCompression` (`true` arrives as an empty object).
#[napi(object)]
#[derive(Default)]
pub struct DeflateOption {
    pub threshold: Option<u32>,
}

fn ms(value: u32) -> Duration {
    Duration::from_millis(u64::from(value))
}

/// The options as the core's config; `RealtimeConfig::validate` refuses what cannot run.
pub fn to_config(options: ServerOptions) -> Result<RealtimeConfig> {
    let mut config = RealtimeConfig::default();
    let engine = &mut config.engine;
    if let Some(path) = options.path {
        engine.path = path;
    }
    if let Some(v) = options.allow_upgrades {
        engine.allow_upgrades = v;
    }
    if let Some(v) = options.ping_interval {
        engine.ping_interval = ms(v);
    }
    if let Some(v) = options.ping_timeout {
        engine.ping_timeout = ms(v);
    }
    if let Some(v) = options.max_payload {
        engine.max_payload = v as usize;
    }
    if let Some(origins) = options.cors_origins {
        engine.allowed_origins = Some(origins);
    }
    if let Some(v) = options.queue_capacity {
        engine.queue_capacity = v as usize;
    }
    if let Some(v) = options.write_coalesce {
        engine.ws_write_coalesce = ms(v);
    }
    if let Some(v) = options.auth_timeout {
        config.auth_timeout = ms(v);
    }
    if let Some(v) = options.max_subscriptions {
        config.max_subscriptions = v;
    }
    if let Some(v) = options.max_symbols_per_request {
        config.max_symbols_per_request = v as usize;
    }
    if let Some(v) = options.max_rate_violations {
        config.max_rate_violations = v;
    }
    if let Some(table) = options.rate_limits {
        config.rate_limits = table
            .into_iter()
            .map(|(event, l)| {
                (
                    event,
                    RateLimit {
                        max: l.max,
                        window: ms(l.window_ms),
                    },
                )
            })
            .collect();
    }
    if let Some(recovery) = options.connection_state_recovery {
        config.engine.recovery = Some(recovery_config(recovery)?);
    }
    if let Some(deflate) = options.per_message_deflate {
        let threshold = deflate.threshold.map(|t| t as usize);
        config.engine.set_per_message_deflate(true, threshold);
    }
    if let Some(compression) = options.http_compression {
        let threshold = compression.threshold.map(|t| t as usize);
        config.engine.set_http_compression(true, threshold);
    }
    config.redis_url = options.redis_url;
    if let Some(prefix) = options.redis_prefix {
        config.redis_prefix = prefix;
    }
    if let Some(mode) = options.redis_sharded {
        config.set_redis_sharded(Some(&mode)).map_err(js_error)?;
    }
    if let Some(v) = options.shutdown_grace {
        config.shutdown_grace = ms(v);
    }
    config.validate().map_err(js_error)?;
    Ok(config)
}
