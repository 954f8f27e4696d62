//! What JavaScript plugs into the engine: the session validator, the handshake hook, the
//! event handler (connection, disconnect, client events) and the answers to client acks.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use roomcast::engineio::allow_request::{AllowRequest, IncomingRequest, RequestRefused};
use roomcast::{Args, SocketRef};

use crate::error::{js_error, Result};
use crate::{validator, NativeServer};

/// One notification for JavaScript: `connection`, `disconnect` or `event`.
#[napi(object)]
pub struct ServerEvent {
    pub kind: String,
    pub socket_id: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub user_role: Option<String>,
    /// The event name (`event`) or the disconnect reason (`disconnect`).
    pub name: Option<String>,
    /// The event's arguments as a JSON array text.
    pub args: Option<String>,
    /// Binary attachments referenced by placeholders in `args`.
    pub attachments: Option<Vec<Buffer>>,
    /// Present when the client wants an acknowledgement: answer with `ack(ackId, json)`.
    pub ack_id: Option<i64>,
}

type EventFn = JsCallback<ServerEvent, ()>;

fn identity_fields(socket: &SocketRef) -> (Option<String>, Option<String>, Option<String>) {
    match socket.identity() {
        Some(i) => (
            Some(i.user_id.to_string()),
            Some(i.user_name.to_string()),
            Some(i.user_role.to_string()),
        ),
        None => (None, None, None),
    }
}

fn event(kind: &str, socket: &SocketRef) -> ServerEvent {
    let (user_id, user_name, user_role) = identity_fields(socket);
    ServerEvent {
        kind: kind.to_owned(),
        socket_id: socket.id().to_owned(),
        user_id,
        user_name,
        user_role,
        name: None,
        args: None,
        attachments: None,
        ack_id: None,
    }
}

#[napi]
impl NativeServer {
    /// `validator(requestJson) => Promise<string | null>`: identity JSON to accept, null to
    /// reject, a rejection for a failure. The JS layer normalises the user's middleware to this.
    #[napi]
    pub fn set_validator(
        &self,
        validator: Function<String, Promise<Option<String>>>,
    ) -> napi::Result<()> {
        let tsfn = js_callback(validator)?;
        self.server
            .set_session_validator(validator::bridge(Arc::new(tsfn)));
        Ok(())
    }

    /// `hook(requestJson) => Promise<string | null>`: null accepts the handshake, a string
    /// refuses it with that message (empty: `Forbidden`); a throw or rejection refuses it.
    #[napi]
    pub fn set_allow_request(
        &self,
        hook: Function<String, Promise<Option<String>>>,
    ) -> napi::Result<()> {
        self.server
            .engine()
            .set_allow_request(allow_request_bridge(hook)?);
        Ok(())
    }

    /// Receives connection, disconnect and custom client events.
    #[napi]
    pub fn set_event_handler(&self, handler: Function<ServerEvent, ()>) -> napi::Result<()> {
        let tsfn: Arc<EventFn> = Arc::new(js_callback(handler)?);
        let on_connect = tsfn.clone();
        let lifecycle = self.lifecycle.clone();
        self.server.on_connect(move |socket| {
            if lifecycle.connection.load(Ordering::Relaxed) {
                on_connect.call(
                    event("connection", socket),
                    ThreadsafeFunctionCallMode::NonBlocking,
                );
            }
        });
        let on_disconnect = tsfn.clone();
        let lifecycle = self.lifecycle.clone();
        self.server.on_disconnect(move |socket, reason| {
            if !lifecycle.disconnect.load(Ordering::Relaxed) {
                return;
            }
            let mut ev = event("disconnect", socket);
            ev.name = Some(reason.to_owned());
            on_disconnect.call(ev, ThreadsafeFunctionCallMode::NonBlocking);
        });
        let held = self.server.held_acks().clone();
        self.server.on_client_event(move |socket, client_event| {
            let parts = EventParts::of(client_event, &held);
            let mut ev = event("event", socket);
            (ev.name, ev.args, ev.attachments, ev.ack_id) = (
                Some(parts.name),
                Some(parts.args),
                parts.attachments,
                parts.ack_id,
            );
            tsfn.call(ev, ThreadsafeFunctionCallMode::NonBlocking);
        });
        Ok(())
    }

    /// Answers a client's ack with a JSON array of arguments. False when the ack is not
    /// pending (answered already, or its client left).
    #[napi]
    pub fn ack(&self, ack_id: i64, json_array: String) -> Result<bool> {
        let args = Args::json_array(&json_array)
            .map_err(|e| js_error(roomcast::Error::from(e).context("ack arguments")))?;
        let Ok(id) = u64::try_from(ack_id) else {
            return Ok(false);
        };
        Ok(self.server.held_acks().answer(id, &args).is_ok())
    }
}

/// A JavaScript `allowRequest` hook as the engine's: `hook(requestJson) => Promise<string |
/// null>` (null accepts; a string, a throw or a rejection refuses).
pub(crate) fn allow_request_bridge(
    hook: Function<String, Promise<Option<String>>>,
) -> napi::Result<AllowRequest> {
    let tsfn = Arc::new(js_callback(hook)?);
    Ok(Arc::new(move |request: IncomingRequest| {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let answer = match tsfn.call_async_catch(request.to_json()).await {
                Ok(promise) => promise.await,
                Err(error) => Err(error),
            };
            match answer {
                Ok(None) => Ok(()),
                Ok(Some(message)) => Err(RequestRefused::from_message(&message)),
                Err(error) => {
                    tracing::warn!(reason = %error.reason, "allowRequest failed: refused");
                    Err(RequestRefused::default())
                }
            }
        })
    }))
}

/// What of a client event crosses into JavaScript (both event shapes carry these): its name, its
/// arguments as a JSON array, its binary attachments, and the id its ack is held under.
pub(crate) struct EventParts {
    pub name: String,
    pub args: String,
    pub attachments: Option<Vec<Buffer>>,
    pub ack_id: Option<i64>,
}

impl EventParts {
    pub(crate) fn of(event: roomcast::ClientEvent, held: &roomcast::HeldAcks) -> Self {
        let attachments = event.attachments();
        Self {
            args: event.args.to_json_array(),
            attachments: (!attachments.is_empty()).then(|| buffers(attachments)),
            name: event.name,
            ack_id: event.ack.map(|sender| held.hold(sender) as i64),
        }
    }
}

/// Binary values as Node Buffers (copied: V8 owns what it is given).
pub(crate) fn buffers(values: &[bytes::Bytes]) -> Vec<Buffer> {
    values.iter().map(|b| Buffer::from(b.to_vec())).collect()
}

/// A JavaScript callback the engine calls from its threads: weak (it never keeps Node alive)
/// and without the Node-style error first argument. Every hook of the addon takes this shape.
pub(crate) type JsCallback<Args, Return> =
    ThreadsafeFunction<Args, Return, Args, Status, false, true>;

pub(crate) fn js_callback<Args, Return>(
    function: Function<'_, Args, Return>,
) -> napi::Result<JsCallback<Args, Return>>
where
    Args: 'static + JsValuesTupleIntoVec,
    Return: FromNapiValue,
{
    function
        .build_threadsafe_function()
        .weak::<true>()
        .callee_handled::<false>()
        .build()
}
