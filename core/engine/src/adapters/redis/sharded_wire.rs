//! The message format of socket.io-adapter's `ClusterAdapter`, which the Node
//! `@socket.io/redis-adapter` sharded adapter (`createShardedAdapter`) speaks:
//! `{uid, nsp, type, data}` as JSON, or msgpack when it may carry binary (a message starting
//! with `{` is JSON). Broadcasts and requests share the namespace channel
//! (`<prefix>#<nsp>#`, or a room's own channel in the dynamic modes); answers go to the
//! requester's channel `<prefix>#<nsp>#<uid>#`.
//!
//! The format has no request for socket ids or room names: this node asks for those with a
//! fetch-sockets request and reads ids or rooms out of the sockets (what the Node sharded
//! adapter's `allRooms` cannot do at all).
//!
//! Recovery between roomcast nodes in the dynamic modes (`socketio::recovery::peer_replay`)
//! adds three message types of roomcast's own, which other implementations ignore as unknown:
//! a claim (on the namespace channel), its answer (on the claimant's channel) and a fence (on
//! each channel the claimed socket's broadcasts come on).

use bytes::Bytes;
use rmpv::Value;
use serde_json::{json, Value as Json};
use std::time::Duration;

use super::requests::{
    ack_args, event_and_args, parse, rooms_json, socket_info, socket_json, string_list, target_of,
    IncomingRequest,
};
use super::wire::{
    ack_broadcast_opts, args_values, broadcast_opts, event_packet, to_msgpack, RemoteBroadcast,
};
use crate::engineio::packet::OutFrame;
use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::cluster::{ClusterAnswer, ClusterRequest};
use crate::socketio::packet::Args;
use crate::socketio::recovery::{LoggedBroadcast, PeerClaim};

/// socket.io-adapter's `MessageType`.
mod kind {
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
    /// roomcast's own: a node asks for a dropped socket's half of a replay.
    pub const ROOMCAST_PEER_CLAIM: u64 = 100;
    /// roomcast's own: the half of a replay (or null: cannot).
    pub const ROOMCAST_PEER_REPLAY: u64 = 101;
    /// roomcast's own: a marker sent down a channel before a half of a replay is cut.
    pub const ROOMCAST_FENCE: u64 = 102;
}

/// A message from another node, by what it asks of this one.
pub enum Inbound {
    Broadcast(RemoteBroadcast),
    Request {
        namespace: String,
        incoming: IncomingRequest,
    },
    Answer(ShardedAnswer),
    /// Recovery between roomcast nodes.
    Peer(PeerMessage),
    /// Heartbeats, adapter-close notices and unknown types: nothing to do.
    Ignored,
}

fn envelope(uid: &str, namespace: &str, kind: u64, data: Vec<(Value, Value)>) -> Value {
    Value::Map(vec![
        (Value::from("uid"), Value::from(uid)),
        (Value::from("nsp"), Value::from(namespace)),
        (Value::from("type"), Value::from(kind)),
        (Value::from("data"), Value::Map(data)),
    ])
}

fn json_envelope(uid: &str, namespace: &str, kind: u64, data: Json) -> Vec<u8> {
    json!({ "uid": uid, "nsp": namespace, "type": kind, "data": data })
        .to_string()
        .into_bytes()
}

/// A broadcast (already delivered here). `offset`: roomcast's recovery offset, an extra `opts`
/// field other implementations ignore.
pub fn encode_broadcast(
    uid: &str,
    namespace: &str,
    target: &BroadcastTarget,
    event: &str,
    args: &Args,
    offset: Option<&str>,
) -> Result<Vec<u8>, String> {
    let data = vec![
        (Value::from("packet"), event_packet(namespace, event, args)?),
        (
            Value::from("opts"),
            Value::Map(broadcast_opts(target, offset)),
        ),
    ];
    to_msgpack(&envelope(uid, namespace, kind::BROADCAST, data))
}

fn opts_json(target: &BroadcastTarget) -> Json {
    json!({ "rooms": rooms_json(&target.rooms), "except": rooms_json(&target.except), "flags": {} })
}

/// A cluster request; `request_id` for those that expect answers.
pub fn encode_request(
    uid: &str,
    request_id: Option<&str>,
    namespace: &str,
    request: &ClusterRequest,
) -> Result<Vec<u8>, String> {
    let envelope_json = |kind, mut data: Json| {
        if let Some(id) = request_id {
            data["requestId"] = Json::from(id);
        }
        Ok(json_envelope(uid, namespace, kind, data))
    };
    match request {
        ClusterRequest::SocketIds(target) | ClusterRequest::FetchSockets(target) => {
            envelope_json(kind::FETCH_SOCKETS, json!({ "opts": opts_json(target) }))
        }
        ClusterRequest::AllRooms => envelope_json(
            kind::FETCH_SOCKETS,
            json!({ "opts": opts_json(&BroadcastTarget::default()) }),
        ),
        ClusterRequest::Join { target, rooms } => envelope_json(
            kind::SOCKETS_JOIN,
            json!({ "opts": opts_json(target), "rooms": rooms_json(rooms) }),
        ),
        ClusterRequest::Leave { target, rooms } => envelope_json(
            kind::SOCKETS_LEAVE,
            json!({ "opts": opts_json(target), "rooms": rooms_json(rooms) }),
        ),
        ClusterRequest::Disconnect { target, close } => envelope_json(
            kind::DISCONNECT_SOCKETS,
            json!({ "opts": opts_json(target), "close": close }),
        ),
        ClusterRequest::ServerSideEmit { event, args, .. } => {
            let mut packet = vec![Value::from(event.as_str())];
            packet.extend(args_values(args)?);
            let mut data = vec![(Value::from("packet"), Value::Array(packet))];
            if let Some(id) = request_id {
                data.push((Value::from("requestId"), Value::from(id)));
            }
            to_msgpack(&envelope(uid, namespace, kind::SERVER_SIDE_EMIT, data))
        }
        ClusterRequest::BroadcastWithAck {
            target,
            event,
            args,
            timeout,
        } => {
            let data = vec![
                (Value::from("packet"), event_packet(namespace, event, args)?),
                (
                    Value::from("requestId"),
                    Value::from(request_id.unwrap_or("")),
                ),
                (Value::from("opts"), ack_broadcast_opts(target, *timeout)),
            ];
            to_msgpack(&envelope(uid, namespace, kind::BROADCAST, data))
        }
    }
}

/// This node's answer to another node's request.
pub fn encode_answer(
    uid: &str,
    namespace: &str,
    request_id: &str,
    answer: &ClusterAnswer,
) -> Result<Vec<u8>, String> {
    let (kind, data) = match answer {
        ClusterAnswer::Sockets(sockets) => (
            kind::FETCH_SOCKETS_RESPONSE,
            json!({ "sockets": sockets.iter().map(socket_json).collect::<Vec<_>>() }),
        ),
        ClusterAnswer::ServerAck(value) => {
            (kind::SERVER_SIDE_EMIT_RESPONSE, json!({ "packet": value }))
        }
        ClusterAnswer::ClientCount(count) => (
            kind::BROADCAST_CLIENT_COUNT,
            json!({ "clientCount": count }),
        ),
        ClusterAnswer::ClientAck(args) => {
            let value = args_values(args)?.into_iter().next().unwrap_or(Value::Nil);
            let data = vec![
                (Value::from("requestId"), Value::from(request_id)),
                (Value::from("packet"), value),
            ];
            return to_msgpack(&envelope(uid, namespace, kind::BROADCAST_ACK, data));
        }
        // Requests in this format never ask for these (ids and rooms come from sockets).
        ClusterAnswer::SocketIds(_) | ClusterAnswer::Rooms(_) => {
            return Err("no such answer in the sharded format".into())
        }
    };
    let mut data = data;
    data["requestId"] = Json::from(request_id);
    Ok(json_envelope(uid, namespace, kind, data))
}

/// Decodes one message of namespace channel, room channel or response channel.
/// Recovery between roomcast nodes, by message.
#[derive(Debug, PartialEq)]
pub enum PeerMessage {
    Claim {
        uid: String,
        namespace: String,
        request_id: String,
        claim: PeerClaim,
    },
    /// None: that node cannot replay.
    Replay {
        request_id: String,
        missed: Option<Vec<LoggedBroadcast>>,
    },
    Fence {
        namespace: String,
        request_id: String,
    },
}

pub fn encode_peer_claim(
    uid: &str,
    namespace: &str,
    request_id: &str,
    claim: &PeerClaim,
) -> Vec<u8> {
    let data = json!({
        "requestId": request_id,
        "node": &*claim.node,
        "sid": &*claim.sid,
        "rooms": rooms_json(&claim.rooms),
        "offset": claim.offset,
    });
    json_envelope(uid, namespace, kind::ROOMCAST_PEER_CLAIM, data)
}

/// msgpack: a text frame as a string, a binary one as binary.
pub fn encode_peer_replay(
    uid: &str,
    namespace: &str,
    request_id: &str,
    missed: Option<&[LoggedBroadcast]>,
) -> Result<Vec<u8>, String> {
    let frame = |frame: &OutFrame| match frame {
        OutFrame::Binary(bytes) => Value::Binary(bytes.to_vec()),
        text => Value::from(text.text().map(|t| t.as_str()).unwrap_or_default()),
    };
    let packets = missed.map_or(Value::Nil, |missed| {
        Value::Array(
            missed
                .iter()
                .map(|b| {
                    let frames = b.frames.iter().map(frame).collect();
                    Value::Array(vec![Value::from(&*b.offset), Value::Array(frames)])
                })
                .collect(),
        )
    });
    let data = vec![
        (Value::from("requestId"), Value::from(request_id)),
        (Value::from("packets"), packets),
    ];
    to_msgpack(&envelope(uid, namespace, kind::ROOMCAST_PEER_REPLAY, data))
}

pub fn encode_fence(uid: &str, namespace: &str, request_id: &str) -> Vec<u8> {
    json_envelope(
        uid,
        namespace,
        kind::ROOMCAST_FENCE,
        json!({ "requestId": request_id }),
    )
}

/// The packets of a replay: `[[offset, [frame…]]…]`, binary frames as placeholders into
/// `attachments`.
fn logged_broadcasts(
    packets: &Json,
    attachments: &[Bytes],
) -> Result<Vec<LoggedBroadcast>, String> {
    let frame = |frame: &Json| match frame {
        Json::String(text) => Ok(OutFrame::Text(text.as_str().into())),
        placeholder => placeholder["num"]
            .as_u64()
            .and_then(|n| attachments.get(usize::try_from(n).ok()?))
            .map(|bytes| OutFrame::Binary(bytes.clone()))
            .ok_or_else(|| "replay frame is neither text nor binary".to_owned()),
    };
    let packet = |packet: &Json| {
        let offset = packet[0].as_str().ok_or("replay packet without offset")?;
        let frames = packet[1].as_array().ok_or("replay packet without frames")?;
        Ok(LoggedBroadcast {
            offset: Box::from(offset),
            frames: frames.iter().map(frame).collect::<Result<_, String>>()?,
        })
    };
    packets
        .as_array()
        .ok_or("replay packets are not a list")?
        .iter()
        .map(packet)
        .collect()
}

fn peer_message(
    kind: u64,
    uid: String,
    namespace: String,
    data: &Json,
    attachments: &[Bytes],
) -> Result<PeerMessage, String> {
    let request_id = data["requestId"]
        .as_str()
        .ok_or("roomcast message without requestId")?
        .to_owned();
    let text = |field: &str| {
        data[field]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("claim without {field}"))
    };
    Ok(match kind {
        kind::ROOMCAST_PEER_CLAIM => PeerMessage::Claim {
            uid,
            namespace,
            request_id,
            claim: PeerClaim {
                node: text("node")?.into(),
                sid: text("sid")?.into(),
                rooms: string_list(&data["rooms"]),
                offset: text("offset")?,
            },
        },
        kind::ROOMCAST_PEER_REPLAY => PeerMessage::Replay {
            request_id,
            missed: match &data["packets"] {
                Json::Null => None,
                packets => Some(logged_broadcasts(packets, attachments)?),
            },
        },
        _ => PeerMessage::Fence {
            namespace,
            request_id,
        },
    })
}

pub fn decode(bytes: &[u8]) -> Result<Inbound, String> {
    let (mut message, attachments) = parse(bytes)?;
    let uid = message["uid"].as_str().unwrap_or_default().to_owned();
    let namespace = message["nsp"].as_str().unwrap_or("/").to_owned();
    // `get_mut`, not indexing: a message that is not an object must not panic.
    let data = message.get_mut("data").map(Json::take).unwrap_or_default();
    let request_id = data["requestId"].as_str().map(str::to_owned);
    let request = |request| {
        Ok(Inbound::Request {
            namespace: namespace.clone(),
            incoming: IncomingRequest {
                uid: uid.clone(),
                request_id: request_id.clone(),
                request,
            },
        })
    };
    let opts = &data["opts"];
    match message["type"].as_u64() {
        Some(kind::BROADCAST) => {
            let (event, args) = event_and_args(&data["packet"]["data"], attachments)?;
            if request_id.is_some() {
                let timeout = opts["flags"]["timeout"].as_u64().unwrap_or(5_000);
                return request(ClusterRequest::BroadcastWithAck {
                    target: target_of(opts),
                    event,
                    args,
                    timeout: Duration::from_millis(timeout),
                });
            }
            Ok(Inbound::Broadcast(RemoteBroadcast {
                uid,
                namespace,
                target: target_of(opts),
                event,
                args,
                offset: opts["roomcastOffset"].as_str().map(str::to_owned),
            }))
        }
        Some(kind::SOCKETS_JOIN) => request(ClusterRequest::Join {
            target: target_of(opts),
            rooms: string_list(&data["rooms"]),
        }),
        Some(kind::SOCKETS_LEAVE) => request(ClusterRequest::Leave {
            target: target_of(opts),
            rooms: string_list(&data["rooms"]),
        }),
        Some(kind::DISCONNECT_SOCKETS) => request(ClusterRequest::Disconnect {
            target: target_of(opts),
            close: data["close"] == true,
        }),
        Some(kind::FETCH_SOCKETS) => request(ClusterRequest::FetchSockets(target_of(opts))),
        Some(kind::SERVER_SIDE_EMIT) => {
            let (event, args) = event_and_args(&data["packet"], attachments)?;
            request(ClusterRequest::ServerSideEmit {
                event,
                args,
                with_ack: request_id.is_some(),
            })
        }
        Some(
            kind @ (kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT_RESPONSE
            | kind::BROADCAST_CLIENT_COUNT
            | kind::BROADCAST_ACK),
        ) => Ok(Inbound::Answer(ShardedAnswer {
            request_id: request_id.ok_or("answer without requestId")?,
            kind,
            data,
            attachments,
        })),
        Some(
            kind @ (kind::ROOMCAST_PEER_CLAIM | kind::ROOMCAST_PEER_REPLAY | kind::ROOMCAST_FENCE),
        ) => peer_message(kind, uid, namespace, &data, &attachments).map(Inbound::Peer),
        _ => Ok(Inbound::Ignored),
    }
}

/// An answer as it arrived, to be read by the request of ours it answers.
pub struct ShardedAnswer {
    pub request_id: String,
    kind: u64,
    data: Json,
    attachments: Vec<Bytes>,
}

impl ShardedAnswer {
    /// The answer read as one to `request` (None when it is not one).
    pub fn read_for(self, request: &ClusterRequest) -> Option<ClusterAnswer> {
        let sockets = || -> Option<Vec<_>> {
            let list = self.data["sockets"].as_array()?;
            Some(list.iter().filter_map(socket_info).collect())
        };
        match (request, self.kind) {
            (ClusterRequest::FetchSockets(_), kind::FETCH_SOCKETS_RESPONSE) => {
                Some(ClusterAnswer::Sockets(sockets()?))
            }
            (ClusterRequest::SocketIds(_), kind::FETCH_SOCKETS_RESPONSE) => Some(
                ClusterAnswer::SocketIds(sockets()?.into_iter().map(|s| s.id).collect()),
            ),
            (ClusterRequest::AllRooms, kind::FETCH_SOCKETS_RESPONSE) => {
                let mut rooms: Vec<String> = sockets()?.into_iter().flat_map(|s| s.rooms).collect();
                rooms.sort_unstable();
                rooms.dedup();
                Some(ClusterAnswer::Rooms(rooms))
            }
            (ClusterRequest::ServerSideEmit { .. }, kind::SERVER_SIDE_EMIT_RESPONSE) => {
                Some(ClusterAnswer::ServerAck(self.data["packet"].clone()))
            }
            (ClusterRequest::BroadcastWithAck { .. }, kind::BROADCAST_CLIENT_COUNT) => {
                let count = self.data["clientCount"].as_u64()?;
                Some(ClusterAnswer::ClientCount(usize::try_from(count).ok()?))
            }
            (ClusterRequest::BroadcastWithAck { .. }, kind::BROADCAST_ACK) => {
                ack_args(&self.data["packet"], self.attachments).map(ClusterAnswer::ClientAck)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn as_request(bytes: &[u8]) -> IncomingRequest {
        match decode(bytes).unwrap() {
            Inbound::Request { incoming, .. } => incoming,
            _ => panic!("not a request"),
        }
    }

    #[test]
    fn a_broadcast_round_trips_with_its_offset_and_flags() {
        let target = BroadcastTarget {
            volatile: true,
            ..BroadcastTarget::new(&["desk"], &["muted"])
        };
        let args = Args::with_attachments(
            r#"[{"n":1},{"_placeholder":true,"num":0}]"#,
            vec![Bytes::from_static(b"\x01\x02")],
        )
        .unwrap();
        let bytes = encode_broadcast("me", "/", &target, "tick", &args, Some("o-1")).unwrap();
        let Inbound::Broadcast(remote) = decode(&bytes).unwrap() else {
            panic!("not a broadcast")
        };
        assert_eq!(remote.uid, "me");
        assert_eq!(remote.target, target);
        assert_eq!(remote.event, "tick");
        assert_eq!(remote.args.attachments().len(), 1);
        assert_eq!(remote.offset.as_deref(), Some("o-1"));
    }

    fn as_peer(bytes: &[u8]) -> PeerMessage {
        match decode(bytes).unwrap() {
            Inbound::Peer(message) => message,
            _ => panic!("not a peer message"),
        }
    }

    #[test]
    fn recovery_messages_between_roomcast_nodes_round_trip() {
        let claim = PeerClaim {
            node: "n1".into(),
            sid: "sid".into(),
            rooms: vec![Arc::from("user:1"), Arc::from("desk")],
            offset: "n1-7".into(),
        };
        let bytes = encode_peer_claim("me", "/", "q1", &claim);
        assert_eq!(
            as_peer(&bytes),
            PeerMessage::Claim {
                uid: "me".into(),
                namespace: "/".into(),
                request_id: "q1".into(),
                claim,
            }
        );
        let missed = vec![
            LoggedBroadcast {
                offset: "n1-8".into(),
                frames: vec![OutFrame::message("2[\"t\",1,\"n1-8\"]")],
            },
            LoggedBroadcast {
                offset: "n2-3".into(),
                frames: vec![
                    OutFrame::message("51-[\"b\",{\"_placeholder\":true,\"num\":0}]"),
                    OutFrame::Binary(Bytes::from_static(b"\x00\x01")),
                ],
            },
        ];
        let bytes = encode_peer_replay("me", "/", "q1", Some(&missed)).unwrap();
        assert_eq!(
            as_peer(&bytes),
            PeerMessage::Replay {
                request_id: "q1".into(),
                missed: Some(missed),
            }
        );
        let refused = encode_peer_replay("me", "/", "q1", None).unwrap();
        assert_eq!(
            as_peer(&refused),
            PeerMessage::Replay {
                request_id: "q1".into(),
                missed: None,
            }
        );
        assert_eq!(
            as_peer(&encode_fence("me", "/chat", "q1")),
            PeerMessage::Fence {
                namespace: "/chat".into(),
                request_id: "q1".into(),
            }
        );
    }

    #[test]
    fn malformed_recovery_messages_are_errors() {
        for bad in [
            br#"{"uid":"x","nsp":"/","type":100,"data":{"requestId":"q","sid":"s"}}"#.as_slice(),
            br#"{"uid":"x","nsp":"/","type":101,"data":{"requestId":"q","packets":[["o",[7]]]}}"#,
            br#"{"uid":"x","nsp":"/","type":101,"data":{"requestId":"q","packets":[[1]]}}"#,
            br#"{"uid":"x","nsp":"/","type":101,"data":{"requestId":"q","packets":{}}}"#,
            br#"{"uid":"x","nsp":"/","type":102,"data":{}}"#,
        ] {
            assert!(decode(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn node_json_messages_decode() {
        let fetch = br#"{"uid":"abc","nsp":"/","type":7,"data":{"opts":{"rooms":["r"],"except":[]},"requestId":"q1"}}"#;
        let incoming = as_request(fetch);
        assert_eq!(incoming.uid, "abc");
        assert_eq!(incoming.request_id.as_deref(), Some("q1"));
        assert_eq!(
            incoming.request,
            ClusterRequest::FetchSockets(BroadcastTarget::new(&["r"], &[]))
        );
        let emit = br#"{"uid":"abc","nsp":"/","type":9,"data":{"packet":["hello",1,"two"]}}"#;
        match as_request(emit).request {
            ClusterRequest::ServerSideEmit {
                event, with_ack, ..
            } => assert_eq!((event.as_str(), with_ack), ("hello", false)),
            other => panic!("{other:?}"),
        }
        let heartbeat = br#"{"uid":"abc","nsp":"/","type":2}"#;
        assert!(matches!(decode(heartbeat).unwrap(), Inbound::Ignored));
    }

    #[test]
    fn every_request_round_trips_or_maps_onto_fetch_sockets() {
        let requests = [
            ClusterRequest::FetchSockets(BroadcastTarget::new(&["a"], &["b"])),
            ClusterRequest::Join {
                target: BroadcastTarget::new(&["a"], &[]),
                rooms: vec![Arc::from("x")],
            },
            ClusterRequest::Leave {
                target: BroadcastTarget::new(&[], &["a"]),
                rooms: vec![Arc::from("y")],
            },
            ClusterRequest::Disconnect {
                target: BroadcastTarget::new(&["a"], &[]),
                close: true,
            },
            ClusterRequest::ServerSideEmit {
                event: "e".into(),
                args: Args::json_array(r#"[1,{"k":"v"}]"#).unwrap(),
                with_ack: true,
            },
            ClusterRequest::BroadcastWithAck {
                target: BroadcastTarget::new(&["a"], &[]),
                event: "vote".into(),
                args: Args::json_array("[]").unwrap(),
                timeout: Duration::from_millis(1500),
            },
        ];
        for request in requests {
            let bytes = encode_request("me", Some("id1"), "/", &request).unwrap();
            let incoming = as_request(&bytes);
            assert_eq!(incoming.request, request);
            assert_eq!(incoming.request_id.as_deref(), Some("id1"));
        }
        let bytes = encode_request("me", Some("id2"), "/", &ClusterRequest::AllRooms).unwrap();
        assert_eq!(
            as_request(&bytes).request,
            ClusterRequest::FetchSockets(BroadcastTarget::default())
        );
    }

    #[test]
    fn fetch_answers_read_as_sockets_ids_or_rooms() {
        let socket = crate::socketio::cluster::SocketInfo {
            id: "s1".into(),
            handshake: json!({"auth": {}}),
            rooms: vec!["s1".into(), "desk".into()],
            data: json!({"user": "ann"}),
        };
        let bytes = encode_answer("them", "/", "q", &ClusterAnswer::Sockets(vec![socket])).unwrap();
        let read = |request: &ClusterRequest| match decode(&bytes).unwrap() {
            Inbound::Answer(answer) => answer.read_for(request),
            _ => None,
        };
        let target = BroadcastTarget::default();
        assert_eq!(
            read(&ClusterRequest::SocketIds(target.clone())),
            Some(ClusterAnswer::SocketIds(vec!["s1".into()]))
        );
        assert_eq!(
            read(&ClusterRequest::AllRooms),
            Some(ClusterAnswer::Rooms(vec!["desk".into(), "s1".into()]))
        );
        assert!(matches!(
            read(&ClusterRequest::FetchSockets(target)),
            Some(ClusterAnswer::Sockets(list)) if list[0].data["user"] == "ann"
        ));
        let count = encode_answer("them", "/", "q", &ClusterAnswer::ClientCount(3)).unwrap();
        let Inbound::Answer(answer) = decode(&count).unwrap() else {
            panic!("not an answer")
        };
        let request = ClusterRequest::BroadcastWithAck {
            target: BroadcastTarget::default(),
            event: "e".into(),
            args: Args::json_array("[]").unwrap(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            answer.read_for(&request),
            Some(ClusterAnswer::ClientCount(3))
        );
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        for bytes in [
            &b"{"[..],
            b"\x82\xa3uid",
            br#"{"type":3,"data":{"packet":{"data":7}}}"#,
        ] {
            assert!(decode(bytes).is_err(), "{bytes:?}");
        }
        assert!(decode(br#"{"type":8,"data":{}}"#).is_err());
        // msgpack that is not a map (here the number 91) is ignored, not a panic.
        assert!(matches!(decode(b"[1]"), Ok(Inbound::Ignored) | Err(_)));
    }
}
