//! Per-socket calls from C: a connected socket's handshake and host data, its rooms, emits to it,
//! and disconnecting it.

use engine::Args;

use crate::error::try_ffi;
use crate::error::{fail, fail_with, guard, result_of, roomcast_result};
use crate::server::{roomcast_server, server_ref};
use crate::strings::{borrow_str, write_out};

fn socket_of(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
) -> Result<engine::SocketRef, roomcast_result> {
    let s = server_ref(server)?;
    let id = borrow_str(socket_id, socket_id_len, "socket_id")?;
    s.server.engine().socket(id).ok_or_else(|| {
        fail(
            roomcast_result::ErrNotFound,
            format!("no connected socket {id}"),
        )
    })
}

/// The handshake of a connected socket as JSON, in socket.io's `socket.handshake` shape
/// (`{"headers","time","address","xdomain","secure","issued","url","query","auth"}`).
///
/// Parameters: `socket_id` (UTF-8); `buf`/`cap`, the caller's buffer; `out_len` (not NULL)
/// receives the JSON's length.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND when no such socket is connected;
/// ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL with the needed length in `out_len` when `cap` is short.
/// Memory: `socket_id` is borrowed for the call; `buf` (caller-owned) receives the JSON, not
/// NUL-terminated. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_socket_handshake(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        write_out(&socket.handshake().to_json().to_string(), buf, cap, out_len)
    })
}

/// Attaches `data_json` (any JSON value) to a connected socket, replacing what was there; a
/// recovered socket gets it back.
///
/// Parameters: `socket_id` (UTF-8); `data_json`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND; ROOMCAST_RESULT_ERR_INVALID_JSON.
/// Memory: both strings are borrowed for the call (the data is copied). Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_set_socket_data(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    data_json: *const u8,
    data_json_len: usize,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        let json = try_ffi!(borrow_str(data_json, data_json_len, "data_json"));
        result_of(socket.set_data_json(json))
    })
}

/// The data attached to a connected socket as JSON (`null` when none).
///
/// Parameters: `socket_id` (UTF-8); `buf`/`cap`, the caller's buffer; `out_len` (not NULL)
/// receives the JSON's length.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND; ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL
/// with the needed length in `out_len`.
/// Memory: `socket_id` is borrowed for the call; `buf` is caller-owned, not NUL-terminated.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_socket_data(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        write_out(&socket.data_json(), buf, cap, out_len)
    })
}

/// Puts a connected socket in `room` (any name: a watchlist, a desk, an order book).
///
/// Parameters: `socket_id` (UTF-8), as in roomcast_event; `room` (UTF-8).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND when no such socket is connected;
/// ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: both strings are borrowed for the call (copied). Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_socket_join(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    room: *const u8,
    room_len: usize,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        socket.join(try_ffi!(borrow_str(room, room_len, "room")));
        roomcast_result::Ok
    })
}

/// Takes a connected socket out of `room` (nothing happens when it is not in it).
///
/// Parameters: `socket_id` (UTF-8); `room` (UTF-8).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: both strings are borrowed for the call. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_socket_leave(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    room: *const u8,
    room_len: usize,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        socket.leave(try_ffi!(borrow_str(room, room_len, "room")));
        roomcast_result::Ok
    })
}

/// Emits `event` with one JSON argument to one connected socket.
///
/// Parameters: `socket_id`, `event` (UTF-8); `json`, one JSON value.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND when no such socket is connected
/// (or it left while the packet was queued); ROOMCAST_RESULT_ERR_INVALID_JSON.
/// Memory: every string is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_socket_emit(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    event: *const u8,
    event_len: usize,
    json: *const u8,
    json_len: usize,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        let event = try_ffi!(borrow_str(event, event_len, "event"));
        let json = try_ffi!(borrow_str(json, json_len, "json"));
        let args = match Args::json(json) {
            Ok(args) => args,
            Err(e) => return fail_with(engine::Error::from(e).context("payload")),
        };
        match socket.emit(event, &args) {
            Ok(()) => roomcast_result::Ok,
            Err(error) => fail(roomcast_result::ErrNotFound, error.to_string()),
        }
    })
}

/// Disconnects one socket: the client sees `io server disconnect`; with `close`, its whole
/// connection (every namespace) is closed too.
///
/// Parameters: `socket_id` (UTF-8); `close`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_FOUND.
/// Memory: `socket_id` is borrowed for the call. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_socket_disconnect(
    server: *const roomcast_server,
    socket_id: *const u8,
    socket_id_len: usize,
    close: bool,
) -> roomcast_result {
    guard(|| {
        let socket = try_ffi!(socket_of(server, socket_id, socket_id_len));
        socket.disconnect(close);
        roomcast_result::Ok
    })
}
