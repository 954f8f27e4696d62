//! Stats, Prometheus metrics and the health document, from the engine's one stats source.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use engine::stats::{ClassLatency, RECIPIENT_CLASSES};

use crate::error::try_ffi;
use crate::error::{fail, guard, roomcast_result};
use crate::server::{roomcast_server, server_ref};
use crate::strings::write_out;

/// One broadcast size of roomcast_stats.broadcast_latency: how many broadcasts were timed from
/// the emit call to their last recipient's frame handed to the kernel, and the quantiles in ms.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomcast_broadcast_latency {
    /// The size class, recipients on this node: "1", "2-10", "11-100", "101-1000",
    /// "1001-10000" or "10001+". A static string: never freed.
    pub recipients: *const c_char,
    pub broadcasts: u64,
    pub latency_p50_ms: f64,
    pub latency_p90_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_p999_ms: f64,
    pub latency_max_ms: f64,
}

impl Default for roomcast_broadcast_latency {
    fn default() -> Self {
        Self {
            recipients: std::ptr::null(),
            broadcasts: 0,
            latency_p50_ms: 0.0,
            latency_p90_ms: 0.0,
            latency_p99_ms: 0.0,
            latency_p999_ms: 0.0,
            latency_max_ms: 0.0,
        }
    }
}

/// The engine's class names as C strings, made once.
fn class_name(index: usize) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        RECIPIENT_CLASSES
            .iter()
            .map(|name| CString::new(*name).unwrap_or_default())
            .collect()
    });
    names
        .get(index)
        .map_or(std::ptr::null(), |name| name.as_ptr())
}

fn broadcast_latency(index: usize, class: &ClassLatency) -> roomcast_broadcast_latency {
    roomcast_broadcast_latency {
        recipients: class_name(index),
        broadcasts: class.broadcasts,
        latency_p50_ms: class.latency.p50_ms,
        latency_p90_ms: class.latency.p90_ms,
        latency_p99_ms: class.latency.p99_ms,
        latency_p999_ms: class.latency.p999_ms,
        latency_max_ms: class.latency.max_ms,
    }
}

/// How many broadcast sizes roomcast_stats.broadcast_latency holds (the engine's classes).
pub const ROOMCAST_BROADCAST_CLASSES: usize = 6;
const _: () = assert!(ROOMCAST_BROADCAST_CLASSES == RECIPIENT_CLASSES.len());

/// Figures of roomcast_server_stats.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct roomcast_stats {
    pub initialized: bool,
    pub redis_adapter: bool,
    pub total_connections: u64,
    pub unique_users: u64,
    /// Seconds since the server was created.
    pub uptime: u64,
    pub reconnections_per_minute: u64,
    pub errors_per_minute: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped: u64,
    pub slow_consumers: u64,
    pub rate_limited: u64,
    /// Reconnects restored by connection-state recovery, and those that connected as new.
    pub recovered: u64,
    pub not_recovered: u64,
    pub memory_rss_bytes: u64,
    /// Server receive → handler done, per client event: quantiles and max, in ms.
    pub event_latency_p50_ms: f64,
    pub event_latency_p90_ms: f64,
    pub event_latency_p99_ms: f64,
    pub event_latency_p999_ms: f64,
    pub event_latency_max_ms: f64,
    /// Emit → written to the client's transport: quantiles and max, in ms.
    pub emit_latency_p50_ms: f64,
    pub emit_latency_p90_ms: f64,
    pub emit_latency_p99_ms: f64,
    pub emit_latency_p999_ms: f64,
    pub emit_latency_max_ms: f64,
    /// Emit → the last recipient's frame written, per broadcast size, smallest first.
    pub broadcast_latency: [roomcast_broadcast_latency; ROOMCAST_BROADCAST_CLASSES],
}

/// The engine's figures, the same ones every host's stats call returns.
///
/// Parameters: `out_stats` (not NULL), filled in.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: `out_stats` is caller-owned. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_stats(
    server: *const roomcast_server,
    out_stats: *mut roomcast_stats,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        if out_stats.is_null() {
            return fail(roomcast_result::ErrNullPointer, "out_stats is NULL");
        }
        let st = s.server.stats();
        let out = roomcast_stats {
            initialized: st.initialized,
            redis_adapter: st.redis_adapter,
            total_connections: st.total_connections as u64,
            unique_users: st.unique_users as u64,
            uptime: st.uptime,
            reconnections_per_minute: st.reconnections_per_minute,
            errors_per_minute: st.errors_per_minute,
            messages_in: st.messages_in,
            messages_out: st.messages_out,
            dropped: st.dropped,
            slow_consumers: st.slow_consumers,
            rate_limited: st.rate_limited,
            recovered: st.recovered,
            not_recovered: st.not_recovered,
            memory_rss_bytes: st.memory_rss_bytes,
            event_latency_p50_ms: st.event_latency.p50_ms,
            event_latency_p90_ms: st.event_latency.p90_ms,
            event_latency_p99_ms: st.event_latency.p99_ms,
            event_latency_p999_ms: st.event_latency.p999_ms,
            event_latency_max_ms: st.event_latency.max_ms,
            emit_latency_p50_ms: st.emit_latency.p50_ms,
            emit_latency_p90_ms: st.emit_latency.p90_ms,
            emit_latency_p99_ms: st.emit_latency.p99_ms,
            emit_latency_p999_ms: st.emit_latency.p999_ms,
            emit_latency_max_ms: st.emit_latency.max_ms,
            broadcast_latency: std::array::from_fn(|i| {
                broadcast_latency(i, &st.broadcast_latency[i])
            }),
        };
        // ok: checked non-null; caller-owned.
        unsafe { *out_stats = out };
        roomcast_result::Ok
    })
}

/// The Prometheus text exposition of the figures (what `GET /metrics` serves).
///
/// Parameters: `buf`/`cap`, the caller's buffer; `out_len` (not NULL) receives the text's length.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL with the needed length in
/// `out_len` when `cap` is short.
/// Memory: `buf` is caller-owned; the text is not NUL-terminated. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_metrics(
    server: *const roomcast_server,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        write_out(&s.server.metrics(), buf, cap, out_len)
    })
}

/// The health document, `{"status","stats":{…}}` as JSON (what `GET /health/websocket` serves).
///
/// Parameters: `buf`/`cap`, the caller's buffer; `out_len` (not NULL) receives the JSON's length.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL with the needed length in
/// `out_len` when `cap` is short.
/// Memory: `buf` is caller-owned; the JSON is not NUL-terminated. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_health(
    server: *const roomcast_server,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        write_out(&s.server.health_json(), buf, cap, out_len)
    })
}
