//! `OutboundQueue`: the bounded per-session queue between producers (handlers, broadcasts, the
//! heartbeat) and the one consumer that owns the transport (the WebSocket driver or a polling GET).
//!
//! Slow-consumer policy: the queue holds at most `capacity` frames. When it is full, a volatile
//! frame is dropped (and counted); any other frame makes the push fail with `Overflow`, and the
//! session is closed with reason "slow consumer".
//!
//! Volatile frames follow socket.io's rule: sent only when the transport is writable, i.e. its
//! consumer waits on an empty queue (an idle WebSocket driver, a parked long poll). One that is
//! still writing, a poll not yet back, or frames already waiting mean the frame is dropped. A stalled client therefore costs at most
//! `capacity` shared frames of memory and never blocks a producer.
//!
//! Producers hold the lock only to push a pointer-sized handle; no I/O ever happens under it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;

use super::delivery_timer::DeliveryTimer;
use super::packet::OutFrame;
use crate::clock::now_us;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Queued,
    /// The frame was volatile and the queue was full: it was dropped.
    DroppedVolatile,
    /// The queue was full: the session must be closed as a slow consumer.
    Overflow,
    /// The session is closing; the frame was discarded.
    Closed,
}

/// How the queue was closed: `Graceful` lets the consumer write what is queued first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueClose {
    Open,
    Graceful,
    Forced,
}

/// A queued frame, with the timer of the broadcast it belongs to (its last frame only).
#[derive(Debug)]
pub struct Queued {
    pub frame: OutFrame,
    pub timer: Option<Arc<DeliveryTimer>>,
}

impl Queued {
    fn untimed(frame: OutFrame) -> Self {
        Self { frame, timer: None }
    }
}

/// How long a transport counts as busy after its consumer took frames: socket.io's transport
/// is not writable until its write completed, at least one turn of its event loop.
const BUSY_AFTER_TAKE_US: u64 = 1_000;

impl State {
    /// socket.io's `transport.writable`: a consumer waits on an empty queue and is done with
    /// what it took last.
    fn writable(&self) -> bool {
        self.consumer_waiting
            && self.frames.is_empty()
            && (self.oldest_us == 0
                || now_us().saturating_sub(self.oldest_us) >= BUSY_AFTER_TAKE_US)
    }
}

#[derive(Debug)]
struct State {
    frames: VecDeque<Queued>,
    /// When the oldest queued frame was pushed (µs clock), for the emit → written latency;
    /// while the queue is empty, when a consumer last took frames (whether it may be busy).
    oldest_us: u64,
    /// Most frames held; here rather than beside the lock, where it would take a word of its
    /// own in every session (pushes read it under the lock anyway).
    capacity: u32,
    close: QueueClose,
    /// A consumer found the queue empty and waits (the transport is writable).
    consumer_waiting: bool,
}

/// Frames taken by a consumer, with when the oldest of them was queued.
#[derive(Debug, Default)]
pub struct Batch {
    pub frames: VecDeque<Queued>,
    pub oldest_us: u64,
    /// How many of `frames` the consumer handed on already. Their entries (and the broadcast
    /// timers in them) stay until the whole batch was flushed and the batch is dropped.
    pub sent: u32,
    /// When the consumer last flushed, µs clock wrapped to 32 bits (0: never): whether it is
    /// busy, for write coalescing.
    pub flushed_us: u32,
}

impl Batch {
    /// The next frame to hand on, if any is left.
    pub fn take_next(&mut self) -> Option<OutFrame> {
        let entry = self.frames.get_mut(self.sent as usize)?;
        self.sent += 1;
        Some(std::mem::take(&mut entry.frame))
    }

    /// Whether every frame was handed on.
    pub fn is_drained(&self) -> bool {
        self.sent as usize >= self.frames.len()
    }

    /// An empty batch after a flush at `now_us`.
    pub fn flushed_at(now_us: u64) -> Self {
        Self {
            flushed_us: now_us as u32,
            ..Self::default()
        }
    }

    /// Whether the last flush was less than `window_us` before `now_us`.
    pub fn flushed_within(&self, now_us: u64, window_us: u64) -> bool {
        self.flushed_us != 0 && u64::from((now_us as u32).wrapping_sub(self.flushed_us)) < window_us
    }

    /// The frames, in order (their timers are released as they are dropped).
    pub fn into_frames(self) -> Vec<OutFrame> {
        self.frames.into_iter().map(|q| q.frame).collect()
    }
}

#[derive(Debug)]
pub struct OutboundQueue {
    state: Mutex<State>,
    /// One waker per kind of consumer: during an upgrade a long poll and the new WebSocket driver
    /// briefly coexist, and neither may steal the other's wake-up.
    poll_waker: AtomicWaker,
    socket_waker: AtomicWaker,
}

/// Which transport is waiting on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    Poll,
    Socket,
}

impl OutboundQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                oldest_us: 0,
                capacity: u32::try_from(capacity).unwrap_or(u32::MAX).max(1),
                close: QueueClose::Open,
                consumer_waiting: false,
            }),
            poll_waker: AtomicWaker::new(),
            socket_waker: AtomicWaker::new(),
        }
    }

    pub fn push(&self, frame: OutFrame, volatile: bool) -> PushOutcome {
        self.push_entry(Queued::untimed(frame), volatile)
    }

    fn push_entry(&self, entry: Queued, volatile: bool) -> PushOutcome {
        let mut state = self.state.lock();
        if state.close != QueueClose::Open {
            return PushOutcome::Closed;
        }
        if volatile && !state.writable() {
            return PushOutcome::DroppedVolatile;
        }
        if state.frames.len() >= state.capacity as usize {
            return if volatile {
                PushOutcome::DroppedVolatile
            } else {
                PushOutcome::Overflow
            };
        }
        state.frames.push_back(entry);
        let first = state.frames.len() == 1;
        if first {
            state.oldest_us = now_us();
        }
        drop(state);
        // Only the transition from empty needs a wake-up: the consumer drains everything it finds.
        if first {
            self.wake_consumer();
        }
        PushOutcome::Queued
    }

    /// Pushes several frames that belong together (a binary packet and its attachments): all of
    /// them, or none when they do not fit. `timer` (a broadcast's) rides with the last one.
    pub fn push_all(
        &self,
        frames: &[OutFrame],
        volatile: bool,
        timer: Option<&Arc<DeliveryTimer>>,
    ) -> PushOutcome {
        let timer = timer.cloned();
        if let [one] = frames {
            let entry = Queued {
                frame: one.clone(),
                timer,
            };
            return self.push_entry(entry, volatile);
        }
        let mut state = self.state.lock();
        if state.close != QueueClose::Open {
            return PushOutcome::Closed;
        }
        if volatile && !state.writable() {
            return PushOutcome::DroppedVolatile;
        }
        if state.frames.len() + frames.len() > state.capacity as usize {
            return if volatile {
                PushOutcome::DroppedVolatile
            } else {
                PushOutcome::Overflow
            };
        }
        if state.frames.is_empty() {
            state.oldest_us = now_us();
        }
        state
            .frames
            .extend(frames.iter().cloned().map(Queued::untimed));
        if let Some(last) = state.frames.back_mut() {
            last.timer = timer;
        }
        drop(state);
        self.wake_consumer();
        PushOutcome::Queued
    }

    pub fn close(&self, how: QueueClose) {
        let mut state = self.state.lock();
        if how == QueueClose::Forced || state.close == QueueClose::Open {
            state.close = how;
        }
        if how == QueueClose::Forced {
            state.frames.clear();
        }
        drop(state);
        self.wake_consumer();
    }

    pub fn close_state(&self) -> QueueClose {
        self.state.lock().close
    }

    pub fn len(&self) -> usize {
        self.state.lock().frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves every queued frame into `into` (when given) and reports the close state. Registers
    /// the consumer's waker, so it is woken by the next push or close.
    pub fn poll_take(
        &self,
        cx: &mut Context<'_>,
        consumer: Consumer,
        into: Option<&mut Batch>,
    ) -> Poll<QueueClose> {
        match consumer {
            Consumer::Poll => self.poll_waker.register(cx.waker()),
            Consumer::Socket => self.socket_waker.register(cx.waker()),
        }
        let mut state = self.state.lock();
        let had_frames = !state.frames.is_empty();
        if let Some(into) = into {
            if had_frames {
                if into.frames.is_empty() {
                    into.oldest_us = state.oldest_us;
                    std::mem::swap(&mut into.frames, &mut state.frames);
                } else {
                    into.frames.extend(state.frames.drain(..));
                }
                state.oldest_us = now_us();
            }
        }
        let ready = had_frames || state.close != QueueClose::Open;
        state.consumer_waiting = !ready;
        if ready {
            Poll::Ready(state.close)
        } else {
            Poll::Pending
        }
    }

    /// Wakes the consumer without queueing anything (used to end a long poll during an upgrade).
    pub fn wake_consumer(&self) {
        self.poll_waker.wake();
        self.socket_waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::packet::PacketType;
    use futures_util::task::noop_waker_ref;

    fn ping() -> OutFrame {
        OutFrame::control(PacketType::Ping)
    }

    #[test]
    fn bounded_with_volatile_drop_and_overflow() {
        let q = OutboundQueue::new(2);
        assert_eq!(q.push(ping(), false), PushOutcome::Queued);
        assert_eq!(q.push(ping(), false), PushOutcome::Queued);
        assert_eq!(q.push(ping(), true), PushOutcome::DroppedVolatile);
        assert_eq!(q.push(ping(), false), PushOutcome::Overflow);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn volatile_frames_go_only_to_a_waiting_consumer() {
        let q = OutboundQueue::new(8);
        let mut cx = Context::from_waker(noop_waker_ref());
        // No consumer yet (a poll not back, a driver not started): dropped.
        assert_eq!(q.push(ping(), true), PushOutcome::DroppedVolatile);
        let mut batch = Batch::default();
        assert_eq!(
            q.poll_take(&mut cx, Consumer::Socket, Some(&mut batch)),
            Poll::Pending
        );
        // The consumer waits on an empty queue: the first is sent, the next waits behind it.
        assert_eq!(q.push(ping(), true), PushOutcome::Queued);
        assert_eq!(q.push(ping(), true), PushOutcome::DroppedVolatile);
        assert_eq!(q.push(ping(), false), PushOutcome::Queued);
        assert_eq!(
            q.poll_take(&mut cx, Consumer::Socket, Some(&mut batch)),
            Poll::Ready(QueueClose::Open)
        );
        // Taken, being written: not writable until the consumer is back.
        assert_eq!(q.push(ping(), true), PushOutcome::DroppedVolatile);
        assert_eq!(batch.frames.len(), 2);
    }

    #[test]
    fn push_all_is_all_or_nothing() {
        let q = OutboundQueue::new(3);
        q.push(ping(), false);
        assert_eq!(
            q.push_all(&[ping(), ping(), ping()], false, None),
            PushOutcome::Overflow
        );
        assert_eq!(q.len(), 1);
        assert_eq!(
            q.push_all(&[ping(), ping()], false, None),
            PushOutcome::Queued
        );
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn take_drains_and_reports_close() {
        let q = OutboundQueue::new(8);
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut batch = Batch::default();
        assert_eq!(
            q.poll_take(&mut cx, Consumer::Socket, Some(&mut batch)),
            Poll::Pending
        );
        q.push(ping(), false);
        q.push(ping(), false);
        assert_eq!(
            q.poll_take(&mut cx, Consumer::Socket, Some(&mut batch)),
            Poll::Ready(QueueClose::Open)
        );
        assert_eq!(batch.frames.len(), 2);
        q.push(ping(), false);
        q.close(QueueClose::Graceful);
        assert_eq!(q.push(ping(), false), PushOutcome::Closed);
        let mut rest = Batch::default();
        assert_eq!(
            q.poll_take(&mut cx, Consumer::Socket, Some(&mut rest)),
            Poll::Ready(QueueClose::Graceful)
        );
        assert_eq!(rest.frames.len(), 1);
        q.close(QueueClose::Forced);
        assert_eq!(q.close_state(), QueueClose::Forced);
    }
}
