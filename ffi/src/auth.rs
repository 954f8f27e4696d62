//! The session validator from C: each handshake is handed to the host with a request id, and
//! the host completes it later, from any thread, with `roomcast_server_auth_*`.

use std::ffi::c_void;
use std::sync::Arc;

use engine::{AuthDecision, AuthRequest, Identity, ValidatorResult};

use crate::callbacks::{registered, roomcast_free_fn};
use crate::error::try_ffi;
use crate::error::{fail_with, guard, roomcast_result};
use crate::server::{roomcast_server, server_ref};
use crate::strings::borrow_str;

/// Called for each handshake with a request id and the request as JSON
/// (`{"auth":{...},"headers":{...},"address":"..."}`, borrowed for the call). Complete it later,
/// from any thread, with roomcast_server_auth_accept / roomcast_server_auth_reject / roomcast_server_auth_fail.
pub type roomcast_auth_fn = Option<
    extern "C" fn(
        userdata: *mut c_void,
        request_id: u64,
        request_json: *const u8,
        request_json_len: usize,
    ),
>;

/// Registers the session validator: every connect to `/` with `sessionID` and `userId` in its
/// auth payload is handed to `callback`, and the handshake waits until the host completes the
/// request (roomcast_server_auth_accept / _reject / _fail) or the auth timeout fails it.
///
/// Parameters: `callback` (not NULL) runs on engine threads and must not block for long;
/// `userdata` is passed back on every call; `free_userdata` (may be NULL) is called once with
/// `userdata` when the callback is replaced or the server is freed.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: the strings the callback receives are borrowed for the duration of the callback only.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_set_auth_callback(
    server: *mut roomcast_server,
    callback: roomcast_auth_fn,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let (callback, userdata) = try_ffi!(registered(callback, userdata, free_userdata));
        let requests = s.auth_requests.clone();
        s.server
            .set_session_validator(Arc::new(move |request: AuthRequest| {
                let (id, answer) = requests.issue(|| Err("auth request dropped".to_owned()));
                let json = request.to_json();
                callback(userdata.ptr(), id, json.as_ptr(), json.len());
                Box::pin(answer)
            }));
        roomcast_result::Ok
    })
}

fn complete(
    server: *const roomcast_server,
    request_id: u64,
    result: ValidatorResult,
) -> roomcast_result {
    let s = try_ffi!(server_ref(server));
    s.auth_requests.answer(request_id, result, "auth request")
}

/// Accepts the pending handshake `request_id` as this user.
///
/// Parameters: `user_id` (UTF-8, not empty); `user_name` and `user_role` (UTF-8; empty takes the
/// engine's defaults, "User" and "user").
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_ALREADY_COMPLETED when the request was answered
/// already, timed out or never existed; ROOMCAST_RESULT_ERR_INVALID_ARGUMENT for an empty user id;
/// ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: the strings are borrowed for the call (copied). Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_auth_accept(
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
        let identity = match Identity::from_host(user_id, Some(name), Some(role)) {
            Ok(identity) => identity,
            Err(error) => return fail_with(error),
        };
        complete(server, request_id, Ok(AuthDecision::Accept(identity)))
    })
}

/// Rejects the pending handshake `request_id`: the client gets
/// `UNAUTHORIZED: Invalid session or user mismatch`.
///
/// Parameters: `server`; `request_id` as given to the auth callback.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_ALREADY_COMPLETED.
/// Memory: nothing is retained. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_auth_reject(
    server: *const roomcast_server,
    request_id: u64,
) -> roomcast_result {
    guard(|| complete(server, request_id, Ok(AuthDecision::Reject)))
}

/// Fails the pending handshake `request_id` (the session store is down…): the client gets
/// `AUTHENTICATION_FAILED`; `message` is logged, never sent.
///
/// Parameters: `server`; `request_id`; `message` (UTF-8, may be NULL when `message_len` is 0).
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_ALREADY_COMPLETED; ROOMCAST_RESULT_ERR_INVALID_UTF8.
/// Memory: `message` is borrowed for the call. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_auth_fail(
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
