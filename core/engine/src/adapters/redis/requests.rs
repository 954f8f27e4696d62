//! Cluster requests and their answers in the format of the Node `@socket.io/redis-adapter`
//! (8.x): JSON objects `{uid, requestId, type, …}` on `<prefix>-request#<nsp>#`, answers
//! `{requestId, …}` on `<prefix>-response#<nsp>#<requester uid>#`. The broadcast-with-ack
//! request and each client ack are msgpack (they may carry binary). A message starting with
//! `{` is JSON, anything else msgpack, as the Node adapter reads them.

use bytes::Bytes;
use rmpv::Value;
use serde_json::{json, Value as Json};
use std::sync::Arc;
use std::time::Duration;

use super::wire::{ack_broadcast_opts, args_values, event_packet, msgpack_as_json, to_msgpack};
use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::cluster::{ClusterAnswer, ClusterRequest, SocketInfo};
use crate::socketio::packet::Args;

/// The Node adapter's request types.
mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// A request as it arrived: who sent it, the id to answer under (when it wants answers).
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingRequest {
    pub uid: String,
    pub request_id: Option<String>,
    pub request: ClusterRequest,
}

pub(super) fn rooms_json(list: &[Arc<str>]) -> Json {
    Json::Array(list.iter().map(|r| Json::from(r.as_ref())).collect())
}

fn opts_json(target: &BroadcastTarget) -> Json {
    json!({ "rooms": rooms_json(&target.rooms), "except": rooms_json(&target.except) })
}

/// The request's wire bytes; `request_id` for requests that expect answers.
pub fn encode_request(
    uid: &str,
    request_id: Option<&str>,
    namespace: &str,
    request: &ClusterRequest,
) -> Result<Vec<u8>, String> {
    let mut message = match request {
        ClusterRequest::SocketIds(target) => {
            json!({ "type": kind::SOCKETS, "rooms": rooms_json(&target.rooms) })
        }
        ClusterRequest::FetchSockets(target) => {
            json!({ "type": kind::REMOTE_FETCH, "opts": opts_json(target) })
        }
        ClusterRequest::AllRooms => json!({ "type": kind::ALL_ROOMS }),
        ClusterRequest::Join { target, rooms } => json!({
            "type": kind::REMOTE_JOIN, "opts": opts_json(target), "rooms": rooms_json(rooms),
        }),
        ClusterRequest::Leave { target, rooms } => json!({
            "type": kind::REMOTE_LEAVE, "opts": opts_json(target), "rooms": rooms_json(rooms),
        }),
        ClusterRequest::Disconnect { target, close } => json!({
            "type": kind::REMOTE_DISCONNECT, "opts": opts_json(target), "close": close,
        }),
        ClusterRequest::ServerSideEmit { event, args, .. } => {
            let mut data: Vec<Json> =
                serde_json::from_str(&args.to_json_array()).map_err(|e| e.to_string())?;
            data.insert(0, Json::from(event.as_str()));
            json!({ "type": kind::SERVER_SIDE_EMIT, "data": data })
        }
        ClusterRequest::BroadcastWithAck {
            target,
            event,
            args,
            timeout,
        } => {
            return encode_broadcast_with_ack(
                uid, request_id, namespace, target, event, args, *timeout,
            )
        }
    };
    message["uid"] = Json::from(uid);
    if let Some(id) = request_id {
        message["requestId"] = Json::from(id);
    }
    Ok(message.to_string().into_bytes())
}

fn encode_broadcast_with_ack(
    uid: &str,
    request_id: Option<&str>,
    namespace: &str,
    target: &BroadcastTarget,
    event: &str,
    args: &Args,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let message = Value::Map(vec![
        (Value::from("uid"), Value::from(uid)),
        (
            Value::from("requestId"),
            Value::from(request_id.unwrap_or("")),
        ),
        (Value::from("type"), Value::from(kind::BROADCAST)),
        (Value::from("packet"), event_packet(namespace, event, args)?),
        (Value::from("opts"), ack_broadcast_opts(target, timeout)),
    ]);
    to_msgpack(&message)
}

/// A message from the request or response channel, as JSON (binary leaves as placeholders
/// into the attachments).
pub(super) fn parse(bytes: &[u8]) -> Result<(Json, Vec<Bytes>), String> {
    if bytes.first() == Some(&b'{') {
        let json = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        return Ok((json, Vec::new()));
    }
    msgpack_as_json(bytes)
}

pub(super) fn string_list(value: &Json) -> Vec<Arc<str>> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| match v {
                    Json::String(s) => Some(Arc::from(s.as_str())),
                    Json::Number(n) => Some(Arc::from(n.to_string().as_str())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn target_of(opts: &Json) -> BroadcastTarget {
    BroadcastTarget {
        rooms: string_list(&opts["rooms"]),
        except: string_list(&opts["except"]),
        volatile: opts["flags"]["volatile"] == true,
        plain: opts["flags"]["compress"] == false,
    }
}

/// `[first, ...rest]` of a JSON array as (first, the rest as Args).
pub(super) fn event_and_args(
    data: &Json,
    attachments: Vec<Bytes>,
) -> Result<(String, Args), String> {
    let items = data.as_array().ok_or("data is not an array")?;
    let event = items
        .first()
        .and_then(Json::as_str)
        .ok_or("no event name")?
        .to_owned();
    let rest = Json::Array(items[1..].to_vec()).to_string();
    let args = if attachments.is_empty() {
        Args::json_array(&rest)
    } else {
        Args::with_attachments(&rest, attachments)
    };
    Ok((event, args.map_err(|e| e.to_string())?))
}

pub fn decode_request(bytes: &[u8]) -> Result<IncomingRequest, String> {
    let (message, attachments) = parse(bytes)?;
    let request_id = message["requestId"].as_str().map(str::to_owned);
    let opts = &message["opts"];
    let needs_opts = || {
        if opts.is_object() {
            Ok(target_of(opts))
        } else {
            // The per-socket form (`sid`) of older adapters is not answered.
            Err("request without opts".to_owned())
        }
    };
    let request = match message["type"].as_u64() {
        Some(kind::SOCKETS) => ClusterRequest::SocketIds(BroadcastTarget {
            rooms: string_list(&message["rooms"]),
            ..BroadcastTarget::default()
        }),
        Some(kind::ALL_ROOMS) => ClusterRequest::AllRooms,
        Some(kind::REMOTE_FETCH) => ClusterRequest::FetchSockets(needs_opts()?),
        Some(kind::REMOTE_JOIN) => ClusterRequest::Join {
            target: needs_opts()?,
            rooms: string_list(&message["rooms"]),
        },
        Some(kind::REMOTE_LEAVE) => ClusterRequest::Leave {
            target: needs_opts()?,
            rooms: string_list(&message["rooms"]),
        },
        Some(kind::REMOTE_DISCONNECT) => ClusterRequest::Disconnect {
            target: needs_opts()?,
            close: message["close"] == true,
        },
        Some(kind::SERVER_SIDE_EMIT) => {
            let (event, args) = event_and_args(&message["data"], attachments)?;
            ClusterRequest::ServerSideEmit {
                event,
                args,
                with_ack: request_id.is_some(),
            }
        }
        Some(kind::BROADCAST) => {
            let (event, args) = event_and_args(&message["packet"]["data"], attachments)?;
            let timeout = opts["flags"]["timeout"].as_u64().unwrap_or(5_000);
            ClusterRequest::BroadcastWithAck {
                target: target_of(opts),
                event,
                args,
                timeout: Duration::from_millis(timeout),
            }
        }
        other => return Err(format!("unsupported request type {other:?}")),
    };
    Ok(IncomingRequest {
        uid: message["uid"].as_str().unwrap_or_default().to_owned(),
        request_id,
        request,
    })
}

pub(super) fn socket_json(socket: &SocketInfo) -> Json {
    json!({
        "id": socket.id,
        "handshake": socket.handshake,
        "rooms": socket.rooms,
        "data": socket.data,
    })
}

/// An answer's wire bytes.
pub fn encode_answer(request_id: &str, answer: &ClusterAnswer) -> Result<Vec<u8>, String> {
    let message = match answer {
        ClusterAnswer::SocketIds(ids) => json!({ "requestId": request_id, "sockets": ids }),
        ClusterAnswer::Sockets(sockets) => json!({
            "requestId": request_id,
            "sockets": sockets.iter().map(socket_json).collect::<Vec<_>>(),
        }),
        ClusterAnswer::Rooms(rooms) => json!({ "requestId": request_id, "rooms": rooms }),
        ClusterAnswer::ServerAck(data) => json!({
            "type": kind::SERVER_SIDE_EMIT, "requestId": request_id, "data": data,
        }),
        ClusterAnswer::ClientCount(count) => json!({
            "type": kind::BROADCAST_CLIENT_COUNT, "requestId": request_id, "clientCount": count,
        }),
        ClusterAnswer::ClientAck(args) => {
            let value = args_values(args)?.into_iter().next().unwrap_or(Value::Nil);
            return to_msgpack(&Value::Map(vec![
                (Value::from("type"), Value::from(kind::BROADCAST_ACK)),
                (Value::from("requestId"), Value::from(request_id)),
                (Value::from("packet"), value),
            ]));
        }
    };
    Ok(message.to_string().into_bytes())
}

/// An answer as it arrived, to be read by the request it answers.
pub struct IncomingAnswer {
    pub request_id: String,
    message: Json,
    attachments: Vec<Bytes>,
}

pub fn decode_answer(bytes: &[u8]) -> Result<IncomingAnswer, String> {
    let (message, attachments) = parse(bytes)?;
    let request_id = message["requestId"]
        .as_str()
        .ok_or("answer without requestId")?
        .to_owned();
    Ok(IncomingAnswer {
        request_id,
        message,
        attachments,
    })
}

impl IncomingAnswer {
    /// The answer read as one to `request` (None when it is not one).
    pub fn read_for(self, request: &ClusterRequest) -> Option<ClusterAnswer> {
        let message = self.message;
        match request {
            ClusterRequest::SocketIds(_) => Some(ClusterAnswer::SocketIds(
                string_list(&message["sockets"])
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )),
            ClusterRequest::FetchSockets(_) => {
                let sockets = message["sockets"].as_array()?;
                Some(ClusterAnswer::Sockets(
                    sockets.iter().filter_map(socket_info).collect(),
                ))
            }
            ClusterRequest::AllRooms => Some(ClusterAnswer::Rooms(
                string_list(&message["rooms"])
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )),
            ClusterRequest::ServerSideEmit { .. } => {
                Some(ClusterAnswer::ServerAck(message["data"].clone()))
            }
            ClusterRequest::BroadcastWithAck { .. } => match message["type"].as_u64()? {
                kind::BROADCAST_CLIENT_COUNT => Some(ClusterAnswer::ClientCount(
                    usize::try_from(message["clientCount"].as_u64()?).ok()?,
                )),
                kind::BROADCAST_ACK => {
                    ack_args(&message["packet"], self.attachments).map(ClusterAnswer::ClientAck)
                }
                _ => None,
            },
            ClusterRequest::Join { .. }
            | ClusterRequest::Leave { .. }
            | ClusterRequest::Disconnect { .. } => None,
        }
    }
}

/// One client's ack value (binary leaves as placeholders into `attachments`) as arguments.
pub(super) fn ack_args(value: &Json, attachments: Vec<Bytes>) -> Option<Args> {
    let list = format!("[{value}]");
    let args = if attachments.is_empty() {
        Args::json_array(&list)
    } else {
        Args::with_attachments(&list, attachments)
    };
    args.ok()
}

pub(super) fn socket_info(value: &Json) -> Option<SocketInfo> {
    Some(SocketInfo {
        id: value["id"].as_str()?.to_owned(),
        handshake: value["handshake"].clone(),
        rooms: string_list(&value["rooms"])
            .iter()
            .map(|s| s.to_string())
            .collect(),
        data: value["data"].clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips() {
        let requests = [
            ClusterRequest::SocketIds(BroadcastTarget::new(&["a"], &[])),
            ClusterRequest::FetchSockets(BroadcastTarget::new(&["a", "b"], &["c"])),
            ClusterRequest::AllRooms,
            ClusterRequest::Join {
                target: BroadcastTarget::new(&["a"], &[]),
                rooms: vec![Arc::from("x")],
            },
            ClusterRequest::Leave {
                target: BroadcastTarget::new(&[], &["a"]),
                rooms: vec![Arc::from("x")],
            },
            ClusterRequest::Disconnect {
                target: BroadcastTarget::new(&["a"], &[]),
                close: true,
            },
            ClusterRequest::ServerSideEmit {
                event: "hello".into(),
                args: Args::json_array(r#"[1,{"a":"b"}]"#).unwrap(),
                with_ack: true,
            },
            ClusterRequest::BroadcastWithAck {
                target: BroadcastTarget::new(&["a"], &[]),
                event: "vote".into(),
                args: Args::with_attachments(
                    r#"[{"_placeholder":true,"num":0}]"#,
                    vec![Bytes::from_static(b"\x01\x02")],
                )
                .unwrap(),
                timeout: Duration::from_millis(1500),
            },
        ];
        for request in requests {
            let id = request.expects_answers().then_some("r1");
            let bytes = encode_request("me", id, "/", &request).unwrap();
            let back = decode_request(&bytes).unwrap();
            assert_eq!(back.uid, "me");
            assert_eq!(back.request_id.as_deref(), id);
            assert_eq!(back.request, request);
        }
    }

    #[test]
    fn answers_read_back_for_their_request() {
        let fetch = ClusterRequest::FetchSockets(BroadcastTarget::default());
        let info = SocketInfo {
            id: "s1".into(),
            handshake: json!({"auth": {}}),
            rooms: vec!["s1".into(), "r".into()],
            data: json!({"user": 7}),
        };
        let bytes = encode_answer("r1", &ClusterAnswer::Sockets(vec![info.clone()])).unwrap();
        let answer = decode_answer(&bytes).unwrap();
        assert_eq!(answer.request_id, "r1");
        assert_eq!(
            answer.read_for(&fetch),
            Some(ClusterAnswer::Sockets(vec![info]))
        );
        let with_ack = ClusterRequest::BroadcastWithAck {
            target: BroadcastTarget::default(),
            event: "e".into(),
            args: Args::none(),
            timeout: Duration::from_secs(1),
        };
        for sent in [
            ClusterAnswer::ClientCount(3),
            ClusterAnswer::ClientAck(Args::json_array(r#"[{"ok":true}]"#).unwrap()),
        ] {
            let back = decode_answer(&encode_answer("r2", &sent).unwrap()).unwrap();
            assert_eq!(back.read_for(&with_ack), Some(sent));
        }
    }

    #[test]
    fn malformed_requests_are_errors() {
        for bad in [
            &b"{"[..],
            b"{\"type\":99}",
            b"{\"type\":2,\"sid\":\"x\",\"room\":\"r\"}",
            b"\xc1",
            b"{\"type\":6,\"data\":[1]}",
        ] {
            assert!(decode_request(bad).is_err(), "{bad:?}");
        }
        assert!(decode_answer(b"{\"rooms\":[]}").is_err());
    }
}
