//! Namespaces from C beside the preset's `/` (socket.io's `io.of(name)` and `io.of(fn)`): each
//! reports to the event callback with its name in `roomcast_event.nsp`, optionally behind the
//! same login as `/`; sockets in them are addressed by id like any other, and broadcasts name
//! them in `roomcast_target.nsp`.

use std::ffi::c_void;
use std::sync::Arc;

use engine::socketio::dynamic::DynamicNamespaces;
use engine::{AuthPayload, Namespace};

use crate::callbacks::{registered, roomcast_free_fn};
use crate::error::try_ffi;
use crate::error::{fail, guard, roomcast_result};
use crate::events::CNamespaces;
use crate::server::{roomcast_server, server_ref};
use crate::strings::borrow_str;

/// Creates namespace `nsp` (clients may connect to it from now on); its connects, events and
/// disconnects reach the event callback with `nsp` set.
///
/// Parameters: `nsp` (UTF-8, e.g. `/orders`; a missing leading `/` is added); `authenticated`:
/// connects go through the auth callback as connects to `/` do (otherwise every client that
/// passed the handshake is admitted).
/// Returns: ROOMCAST_RESULT_OK (also when it exists already: nothing changes);
/// ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for `/` (the preset's own); ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `nsp` is borrowed for the call. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_of(
    server: *const roomcast_server,
    nsp: *const u8,
    nsp_len: usize,
    authenticated: bool,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let name = try_ffi!(borrow_str(nsp, nsp_len, "nsp"));
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        if name == "/" {
            return fail(
                roomcast_result::ErrInvalidArgument,
                "`/` is the preset's namespace; roomcast_server_of makes others",
            );
        }
        let engine = s.server.engine();
        if engine.namespace(&name).is_none() {
            let ns = engine.of(&name);
            let login = authenticated.then(|| s.server.session_middleware());
            s.namespaces.set_up(&ns, login.as_ref());
        }
        roomcast_result::Ok
    })
}

/// Decides whether a namespace that does not exist may be created for a client asking for it:
/// `nsp` and the client's CONNECT auth (JSON) are borrowed for the call; return true to create.
pub type roomcast_namespace_matcher_fn = Option<
    extern "C" fn(
        userdata: *mut c_void,
        nsp: *const u8,
        nsp_len: usize,
        auth_json: *const u8,
        auth_json_len: usize,
    ) -> bool,
>;

/// Dynamic namespaces (socket.io's `io.of(fn)`): a client connecting to a namespace that does
/// not exist asks `matcher`; one it accepts is created as roomcast_server_of would (with
/// `authenticated`), then connected to.
///
/// Parameters: `matcher` (not NULL) runs on engine threads, must answer at once; `userdata` is
/// passed back to it; `free_userdata` (may be NULL) is called once when the matcher is replaced
/// or the server is freed.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: the strings given to `matcher` are borrowed for its call only. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_set_namespace_matcher(
    server: *const roomcast_server,
    matcher: roomcast_namespace_matcher_fn,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
    authenticated: bool,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let (matcher, userdata) = try_ffi!(registered(matcher, userdata, free_userdata));
        let namespaces: Arc<CNamespaces> = s.namespaces.clone();
        // The middleware, not the server: the engine keeps this hook, and must not keep itself.
        let login = authenticated.then(|| s.server.session_middleware());
        s.server.engine().set_dynamic_namespaces(DynamicNamespaces {
            matcher: Arc::new(move |nsp: &str, auth: &AuthPayload| {
                let auth = auth.text();
                let accept = matcher(
                    userdata.ptr(),
                    nsp.as_ptr(),
                    nsp.len(),
                    auth.as_ptr(),
                    auth.len(),
                );
                Box::pin(std::future::ready(accept))
            }),
            setup: Arc::new(move |ns: &Namespace| {
                namespaces.set_up(ns, login.as_ref());
            }),
        });
        roomcast_result::Ok
    })
}
