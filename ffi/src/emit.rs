//! Emits from C: to a user, a room (or a socket id), everyone; disconnecting a user.

use engine::{Args, RealtimeServer};

use crate::error::{fail_with, guard, roomcast_result};
use crate::server::{roomcast_server, server_ref, try_ffi};
use crate::strings::borrow_str;

fn emit(
    server: *const roomcast_server,
    json: *const u8,
    json_len: usize,
    out_count: *mut u32,
    f: impl FnOnce(&RealtimeServer, &Args) -> usize,
) -> roomcast_result {
    let s = try_ffi!(server_ref(server));
    let json = try_ffi!(borrow_str(json, json_len, "json"));
    let args = match Args::json(json) {
        Ok(a) => a,
        Err(e) => return fail_with(engine::Error::from(e).context("payload")),
    };
    let count = f(&s.server, &args);
    if !out_count.is_null() {
        // ok: checked non-null.
        unsafe { *out_count = count as u32 };
    }
    roomcast_result::Ok
}

/// Emits `event` with one JSON argument to every connection of `user_id` (on every node, when
/// clustered).
///
/// Parameters: `user_id`, `event` (UTF-8); `json`, one JSON value; `out_count` (may be NULL)
/// receives the number of this node's connections that queued it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
/// Emits `event` with one JSON argument to every connection of `user_id` (on every node, when
/// clustered).
///
/// Parameters: `user_id`, `event` (UTF-8); `json`, one JSON value; `out_count` (may be NULL)
/// receives the number of this node's connections that queued it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_emit_to_user(
    server: *const roomcast_server,
    user_id: *const u8,
    user_id_len: usize,
    event: *const u8,
    event_len: usize,
    json: *const u8,
    json_len: usize,
    out_count: *mut u32,
) -> roomcast_result {
    guard(|| {
        let user = try_ffi!(borrow_str(user_id, user_id_len, "user_id"));
        let event = try_ffi!(borrow_str(event, event_len, "event"));
        emit(server, json, json_len, out_count, |s, a| {
            s.emit_to_user(user, event, a)
        })
    })
}

/// Emits `event` with one JSON argument to every member of `room` (e.g. `watchlist:AAPL`, or a
/// socket id), encoded once for all of them.
///
/// Parameters: `room`, `event` (UTF-8); `json`, one JSON value; `out_count` (may be NULL) receives
/// the number of this node's connections that queued it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
/// Emits `event` with one JSON argument to every member of `room` (e.g. `watchlist:AAPL`, or a
/// socket id), encoded once for all of them.
///
/// Parameters: `room`, `event` (UTF-8); `json`, one JSON value; `out_count` (may be NULL) receives
/// the number of this node's connections that queued it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_emit_to_room(
    server: *const roomcast_server,
    room: *const u8,
    room_len: usize,
    event: *const u8,
    event_len: usize,
    json: *const u8,
    json_len: usize,
    out_count: *mut u32,
) -> roomcast_result {
    guard(|| {
        let room = try_ffi!(borrow_str(room, room_len, "room"));
        let event = try_ffi!(borrow_str(event, event_len, "event"));
        emit(server, json, json_len, out_count, |s, a| {
            s.emit_to_room(room, event, a)
        })
    })
}

/// Emits `event` with one JSON argument to every connection of the main namespace.
///
/// Parameters: `event` (UTF-8); `json`, one JSON value; `out_count` (may be NULL) receives the
/// number of this node's connections that queued it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
/// Emits `event` with one JSON argument to every connection of the main namespace.
///
/// Parameters: `event` (UTF-8); `json`, one JSON value; `out_count` (may be NULL) receives the
/// number of this node's connections that queued it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_emit_to_all(
    server: *const roomcast_server,
    event: *const u8,
    event_len: usize,
    json: *const u8,
    json_len: usize,
    out_count: *mut u32,
) -> roomcast_result {
    guard(|| {
        let event = try_ffi!(borrow_str(event, event_len, "event"));
        emit(server, json, json_len, out_count, |s, a| {
            s.emit_to_all(event, a)
        })
    })
}

/// Disconnects every connection of `user_id` on every node; clients see
/// `io server disconnect`.
///
/// Parameters: `user_id` (UTF-8); `out_count` (may be NULL) receives how many were on this node.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `user_id` is borrowed for the call. Thread-safe, non-blocking.
/// Disconnects every connection of `user_id` on every node; clients see
/// `io server disconnect`.
///
/// Parameters: `user_id` (UTF-8); `out_count` (may be NULL) receives how many were on this node.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `user_id` is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_disconnect_user(
    server: *const roomcast_server,
    user_id: *const u8,
    user_id_len: usize,
    out_count: *mut u32,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let user = try_ffi!(borrow_str(user_id, user_id_len, "user_id"));
        let count = s.server.disconnect_user(user, None);
        if !out_count.is_null() {
            // ok: checked non-null.
            unsafe { *out_count = count as u32 };
        }
        roomcast_result::Ok
    })
}
