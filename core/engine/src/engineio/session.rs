//! One Engine.IO session: its id, which transport currently owns it, its outbound queue, its
//! heartbeat state, and the upper layer's handler. Transports (polling requests, the WebSocket
//! driver) come and go; the session outlives them until it is closed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use compact_str::CompactString;
use parking_lot::Mutex;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::context::EngineContext;
use super::delivery_timer::DeliveryTimer;
use super::handshake::HandshakeRequest;
use super::outbound::{OutboundQueue, PushOutcome, QueueClose};
use super::packet::{Inbound, OutFrame, PacketType};
use crate::clock::now_ms;

/// A message delivered to the layer above Engine.IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(Utf8Bytes),
    Binary(Bytes),
}

/// Why a session ended, with the reason strings Socket.IO reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed the transport or sent a close packet.
    TransportClose,
    TransportError,
    PingTimeout,
    /// The client sent something undecodable.
    ParseError,
    /// The client stopped reading and its queue filled up.
    SlowConsumer,
    /// The server closed the session (Socket.IO `disconnect(true)`).
    ForcedClose,
    ServerShutdown,
    /// The client broke the Socket.IO protocol (a second CONNECT, a packet for a namespace it
    /// is not in, an undecodable packet): closed cleanly, as socket.io does.
    ProtocolViolation,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::SlowConsumer => "slow consumer",
            Self::ForcedClose => "forced close",
            Self::ServerShutdown => "server shutting down",
            Self::ProtocolViolation => "forced server close",
        }
    }
}

/// What the upper layer (Socket.IO, or a raw Engine.IO host) does with a session.
pub trait SessionHandler: Send + Sync + 'static {
    /// A message arrived. An error closes the session as a parse error.
    fn on_message(&self, message: Message) -> Result<(), String>;
    /// Called exactly once, when the session closes.
    fn on_close(&self, reason: CloseReason);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Polling = 0,
    WebSocket = 1,
}

impl TransportKind {
    /// The name socket.io gives it (`socket.conn.transport.name`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }
}

/// Where a session is in a polling → WebSocket upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum UpgradeState {
    None = 0,
    /// A WebSocket for this sid is open and owns the upgrade; any other one is closed.
    Claimed = 1,
    /// `2probe` was answered: a long poll with nothing to send is released with `6` after
    /// [`UPGRADE_CHECK`](super::polling::UPGRADE_CHECK) so the client can pause polling.
    Probed = 2,
}

pub struct Session {
    pub(crate) id: CompactString,
    /// What the handshake request said (headers, query, address, time); kept for the session's
    /// lifetime because every namespace connect, and the socket's handshake, read it.
    pub(crate) request: HandshakeRequest,
    pub(crate) queue: OutboundQueue,
    transport: AtomicU8,
    upgrade: AtomicU8,
    pub(crate) poll_active: AtomicBool,
    pub(crate) post_active: AtomicBool,
    /// The client itself sent the close packet: a parked long poll is released with `6`, as
    /// Node does, instead of the server's close packet.
    closed_by_client: AtomicBool,
    /// `deadline_ms << 1 | awaiting_pong`: one atomic so the sweeper and a pong never disagree.
    heartbeat: AtomicU64,
    pub(crate) connected_upper: AtomicBool,
    closed: AtomicBool,
    /// When the session opened (for the connect deadline) until it closes, then when it closed
    /// (for how long it lingers): one word, each is read only in its phase.
    milestone_ms: AtomicU64,
    handler: Mutex<Option<Arc<dyn SessionHandler>>>,
    pub(crate) context: Arc<EngineContext>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish()
    }
}

impl Session {
    pub(crate) fn new(
        id: CompactString,
        transport: TransportKind,
        request: HandshakeRequest,
        context: Arc<EngineContext>,
    ) -> Self {
        let now = now_ms();
        let interval = context.config.ping_interval.as_millis() as u64;
        Self {
            id,
            request,
            queue: OutboundQueue::new(context.config.queue_capacity),
            transport: AtomicU8::new(transport as u8),
            upgrade: AtomicU8::new(UpgradeState::None as u8),
            poll_active: AtomicBool::new(false),
            post_active: AtomicBool::new(false),
            closed_by_client: AtomicBool::new(false),
            heartbeat: AtomicU64::new((now + interval) << 1),
            connected_upper: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            milestone_ms: AtomicU64::new(now),
            handler: Mutex::new(None),
            context,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn remote_addr(&self) -> SocketAddr {
        self.request.remote_addr
    }

    /// The request that opened this session.
    pub fn request(&self) -> &HandshakeRequest {
        &self.request
    }

    pub fn transport(&self) -> TransportKind {
        if self.transport.load(Ordering::Acquire) == TransportKind::WebSocket as u8 {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        }
    }

    pub(crate) fn set_handler(&self, handler: Arc<dyn SessionHandler>) {
        *self.handler.lock() = Some(handler);
    }

    pub(crate) fn handler(&self) -> Option<Arc<dyn SessionHandler>> {
        self.handler.lock().clone()
    }

    /// When the session closed (once it has).
    pub(crate) fn closed_ms(&self) -> u64 {
        self.milestone_ms.load(Ordering::Acquire)
    }

    /// When the session opened (while it is open).
    pub(crate) fn opened_ms(&self) -> u64 {
        self.milestone_ms.load(Ordering::Acquire)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks that the upper layer accepted this session (e.g. joined a namespace), which lifts the
    /// connect deadline.
    pub fn mark_connected(&self) {
        self.connected_upper.store(true, Ordering::Release);
    }

    /// Queues an already encoded frame. On overflow the session is closed as a slow consumer.
    pub fn send(&self, frame: OutFrame, volatile: bool) -> PushOutcome {
        let outcome = self.queue.push(frame, volatile);
        self.after_push(outcome)
    }

    /// Queues frames that must travel together (a binary packet and its attachments), timed by
    /// `timer` when they are a broadcast's.
    pub fn send_all(
        &self,
        frames: &[OutFrame],
        volatile: bool,
        timer: Option<&Arc<DeliveryTimer>>,
    ) -> PushOutcome {
        let outcome = self.queue.push_all(frames, volatile, timer);
        self.after_push(outcome)
    }

    fn after_push(&self, outcome: PushOutcome) -> PushOutcome {
        match outcome {
            PushOutcome::Overflow => {
                tracing::debug!(sid = %self.id, "outbound queue full: closing slow consumer");
                self.context
                    .stats
                    .slow_consumers
                    .fetch_add(1, Ordering::Relaxed);
                self.close_outside_delivery(CloseReason::SlowConsumer);
            }
            PushOutcome::DroppedVolatile => {
                self.context.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            PushOutcome::Queued | PushOutcome::Closed => {}
        }
        outcome
    }

    /// Closes the session. Frames already queued are still written when `reason` is a server-side
    /// close (the client must see the final `41`/`server:shutdown`); transport failures discard them.
    pub fn close(&self, reason: CloseReason) {
        if let Some(handler) = self.shut(reason) {
            handler.on_close(reason);
        }
    }

    /// Closes the session from inside a delivery: the caller may be a broadcast holding a room's
    /// lock, and the upper layer's close handler leaves rooms. The queue is shut at once (nothing
    /// more is accepted); the handler runs on the endpoint's runtime.
    fn close_outside_delivery(&self, reason: CloseReason) {
        let Some(handler) = self.shut(reason) else {
            return;
        };
        match &self.context.runtime {
            Some(runtime) => {
                runtime.spawn(async move { handler.on_close(reason) });
            }
            None => {
                std::thread::spawn(move || handler.on_close(reason));
            }
        }
    }

    /// Marks the session closed (once) and shuts its queue; returns the upper layer's handler to
    /// notify, or None when it was already closed.
    fn shut(&self, reason: CloseReason) -> Option<Arc<dyn SessionHandler>> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return None;
        }
        self.milestone_ms.store(now_ms(), Ordering::Release);
        let graceful = matches!(
            reason,
            CloseReason::ForcedClose | CloseReason::ServerShutdown | CloseReason::ProtocolViolation
        );
        self.queue.close(if graceful {
            QueueClose::Graceful
        } else {
            QueueClose::Forced
        });
        // A polling client collects its last frames with one more GET, which needs the session
        // to stay findable; that GET (or the sweeper, if none comes) removes it.
        if !(graceful && self.transport() == TransportKind::Polling) {
            self.context.remove_session(&self.id);
        }
        tracing::debug!(sid = %self.id, reason = reason.as_str(), "session closed");
        self.handler.lock().take()
    }

    /// Takes the upgrade for one WebSocket; false when the session already upgraded or another
    /// WebSocket is upgrading it (that one is closed, as Node does).
    pub(crate) fn claim_upgrade(&self) -> bool {
        self.transport() == TransportKind::Polling
            && self
                .upgrade
                .compare_exchange(
                    UpgradeState::None as u8,
                    UpgradeState::Claimed as u8,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// The probe was answered: from now on an idle long poll is released after the check delay.
    pub(crate) fn mark_probed(&self) {
        self.upgrade
            .store(UpgradeState::Probed as u8, Ordering::Release);
        self.queue.wake_consumer();
    }

    /// The upgrade failed; polling carries on and a later WebSocket may try again.
    pub(crate) fn release_upgrade(&self) {
        self.upgrade
            .store(UpgradeState::None as u8, Ordering::Release);
        self.queue.wake_consumer();
    }

    pub(crate) fn upgrade_state(&self) -> UpgradeState {
        match self.upgrade.load(Ordering::Acquire) {
            1 => UpgradeState::Claimed,
            2 => UpgradeState::Probed,
            _ => UpgradeState::None,
        }
    }

    pub(crate) fn closed_by_client(&self) -> bool {
        self.closed_by_client.load(Ordering::Acquire)
    }

    pub(crate) fn switch_to_websocket(&self) {
        self.transport
            .store(TransportKind::WebSocket as u8, Ordering::Release);
        self.upgrade
            .store(UpgradeState::None as u8, Ordering::Release);
        // End any long poll still parked on the queue: it answers `6` and the client moves on.
        self.queue.wake_consumer();
    }

    /// Handles one decoded Engine.IO packet from whichever transport carried it.
    pub(crate) fn on_packet(
        &self,
        packet: Inbound,
        handler: &dyn SessionHandler,
    ) -> Result<(), String> {
        match packet {
            Inbound::Text(PacketType::Message, data) => handler.on_message(Message::Text(data)),
            Inbound::Binary(data) => handler.on_message(Message::Binary(data)),
            Inbound::Text(PacketType::Pong, _) => {
                self.on_pong();
                Ok(())
            }
            Inbound::Text(PacketType::Ping, data) => {
                // Not used by v4 clients outside a probe, but answering is harmless and cheap.
                self.send(OutFrame::with_data(PacketType::Pong, &data), false);
                Ok(())
            }
            Inbound::Text(PacketType::Close, _) => {
                self.closed_by_client.store(true, Ordering::Release);
                self.close(CloseReason::TransportClose);
                Ok(())
            }
            Inbound::Text(PacketType::Noop, _) => Ok(()),
            Inbound::Text(kind @ (PacketType::Open | PacketType::Upgrade), _) => {
                Err(format!("unexpected packet type {kind:?}"))
            }
        }
    }

    fn on_pong(&self) {
        let interval = self.context.config.ping_interval.as_millis() as u64;
        self.heartbeat
            .store((now_ms() + interval) << 1, Ordering::Release);
    }

    /// Whether the session has missed its pong deadline. Requests check it on arrival, so a
    /// client sees the timeout at the exact moment Node would close it, whatever the sweep period.
    pub(crate) fn missed_pong(&self, now: u64) -> bool {
        let state = self.heartbeat.load(Ordering::Acquire);
        state & 1 == 1 && now >= state >> 1
    }

    /// Called by the heartbeat sweeper: sends a ping when one is due, and reports whether the
    /// session missed its pong deadline.
    pub(crate) fn heartbeat_tick(&self, now: u64) -> bool {
        let state = self.heartbeat.load(Ordering::Acquire);
        let (deadline, awaiting) = (state >> 1, state & 1 == 1);
        if now < deadline {
            return false;
        }
        if awaiting {
            return true;
        }
        let timeout = self.context.config.ping_timeout.as_millis() as u64;
        // The pong deadline counts from when the ping was due, as Node's timers do, so a sweep
        // that ran a little late does not extend it; after a long stall the client gets the
        // full timeout from now.
        let base = if now - deadline < timeout / 2 {
            deadline
        } else {
            now
        };
        let next = ((base + timeout) << 1) | 1;
        if self
            .heartbeat
            .compare_exchange(state, next, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.send(OutFrame::control(PacketType::Ping), false);
        }
        false
    }
}
