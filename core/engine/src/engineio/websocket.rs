//! The WebSocket transport. One task per connection drives both directions: it reads frames and
//! hands them up, and it drains the session's outbound queue into the socket, flushing once per
//! batch. A single task keeps idle connections small, and because reading and writing are polled
//! side by side, a client that stops reading blocks only its own writes: the session can still be
//! closed under it (heartbeat, slow consumer, shutdown) and the task ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use super::deflate::inflate::InflatingStream;
use super::ws_frames::{Incoming, OutKind};
use super::ws_stream::{WsError, WsStream};
use crate::clock::now_us;
use crate::stats::Stats;

use super::context::EngineContext;
use super::endpoint::Endpoint;
use super::handshake::HandshakeRequest;
use super::outbound::{Batch, Consumer, QueueClose};
use super::packet::{decode_text, OutFrame};
use super::session::{CloseReason, Session, SessionHandler, TransportKind};

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

/// The bytes a WebSocket reads: the socket, through the inflater when the client agreed to
/// permessage-deflate.
type WsIo<S> = InflatingStream<S>;

/// Serves an upgraded WebSocket once `connection` yields it.
///
/// The task lives as long as the connection, so everything only needed to set it up (the
/// upgrade, the start record, the handshake, the probe) runs in a boxed future of its own that
/// is gone before the connection is driven: the long-lived state is `Driven`, the socket and
/// session and little more.
pub(crate) fn serve<C, S>(
    endpoint: Arc<Endpoint>,
    connection: C,
    start: Box<WebSocketStart>,
) -> impl Future<Output = ()>
where
    C: Future<Output = Option<S>>,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Serving::Opening(Box::pin(open(endpoint, connection, start)))
}

/// The connection's task, by stage. Written out rather than as an `async fn` so the task holds
/// `Driven` and a tag, not also the await points' own state (every idle client pays for each
/// byte of it, and a tokio task is allocated in steps of 128 bytes).
enum Serving<F, S> {
    Opening(Pin<Box<F>>),
    Driving(Driven<S>),
    Finishing(Pin<Box<dyn Future<Output = ()> + Send>>),
    Done,
}

impl<F, S> Future for Serving<F, S>
where
    F: Future<Output = Option<Driven<S>>>,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every variant is Unpin (the futures are boxed).
        let this = &mut *self;
        loop {
            match this {
                Serving::Opening(opening) => match opening.as_mut().poll(cx) {
                    Poll::Ready(Some(driven)) => *this = Serving::Driving(driven),
                    Poll::Ready(None) => *this = Serving::Done,
                    Poll::Pending => return Poll::Pending,
                },
                Serving::Driving(driven) => {
                    let exit = std::task::ready!(driven.poll_drive(cx));
                    if let Serving::Driving(driven) = std::mem::replace(this, Serving::Done) {
                        *this = Serving::Finishing(Box::pin(driven.finish(exit)));
                    }
                }
                Serving::Finishing(finishing) => {
                    std::task::ready!(finishing.as_mut().poll(cx));
                    *this = Serving::Done;
                }
                Serving::Done => return Poll::Ready(()),
            }
        }
    }
}

/// Upgrades, accepts (probing an upgrade from polling) and readies the connection to be driven.
async fn open<C, S>(
    endpoint: Arc<Endpoint>,
    connection: C,
    start: Box<WebSocketStart>,
) -> Option<Driven<S>>
where
    C: Future<Output = Option<S>>,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let stream = connection.await?;
    let deflate = start.deflate;
    let io = match deflate {
        None => InflatingStream::passthrough(stream),
        Some(_) => InflatingStream::new(stream, endpoint.context.config.max_payload),
    };
    let live = LiveSocket::enter(endpoint.context.clone());
    let (ws, session) = accept(&endpoint, io, start).await?;
    live.hand_to_driver();
    Some(Driven {
        ws,
        session,
        batch: Batch::default(),
        parked: false,
        deflate,
    })
}

async fn accept<S>(
    endpoint: &Arc<Endpoint>,
    stream: S,
    start: Box<WebSocketStart>,
) -> Option<(WsStream<S>, Arc<Session>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let WebSocketStart {
        sid,
        request,
        leftover,
        ..
    } = *start;
    // The bytes read past the upgrade request are the start of the WebSocket stream.
    let mut ws = WsStream::new(stream, leftover);
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

/// Counts a WebSocket for shutdown's drain wait from its upgrade on: until the driver takes
/// over the count (`hand_to_driver`), or until the upgrade fails and this is dropped.
struct LiveSocket {
    context: Arc<EngineContext>,
    counted: bool,
}

impl LiveSocket {
    fn enter(context: Arc<EngineContext>) -> Self {
        context.live_sockets.fetch_add(1, Ordering::AcqRel);
        Self {
            context,
            counted: true,
        }
    }

    /// The socket is driven: `Driven` counts it from now on (it reaches the same counter
    /// through its session, so the long-lived future keeps no pointer of its own for it).
    fn hand_to_driver(mut self) {
        self.counted = false;
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        if self.counted {
            self.context.live_sockets.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The upgrade handshake on the new socket: `2probe` → `3probe`, then `5`. Anything else, or a
/// timeout, ends only the probe; the polling session carries on.
async fn probe<S>(endpoint: &Endpoint, ws: &mut WsStream<S>, sid: &str) -> Option<Arc<Session>>
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
        let limit = endpoint.context.config.max_payload;
        match ws.next(limit).await {
            Ok(Incoming::Text(t)) if t.as_str() == "2probe" => {}
            _ => return false,
        }
        if ws.send_text("3probe").await.is_err() {
            return false;
        }
        session.mark_probed();
        matches!(ws.next(limit).await, Ok(Incoming::Text(t)) if t.as_str() == "5")
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
    /// The client closed the WebSocket (its close is answered).
    PeerClosed,
    /// The client sent frames a client may not: closed with this code.
    Refused(u16),
    /// The server closed the session gracefully and everything queued was written.
    Graceful,
    /// The session was closed elsewhere (timeout, slow consumer): drop the socket.
    Abandoned,
}

/// A connection being driven: everything its long-lived future holds. Every idle client keeps
/// one, so it holds only what changes per connection; the rest (the handler, the limits, the
/// counters) is reached through the session when a message comes.
struct Driven<S> {
    ws: WsStream<WsIo<S>>,
    session: Arc<Session>,
    /// Frames taken from the queue and handed to the codec, kept until flushed.
    batch: Batch,
    /// Parked until the coalescing tick; the next poll takes whatever queued meanwhile.
    parked: bool,
    /// The window agreed for permessage-deflate.
    deflate: Option<u8>,
}

impl<S> Drop for Driven<S> {
    fn drop(&mut self) {
        // The count `LiveSocket` handed over.
        self.session
            .context
            .live_sockets
            .fetch_sub(1, Ordering::AcqRel);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driven<S> {
    /// Reads frames and hands them up, and drains the session's queue into the socket,
    /// flushing once per batch, until the connection or the session ends.
    fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<Exit> {
        let Self {
            ws,
            session,
            batch,
            parked,
            deflate,
        } = self;
        let holds = &session.context.write_holds;
        let max_payload = session.context.config.max_payload;
        loop {
            let mut progressed = false;

            match ws.poll_next(cx, max_payload) {
                Poll::Ready(Ok(Incoming::Close(_))) => return Poll::Ready(Exit::PeerClosed),
                Poll::Ready(Ok(message)) => {
                    progressed = true;
                    // No handler: the session was closed under the connection.
                    let Some(handler) = session.handler() else {
                        return Poll::Ready(Exit::Abandoned);
                    };
                    if let Err(reason) = on_message(session, handler.as_ref(), message) {
                        return Poll::Ready(Exit::Closed(reason));
                    }
                }
                Poll::Ready(Err(WsError::Frame(error))) => {
                    tracing::debug!(sid = %session.id, %error, "websocket frame refused");
                    return Poll::Ready(Exit::Refused(error.close_code()));
                }
                Poll::Ready(Err(error)) => {
                    tracing::debug!(sid = %session.id, %error, "websocket read failed");
                    return Poll::Ready(Exit::Closed(read_error_reason(&error)));
                }
                Poll::Pending => {}
            }

            // A busy connection leaves new frames queued for one tick (pushes to a queue that
            // is not empty wake no one); a close still wakes it.
            if !*parked
                && holds.window_us() > 0
                && batch.flushed_us != 0
                && batch.is_drained()
                && !ws.has_unflushed()
                && batch.flushed_within(now_us(), holds.window_us())
                && !session.queue.is_empty()
                && holds.park(cx.waker())
            {
                *parked = true;
                if !progressed {
                    return Poll::Pending;
                }
                continue;
            }
            *parked = false;
            // Frames handed on but not yet flushed stay in the batch; more may join them.
            let refill = batch.is_drained().then_some(&mut *batch);
            let close = match session.queue.poll_take(cx, Consumer::Socket, refill) {
                Poll::Ready(close) => close,
                Poll::Pending => QueueClose::Open,
            };
            if close == QueueClose::Forced {
                return Poll::Ready(Exit::Abandoned);
            }

            while !batch.is_drained() {
                match ws.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        let Some(frame) = batch.take_next() else {
                            break;
                        };
                        push_frame(ws, frame, *deflate, &session.context.stats);
                        progressed = true;
                    }
                    Poll::Ready(Err(_)) => {
                        return Poll::Ready(Exit::Closed(CloseReason::TransportError))
                    }
                    Poll::Pending => break,
                }
            }
            // Frames of a batch, or a pong.
            if ws.has_unflushed() {
                match ws.poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        if batch.is_drained() && !batch.frames.is_empty() {
                            session.context.stats.record_emit_latency(batch.oldest_us);
                            // Idle connections keep no batch allocation; a busy one pays one
                            // allocation per batch, not per message. Dropping the written
                            // batch releases its broadcasts' timers: their frames reached the
                            // kernel.
                            *batch = Batch::flushed_at(now_us());
                        }
                    }
                    Poll::Ready(Err(_)) => {
                        return Poll::Ready(Exit::Closed(CloseReason::TransportError))
                    }
                    Poll::Pending => {}
                }
            }
            if close == QueueClose::Graceful && batch.is_drained() && !ws.has_unflushed() {
                return Poll::Ready(Exit::Graceful);
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Ends the connection as `exit` says.
    async fn finish(mut self, exit: Exit) {
        let limit = self.session.context.config.ping_timeout;
        match exit {
            Exit::Closed(reason) => self.session.close(reason),
            Exit::Refused(code) => {
                self.session.close(CloseReason::ParseError);
                let _ = tokio::time::timeout(limit, self.ws.close(Some(code))).await;
            }
            Exit::PeerClosed => {
                self.session.close(CloseReason::TransportClose);
                // The close reply is queued: send it, within bounds.
                let _ = tokio::time::timeout(limit, self.ws.finish()).await;
            }
            Exit::Graceful => {
                let _ = tokio::time::timeout(limit, self.ws.close(None)).await;
            }
            Exit::Abandoned => {}
        }
    }
}

/// Queues a frame: a deflatable one goes out compressed (RSV1 set, the bytes shared with every
/// other recipient) when this connection agreed to deflate with window `deflate`, and
/// compressing made it smaller.
fn push_frame<S>(ws: &mut WsStream<S>, frame: OutFrame, deflate: Option<u8>, stats: &Stats)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match frame {
        OutFrame::Text(text) => ws.push(OutKind::Text, false, text.as_bytes()),
        OutFrame::Binary(bytes) => ws.push(OutKind::Binary, false, &bytes),
        OutFrame::Deflatable(text) => match deflate.map(|bits| text.deflated(bits)) {
            Some((Some(payload), compressed_now)) => {
                stats.count_deflated(text.text.len(), payload.len(), compressed_now);
                ws.push(OutKind::Text, true, &payload);
            }
            Some((None, _)) | None => ws.push(OutKind::Text, false, text.text.as_bytes()),
        },
    }
}

/// A client's message, handed up (pings and closes are the stream's and `drive`'s).
fn on_message(
    session: &Session,
    handler: &dyn SessionHandler,
    message: Incoming,
) -> Result<(), CloseReason> {
    let outcome = match message {
        Incoming::Text(text) => match decode_text(text) {
            Ok(packet) => session.on_packet(packet, handler),
            Err(error) => Err(error.to_string()),
        },
        Incoming::Binary(data) => handler.on_message(super::session::Message::Binary(data)),
        Incoming::Ping(_) | Incoming::Close(_) => Ok(()),
    };
    outcome.map_err(|error| {
        tracing::debug!(sid = %session.id, %error, "malformed packet: closing connection");
        session.context.stats.parse_error();
        CloseReason::ParseError
    })
}

/// The peer dropping the TCP connection is a transport close (which connection-state recovery
/// treats as recoverable); frames a client may not send are a parse error.
fn read_error_reason(error: &WsError) -> CloseReason {
    match error {
        WsError::Eof => CloseReason::TransportClose,
        WsError::Frame(_) => CloseReason::ParseError,
        WsError::Io(_) => CloseReason::TransportError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of what `start` returns, without calling it.
    fn future_size<F: FnOnce(Arc<Endpoint>, Box<WebSocketStart>) -> R, R>(_: &F) -> usize {
        std::mem::size_of::<R>()
    }

    /// Every idle WebSocket client holds its connection's task: tokio's 96 bytes of task state
    /// around the future, allocated in steps of 128 bytes. The upgrade and the handshake run
    /// boxed and are gone, so the future is the driven connection: at most 152 bytes keeps the
    /// task at 256.
    #[test]
    fn a_connections_long_lived_future_stays_small() {
        let serve =
            future_size(&|e, s| serve(e, std::future::ready(None::<tokio::net::TcpStream>), s));
        assert!(
            serve <= 152,
            "the WebSocket connection future grew to {serve} bytes"
        );
    }
}
