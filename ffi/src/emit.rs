//! Emits from C: to a user, a room (or a socket id), everyone; disconnecting a user.

use std::borrow::Cow;

use engine::{Args, Namespace, RealtimeServer};

use crate::error::try_ffi;
use crate::error::{fail, fail_with, guard, roomcast_result};
use crate::events::roomcast_bytes;
use crate::server::{roomcast_server, server_ref};
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

/// Who a broadcast reaches: members of any of `rooms` (everyone when `rooms_len` is 0), minus the
/// members of any of `except`, in namespace `nsp` (`/` when `nsp_len` is 0); `volatile` packets
/// are dropped for clients that are behind. A zeroed struct addresses everyone in `/`.
#[repr(C)]
pub struct roomcast_target {
    pub rooms: *const roomcast_bytes,
    pub rooms_len: usize,
    pub except: *const roomcast_bytes,
    pub except_len: usize,
    pub volatile_: bool,
    pub nsp: *const u8,
    pub nsp_len: usize,
}

/// A `roomcast_target` read into Rust strings (borrowed for the call).
pub(crate) struct Target<'a> {
    rooms: Vec<Cow<'a, str>>,
    except: Vec<Cow<'a, str>>,
    volatile: bool,
    nsp: Cow<'a, str>,
}

impl<'a> Target<'a> {
    pub(crate) fn read(target: *const roomcast_target) -> Result<Self, roomcast_result> {
        if target.is_null() {
            return Err(fail(roomcast_result::ErrNullPointer, "target is NULL"));
        }
        // ok: checked non-null; borrowed for the call.
        let target = unsafe { &*target };
        let borrowed = |list: Vec<&'a str>| list.into_iter().map(Cow::Borrowed).collect();
        let nsp = match target.nsp_len {
            0 => "/",
            len => borrow_str(target.nsp, len, "nsp")?,
        };
        Ok(Self {
            rooms: borrowed(names(target.rooms, target.rooms_len, "rooms")?),
            except: borrowed(names(target.except, target.except_len, "except")?),
            volatile: target.volatile_,
            nsp: Cow::Borrowed(nsp),
        })
    }

    /// The same target, owning its names (for a request that outlives the call).
    pub(crate) fn owned(self) -> Target<'static> {
        let own = |list: Vec<Cow<'a, str>>| {
            list.into_iter()
                .map(|name| Cow::Owned(name.into_owned()))
                .collect()
        };
        Target {
            rooms: own(self.rooms),
            except: own(self.except),
            volatile: self.volatile,
            nsp: Cow::Owned(self.nsp.into_owned()),
        }
    }

    /// The namespace the target names.
    pub(crate) fn namespace(&self, server: &RealtimeServer) -> Result<Namespace, roomcast_result> {
        server.engine().namespace(&self.nsp).ok_or_else(|| {
            fail(
                roomcast_result::ErrNotFound,
                format!("no namespace {}", self.nsp),
            )
        })
    }

    /// The engine's broadcast operator for the target, over its namespace `ns`.
    pub(crate) fn operator<'n>(&self, ns: &'n Namespace) -> engine::Broadcast<'n> {
        let mut operator = ns.everyone();
        for room in &self.rooms {
            operator = operator.to(room);
        }
        for room in &self.except {
            operator = operator.except(room);
        }
        if self.volatile {
            operator = operator.volatile();
        }
        operator
    }
}

/// The UTF-8 names of a `(ptr, len)` array of `roomcast_bytes`.
pub(crate) fn names<'a>(
    list: *const roomcast_bytes,
    len: usize,
    what: &str,
) -> Result<Vec<&'a str>, roomcast_result> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if list.is_null() {
        return Err(fail(
            roomcast_result::ErrNullPointer,
            format!("{what} is NULL"),
        ));
    }
    // ok: the caller passes `len` valid entries, borrowed for the call.
    let entries = unsafe { std::slice::from_raw_parts(list, len) };
    entries
        .iter()
        .map(|entry| borrow_str(entry.ptr, entry.len, what))
        .collect()
}

/// Emits `event` with one JSON argument to everyone `target` addresses, encoded once.
///
/// Parameters: `target` (not NULL) with its room and except lists; `event` (UTF-8); `json`, one
/// JSON value; `out_count` (may be NULL) receives the number of this node's sockets that queued
/// it.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER; ROOMCAST_RESULT_ERR_INVALID_JSON;
/// ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `target`, its arrays and every string are borrowed for the call. Thread-safe,
/// non-blocking.
#[no_mangle]
pub extern "C" fn roomcast_server_broadcast(
    server: *const roomcast_server,
    target: *const roomcast_target,
    event: *const u8,
    event_len: usize,
    json: *const u8,
    json_len: usize,
    out_count: *mut u32,
) -> roomcast_result {
    guard(|| {
        let target = try_ffi!(Target::read(target));
        let event = try_ffi!(borrow_str(event, event_len, "event"));
        let ns = try_ffi!(target.namespace(&try_ffi!(server_ref(server)).server));
        emit(server, json, json_len, out_count, |_, args| {
            target.operator(&ns).emit(event, args)
        })
    })
}
