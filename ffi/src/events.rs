//! Events from the engine to C (connect, disconnect, client events) and the host's acks.

use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use engine::{Args, SocketRef};

use crate::callbacks::{roomcast_free_fn, UserData};
use crate::error::{fail, guard, roomcast_result};
use crate::server::{roomcast_server, server_ref, try_ffi};
use crate::strings::borrow_str;

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
