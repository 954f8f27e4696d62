//! The handshake hook from C (socket.io's `allowRequest`): the host sees every request that
//! would open a session and answers later, from any thread, by request id.

use std::ffi::c_void;
use std::sync::Arc;

use engine::engineio::allow_request::{IncomingRequest, RequestRefused};

use crate::callbacks::{registered, roomcast_free_fn};
use crate::error::try_ffi;
use crate::error::{guard, roomcast_result};
use crate::server::{roomcast_server, server_ref};
use crate::strings::borrow_str;

/// Called for each request that would open a session, with a request id and the request as
/// JSON (`{"method","url","query":{...},"headers":{...},"address","port"}`, borrowed for the
/// call). Answer later, from any thread, with roomcast_server_request_allow or roomcast_server_request_refuse;
/// until then the handshake waits.
pub type roomcast_allow_request_fn = Option<
    extern "C" fn(
        userdata: *mut c_void,
        request_id: u64,
        request_json: *const u8,
        request_json_len: usize,
    ),
>;

/// Registers the handshake hook.
///
/// Parameters: `callback` (not NULL) runs on engine threads; `userdata` is passed back to it;
/// `free_userdata` (may be NULL) is called once with `userdata` when the hook is replaced or
/// the server is freed.
/// Returns: ROOMCAST_RESULT_OK, or ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: the request JSON is borrowed for the duration of the callback only.
#[no_mangle]
pub extern "C" fn roomcast_server_set_allow_request_callback(
    server: *mut roomcast_server,
    callback: roomcast_allow_request_fn,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let (callback, userdata) = try_ffi!(registered(callback, userdata, free_userdata));
        let requests = s.handshake_requests.clone();
        s.server
            .engine()
            .set_allow_request(Arc::new(move |request: IncomingRequest| {
                let (id, answer) = requests.issue(|| Err(RequestRefused::default()));
                let json = request.to_json();
                callback(userdata.ptr(), id, json.as_ptr(), json.len());
                Box::pin(answer)
            }));
        roomcast_result::Ok
    })
}

fn answer(
    server: *const roomcast_server,
    request_id: u64,
    result: Result<(), RequestRefused>,
) -> roomcast_result {
    let s = try_ffi!(server_ref(server));
    s.handshake_requests
        .answer(request_id, result, "handshake request")
}

/// Lets the pending handshake `request_id` proceed.
///
/// Parameters: `server` from roomcast_server_new; `request_id` as given to the allow-request
/// callback.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_ALREADY_COMPLETED for an id that was already
/// answered, timed out or never issued.
/// Memory: nothing is retained. Thread-safe: may be called from any thread, inside or after the
/// callback.
#[no_mangle]
pub extern "C" fn roomcast_server_request_allow(
    server: *const roomcast_server,
    request_id: u64,
) -> roomcast_result {
    guard(|| answer(server, request_id, Ok(())))
}

/// Refuses the pending handshake `request_id`: the client gets HTTP 403
/// `{"code":4,"message":<message>}` (`Forbidden` when `message_len` is 0).
///
/// Parameters: `server`; `request_id` as given to the allow-request callback; `message` (UTF-8,
/// may be NULL when `message_len` is 0).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_ALREADY_COMPLETED; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `message` is borrowed for the call. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_request_refuse(
    server: *const roomcast_server,
    request_id: u64,
    message: *const u8,
    message_len: usize,
) -> roomcast_result {
    guard(|| {
        let message = try_ffi!(borrow_str(message, message_len, "message"));
        answer(
            server,
            request_id,
            Err(RequestRefused::from_message(message)),
        )
    })
}
