//! `roomcast_server`: the engine with its own tokio runtime: create, start, stop, free.
//! Its other calls live beside it by concept: auth.rs, events.rs, emit.rs, stats.rs,
//! allow_request.rs, socket.rs.

use std::sync::Arc;
use std::time::Duration;

use engine::engineio::allow_request::RequestRefused;
use engine::{RealtimeServer, ValidatorResult};

use crate::config::roomcast_config;
use crate::error::{fail, fail_with, guard, result_of, roomcast_result, try_ffi};
use crate::events::CNamespaces;
use crate::pending::HostRequests;

/// The engine. Every function taking a server is thread-safe, except `roomcast_server_free`,
/// which must not run concurrently with any other call on the same server.
pub struct roomcast_server {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) server: RealtimeServer,
    pub(crate) handshake_requests: Arc<HostRequests<Result<(), RequestRefused>>>,
    pub(crate) auth_requests: Arc<HostRequests<ValidatorResult>>,
    /// Namespaces beside `/` made from C, and the event sink they report to.
    pub(crate) namespaces: Arc<CNamespaces>,
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

/// Creates a server (with its own runtime threads) from `config`; it does not listen until
/// roomcast_server_start.
///
/// Parameters: `config` from roomcast_config_new (copied: it may be freed right after);
/// `out_server` receives the server.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER; ROOMCAST_RESULT_ERR_IO when the
/// runtime cannot start.
/// Memory: the server is owned by the caller; release it with roomcast_server_free.
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
            auth_requests: Arc::default(),
            handshake_requests: Arc::default(),
            namespaces: Arc::default(),
        });
        // ok: checked non-null.
        unsafe { *out_server = Box::into_raw(server) };
        roomcast_result::Ok
    })
}

/// Stops the server if it runs (no grace) and releases it, calling the callbacks' free
/// functions; requests and acks still pending are abandoned.
///
/// Parameters: `server` from roomcast_server_new, or NULL (ignored).
/// Returns: nothing.
/// Memory: `server` is invalid afterwards. Must not run concurrently with any other call on the
/// same server.
#[no_mangle]
pub extern "C" fn roomcast_server_free(server: *mut roomcast_server) {
    if server.is_null() {
        return;
    }
    let _ = guard(|| {
        // ok: created by roomcast_server_new, freed exactly once by contract.
        let boxed = unsafe { Box::from_raw(server) };
        // Not running is fine here: there is nothing to stop.
        let realtime = boxed.server.clone();
        let _ = boxed.runtime.block_on(realtime.shutdown(Duration::ZERO));
        // Requests still waiting on the host end as abandoned (their futures see the drop).
        boxed.auth_requests.clear();
        boxed.handshake_requests.clear();
        boxed.server.held_acks().clear();
        let roomcast_server {
            runtime, server, ..
        } = *boxed;
        drop(server);
        runtime.shutdown_timeout(Duration::from_secs(2));
        roomcast_result::Ok
    });
}

/// Binds the configured address and serves in the background.
///
/// Parameters: `out_port` (may be NULL) receives the bound port.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_ALREADY_RUNNING; ROOMCAST_RESULT_ERR_IO when the
/// address cannot be bound; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for a config the engine refuses.
/// Memory: nothing is retained. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_start(
    server: *mut roomcast_server,
    out_port: *mut u16,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let realtime = s.server.clone();
        match s.runtime.block_on(realtime.start()) {
            Ok(addr) => {
                if !out_port.is_null() {
                    // ok: checked non-null.
                    unsafe { *out_port = addr.port() };
                }
                roomcast_result::Ok
            }
            Err(error) => fail_with(error),
        }
    })
}

/// The dashboard shutdown: `server:shutdown` to everyone, and `grace_ms` later every connection
/// is closed after its queued messages are written. Blocks until done.
///
/// Parameters: `grace_ms`.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NOT_RUNNING when the server was never started or
/// is stopped already.
/// Memory: nothing is retained. Thread-safe; do not call it from an engine callback (it blocks).
#[no_mangle]
pub extern "C" fn roomcast_server_stop(
    server: *mut roomcast_server,
    grace_ms: u32,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let realtime = s.server.clone();
        result_of(
            s.runtime
                .block_on(realtime.shutdown(Duration::from_millis(u64::from(grace_ms)))),
        )
    })
}
