//! `roomcast_config`: the engine's settings, built with setters before `roomcast_server_new`.

use std::time::Duration;

use engine::limits::RateLimit;
use engine::socketio::recovery::RecoveryConfig;
use engine::RealtimeConfig;

use crate::error::try_ffi;
use crate::error::{fail, guard, result_of, roomcast_result};
use crate::strings::borrow_str;

/// Engine settings. Create with `roomcast_config_new`, release with `roomcast_config_free`.
/// Not thread-safe: configure from one thread.
pub struct roomcast_config {
    pub(crate) inner: RealtimeConfig,
}

/// A config with the engine's defaults, the same in every host: 127.0.0.1 on any free port
/// (roomcast_server_start reports it), path `/socket.io/`, ping 25000/60000 ms, 50 subscriptions
/// per user, `subscribe:*` limited to 10 per minute, auth timeout 5000 ms.
///
/// Parameters: none.
/// Returns: the config (never NULL).
/// Memory: owned by the caller; release it with roomcast_config_free. Not thread-safe: configure
/// from one thread.
#[no_mangle]
pub extern "C" fn roomcast_config_new() -> *mut roomcast_config {
    Box::into_raw(Box::new(roomcast_config {
        inner: RealtimeConfig::default(),
    }))
}

/// Releases a config.
///
/// Parameters: `config` from roomcast_config_new, or NULL (ignored).
/// Returns: nothing.
/// Memory: `config` is invalid afterwards. Servers copy what they need, so this may follow
/// roomcast_server_new immediately.
#[no_mangle]
pub extern "C" fn roomcast_config_free(config: *mut roomcast_config) {
    if !config.is_null() {
        // ok: created by roomcast_config_new and freed exactly once by contract.
        drop(unsafe { Box::from_raw(config) });
    }
}

fn with_config(
    config: *mut roomcast_config,
    f: impl FnOnce(&mut RealtimeConfig) -> roomcast_result,
) -> roomcast_result {
    guard(|| {
        if config.is_null() {
            return fail(roomcast_result::ErrNullPointer, "config is NULL");
        }
        // ok: a live config from roomcast_config_new, used from one thread.
        f(unsafe { &mut (*config).inner })
    })
}

/// The listening address.
///
/// Parameters: `host`, an IP literal (`127.0.0.1`, `::1`, `0.0.0.0`); `port` (0 picks a free port,
/// which roomcast_server_start reports).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for a host that is not an IP
/// address; ROOMCAST_RESULT_ERR_NULL_POINTER; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `host` is borrowed for the call.
#[no_mangle]
pub extern "C" fn roomcast_config_set_listen(
    config: *mut roomcast_config,
    host: *const u8,
    host_len: usize,
    port: u16,
) -> roomcast_result {
    with_config(config, |c| {
        let host = try_ffi!(borrow_str(host, host_len, "host"));
        result_of(c.engine.set_listen(host, port))
    })
}

/// The Socket.IO path, e.g. `/socket.io/`.
///
/// Parameters: `path` (UTF-8, starting with `/`).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT when it does not start with `/`.
/// Memory: `path` is borrowed for the call.
#[no_mangle]
pub extern "C" fn roomcast_config_set_path(
    config: *mut roomcast_config,
    path: *const u8,
    path_len: usize,
) -> roomcast_result {
    with_config(config, |c| {
        let path = try_ffi!(borrow_str(path, path_len, "path"));
        result_of(c.engine.set_path(path))
    })
}

/// The heartbeat: a ping every `interval_ms`; a client silent for `timeout_ms` after it is
/// dropped.
///
/// Parameters: `interval_ms`, `timeout_ms` (both > 0).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for a zero value.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_ping(
    config: *mut roomcast_config,
    interval_ms: u32,
    timeout_ms: u32,
) -> roomcast_result {
    with_config(config, |c| {
        result_of(c.engine.set_ping(
            Duration::from_millis(u64::from(interval_ms)),
            Duration::from_millis(u64::from(timeout_ms)),
        ))
    })
}

/// Whether polling clients may upgrade to WebSocket (default true). When false the open packet
/// offers no upgrade and an upgrade request is refused with HTTP 400.
///
/// Parameters: `allow`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_allow_upgrades(
    config: *mut roomcast_config,
    allow: bool,
) -> roomcast_result {
    with_config(config, |c| {
        c.engine.allow_upgrades = allow;
        roomcast_result::Ok
    })
}

/// A compression setter with its threshold (0 stands for the core's default).
fn with_threshold(
    config: *mut roomcast_config,
    threshold: usize,
    set: impl FnOnce(&mut engine::EngineConfig, Option<usize>),
) -> roomcast_result {
    with_config(config, |c| {
        set(&mut c.engine, (threshold > 0).then_some(threshold));
        roomcast_result::Ok
    })
}

/// permessage-deflate on WebSocket connections (off by default): text frames of at least
/// `threshold` bytes go out compressed to clients that negotiated it, a broadcast compressed
/// once for all of them; compressed client frames are inflated within the payload limit.
///
/// Parameters: `enabled`; `threshold` in bytes (0: the default, 1024).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_per_message_deflate(
    config: *mut roomcast_config,
    enabled: bool,
    threshold: usize,
) -> roomcast_result {
    with_threshold(config, threshold, |engine, threshold| {
        engine.set_per_message_deflate(enabled, threshold)
    })
}

/// gzip/deflate-encoded long-polling responses (off by default): payloads of at least
/// `threshold` bytes, for clients whose `Accept-Encoding` allows it.
///
/// Parameters: `enabled`; `threshold` in bytes (0: the default, 1024).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_http_compression(
    config: *mut roomcast_config,
    enabled: bool,
    threshold: usize,
) -> roomcast_result {
    with_threshold(config, threshold, |engine, threshold| {
        engine.set_http_compression(enabled, threshold)
    })
}

/// The largest accepted WebSocket message or polling body.
///
/// Parameters: `bytes` (> 0).
/// Returns: ROOMCAST_RESULT_OK; the server refuses 0 when it starts (ROOMCAST_RESULT_ERR_INVALID_ARGUMENT).
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_max_payload(
    config: *mut roomcast_config,
    bytes: u32,
) -> roomcast_result {
    with_config(config, |c| {
        c.engine.max_payload = bytes as usize;
        roomcast_result::Ok
    })
}

/// WebSocket write coalescing: a connection that wrote less than `ms` ago leaves new frames
/// queued until the next tick (at most `ms`), so a fast feed reaches each client in fewer
/// writes; a connection quiet for `ms` writes at once. 0 turns it off (default 1).
///
/// Returns: ROOMCAST_RESULT_OK.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_write_coalesce_ms(
    config: *mut roomcast_config,
    ms: u32,
) -> roomcast_result {
    with_config(config, |c| {
        c.engine.ws_write_coalesce = std::time::Duration::from_millis(u64::from(ms));
        roomcast_result::Ok
    })
}

/// Turns on Socket.IO connection-state recovery: a client that drops and comes back within
/// `max_disconnection_ms` gets its socket id, rooms and missed broadcasts back.
///
/// Parameters: `max_disconnection_ms` (0 turns recovery off again); `max_packets` and `max_bytes`,
/// the most broadcasts and encoded bytes the replay log keeps per namespace.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_recovery(
    config: *mut roomcast_config,
    max_disconnection_ms: u32,
    max_packets: u32,
    max_bytes: u64,
) -> roomcast_result {
    with_config(config, |c| {
        c.engine.recovery = (max_disconnection_ms > 0).then(|| RecoveryConfig {
            max_disconnection: Duration::from_millis(u64::from(max_disconnection_ms)),
            max_packets: max_packets as usize,
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            ..RecoveryConfig::default()
        });
        roomcast_result::Ok
    })
}

/// How long the auth callback has to complete a request before the handshake fails
/// (`AUTHENTICATION_FAILED`).
///
/// Parameters: `timeout_ms`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_auth_timeout(
    config: *mut roomcast_config,
    timeout_ms: u32,
) -> roomcast_result {
    with_config(config, |c| {
        c.auth_timeout = Duration::from_millis(u64::from(timeout_ms));
        roomcast_result::Ok
    })
}

/// Concurrent subscriptions per user, across all of the user's connections (and nodes, when
/// clustered).
///
/// Parameters: `max`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: nothing is retained.
#[no_mangle]
pub extern "C" fn roomcast_config_set_max_subscriptions(
    config: *mut roomcast_config,
    max: u32,
) -> roomcast_result {
    with_config(config, |c| {
        c.max_subscriptions = max;
        roomcast_result::Ok
    })
}

/// Limits `event` (any event name, built-in or custom) to `max` requests per `window_ms` per
/// user; replaces an earlier limit of the same event.
///
/// Parameters: `event` (UTF-8, not empty); `max`; `window_ms` (> 0).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for an empty event or a zero
/// window; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `event` is borrowed for the call (copied).
#[no_mangle]
pub extern "C" fn roomcast_config_set_rate_limit(
    config: *mut roomcast_config,
    event: *const u8,
    event_len: usize,
    max: u32,
    window_ms: u32,
) -> roomcast_result {
    with_config(config, |c| {
        let event = try_ffi!(borrow_str(event, event_len, "event"));
        let limit = RateLimit {
            max,
            window: Duration::from_millis(u64::from(window_ms)),
        };
        result_of(c.set_rate_limit(event, limit))
    })
}

/// Adds an allowed `Origin`; with none added, every origin is allowed.
///
/// Parameters: `origin` (UTF-8, e.g. `https://dashboard.example.com`).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_UTF8; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: `origin` is borrowed for the call (copied).
#[no_mangle]
pub extern "C" fn roomcast_config_add_cors_origin(
    config: *mut roomcast_config,
    origin: *const u8,
    origin_len: usize,
) -> roomcast_result {
    with_config(config, |c| match borrow_str(origin, origin_len, "origin") {
        Ok(o) => {
            c.engine
                .allowed_origins
                .get_or_insert_with(Vec::new)
                .push(o.to_owned());
            roomcast_result::Ok
        }
        Err(code) => code,
    })
}

/// Makes the Redis cluster of `roomcast_config_set_redis_url` sharded pub/sub on a Redis
/// Cluster (Redis 7 `SPUBLISH`/`SSUBSCRIBE`), as the Node `createShardedAdapter`: the URL then
/// lists cluster nodes, comma-separated.
///
/// Parameters: `mode` (`static`, `dynamic` or `dynamic-private`; NULL: `dynamic`).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for another mode.
/// Memory: `mode` is borrowed for the call.
#[no_mangle]
pub extern "C" fn roomcast_config_set_redis_sharded(
    config: *mut roomcast_config,
    mode: *const u8,
    mode_len: usize,
) -> roomcast_result {
    with_config(config, |c| {
        let mode = match mode.is_null() {
            true => None,
            false => Some(try_ffi!(borrow_str(mode, mode_len, "mode"))),
        };
        result_of(c.set_redis_sharded(mode))
    })
}

/// Clusters the server through Redis: broadcasts, user emits and disconnects reach every node,
/// in the format of the Node `@socket.io/redis-adapter`.
///
/// Parameters: `url` (`redis://host:port` or `rediss://…`).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for another scheme.
/// Memory: `url` is borrowed for the call (copied).
#[no_mangle]
pub extern "C" fn roomcast_config_set_redis_url(
    config: *mut roomcast_config,
    url: *const u8,
    url_len: usize,
) -> roomcast_result {
    with_config(config, |c| {
        let url = try_ffi!(borrow_str(url, url_len, "url"));
        result_of(c.set_redis_url(url))
    })
}
