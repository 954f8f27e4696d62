//! The host's event callback and its acks: where roomcast_event values go, and how the host
//! answers them.

use std::ffi::c_void;

use engine::Args;

use crate::callbacks::{registered, roomcast_free_fn};
use crate::error::{fail_with, guard, result_of, roomcast_result, try_ffi};
use crate::events::{roomcast_event_fn, EventSink};
use crate::server::{roomcast_server, server_ref};
use crate::strings::borrow_str;

/// Registers the event callback: connects, disconnects, every client event the engine does
/// not handle itself, and events from the other servers of the cluster, in `/` and in every
/// namespace made with roomcast_server_of or the namespace matcher (see roomcast_event).
///
/// Parameters: `callback` (not NULL) runs on engine threads and must not block for long;
/// `userdata` is passed back on every call; `free_userdata` (may be NULL) is called once with
/// `userdata` when the callback is replaced or the server is freed.
/// Returns: ROOMCAST_RESULT_OK; ROOMCAST_RESULT_ERR_NULL_POINTER.
/// Memory: the event and everything it points to are borrowed for the duration of the callback
/// only. Thread-safe.
#[no_mangle]
pub extern "C" fn roomcast_server_set_event_callback(
    server: *mut roomcast_server,
    callback: roomcast_event_fn,
    userdata: *mut c_void,
    free_userdata: roomcast_free_fn,
) -> roomcast_result {
    guard(|| {
        let s = try_ffi!(server_ref(server));
        let (callback, userdata) = try_ffi!(registered(callback, userdata, free_userdata));
        let sink = EventSink {
            callback,
            userdata,
            held: s.server.held_acks().clone(),
        };
        let to = sink.clone();
        s.server.on_connect(move |socket| to.connect(socket));
        let to = sink.clone();
        s.server
            .on_disconnect(move |socket, reason| to.disconnect(socket, reason));
        let to = sink.clone();
        s.server
            .on_client_event(move |socket, event| to.client_event(socket, event));
        sink.hear_servers(&s.server.engine().io());
        s.namespaces.set_sink(sink);
        roomcast_result::Ok
    })
}

/// Answers a client event's ack, or a ServerSideEvent's (the other server gets the first value).
///
/// Parameters: `ack_id` from roomcast_event; `json_array`, the ack's arguments as a JSON array.
/// Returns: ROOMCAST_RESULT_OK (also when the client left while the answer was sent: it had nowhere
/// to go); ROOMCAST_RESULT_ERR_ALREADY_COMPLETED when the ack was answered already or its client
/// disconnected; ROOMCAST_RESULT_ERR_INVALID_JSON.
/// Memory: `json_array` is borrowed for the call. Thread-safe: answer from any thread, at any time.
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
        match Args::json_array(json) {
            Ok(args) => result_of(s.server.held_acks().answer(ack_id, &args)),
            Err(e) => fail_with(engine::Error::from(e).context("ack arguments")),
        }
    })
}
