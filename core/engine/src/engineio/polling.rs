//! The HTTP long-polling transport: a GET waits for queued packets and returns them as one
//! payload; a POST carries packets from the client.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Sleep;

use super::outbound::{Batch, Consumer, QueueClose};
use super::packet::{OutFrame, PacketType};
use super::payload::{decode_payload, encode_payload};
use super::session::{CloseReason, Session, TransportKind, UpgradeState};

/// How long an idle long poll waits, once an upgrade was probed, before it is released with `6`.
pub(crate) const UPGRADE_CHECK: Duration = Duration::from_millis(100);

/// The outcome of a polling request, turned into an HTTP response by the transport layer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PollAnswer {
    /// 200 with this payload.
    Payload(Bytes),
    /// 200 `ok` to a POST.
    Ok,
    /// 400 Engine.IO "Bad request"; the reason is logged.
    BadRequest(&'static str),
}

/// Resets a request-in-flight flag however the request ends (including a dropped connection).
struct InFlight<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A long poll. A second concurrent GET is a protocol violation that closes the session.
pub(crate) async fn get(session: Arc<Session>) -> PollAnswer {
    if session.transport() != TransportKind::Polling {
        return PollAnswer::BadRequest("poll on an upgraded session");
    }
    if session.poll_active.swap(true, Ordering::AcqRel) {
        session.close(CloseReason::TransportError);
        return PollAnswer::BadRequest("overlapping GET requests");
    }
    let _in_flight = InFlight(&session.poll_active);
    let mut batch = Batch::default();
    // Only armed while an upgrade is probed: an idle poll is then released with `6` so the
    // client can pause polling and finish the upgrade (Node's 100 ms check timer).
    let mut release: Option<Pin<Box<Sleep>>> = None;
    // Whether this poll waited (engine.io: the transport was writable when a close came).
    let mut waited = false;
    let close = poll_fn(|cx| {
        // Once the WebSocket owns the session, a parked poll must not take frames meant for it.
        if session.transport() != TransportKind::Polling {
            return Poll::Ready(None);
        }
        if let Poll::Ready(close) = session
            .queue
            .poll_take(cx, Consumer::Poll, Some(&mut batch))
        {
            return Poll::Ready(Some(close));
        }
        waited = true;
        if session.upgrade_state() == UpgradeState::Probed {
            let timer = release.get_or_insert_with(|| Box::pin(tokio::time::sleep(UPGRADE_CHECK)));
            if timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        Poll::Pending
    })
    .await;
    if !batch.frames.is_empty() {
        session.context.stats.record_emit_latency(batch.oldest_us);
    }
    let mut frames: Vec<OutFrame> = batch.into_frames();
    match close {
        None if frames.is_empty() => frames.push(OutFrame::control(PacketType::Noop)),
        // The last packets go out alone; the close packet follows on the next poll. Sent in one
        // payload, the client would handle the close before the (deferred) Socket.IO packets and
        // report "transport close" instead of "io server disconnect".
        Some(QueueClose::Graceful) if !frames.is_empty() => {}
        // The client closed the session itself: its parked poll just ends, as on Node.
        Some(QueueClose::Forced) if frames.is_empty() && session.closed_by_client() => {
            frames.push(OutFrame::control(PacketType::Noop));
        }
        // A clean close that found no poll waiting is sent as engine.io's deferred close: a
        // `noop`, then the close packet.
        Some(QueueClose::Graceful) if !waited => {
            frames.push(OutFrame::control(PacketType::Noop));
            frames.push(OutFrame::control(PacketType::Close));
            session.context.remove_session(&session.id);
        }
        Some(QueueClose::Graceful | QueueClose::Forced) => {
            frames.push(OutFrame::control(PacketType::Close));
            session.context.remove_session(&session.id);
        }
        _ => {}
    }
    PollAnswer::Payload(encode_payload(&frames))
}

/// A client POST. Undecodable bodies close the session; a body over `maxPayload` never gets
/// here (the transport answers 413 while reading it).
pub(crate) fn post(session: &Arc<Session>, body: Bytes) -> PollAnswer {
    if session.transport() != TransportKind::Polling {
        return PollAnswer::BadRequest("post on an upgraded session");
    }
    if session.post_active.swap(true, Ordering::AcqRel) {
        session.close(CloseReason::TransportError);
        return PollAnswer::BadRequest("overlapping POST requests");
    }
    let _in_flight = InFlight(&session.post_active);
    let Some(handler) = session.handler() else {
        return PollAnswer::BadRequest("session closed");
    };
    let packets = match decode_payload(body, session.context.config.max_payload) {
        Ok(packets) => packets,
        Err(error) => {
            tracing::debug!(sid = %session.id, %error, "malformed polling payload");
            session.context.stats.parse_error();
            session.close(CloseReason::ParseError);
            return PollAnswer::BadRequest("malformed payload");
        }
    };
    for packet in packets {
        if let Err(error) = session.on_packet(packet, handler.as_ref()) {
            tracing::debug!(sid = %session.id, %error, "malformed packet");
            session.context.stats.parse_error();
            session.close(CloseReason::ParseError);
            return PollAnswer::BadRequest("malformed packet");
        }
    }
    PollAnswer::Ok
}
