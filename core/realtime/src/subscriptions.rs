//! The dashboard's built-in client events: `subscribe:portfolio`, `subscribe:trades`,
//! `subscribe:watchlist`, `unsubscribe:watchlist` and `ping`. Rooms are always derived from the
//! authenticated identity or from validated symbols; a client can never name a room itself.

use serde_json::{json, Value};

use crate::clock::iso_now;
use crate::limits::RateDecision;
use crate::rooms::{subscription_room, watchlist_room};
use crate::shared::RealtimeShared;
use roomcast_engine::auth::Identity;
use roomcast_engine::socketio::packet::Args;
use roomcast_engine::socketio::socket::{AckSender, ClientEvent, SocketRef};
use roomcast_engine::stats::error_kind;

/// A symbol: 1–12 of `A-Z a-z 0-9 . -`, normalised to upper case.
pub fn normalize_symbol(raw: &str) -> Option<String> {
    let ok = (1..=12).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then(|| raw.to_ascii_uppercase())
}

/// Handles a client event: rate limit first (any event may be limited), then the built-ins.
/// Returns the event when it is not built in, for the host's handler.
pub(crate) fn handle(
    shared: &RealtimeShared,
    socket: &SocketRef,
    event: ClientEvent,
) -> Option<ClientEvent> {
    let Some(identity) = socket.identity().cloned() else {
        // Only reachable if the namespace was connected without the auth middleware.
        fail(
            shared,
            socket,
            &event.name,
            event.ack,
            "UNAUTHORIZED",
            "Not authenticated",
            json!({}),
        );
        return None;
    };
    if let RateDecision::Limited { retry_after_ms } =
        shared.rate_limiter.check(&identity.user_id, &event.name)
    {
        // Only events with a configured limit get here: a bounded label.
        shared.engine_stats().record_rate_limited(&event.name);
        let extra = json!({ "event": event.name, "retryAfterMs": retry_after_ms });
        fail(
            shared,
            socket,
            &event.name,
            event.ack,
            "RATE_LIMIT",
            "Too many requests, please slow down",
            extra,
        );
        shared.note_violation(socket);
        return None;
    }
    match event.name.as_str() {
        "subscribe:portfolio" => subscribe_own(shared, socket, &identity, event.ack, "portfolio"),
        "subscribe:trades" => subscribe_own(shared, socket, &identity, event.ack, "trades"),
        "subscribe:watchlist" => watchlist(shared, socket, &identity, event, true),
        "unsubscribe:watchlist" => watchlist(shared, socket, &identity, event, false),
        "ping" => {
            let payload = json!({ "timestamp": iso_now() });
            reply(socket, event.ack, "pong", &payload);
        }
        _ => return Some(event),
    }
    None
}

fn subscribe_own(
    shared: &RealtimeShared,
    socket: &SocketRef,
    identity: &Identity,
    ack: Option<AckSender>,
    kind: &str,
) {
    let room = subscription_room(kind, &identity.user_id);
    if !socket.in_room(&room) {
        if !shared
            .subscriptions
            .try_reserve(&identity.user_id, 1, shared.config.max_subscriptions)
        {
            limit_reached(shared, socket, &format!("subscribe:{kind}"), ack);
            return;
        }
        socket.join(&room);
    }
    let payload = json!({
        "success": true,
        "subscription": kind,
        "userId": &*identity.user_id,
        "timestamp": iso_now(),
    });
    reply(socket, ack, &format!("subscribed:{kind}"), &payload);
}

fn watchlist(
    shared: &RealtimeShared,
    socket: &SocketRef,
    identity: &Identity,
    event: ClientEvent,
    subscribe: bool,
) {
    let symbols = match parse_symbols(&event.args, shared.config.max_symbols_per_request) {
        Ok(symbols) => symbols,
        Err(message) => {
            fail(
                shared,
                socket,
                &event.name,
                event.ack,
                "INVALID_PAYLOAD",
                &message,
                json!({ "event": event.name }),
            );
            return;
        }
    };
    let rooms: Vec<String> = symbols.iter().map(|s| watchlist_room(s)).collect();
    if subscribe {
        let new: Vec<&String> = rooms.iter().filter(|r| !socket.in_room(r)).collect();
        let needed = new.len() as u32;
        if needed > 0
            && !shared.subscriptions.try_reserve(
                &identity.user_id,
                needed,
                shared.config.max_subscriptions,
            )
        {
            limit_reached(shared, socket, &event.name, event.ack);
            return;
        }
        for room in new {
            socket.join(room);
        }
    } else {
        let mut left = 0;
        for room in &rooms {
            if socket.in_room(room) {
                socket.leave(room);
                left += 1;
            }
        }
        shared.subscriptions.release(&identity.user_id, left);
    }
    let name = if subscribe {
        "subscribed:watchlist"
    } else {
        "unsubscribed:watchlist"
    };
    let payload = json!({
        "success": true,
        "subscription": "watchlist",
        "symbols": symbols,
        "timestamp": iso_now(),
    });
    reply(socket, event.ack, name, &payload);
}

/// `{symbols: [...]}` with 1..=max valid symbols, normalised and deduplicated, in order.
fn parse_symbols(args: &Args, max: usize) -> Result<Vec<String>, String> {
    let values: Vec<Value> = serde_json::from_str(&args.to_json_array())
        .map_err(|_| "payload is not valid JSON".to_owned())?;
    let Some(Value::Array(list)) = values.first().and_then(|v| v.get("symbols")) else {
        return Err("expected {symbols: [...]}".to_owned());
    };
    if list.is_empty() || list.len() > max {
        return Err(format!("symbols must hold 1 to {max} entries"));
    }
    let mut symbols: Vec<String> = Vec::with_capacity(list.len());
    for value in list {
        let symbol = value
            .as_str()
            .and_then(normalize_symbol)
            .ok_or_else(|| "invalid symbol: use 1-12 letters, digits, '.' or '-'".to_owned())?;
        if !symbols.contains(&symbol) {
            symbols.push(symbol);
        }
    }
    Ok(symbols)
}

fn limit_reached(shared: &RealtimeShared, socket: &SocketRef, event: &str, ack: Option<AckSender>) {
    let max = shared.config.max_subscriptions;
    let message = format!("Subscription limit of {max} reached");
    fail(
        shared,
        socket,
        event,
        ack,
        "SUBSCRIPTION_LIMIT",
        &message,
        json!({ "limit": max }),
    );
}

fn reply(socket: &SocketRef, ack: Option<AckSender>, event: &str, payload: &Value) {
    let Ok(args) = Args::serialize(payload) else {
        return;
    };
    let _ = socket.emit(event, &args);
    if let Some(ack) = ack {
        let _ = ack.send(&args);
    }
}

/// Emits `error {code, message, ...extra}` (and answers the ack with `{success:false, error}`).
/// Messages are fixed texts: nothing internal leaks to clients.
/// The built-in events: with the rate-limited ones, the only event names metrics label.
const BUILT_IN_EVENTS: [&str; 5] = [
    "subscribe:portfolio",
    "subscribe:trades",
    "subscribe:watchlist",
    "unsubscribe:watchlist",
    "ping",
];

/// `name` as a metrics label: a built-in or rate-limited event keeps its name, any other (a
/// client chooses those) counts as `other`, so the label set stays bounded.
fn event_label<'a>(shared: &RealtimeShared, name: &'a str) -> &'a str {
    if BUILT_IN_EVENTS.contains(&name) || shared.config.rate_limits.contains_key(name) {
        name
    } else {
        "other"
    }
}

/// Answers client event `event` with the dashboard's `error {code, message}` (and the ack).
pub(crate) fn fail(
    shared: &RealtimeShared,
    socket: &SocketRef,
    event: &str,
    ack: Option<AckSender>,
    code: &str,
    message: &str,
    extra: Value,
) {
    shared
        .engine_stats()
        .record_error(error_kind::EVENT, event_label(shared, event));
    let mut error = json!({ "code": code, "message": message });
    if let (Some(error), Value::Object(extra)) = (error.as_object_mut(), extra) {
        error.extend(extra);
    }
    if let Ok(args) = Args::serialize(&error) {
        let _ = socket.emit("error", &args);
    }
    if let Some(ack) = ack {
        if let Ok(args) = Args::serialize(&json!({ "success": false, "error": error })) {
            let _ = ack.send(&args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_validated_and_normalised() {
        assert_eq!(normalize_symbol("aapl").as_deref(), Some("AAPL"));
        assert_eq!(normalize_symbol("BRK.B").as_deref(), Some("BRK.B"));
        assert_eq!(normalize_symbol("RDS-A").as_deref(), Some("RDS-A"));
        for bad in ["", "ABCDEFGHIJKLM", "A B", "A/B", "ÄPFEL", "user:1", "*"] {
            assert_eq!(normalize_symbol(bad), None, "{bad}");
        }
    }

    #[test]
    fn parse_symbols_checks_shape_count_and_dedups() {
        let args = |json: &str| Args::json_array(json).unwrap();
        assert_eq!(
            parse_symbols(&args(r#"[{"symbols":["aapl","AAPL","msft"]}]"#), 50).unwrap(),
            vec!["AAPL", "MSFT"]
        );
        assert!(parse_symbols(&args(r#"[{"symbols":[]}]"#), 50).is_err());
        assert!(parse_symbols(&args(r#"[{"symbols":"AAPL"}]"#), 50).is_err());
        assert!(parse_symbols(&args(r#"["AAPL"]"#), 50).is_err());
        assert!(parse_symbols(&args(r#"[]"#), 50).is_err());
        assert!(parse_symbols(&args(r#"[{"symbols":["A","B","C"]}]"#), 2).is_err());
        assert!(parse_symbols(&args(r#"[{"symbols":["A",7]}]"#), 50).is_err());
        assert!(crate::rooms::is_subscription_room("watchlist:AAPL"));
        assert!(!crate::rooms::is_subscription_room("user:1"));
    }
}
