//! `roomcast_server`: the engine with its own tokio runtime, emits, hooks, stats and shutdown.

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use engine::{
    AckSender, Args, AuthDecision, AuthRequest, Identity, RealtimeServer, SocketRef,
    ValidatorResult,
};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::callbacks::{roomcast_free_fn, UserData};
use crate::config::roomcast_config;
use crate::error::{fail, guard, roomcast_result};
use crate::strings::{borrow_str, write_out};

/// The engine. Every function taking a server is thread-safe, except `roomcast_server_free`,
/// which must not run concurrently with any other call on the same server.
pub struct roomcast_server {
    runtime: tokio::runtime::Runtime,
    pub(crate) server: RealtimeServer,
    pub(crate) pending_requests: Arc<crate::allow_request::PendingRequests>,
    pub(crate) next_request: Arc<AtomicU64>,
    port: Mutex<Option<u16>>,
    pending_auth: Arc<DashMap<u64, oneshot::Sender<ValidatorResult>>>,
    next_auth: Arc<AtomicU64>,
    acks: Arc<DashMap<u64, (AckSender, Arc<str>)>>,
    next_ack: Arc<AtomicU64>,
}

/// Called for each handshake with a request id and the request as JSON
/// (`{"auth":{...},"headers":{...},"address":"..."}`, borrowed for the call). Complete it later,
/// from any thread, with roomcast_auth_accept / roomcast_auth_reject / roomcast_auth_fail.
pub type roomcast_auth_fn = Option<
    extern "C" fn(
        userdata: *mut c_void,
        request_id: u64,
        request_json: *const u8,
        request_json_len: usize,
    ),
>;

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum roomcast_event_kind {
    Connect = 0,
    Disconnect = 1,
    /// A client event that is not built in; `ack_id` is non-zero when the client wants an answer.
    ClientEvent = 2,
}

/// One notification. Every pointer is borrowed for the duration of the callback only.
#[repr(C)]
pub struct roomcast_event {
    pub kind: roomcast_event_kind,
    pub socket_id: *const u8,
    pub socket_id_len: usize,
    pub user_id: *const u8,
    pub user_id_len: usize,
    /// The event name (ClientEvent) or the disconnect reason (Disconnect).
    pub name: *const u8,
    pub name_len: usize,
    /// The event's arguments as a JSON array (ClientEvent), else empty.
    pub args_json: *const u8,
    pub args_json_len: usize,
    /// Non-zero: answer with roomcast_server_ack.
    pub ack_id: u64,
}

pub type roomcast_event_fn =
    Option<extern "C" fn(userdata: *mut c_void, event: *const roomcast_event)>;

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
    pub event_latency_p50_ms: f64,
    pub event_latency_p99_ms: f64,
    pub emit_latency_p50_ms: f64,
    pub emit_latency_p99_ms: f64,
}

pub(crate) fn server_ref<'a>(
    server: *const roomcast_server,
) -> Result<&'a roomcast_server, roomcast_result> {
    if server.is_null() {
        return Err(fail(roomcast_result::ErrNullPointer, "server is NULL"));
    }
    // ok: a live server from roomcast_server_new (not yet freed, by contract).
    Ok(unsafe { &*server })
}

macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_ffi;

/// Creates a server from `config` (copied; the config may be freed right after).
#[no_mangle]
pub extern "C" fn roomcast_server_new(
    config: *const roomcast_config,
    out_server: *mut *mut roomcast_server,
) -> roomcast_result {
    guard(|| {
        if config.is_null() || out_server.is_null() {
            return fail(
                roomcast_result::ErrNullPointer,
                "config and out_server are required",
            );
        }
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("roomcast")
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                return fail(
                    roomcast_result::ErrIo,
                    format!("cannot start the runtime: {e}"),
                )
            }
        };
        // ok: checked non-null; a live config.
        let config = unsafe { (*config).inner.clone() };
        let server = Box::new(roomcast_server {
            runtime,
            server: RealtimeServer::new(config),
            port: Mutex::new(None),
            pending_auth: Arc::new(DashMap::new()),
            next_auth: Arc::new(AtomicU64::new(1)),
            pending_requests: Arc::new(DashMap::new()),
            next_request: Arc::new(AtomicU64::new(1)),
            acks: Arc::new(DashMap::new()),
            next_ack: Arc::new(AtomicU64::new(1)),
        });
        // ok: checked non-null.
        unsafe { *out_server = Box::into_raw(server) };
        roomcast_result::Ok
    })
}

/// Stops the server if running (no grace) and releases it, calling the callbacks' free
/// functions. NULL is ignored.
#[no_mangle]
pub extern "C" fn roomcast_server_free(server: *mut roomcast_server) {
    if server.is_null() {
        return;
    }
    let _ = guard(|| {
        // ok: created by roomcast_server_new, freed exactly once by contract.
        let boxed = unsafe { Box::from_raw(server) };
        if boxed.port.lock().is_some() {
            let realtime = boxed.server.clone();
            boxed.runtime.block_on(realtime.shutdown(Duration::ZERO));
        }
        boxed.pending_auth.clear();
        boxed.acks.clear();
        let roomcast_server {
            runtime, server, ..
        } = *boxed;
        drop(server);
        runtime.shutdown_timeout(Duration::from_secs(2));
        roomcast_result::Ok
    });
}

/// Registers the session validator. `userdata` is passed back on every call, from engine
/// threads; `free_userdata` (may be NULL) is called once when replaced or at roomcast_server_free.
/// Without a validator every handshake fails with AUTHENTICATION_FAILED.
#[no_mangle]
pub extern "C" fn roomcast_server_set_auth_callback(
    server: *mut roomcast_server,
    callback: roomcast_auth_fn,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let Some(callback) = callback else {
            return fail(roomcast_result::ErrNullPointer, "callback is NULL");
        };
        let userdata = Arc::new(UserData::new(userdata, free_userdata));
        let pending = s.pending_auth.clone();
        let next = s.next_auth.clone();
        s.server
            .set_session_validator(Arc::new(move |request: AuthRequest| {
                let id = next.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = oneshot::channel();
                pending.insert(id, tx);
                let json = request.to_json();
                callback(userdata.ptr(), id, json.as_ptr(), json.len());
                let pending = pending.clone();
                Box::pin(async move {
                    // Whatever ends this wait (answer, engine timeout), the id stops being pending.
                    let _cleanup = PendingGuard { pending, id };
                    rx.await
                        .unwrap_or_else(|_| Err("auth request dropped".to_owned()))
                })
            }));
        roomcast_result::Ok
    })
}

struct PendingGuard {
    pending: Arc<DashMap<u64, oneshot::Sender<ValidatorResult>>>,
    id: u64,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.pending.remove(&self.id);
    }
}

fn complete(
    server: *const roomcast_server,
    request_id: u64,
    result: ValidatorResult,
) -> roomcast_result {
    let s = try_ffi!(server_ref(server));
    match s.pending_auth.remove(&request_id) {
        Some((_, tx)) => {
            let _ = tx.send(result);
            roomcast_result::Ok
        }
        None => fail(
            roomcast_result::ErrAlreadyCompleted,
            format!("auth request {request_id} was already completed or timed out"),
        ),
    }
}

/// Accepts a handshake as this user (`user_name`/`user_role` may be empty: "User"/"user").
/// Thread-safe. Completing a request twice returns ROOMCAST_RESULT_ERR_ALREADY_COMPLETED.
#[no_mangle]
pub extern "C" fn roomcast_auth_accept(
    server: *const roomcast_server,
    request_id: u64,
    user_id: *const u8,
    user_id_len: usize,
    user_name: *const u8,
    user_name_len: usize,
    user_role: *const u8,
    user_role_len: usize,
) -> roomcast_result {
    guard(|| {
        let user_id = try_ffi!(borrow_str(user_id, user_id_len, "user_id"));
        let name = try_ffi!(borrow_str(user_name, user_name_len, "user_name"));
        let role = try_ffi!(borrow_str(user_role, user_role_len, "user_role"));
        if user_id.is_empty() {
            return fail(roomcast_result::ErrInvalidArgument, "user_id is empty");
        }
        let identity = Identity::new(user_id, Some(name), Some(role));
        complete(server, request_id, Ok(AuthDecision::Accept(identity)))
    })
}

/// Rejects a handshake: the client gets `UNAUTHORIZED: Invalid session or user mismatch`.
#[no_mangle]
pub extern "C" fn roomcast_auth_reject(
    server: *const roomcast_server,
    request_id: u64,
) -> roomcast_result {
    guard(|| complete(server, request_id, Ok(AuthDecision::Reject)))
}

/// Fails a handshake (session store down...): the client gets `AUTHENTICATION_FAILED`; the
/// message is logged, never sent.
#[no_mangle]
pub extern "C" fn roomcast_auth_fail(
    server: *const roomcast_server,
    request_id: u64,
    message: *const u8,
    message_len: usize,
) -> roomcast_result {
    guard(|| {
        let message = try_ffi!(borrow_str(message, message_len, "message"));
        complete(server, request_id, Err(message.to_owned()))
    })
}

fn emit_event(
    callback: extern "C" fn(*mut c_void, *const roomcast_event),
    userdata: &UserData,
    kind: roomcast_event_kind,
    socket: &SocketRef,
    name: &str,
    args: &str,
    ack_id: u64,
) {
    let user = socket
        .identity()
        .map(|i| i.user_id.to_string())
        .unwrap_or_default();
    let event = roomcast_event {
        kind,
        socket_id: socket.id().as_ptr(),
        socket_id_len: socket.id().len(),
        user_id: user.as_ptr(),
        user_id_len: user.len(),
        name: name.as_ptr(),
        name_len: name.len(),
        args_json: args.as_ptr(),
        args_json_len: args.len(),
        ack_id,
    };
    callback(userdata.ptr(), &event);
}

/// Registers the event callback (connect, disconnect, custom client events), called on engine
/// threads; it must not block for long. `free_userdata` as for the auth callback.
#[no_mangle]
pub extern "C" fn roomcast_server_set_event_callback(
    server: *mut roomcast_server,
    callback: roomcast_event_fn,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let Some(callback) = callback else {
            return fail(roomcast_result::ErrNullPointer, "callback is NULL");
        };
        let userdata = Arc::new(UserData::new(userdata, free_userdata));
        let ud = userdata.clone();
        s.server.on_connect(move |socket| {
            emit_event(
                callback,
                &ud,
                roomcast_event_kind::Connect,
                socket,
                "",
                "",
                0,
            );
        });
        let ud = userdata.clone();
        let acks = s.acks.clone();
        s.server.on_disconnect(move |socket, reason| {
            acks.retain(|_, (_, sid)| sid.as_ref() != socket.id());
            emit_event(
                callback,
                &ud,
                roomcast_event_kind::Disconnect,
                socket,
                reason,
                "",
                0,
            );
        });
        let acks = s.acks.clone();
        let next = s.next_ack.clone();
        s.server.on_client_event(move |socket, event| {
            let ack_id = match event.ack {
                Some(sender) => {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    acks.insert(id, (sender, Arc::from(socket.id())));
                    id
                }
                None => 0,
            };
            let args = event.args.to_json_array();
            emit_event(
                callback,
                &userdata,
                roomcast_event_kind::ClientEvent,
                socket,
                &event.name,
                &args,
                ack_id,
            );
        });
        roomcast_result::Ok
    })
}

/// Answers a client event's ack with a JSON array of arguments.
#[no_mangle]
pub extern "C" fn roomcast_server_ack(
    server: *const roomcast_server,
    ack_id: u64,
    json_array: *const u8,
    json_array_len: usize,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let json = try_ffi!(borrow_str(json_array, json_array_len, "json_array"));
        let args = match Args::json_array(json) {
            Ok(a) => a,
            Err(e) => {
                return fail(
                    roomcast_result::ErrInvalidJson,
                    format!("ack arguments: {e}"),
                )
            }
        };
        match s.acks.remove(&ack_id) {
            Some((_, (sender, _))) => {
                let _ = sender.send(&args);
                roomcast_result::Ok
            }
            None => fail(
                roomcast_result::ErrAlreadyCompleted,
                "ack already answered or its client left",
            ),
        }
    })
}

/// Binds and serves in the background; writes the bound port to `out_port` (may be NULL).
#[no_mangle]
pub extern "C" fn roomcast_server_start(
    server: *mut roomcast_server,
    out_port: *mut u16,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let mut port = s.port.lock();
        if port.is_some() {
            return fail(roomcast_result::ErrAlreadyRunning, "server already started");
        }
        let realtime = s.server.clone();
        match s.runtime.block_on(realtime.start()) {
            Ok(addr) => {
                *port = Some(addr.port());
                if !out_port.is_null() {
                    // ok: checked non-null.
                    unsafe { *out_port = addr.port() };
                }
                roomcast_result::Ok
            }
            Err(e) => fail(roomcast_result::ErrIo, format!("cannot listen: {e}")),
        }
    })
}

/// The dashboard shutdown: `server:shutdown` to everyone, `grace_ms` later every connection is
/// closed after its queued messages are written. Blocks until done.
#[no_mangle]
pub extern "C" fn roomcast_server_stop(
    server: *mut roomcast_server,
    grace_ms: u32,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        if s.port.lock().take().is_none() {
            return fail(roomcast_result::ErrNotRunning, "server is not running");
        }
        let realtime = s.server.clone();
        s.runtime
            .block_on(realtime.shutdown(Duration::from_millis(u64::from(grace_ms))));
        roomcast_result::Ok
    })
}

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
        Err(e) => return fail(roomcast_result::ErrInvalidJson, format!("payload: {e}")),
    };
    let count = f(&s.server, &args);
    if !out_count.is_null() {
        // ok: checked non-null.
        unsafe { *out_count = count as u32 };
    }
    roomcast_result::Ok
}

/// Emits `event` with one JSON argument to every connection of `user_id`; the number of
/// connections reached goes to `out_count` (may be NULL). Thread-safe, non-blocking.
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

/// Emits to every member of `room` (e.g. `watchlist:AAPL`). Thread-safe, non-blocking.
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

/// Emits to every connection. Thread-safe, non-blocking.
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

/// Disconnects every connection of `user_id`; the count goes to `out_count` (may be NULL).
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
        let count = s.server.disconnect_user(user, "disconnected by the host");
        if !out_count.is_null() {
            // ok: checked non-null.
            unsafe { *out_count = count as u32 };
        }
        roomcast_result::Ok
    })
}

/// Fills `out_stats` (caller-owned).
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
            event_latency_p99_ms: st.event_latency.p99_ms,
            emit_latency_p50_ms: st.emit_latency.p50_ms,
            emit_latency_p99_ms: st.emit_latency.p99_ms,
        };
        // ok: checked non-null; caller-owned.
        unsafe { *out_stats = out };
        roomcast_result::Ok
    })
}

/// Prometheus text into `buf` (not NUL-terminated); its length goes to `out_len`. When `cap` is
/// too small: ROOMCAST_RESULT_ERR_BUFFER_TOO_SMALL with the needed length in `out_len`.
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

/// The health document (`{status, stats: {…}}`) (JSON) into `buf`, like roomcast_server_metrics.
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
