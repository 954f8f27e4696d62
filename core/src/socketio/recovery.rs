//! Connection-state recovery, as Socket.IO v4 does it: the connect reply carries a private
//! session id (`pid`), every broadcast event carries an offset as its last argument, and a client
//! that comes back within the window with `{pid, offset}` gets its socket id and rooms back plus
//! every broadcast it missed, in order, exactly once (`socket.recovered` is then true).
//!
//! Memory is bounded twice: the packet log keeps at most `max_packets` broadcasts and none older
//! than the window; a saved session lives only for the window. A client whose offset fell out of
//! the log is not recoverable and connects as new. Volatile emits are never logged.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::packet::{encode_event, Args};
use crate::auth::Identity;
use crate::engineio::clock::now_ms;
use crate::engineio::packet::OutFrame;
use crate::rooms::broadcast::BroadcastTarget;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected session stays recoverable (Node's `maxDisconnectionDuration`).
    pub max_disconnection: Duration,
    /// Most broadcasts kept for replay, per namespace.
    pub max_packets: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            max_disconnection: Duration::from_secs(120),
            max_packets: 10_000,
        }
    }
}

struct LoggedPacket {
    offset: u64,
    at_ms: u64,
    target: BroadcastTarget,
    frames: Vec<OutFrame>,
}

/// What is kept of a socket that dropped, to restore it.
#[derive(Debug, Clone)]
pub(crate) struct SavedSession {
    pub sid: Box<str>,
    pub identity: Option<Identity>,
    pub rooms: Vec<Arc<str>>,
    at_ms: u64,
}

pub(crate) struct RecoveryStore {
    config: RecoveryConfig,
    next_offset: AtomicU64,
    log: Mutex<VecDeque<LoggedPacket>>,
    sessions: Mutex<HashMap<Box<str>, SavedSession>>,
}

/// Disconnect reasons after which the client may come back and recover (as in Node).
pub(crate) fn is_recoverable(reason: &str) -> bool {
    matches!(
        reason,
        "transport error"
            | "transport close"
            | "forced close"
            | "ping timeout"
            | "server shutting down"
    )
}

impl RecoveryStore {
    pub fn new(config: RecoveryConfig) -> Self {
        Self {
            config,
            next_offset: AtomicU64::new(1),
            log: Mutex::new(VecDeque::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn window_ms(&self) -> u64 {
        self.config.max_disconnection.as_millis() as u64
    }

    /// Encodes a broadcast with its offset appended as the last argument and logs it.
    pub fn log_broadcast(
        &self,
        namespace: &str,
        target: &BroadcastTarget,
        event: &str,
        args: &Args,
    ) -> Vec<OutFrame> {
        let offset = self.next_offset.fetch_add(1, Ordering::Relaxed);
        let with_offset = args.with_trailing_string(&offset.to_string());
        let frames = encode_event(namespace, event, None, &with_offset);
        let now = now_ms();
        let mut log = self.log.lock();
        log.push_back(LoggedPacket {
            offset,
            at_ms: now,
            target: target.clone(),
            frames: frames.clone(),
        });
        self.prune_log(&mut log, now);
        frames
    }

    fn prune_log(&self, log: &mut VecDeque<LoggedPacket>, now: u64) {
        let window = self.window_ms();
        while log.len() > self.config.max_packets
            || log
                .front()
                .is_some_and(|p| now.saturating_sub(p.at_ms) > window)
        {
            log.pop_front();
        }
    }

    pub fn save(&self, pid: &str, session: SavedSession) {
        let now = now_ms();
        let window = self.window_ms();
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, s| now.saturating_sub(s.at_ms) <= window);
        sessions.insert(
            Box::from(pid),
            SavedSession {
                at_ms: now,
                ..session
            },
        );
    }

    pub fn new_session(
        sid: Box<str>,
        identity: Option<Identity>,
        rooms: Vec<Arc<str>>,
    ) -> SavedSession {
        SavedSession {
            sid,
            identity,
            rooms,
            at_ms: 0,
        }
    }

    /// Takes the saved session for `pid` if it is still within the window and `offset` is still
    /// in the log; returns it with the frames of every later broadcast it would have received.
    pub fn recover(&self, pid: &str, offset: &str) -> Option<(SavedSession, Vec<Vec<OutFrame>>)> {
        let now = now_ms();
        let session = self.sessions.lock().remove(pid)?;
        if now.saturating_sub(session.at_ms) > self.window_ms() {
            return None;
        }
        let offset: u64 = offset.parse().ok()?;
        let mut log = self.log.lock();
        self.prune_log(&mut log, now);
        let start = log.iter().position(|p| p.offset == offset)? + 1;
        let missed = log
            .iter()
            .skip(start)
            .filter(|p| reaches(&p.target, &session.rooms))
            .map(|p| p.frames.clone())
            .collect();
        Some((session, missed))
    }
}

/// Whether a broadcast to `target` reached a socket in `rooms`.
fn reaches(target: &BroadcastTarget, rooms: &[Arc<str>]) -> bool {
    let included = target.rooms.is_empty() || target.rooms.iter().any(|r| rooms.contains(r));
    included && !target.except.iter().any(|r| rooms.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(rooms: &[&str]) -> BroadcastTarget {
        BroadcastTarget {
            rooms: rooms.iter().map(|r| Arc::from(*r)).collect(),
            ..BroadcastTarget::default()
        }
    }

    fn text(frames: &[OutFrame]) -> String {
        match &frames[0] {
            OutFrame::Text(t) => t.as_str().to_owned(),
            OutFrame::Binary(_) => String::new(),
        }
    }

    #[test]
    fn replays_what_the_rooms_missed_in_order() {
        let store = RecoveryStore::new(RecoveryConfig::default());
        let first = store.log_broadcast("/", &target(&["user:1"]), "t", &Args::json("1").unwrap());
        assert_eq!(text(&first), "42[\"t\",1,\"1\"]");
        store.log_broadcast("/", &target(&["user:1"]), "t", &Args::json("2").unwrap());
        store.log_broadcast(
            "/",
            &target(&["user:2"]),
            "t",
            &Args::json("\"x\"").unwrap(),
        );
        store.log_broadcast("/", &BroadcastTarget::default(), "all", &Args::none());
        let rooms = vec![Arc::from("user:1")];
        store.save("pid", RecoveryStore::new_session("sid".into(), None, rooms));
        let (session, missed) = store.recover("pid", "1").unwrap();
        assert_eq!(&*session.sid, "sid");
        let texts: Vec<String> = missed.iter().map(|f| text(f)).collect();
        assert_eq!(texts, vec!["42[\"t\",2,\"2\"]", "42[\"all\",\"4\"]"]);
        assert!(
            store.recover("pid", "1").is_none(),
            "a session recovers once"
        );
    }

    #[test]
    fn bounded_log_makes_old_offsets_unrecoverable() {
        let store = RecoveryStore::new(RecoveryConfig {
            max_disconnection: Duration::from_secs(60),
            max_packets: 3,
        });
        for i in 0..5 {
            store.log_broadcast(
                "/",
                &BroadcastTarget::default(),
                "t",
                &Args::json(&i.to_string()).unwrap(),
            );
        }
        store.save(
            "pid",
            RecoveryStore::new_session("sid".into(), None, Vec::new()),
        );
        assert!(store.recover("pid", "1").is_none(), "offset 1 was evicted");
        store.save(
            "pid",
            RecoveryStore::new_session("sid".into(), None, Vec::new()),
        );
        assert_eq!(store.recover("pid", "3").unwrap().1.len(), 2);
        assert!(store.recover("unknown", "3").is_none());
    }
}
