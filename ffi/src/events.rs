//! Events from the engine to C (connect, disconnect, client events): the C event types, the
//! sink that sends them, and the namespaces made from C that report to it.

use std::ffi::c_void;

use std::sync::Arc;

use engine::{Args, ClientEvent, HeldAcks, Middleware, Namespace, SocketRef};
use parking_lot::Mutex;

use crate::callbacks::UserData;

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
    pub(crate) callback: extern "C" fn(*mut c_void, *const roomcast_event),
    pub(crate) userdata: Arc<UserData>,
    pub(crate) held: Arc<HeldAcks>,
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

    pub(crate) fn connect(&self, socket: &SocketRef) {
        let kind = roomcast_event_kind::Connect;
        self.send(kind, Some(socket), socket.namespace(), "", &Args::none(), 0);
    }

    pub(crate) fn disconnect(&self, socket: &SocketRef, reason: &str) {
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

    pub(crate) fn client_event(&self, socket: &SocketRef, event: ClientEvent) {
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
    pub(crate) fn hear_servers(&self, ns: &Namespace) {
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

#[derive(Default)]
struct State {
    sink: Option<EventSink>,
    made: Vec<Namespace>,
}

/// The namespaces C made and the event sink they report to (either may come first).
#[derive(Default)]
pub(crate) struct CNamespaces {
    state: Mutex<State>,
}

impl CNamespaces {
    /// A new event callback: every namespace made so far reports to it, and later ones too.
    pub(crate) fn set_sink(&self, sink: EventSink) {
        let mut state = self.state.lock();
        for ns in &state.made {
            sink.wire(ns);
        }
        state.sink = Some(sink);
    }

    fn adopt(&self, ns: &Namespace) {
        let mut state = self.state.lock();
        if let Some(sink) = &state.sink {
            sink.wire(ns);
        }
        state.made.push(ns.clone());
    }

    /// Sets up a namespace C asked for: reporting to the callback, behind `login` if given.
    pub(crate) fn set_up(&self, ns: &Namespace, login: Option<&Middleware>) {
        if let Some(login) = login {
            ns.set_middleware(login.clone());
        }
        self.adopt(ns);
    }
}
