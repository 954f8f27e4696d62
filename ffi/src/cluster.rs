//! The cluster-wide forms of the per-socket calls, from C (socket.io's `fetchSockets`,
//! `socketsJoin/Leave`, `disconnectSockets`, `serverSideEmit`, `allRooms`). With Redis
//! configured they reach every node of the cluster (roomcast and Node socket.io nodes alike);
//! without, this server only. Answers that take a round trip come back through a callback.

use std::ffi::c_void;

use engine::Args;
use serde_json::json;

use crate::callbacks::{registered, UserData};
use crate::emit::{names, roomcast_target, Target};
use crate::error::try_ffi;
use crate::error::{fail_with, guard, roomcast_result};
use crate::events::roomcast_bytes;
use crate::server::{roomcast_server, server_ref};
use crate::strings::borrow_str;

/// Receives the answer of a cluster request once: `result` (ROOMCAST_RESULT_OK, or
/// ROOMCAST_RESULT_ERR_TIMEOUT when some server did not answer in time) and a JSON text.
pub type roomcast_cluster_fn = Option<
    extern "C" fn(userdata: *mut c_void, result: roomcast_result, json: *const u8, json_len: usize),
>;

type ClusterCallback = extern "C" fn(*mut c_void, roomcast_result, *const u8, usize);

/// Runs `request` on the server's runtime and hands its JSON answer to `callback`.
fn answer_later(
    server: *const roomcast_server,
    callback: roomcast_cluster_fn,
    userdata: *mut c_void,
    request: impl FnOnce(
        engine::RealtimeServer,
    ) -> futures_util::future::BoxFuture<'static, (roomcast_result, String)>,
) -> roomcast_result {
    let s = try_ffi!(server_ref(server));
    let (callback, userdata) = try_ffi!(registered(callback, userdata, None));
    let pending = request(s.server.clone());
    s.runtime.spawn(async move {
        let (result, json) = pending.await;
        deliver(callback, &userdata, result, &json);
    });
    roomcast_result::Ok
}

/// The namespace `nsp` names (`/` when empty).
fn namespace_named(
    s: &roomcast_server,
    nsp: *const u8,
    nsp_len: usize,
) -> Result<engine::Namespace, roomcast_result> {
    let name = match nsp_len {
        0 => "/",
        len => borrow_str(nsp, len, "nsp")?,
    };
    s.server.engine().namespace(name).ok_or_else(|| {
        crate::error::fail(roomcast_result::ErrNotFound, format!("no namespace {name}"))
    })
}

fn deliver(callback: ClusterCallback, userdata: &UserData, result: roomcast_result, json: &str) {
    callback(userdata.ptr(), result, json.as_ptr(), json.len());
}

/// Fetches the sockets `target` addresses on every server: a JSON array of
/// `{"id","handshake","rooms","data","local"}` (this server's first) for `callback`.
///
/// Parameters: `target` (not NULL); `callback` (not NULL) runs once on an engine thread with
/// ROOMCAST_RESULT_OK, or ROOMCAST_RESULT_ERR_TIMEOUT and `[]` when a server did not answer
/// within the request timeout; `userdata` is passed back to it.
/// Returns: ROOMCAST_RESULT_OK once the request is under way; ROOMCAST_RESULT_ERR_NULL_POINTER;
/// ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `target` and its strings are borrowed for the call; the JSON is borrowed for the
/// callback only. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_fetch_sockets(
    server: *const roomcast_server,
    target: *const roomcast_target,
    callback: roomcast_cluster_fn,
    userdata: *mut c_void,
) -> roomcast_result {
    guard(|| {
        let target = try_ffi!(Target::read(target)).owned();
        let ns = try_ffi!(target.namespace(&try_ffi!(server_ref(server)).server));
        answer_later(server, callback, userdata, move |_| {
            Box::pin(async move {
                let operator = target.operator(&ns);
                match operator.fetch_sockets().await {
                    Ok(found) => {
                        let list: Vec<_> = found
                            .iter()
                            .map(|s| {
                                json!({
                                    "id": s.info.id,
                                    "handshake": s.info.handshake,
                                    "rooms": s.info.rooms,
                                    "data": s.info.data,
                                    "local": s.local.is_some(),
                                })
                            })
                            .collect();
                        (
                            roomcast_result::Ok,
                            serde_json::Value::from(list).to_string(),
                        )
                    }
                    Err(error) => (error.kind().into(), "[]".to_owned()),
                }
            })
        })
    })
}

/// Runs `apply` with the target's operator and the room names (socketsJoin / socketsLeave).
fn on_rooms(
    server: *const roomcast_server,
    target: *const roomcast_target,
    rooms: *const roomcast_bytes,
    rooms_len: usize,
    apply: impl FnOnce(engine::Broadcast<'_>, &[&str]),
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let target = try_ffi!(Target::read(target));
        let rooms = try_ffi!(names(rooms, rooms_len, "rooms"));
        let ns = try_ffi!(target.namespace(&s.server));
        apply(target.operator(&ns), &rooms);
        roomcast_result::Ok
    })
}

/// Puts every socket `target` addresses, on every server, in each of `rooms`.
///
/// Parameters: `target` (not NULL); `rooms`, `rooms_len` UTF-8 names.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: everything is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_sockets_join(
    server: *const roomcast_server,
    target: *const roomcast_target,
    rooms: *const roomcast_bytes,
    rooms_len: usize,
) -> roomcast_result {
    on_rooms(server, target, rooms, rooms_len, |operator, rooms| {
        operator.sockets_join(rooms)
    })
}

/// Takes every socket `target` addresses, on every server, out of each of `rooms`.
///
/// Parameters, Returns, Memory: as roomcast_server_sockets_join.
#[no_mangle]
pub extern "C" fn roomcast_server_sockets_leave(
    server: *const roomcast_server,
    target: *const roomcast_target,
    rooms: *const roomcast_bytes,
    rooms_len: usize,
) -> roomcast_result {
    on_rooms(server, target, rooms, rooms_len, |operator, rooms| {
        operator.sockets_leave(rooms)
    })
}

/// Disconnects every socket `target` addresses on every server (clients see
/// `io server disconnect`); with `close`, their whole connection.
///
/// Parameters: `target` (not NULL); `close`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `target` is borrowed for the call. Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_disconnect_sockets(
    server: *const roomcast_server,
    target: *const roomcast_target,
    close: bool,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let target = try_ffi!(Target::read(target));
        target
            .operator(&try_ffi!(target.namespace(&s.server)))
            .disconnect_sockets(close);
        roomcast_result::Ok
    })
}

/// Sends `event` to the other servers of the cluster (not to clients, not to this server); they
/// see it as a ServerSideEvent (C), an `io.on(event)` listener call (Node).
///
/// Parameters: `nsp` (UTF-8; `/` when `nsp_len` is 0); `event` (UTF-8); `json_array`, the
/// arguments as a JSON array; `callback` may be
/// NULL (no answers wanted) or receives, once, a JSON array with one answer per other server:
/// ROOMCAST_RESULT_OK when every server answered, ROOMCAST_RESULT_ERR_TIMEOUT with the answers
/// that came in time otherwise.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_INVALID_JSON; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: the strings are borrowed for the call; the answer JSON for the callback only.
/// Thread-safe, non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_server_side_emit(
    server: *const roomcast_server,
    nsp: *const u8,
    nsp_len: usize,
    event: *const u8,
    event_len: usize,
    json_array: *const u8,
    json_array_len: usize,
    callback: roomcast_cluster_fn,
    userdata: *mut c_void,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let event = try_ffi!(borrow_str(event, event_len, "event")).to_owned();
        let json = try_ffi!(borrow_str(json_array, json_array_len, "json_array"));
        let args = match Args::json_array(json) {
            Ok(args) => args,
            Err(e) => return fail_with(engine::Error::from(e).context("json_array")),
        };
        let ns = try_ffi!(namespace_named(s, nsp, nsp_len));
        if callback.is_none() {
            ns.server_side_emit(&event, &args);
            return roomcast_result::Ok;
        }
        answer_later(server, callback, userdata, move |_| {
            Box::pin(async move {
                let replies = ns.server_side_emit_with_ack(&event, &args).await;
                let result = if replies.complete {
                    roomcast_result::Ok
                } else {
                    roomcast_result::ErrTimeout
                };
                (result, serde_json::Value::from(replies.values).to_string())
            })
        })
    })
}

/// Every room with a member on any server (socket ids included): a JSON array of names.
///
/// Parameters: `nsp` (UTF-8; `/` when `nsp_len` is 0); `callback` (not NULL) runs once with
/// ROOMCAST_RESULT_OK, or ROOMCAST_RESULT_ERR_TIMEOUT and `[]` when a server did not answer in
/// time.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER; ROOMCAST_RESULT_ERR_NOT_FOUND
/// for an unknown namespace.
/// Memory: the JSON is borrowed for the callback only. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_all_rooms(
    server: *const roomcast_server,
    nsp: *const u8,
    nsp_len: usize,
    callback: roomcast_cluster_fn,
    userdata: *mut c_void,
) -> roomcast_result {
    guard(|| {
        let ns = try_ffi!(namespace_named(try_ffi!(server_ref(server)), nsp, nsp_len));
        answer_later(server, callback, userdata, move |_| {
            Box::pin(async move {
                match ns.all_rooms().await {
                    Ok(rooms) => (
                        roomcast_result::Ok,
                        serde_json::Value::from(rooms).to_string(),
                    ),
                    Err(error) => (error.kind().into(), "[]".to_owned()),
                }
            })
        })
    })
}
