//! The WebSocket transport. One task per connection drives both directions: it reads frames and
//! hands them up, and it drains the session's outbound queue into the socket, flushing once per
//! batch. A single task keeps idle connections small, and because reading and writing are polled
//! side by side, a client that stops reading blocks only its own writes: the session can still be
//! closed under it (heartbeat, slow consumer, shutdown) and the task ends.

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use super::deflate::inflate::InflatingStream;
use super::stack_read::StackReader;
use crate::clock::now_us;
use crate::stats::Stats;

use super::endpoint::Endpoint;
use super::handshake::HandshakeRequest;
use super::outbound::{Batch, Consumer, QueueClose};
use super::packet::{decode_text, OutFrame};
use super::session::{CloseReason, Session, SessionHandler, TransportKind};

pub(crate) fn ws_config(endpoint: &Endpoint) -> WebSocketConfig {
    let max = endpoint.context.config.max_payload;
    let mut config = WebSocketConfig::default();
    // The codec reads from memory (`StackReader`, `InflatingStream` read the socket on the
    // stack), so its own buffer can stay small.
    config.read_buffer_size = endpoint.context.config.ws_read_buffer;
    // Frames collect in tungstenite's buffer and leave in writes of ~4 KiB, plus one flush per
    // drained batch. Writing each frame straight through (0) cost one syscall per message and
    // halved fan-out throughput (≈ 400k → 850k deliveries/s measured with bench/run.mjs); a
    // larger buffer gained little and would stay allocated per connection after a burst.
    config.write_buffer_size = 4 * 1024;
    config.max_write_buffer_size = usize::MAX;
    config.max_message_size = Some(max);
    config.max_frame_size = Some(max);
    config
}

/// What a validated upgrade starts a WebSocket with: a fresh session when `sid` is `None`,
/// otherwise the probe and upgrade of an existing polling session; `deflate` is the window
/// agreed for permessage-deflate, when it was. Boxed, so the connection's long-lived future
/// carries one pointer for it, not the fields.
pub(crate) struct WebSocketStart {
    pub sid: Option<String>,
    pub request: HandshakeRequest,
    /// Bytes the client sent right after its upgrade request (read by whoever parsed it).
    pub leftover: Vec<u8>,
    pub deflate: Option<u8>,
}

/// Serves an upgraded WebSocket once `connection` yields it.
///
/// This future lives as long as the connection, so everything only needed to set it up (the
/// start record, the handshake, the probe) is boxed and dropped before the long-lived loop
/// starts: an idle connection then costs little more than its socket and session.
pub(crate) async fn serve<C, S>(endpoint: Arc<Endpoint>, connection: C, start: Box<WebSocketStart>)
where
    C: Future<Output = Option<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(stream) = connection.await else {
        return;
    };
    match start.deflate {
        None => run(endpoint, StackReader::new(stream), start).await,
        Some(_) => {
            let stream = InflatingStream::new(stream, endpoint.context.config.max_payload);
            run(endpoint, stream, start).await
        }
    }
}

async fn run<S>(endpoint: Arc<Endpoint>, stream: S, start: Box<WebSocketStart>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deflate = start.deflate;
    let live = LiveSocket::enter(endpoint);
    let Some((mut ws, session)) = Box::pin(accept(&live.0, stream, start)).await else {
        return;
    };
    let exit = drive(&mut ws, &session, deflate).await;
    match exit {
        Exit::Closed(reason) => session.close(reason),
        Exit::Graceful => {
            let close = Box::pin(tokio::time::timeout(
                session.context.config.ping_timeout,
                ws.close(None),
            ));
            let _ = close.await;
        }
        Exit::Abandoned => {}
    }
}

async fn accept<S>(
    endpoint: &Arc<Endpoint>,
    stream: S,
    start: Box<WebSocketStart>,
) -> Option<(WebSocketStream<S>, Arc<Session>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = ws_config(endpoint);
    let WebSocketStart {
        sid,
        request,
        leftover,
        ..
    } = *start;
    // The bytes read past the upgrade request are the start of the WebSocket stream.
    let mut ws = if leftover.is_empty() {
        WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await
    } else {
        WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(config)).await
    };
    let session = match sid {
        None => endpoint.open_session(TransportKind::WebSocket, request).0,
        Some(sid) => match probe(endpoint, &mut ws, &sid).await {
            Some(session) => session,
            None => {
                let _ = ws.close(None).await;
                return None;
            }
        },
    };
    Some((ws, session))
}

/// Counts a driven WebSocket for shutdown's drain wait, however the task ends.
struct LiveSocket(Arc<Endpoint>);

impl LiveSocket {
    fn enter(endpoint: Arc<Endpoint>) -> Self {
        endpoint
            .live_sockets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self(endpoint)
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        self.0
            .live_sockets
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The upgrade handshake on the new socket: `2probe` → `3probe`, then `5`. Anything else, or a
/// timeout, ends only the probe; the polling session carries on.
async fn probe<S>(
    endpoint: &Endpoint,
    ws: &mut WebSocketStream<S>,
    sid: &str,
) -> Option<Arc<Session>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let session = endpoint.session(sid)?;
    if !session.claim_upgrade() {
        tracing::debug!(
            sid,
            "websocket for an upgraded or upgrading session: closed"
        );
        return None;
    }
    let steps = async {
        match ws.next().await {
            Some(Ok(WsMessage::Text(t))) if t.as_str() == "2probe" => {}
            _ => return false,
        }
        if ws.send(WsMessage::Text("3probe".into())).await.is_err() {
            return false;
        }
        session.mark_probed();
        matches!(ws.next().await, Some(Ok(WsMessage::Text(t))) if t.as_str() == "5")
    };
    let upgraded = tokio::time::timeout(endpoint.context.config.upgrade_timeout, steps)
        .await
        .unwrap_or(false);
    if upgraded && !session.is_closed() {
        session.switch_to_websocket();
        tracing::debug!(sid = %session.id, "upgraded to websocket");
        Some(session)
    } else {
        session.release_upgrade();
        None
    }
}

enum Exit {
    /// The transport ended or misbehaved: close the session with this reason.
    Closed(CloseReason),
    /// The server closed the session gracefully and everything queued was written.
    Graceful,
    /// The session was closed elsewhere (timeout, slow consumer): drop the socket.
    Abandoned,
}

async fn drive<S>(ws: &mut WebSocketStream<S>, session: &Arc<Session>, deflate: Option<u8>) -> Exit
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(handler) = session.handler() else {
        return Exit::Abandoned;
    };
    let mut batch = Batch::default();
    let mut need_flush = false;
    // Parked until the coalescing tick; the next poll takes whatever queued meanwhile.
    let mut parked = false;
    let holds = &session.context.write_holds;
    poll_fn(|cx| loop {
        let mut progressed = false;

        match ws.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(message))) => {
                progressed = true;
                if let Err(reason) = on_frame(session, handler.as_ref(), message) {
                    return Poll::Ready(Exit::Closed(reason));
                }
            }
            Poll::Ready(Some(Err(error))) => {
                tracing::debug!(sid = %session.id, %error, "websocket read failed");
                return Poll::Ready(Exit::Closed(read_error_reason(&error)));
            }
            Poll::Ready(None) => return Poll::Ready(Exit::Closed(CloseReason::TransportClose)),
            Poll::Pending => {}
        }

        // A busy connection leaves new frames queued for one tick (pushes to a queue that is not
        // empty wake no one); a close still wakes it.
        if !parked
            && holds.window_us() > 0
            && batch.flushed_us != 0
            && batch.is_drained()
            && !need_flush
            && batch.flushed_within(now_us(), holds.window_us())
            && !session.queue.is_empty()
            && holds.park(cx.waker())
        {
            parked = true;
            if !progressed {
                return Poll::Pending;
            }
            continue;
        }
        parked = false;
        // Frames handed on but not yet flushed stay in the batch; more may join them.
        let refill = batch.is_drained().then_some(&mut batch);
        let close = match session.queue.poll_take(cx, Consumer::Socket, refill) {
            Poll::Ready(close) => close,
            Poll::Pending => QueueClose::Open,
        };
        if close == QueueClose::Forced {
            return Poll::Ready(Exit::Abandoned);
        }

        while !batch.is_drained() {
            match ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    let Some(frame) = batch.take_next() else {
                        break;
                    };
                    let message = to_ws(frame, deflate, &session.context.stats);
                    if ws.start_send_unpin(message).is_err() {
                        return Poll::Ready(Exit::Closed(CloseReason::TransportError));
                    }
                    need_flush = true;
                    progressed = true;
                }
                Poll::Ready(Err(_)) => {
                    return Poll::Ready(Exit::Closed(CloseReason::TransportError))
                }
                Poll::Pending => break,
            }
        }
        if need_flush {
            match ws.poll_flush_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    need_flush = false;
                    if batch.is_drained() && !batch.frames.is_empty() {
                        session.context.stats.record_emit_latency(batch.oldest_us);
                        // Idle connections keep no batch allocation; a busy one pays one
                        // allocation per batch, not per message. Dropping the written batch
                        // releases its broadcasts' timers: their frames reached the kernel.
                        batch = Batch::flushed_at(now_us());
                    }
                }
                Poll::Ready(Err(_)) => {
                    return Poll::Ready(Exit::Closed(CloseReason::TransportError))
                }
                Poll::Pending => {}
            }
        }
        if close == QueueClose::Graceful && batch.is_drained() && !need_flush {
            return Poll::Ready(Exit::Graceful);
        }
        if !progressed {
            return Poll::Pending;
        }
    })
    .await
}

/// The WebSocket message of a queued frame: a deflatable one goes out compressed (RSV1 set, the
/// bytes shared with every other recipient) when this connection agreed to deflate with window
/// `deflate`, and compressing made it smaller.
fn to_ws(frame: OutFrame, deflate: Option<u8>, stats: &Stats) -> WsMessage {
    match frame {
        OutFrame::Text(text) => WsMessage::Text(text),
        OutFrame::Binary(bytes) => WsMessage::Binary(bytes),
        OutFrame::Deflatable(text) => match deflate.map(|bits| text.deflated(bits)) {
            Some((Some(payload), compressed_now)) => {
                stats.count_deflated(text.text.len(), payload.len(), compressed_now);
                let mut frame = Frame::message(payload, OpCode::Data(Data::Text), true);
                frame.header_mut().rsv1 = true;
                WsMessage::Frame(frame)
            }
            Some((None, _)) | None => WsMessage::Text(text.text.clone()),
        },
    }
}

fn on_frame(
    session: &Session,
    handler: &dyn SessionHandler,
    message: WsMessage,
) -> Result<(), CloseReason> {
    let outcome = match message {
        WsMessage::Text(text) => match decode_text(text) {
            Ok(packet) => session.on_packet(packet, handler),
            Err(error) => Err(error.to_string()),
        },
        WsMessage::Binary(data) => handler.on_message(super::session::Message::Binary(data)),
        WsMessage::Close(_) => return Err(CloseReason::TransportClose),
        // tungstenite answers WebSocket pings itself; pongs and raw frames carry nothing for us.
        WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => Ok(()),
    };
    outcome.map_err(|error| {
        tracing::debug!(sid = %session.id, %error, "malformed packet: closing connection");
        session.context.stats.parse_error();
        CloseReason::ParseError
    })
}

fn read_error_reason(error: &tungstenite::Error) -> CloseReason {
    use tungstenite::error::ProtocolError;
    match error {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        // The peer (or the network) dropped the TCP connection: a transport close, which
        // connection-state recovery treats as recoverable, not a protocol violation.
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            CloseReason::TransportClose
        }
        tungstenite::Error::Protocol(_)
        | tungstenite::Error::Capacity(_)
        | tungstenite::Error::Utf8(_) => CloseReason::ParseError,
        _ => CloseReason::TransportError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Io = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

    /// The size of what `start` returns, without calling it.
    fn future_size<F: FnOnce(Arc<Endpoint>, Box<WebSocketStart>) -> R, R>(_: &F) -> usize {
        std::mem::size_of::<R>()
    }

    /// Every idle WebSocket client holds its connection's future (inside a tokio task, rounded
    /// up to 128 bytes): what only the handshake needs is boxed and gone, and a connection
    /// without permessage-deflate does not pay for the inflater's state.
    #[test]
    fn a_connections_long_lived_future_stays_small() {
        let serve = future_size(&|e, s| serve(e, std::future::ready(None::<Io>), s));
        assert!(
            serve <= 672,
            "the WebSocket connection future grew to {serve} bytes"
        );
        let plain = std::mem::size_of::<WebSocketStream<StackReader<Io>>>();
        let inflating = std::mem::size_of::<WebSocketStream<InflatingStream<Io>>>();
        assert!(inflating <= plain + 16, "{inflating} vs {plain}");
    }
}
