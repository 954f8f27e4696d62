//! The message format of the Node `@socket.io/redis-adapter` (classic pub/sub) and
//! `@socket.io/redis-emitter`: msgpack of `[uid, packet, opts]` where `packet` is
//! `{type: 2, data: [event, ...args], nsp}` and `opts` is `{rooms: [...], except: [...], flags}`,
//! published on `<prefix>#<nsp>#` or, for a single room, `<prefix>#<nsp>#<room>#`.
//!
//! Socket.IO arguments are JSON with binary leaves; here JSON text with `_placeholder` markers
//! plus attachments (`Args`) converts to and from msgpack values with `bin` leaves.

use bytes::Bytes;
use rmpv::Value;
use serde_json::Value as Json;
use std::time::Duration;

use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::packet::Args;

/// A broadcast decoded from another node.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteBroadcast {
    pub uid: String,
    pub namespace: String,
    pub target: BroadcastTarget,
    pub event: String,
    pub args: Args,
    /// roomcast's recovery offset (an extra `opts` field other implementations ignore).
    pub offset: Option<String>,
}

/// The channel a broadcast is published on.
pub fn channel(prefix: &str, namespace: &str, target: &BroadcastTarget) -> String {
    match target.rooms.as_slice() {
        [room] => format!("{prefix}#{namespace}#{room}#"),
        _ => format!("{prefix}#{namespace}#"),
    }
}

pub fn encode(
    uid: &str,
    namespace: &str,
    target: &BroadcastTarget,
    event: &str,
    args: &Args,
    offset: Option<&str>,
) -> Result<Vec<u8>, String> {
    let packet = event_packet(namespace, event, args)?;
    let opts = broadcast_opts(target, offset);
    let message = Value::Array(vec![Value::from(uid), packet, Value::Map(opts)]);
    to_msgpack(&message)
}

/// A broadcast-with-ack's `opts`: its rooms and exceptions, and how long the acks are awaited.
pub(super) fn ack_broadcast_opts(target: &BroadcastTarget, timeout: Duration) -> Value {
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let flags = vec![(Value::from("timeout"), Value::from(timeout_ms))];
    Value::Map(target_opts(target, flags))
}

/// A broadcast's `opts`: its rooms, exceptions and flags (`volatile`, `compress: false`), and
/// roomcast's recovery `offset` (an extra field other implementations ignore).
pub(super) fn broadcast_opts(
    target: &BroadcastTarget,
    offset: Option<&str>,
) -> Vec<(Value, Value)> {
    let mut flags = Vec::new();
    if target.volatile {
        flags.push((Value::from("volatile"), Value::from(true)));
    }
    if target.plain {
        flags.push((Value::from("compress"), Value::from(false)));
    }
    let mut opts = target_opts(target, flags);
    if let Some(offset) = offset {
        opts.push((Value::from("roomcastOffset"), Value::from(offset)));
    }
    opts
}

/// A Socket.IO event packet `{type: 2, data: [event, ...args], nsp}` with binary leaves.
pub(super) fn event_packet(namespace: &str, event: &str, args: &Args) -> Result<Value, String> {
    let mut data = vec![Value::from(event)];
    data.extend(args_values(args)?);
    Ok(Value::Map(vec![
        (Value::from("type"), Value::from(2)),
        (Value::from("data"), Value::Array(data)),
        (Value::from("nsp"), Value::from(namespace)),
    ]))
}

/// Each argument as a msgpack value, placeholders turned back into binary.
pub(super) fn args_values(args: &Args) -> Result<Vec<Value>, String> {
    // One parse, from the arguments' JSON text straight to msgpack values.
    let items: Vec<Value> =
        serde_json::from_str(&args.to_json_array()).map_err(|e| e.to_string())?;
    if args.attachments().is_empty() {
        return Ok(items);
    }
    Ok(items
        .into_iter()
        .map(|item| placeholders_to_binary(item, args.attachments()))
        .collect())
}

/// `rooms`, `except` and `flags` of a target, as the Node adapter's `opts`.
pub(super) fn target_opts(
    target: &BroadcastTarget,
    flags: Vec<(Value, Value)>,
) -> Vec<(Value, Value)> {
    vec![
        (Value::from("rooms"), strings(&target.rooms)),
        (Value::from("except"), strings(&target.except)),
        (Value::from("flags"), Value::Map(flags)),
    ]
}

fn strings(list: &[std::sync::Arc<str>]) -> Value {
    Value::Array(list.iter().map(|r| Value::from(r.as_ref())).collect())
}

pub(super) fn to_msgpack(value: &Value) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    rmpv::encode::write_value(&mut out, value).map_err(|e| e.to_string())?;
    Ok(out)
}

/// msgpack bytes as JSON, binary leaves as placeholders into the returned attachments.
pub(super) fn msgpack_as_json(bytes: &[u8]) -> Result<(Json, Vec<Bytes>), String> {
    let mut reader = bytes;
    let value =
        rmpv::decode::read_value_with_max_depth(&mut reader, 64).map_err(|e| e.to_string())?;
    let mut attachments = Vec::new();
    let json = msgpack_to_json(&value, &mut attachments);
    Ok((json, attachments))
}

pub fn decode(bytes: &[u8]) -> Result<RemoteBroadcast, String> {
    let mut reader = bytes;
    let message =
        rmpv::decode::read_value_with_max_depth(&mut reader, 64).map_err(|e| e.to_string())?;
    let Value::Array(mut parts) = message else {
        return Err("message is not an array".into());
    };
    if parts.len() < 2 {
        return Err("message too short".into());
    }
    let opts = if parts.len() > 2 {
        parts.remove(2)
    } else {
        Value::Nil
    };
    let packet = parts.remove(1);
    let uid = parts.remove(0).as_str().unwrap_or_default().to_owned();
    let namespace = field(&packet, "nsp")
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_owned();
    match field(&packet, "type").and_then(Value::as_u64) {
        Some(2) | Some(5) => {}
        other => return Err(format!("unsupported packet type {other:?}")),
    }
    let Some(Value::Array(data)) = field(&packet, "data") else {
        return Err("packet data is not an array".into());
    };
    let Some(event) = data.first().and_then(Value::as_str) else {
        return Err("packet has no event name".into());
    };
    let mut attachments = Vec::new();
    let mut json_args = String::from("[");
    for (i, arg) in data[1..].iter().enumerate() {
        if i > 0 {
            json_args.push(',');
        }
        json_args.push_str(&msgpack_to_json(arg, &mut attachments).to_string());
    }
    json_args.push(']');
    let args = Args::with_attachments(&json_args, attachments).map_err(|e| e.to_string())?;
    let strings = |key: &str| -> Vec<std::sync::Arc<str>> {
        match field(&opts, key) {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => s.as_str().map(std::sync::Arc::from),
                    Value::Integer(n) => Some(std::sync::Arc::from(n.to_string().as_str())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let flag = |name: &str| {
        field(&opts, "flags")
            .and_then(|f| field(f, name))
            .and_then(Value::as_bool)
    };
    Ok(RemoteBroadcast {
        uid,
        namespace,
        target: BroadcastTarget {
            rooms: strings("rooms"),
            except: strings("except"),
            volatile: flag("volatile").unwrap_or(false),
            plain: flag("compress") == Some(false),
        },
        event: event.to_owned(),
        args,
        offset: field(&opts, "roomcastOffset")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Turns `{"_placeholder":true,"num":i}` maps back into the i-th attachment.
pub(super) fn placeholders_to_binary(value: Value, attachments: &[Bytes]) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| placeholders_to_binary(v, attachments))
                .collect(),
        ),
        Value::Map(entries) => {
            if let Some(bytes) = placeholder_index(&entries).and_then(|n| attachments.get(n)) {
                return Value::Binary(bytes.to_vec());
            }
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, placeholders_to_binary(v, attachments)))
                    .collect(),
            )
        }
        other => other,
    }
}

fn placeholder_index(entries: &[(Value, Value)]) -> Option<usize> {
    let get = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    };
    if get("_placeholder")?.as_bool()? {
        usize::try_from(get("num")?.as_u64()?).ok()
    } else {
        None
    }
}

/// msgpack → JSON, turning `bin` leaves into placeholders and collecting the bytes.
pub(super) fn msgpack_to_json(value: &Value, attachments: &mut Vec<Bytes>) -> Json {
    match value {
        Value::Nil | Value::Ext(..) => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Json::from(i),
            (_, Some(u)) => Json::from(u),
            _ => Json::Null,
        },
        Value::F32(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
        }
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.as_str().unwrap_or_default().to_owned()),
        Value::Binary(bytes) => {
            attachments.push(Bytes::copy_from_slice(bytes));
            serde_json::json!({ "_placeholder": true, "num": attachments.len() - 1 })
        }
        Value::Array(items) => Json::Array(
            items
                .iter()
                .map(|v| msgpack_to_json(v, attachments))
                .collect(),
        ),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::String(s) => s.as_str().unwrap_or_default().to_owned(),
                        other => other.to_string(),
                    };
                    (key, msgpack_to_json(v, attachments))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn round_trips_rooms_flags_and_binary() {
        let target = BroadcastTarget {
            rooms: vec![Arc::from("watchlist:AAPL")],
            except: vec![Arc::from("muted")],
            volatile: true,
            plain: true,
        };
        let args = Args::with_attachments(
            r#"[{"price":185.5,"n":-3,"chart":{"_placeholder":true,"num":0}},"x"]"#,
            vec![Bytes::from_static(&[1, 2, 3])],
        )
        .unwrap();
        let bytes = encode("abc123", "/", &target, "quote:update", &args, Some("n-1")).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.uid, "abc123");
        assert_eq!(back.namespace, "/");
        assert_eq!(back.event, "quote:update");
        assert_eq!(back.target.rooms, target.rooms);
        assert_eq!(back.target.except, target.except);
        assert!(back.target.volatile);
        assert!(back.target.plain);
        assert_eq!(back.args, args);
        assert_eq!(back.offset.as_deref(), Some("n-1"));
        assert_eq!(
            channel("socket.io", "/", &target),
            "socket.io#/#watchlist:AAPL#"
        );
        assert_eq!(
            channel("socket.io", "/", &BroadcastTarget::default()),
            "socket.io#/#"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x91",
            b"\x93\xa1a\xc0\xc0",
            b"\xff\xff",
            b"\x92\xa1a\x81\xa4type\x03",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }
}
