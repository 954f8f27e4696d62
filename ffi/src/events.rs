//! Events from the engine to C (connect, disconnect, client events) and the host's acks.

use std::ffi::c_void;

use std::sync::Arc;

use engine::{Args, ClientEvent, HeldAcks, Namespace, SocketRef};

use crate::callbacks::{registered, roomcast_free_fn, UserData};
use crate::error::{fail_with, guard, result_of, roomcast_result};
use crate::server::{roomcast_server, server_ref, try_ffi};
use crate::strings::borrow_str;

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum roomcast_event_kind {
    Connect = 0,
    Disconnect = 1,
    /// A client event that is not built in; `ack_id` is non-zero when the client wants an answer.
    ClientEvent = 2,
    /// An event another server of the cluster sent (roomcast_server_server_side_emit, Node's
    /// `io.serverSideEmit`): no socket (`socket_id` empty, no identity); `ack_id` is non-zero
    /// when the sender wants one answer (its first value is sent back).
    ServerSideEvent = 3,
}

/// A borrowed byte string.
#[repr(C)]
pub struct roomcast_bytes {
    pub ptr: *const u8,
    pub len: usize,
}

/// One notification: the same facts every host is told. Every pointer is borrowed for the
/// duration of the callback only.
#[repr(C)]
pub struct roomcast_event {
    pub kind: roomcast_event_kind,
    pub socket_id: *const u8,
    pub socket_id_len: usize,
    /// The namespace of the socket (`/` for the main one).
    pub nsp: *const u8,
    pub nsp_len: usize,
    /// The identity the auth callback accepted (empty strings when none).
    pub user_id: *const u8,
    pub user_id_len: usize,
    pub user_name: *const u8,
    pub user_name_len: usize,
    pub user_role: *const u8,
    pub user_role_len: usize,
    /// The event name (ClientEvent) or the disconnect reason (Disconnect).
    pub name: *const u8,
    pub name_len: usize,
    /// The event's arguments as a JSON array (ClientEvent), else empty.
    pub args_json: *const u8,
    pub args_json_len: usize,
    /// Binary attachments of the event (ClientEvent), referenced from `args_json` by
    /// `{"_placeholder":true,"num":i}` markers; `attachments_len` entries.
    pub attachments: *const roomcast_bytes,
    pub attachments_len: usize,
    /// Non-zero: answer with roomcast_server_ack.
    pub ack_id: u64,
}

pub type roomcast_event_fn =
    Option<extern "C" fn(userdata: *mut c_void, event: *const roomcast_event)>;

/// Where the engine's notifications go in C: the registered callback with its userdata, and the
/// acks the host answers by id. Wired to the preset's `/` and to every namespace C creates.
#[derive(Clone)]
pub(crate) struct EventSink {
    callback: extern "C" fn(*mut c_void, *const roomcast_event),
    userdata: Arc<UserData>,
    held: Arc<HeldAcks>,
}

impl EventSink {
    fn send(
        &self,
        kind: roomcast_event_kind,
        socket: Option<&SocketRef>,
        nsp: &str,
        name: &str,
        args: &Args,
        ack_id: u64,
    ) {
        let (user_id, user_name, user_role) = match socket.and_then(|s| s.identity()) {
            Some(i) => (&*i.user_id, &*i.user_name, &*i.user_role),
            None => ("", "", ""),
        };
        let socket_id = socket.map_or("", |s| s.id());
        let json = match kind {
            roomcast_event_kind::ClientEvent | roomcast_event_kind::ServerSideEvent => {
                args.to_json_array()
            }
            _ => String::new(),
        };
        let attachments: Vec<roomcast_bytes> = args
            .attachments()
            .iter()
            .map(|b| roomcast_bytes {
                ptr: b.as_ptr(),
                len: b.len(),
            })
            .collect();
        let event = roomcast_event {
            kind,
            socket_id: socket_id.as_ptr(),
            socket_id_len: socket_id.len(),
            nsp: nsp.as_ptr(),
            nsp_len: nsp.len(),
            user_id: user_id.as_ptr(),
            user_id_len: user_id.len(),
            user_name: user_name.as_ptr(),
            user_name_len: user_name.len(),
            user_role: user_role.as_ptr(),
            user_role_len: user_role.len(),
            name: name.as_ptr(),
            name_len: name.len(),
            args_json: json.as_ptr(),
            args_json_len: json.len(),
            attachments: attachments.as_ptr(),
            attachments_len: attachments.len(),
            ack_id,
        };
        (self.callback)(self.userdata.ptr(), &event);
    }

    fn connect(&self, socket: &SocketRef) {
        let kind = roomcast_event_kind::Connect;
        self.send(kind, Some(socket), socket.namespace(), "", &Args::none(), 0);
    }

    fn disconnect(&self, socket: &SocketRef, reason: &str) {
        let kind = roomcast_event_kind::Disconnect;
        self.send(
            kind,
            Some(socket),
            socket.namespace(),
            reason,
            &Args::none(),
            0,
        );
    }

    fn client_event(&self, socket: &SocketRef, event: ClientEvent) {
        let ack_id = event.ack.map_or(0, |sender| self.held.hold(sender));
        let kind = roomcast_event_kind::ClientEvent;
        self.send(
            kind,
            Some(socket),
            socket.namespace(),
            &event.name,
            &event.args,
            ack_id,
        );
    }

    /// Events from the other servers of the cluster, for namespace `ns`.
    fn hear_servers(&self, ns: &Namespace) {
        let sink = self.clone();
        let nsp = ns.name().to_owned();
        ns.on_server_side_emit(move |name, args, ack| {
            let ack_id = ack.map_or(0, |ack| sink.held.hold_server_ack(ack));
            let kind = roomcast_event_kind::ServerSideEvent;
            sink.send(kind, None, &nsp, name, args, ack_id);
        });
    }

    /// Sends a namespace's connects, client events, disconnects and server-side events here (the
    /// preset's `/` reports through its own hooks instead).
    pub(crate) fn wire(&self, ns: &Namespace) {
        let sink = self.clone();
        ns.on_connection(move |socket| sink.connect(socket));
        let sink = self.clone();
        ns.on_event(move |socket, event| sink.client_event(socket, event));
        let sink = self.clone();
        ns.on_disconnect(move |socket, reason| {
            sink.held.forget_socket(socket.id());
            sink.disconnect(socket, reason);
        });
        self.hear_servers(ns);
    }
}

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
