//! Connection-state recovery, as Socket.IO v4 does it: the connect reply carries a private
//! session id (`pid`), every broadcast event carries an offset as its last argument, and a client
//! that comes back within the window with `{pid, offset}` gets its socket id and rooms back plus
//! every broadcast it missed, in order, exactly once (`socket.recovered` is then true).
//!
//! Memory is bounded: the packet log keeps at most `max_packets` broadcasts of at most `max_bytes`
//! encoded bytes in all, and none older than the window; a saved session lives only for the
//! window. A client whose offset fell out of the log is not recoverable and connects as new.
//! Volatile emits are never logged.
//!
//! Exactly once, in order: a broadcast is logged and delivered under the log's lock, and a
//! recovering socket is attached (rooms joined, missed packets queued) under the same lock. So
//! every broadcast either precedes the attach (it is in the log after the client's offset, and
//! replayed) or follows it (delivered live), never both and never neither.

//!
//! By concept: `packet_log` (the bounded log and who a packet reached), `saved_session` (what is
//! kept of a dropped socket, and the shared store when clustered), `peer_replay` (recovering on
//! a node that did not follow the socket's rooms, with the help of the one it dropped from);
//! `RecoveryStore` here ties them to one namespace.

mod packet_log;
mod peer_replay;
mod saved_session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::packet::Args;
use crate::auth::Identity;
use crate::clock::now_ms;
use crate::engineio::packet::OutFrame;
use crate::rooms::broadcast::BroadcastTarget;
use packet_log::PacketLog;

pub use crate::config::RecoveryConfig;
pub(crate) use packet_log::Missed;
pub use peer_replay::{LogCut, LoggedBroadcast, PeerClaim, PeerReplay};
pub(crate) use saved_session::SavedSession;
pub use saved_session::SessionStore;

pub(crate) struct RecoveryStore {
    config: RecoveryConfig,
    /// Offsets are `<node>-<counter>`: unique across a cluster, so every node logs a broadcast
    /// under the offset its origin gave it.
    node: Box<str>,
    next_offset: AtomicU64,
    log: Mutex<PacketLog>,
    sessions: Mutex<HashMap<Box<str>, SavedSession>>,
    /// When clustered: saved sessions live in Redis, so any node can restore them.
    shared: parking_lot::RwLock<Option<Arc<dyn SessionStore>>>,
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
            node: Box::from(&crate::ids::new_wire_id()[..8]),
            next_offset: AtomicU64::new(1),
            log: Mutex::new(PacketLog::default()),
            sessions: Mutex::new(HashMap::new()),
            shared: parking_lot::RwLock::new(None),
        }
    }

    pub fn skip_middlewares(&self) -> bool {
        self.config.skip_middlewares
    }

    pub fn share_sessions(&self, shared: Arc<dyn SessionStore>) {
        *self.shared.write() = Some(shared);
    }

    /// A new offset for a broadcast that starts on this node.
    pub fn next_offset(&self) -> String {
        format!(
            "{}-{}",
            self.node,
            self.next_offset.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn window_ms(&self) -> u64 {
        self.config.max_disconnection.as_millis() as u64
    }

    /// How long a dropped socket may come back and recover.
    pub fn window(&self) -> std::time::Duration {
        self.config.max_disconnection
    }

    /// This node's recovery id (the `<node>` of the offsets it gives).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Encodes a broadcast (with `encode`) with `offset` appended as its last argument, logs it
    /// (`local`: it started on this node) and hands the frames to `deliver` while the log is
    /// still locked (see the module note).
    #[allow(clippy::too_many_arguments)]
    pub fn log_and_deliver<R>(
        &self,
        target: &BroadcastTarget,
        args: &Args,
        offset: &str,
        local: bool,
        encode: impl FnOnce(&Args) -> Vec<OutFrame>,
        deliver: impl FnOnce(&[OutFrame]) -> R,
    ) -> R {
        let with_offset = args.with_trailing_string(offset);
        let frames = encode(&with_offset);
        let bytes = frames.iter().map(OutFrame::len).sum::<usize>() + offset.len();
        let mut log = self.log.lock();
        log.push(
            offset,
            target,
            frames.clone(),
            bytes,
            local,
            now_ms(),
            &self.config,
        );
        deliver(&frames)
    }

    /// Keeps `session` for the window: in Redis when clustered (so any node can restore it;
    /// written in the background, in order before any later command of this node, because the
    /// disconnect that calls this must not wait on the network), else on this node.
    pub fn save(&self, pid: &str, session: SavedSession) {
        if let Some(shared) = self.shared.read().as_ref() {
            shared.save(pid, session.to_json(), self.window_ms().max(1));
            return;
        }
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

    /// What this node keeps of a socket that dropped.
    pub fn new_session(
        &self,
        sid: Box<str>,
        identity: Option<Identity>,
        rooms: Vec<Arc<str>>,
        data: Option<serde_json::Value>,
    ) -> SavedSession {
        SavedSession {
            sid,
            identity,
            rooms,
            data,
            node: self.node.clone(),
            at_ms: 0,
        }
    }

    /// Whether this node saved `session` (its socket was here when it dropped).
    pub fn saved_here(&self, session: &SavedSession) -> bool {
        *session.node == *self.node
    }

    /// With the log locked: the broadcasts after `offset` that reached `rooms`, or None when
    /// `offset` is no longer in the log or this node may not have received every broadcast to
    /// the rooms since (`complete_since`, asked with the moment `offset` was logged); then
    /// `attach` runs, still under the lock, so no broadcast slips between the replay and the
    /// socket joining its rooms.
    pub fn replay<R>(
        &self,
        offset: &str,
        sid: &str,
        rooms: &[Arc<str>],
        complete_since: impl FnOnce(u64) -> bool,
        attach: impl FnOnce(Option<Missed>) -> R,
    ) -> R {
        let mut log = self.log.lock();
        log.prune(now_ms(), &self.config);
        attach(log.missed_after(offset, sid, rooms, complete_since))
    }

    /// Runs `f` with the position the next logged packet gets, the log locked meanwhile (so no
    /// broadcast of this node is logged, or published, while `f` runs).
    pub fn at_position<R>(&self, f: impl FnOnce(u64) -> R) -> R {
        f(self.log.lock().position())
    }

    /// Whether the log can replay from `offset` on its own (see `replay`).
    pub fn covers(&self, offset: &str, complete_since: impl FnOnce(u64) -> bool) -> bool {
        self.log.lock().covers(offset, complete_since)
    }

    /// The peer's half of a replay for a socket that dropped from this node (see
    /// `peer_replay`): what reached it after `offset` and before `cut`; None as in `replay`.
    pub fn missed_before(
        &self,
        claim: &PeerClaim,
        complete_since: impl FnOnce(u64) -> bool,
        cut: &LogCut,
    ) -> Option<Vec<LoggedBroadcast>> {
        let mut log = self.log.lock();
        log.prune(now_ms(), &self.config);
        log.missed_before(&claim.offset, &claim.sid, &claim.rooms, complete_since, cut)
    }

    /// As `replay`, with the peer's half of the replay: that half, then what this node logged
    /// for the socket from its cut on and the peer had not (by offset); None when this node's
    /// channels broke meanwhile. `attach` runs under the log's lock.
    pub fn replay_with_peer<R>(
        &self,
        peer: &PeerReplay,
        sid: &str,
        rooms: &[Arc<str>],
        attach: impl FnOnce(Option<Missed>) -> R,
    ) -> R {
        let log = self.log.lock();
        if !(peer.whole)() {
            return attach(None);
        }
        let theirs: std::collections::HashSet<&str> =
            peer.missed.iter().map(|b| &*b.offset).collect();
        let ours = log.logged_from(sid, rooms, &peer.cut);
        let missed = peer
            .missed
            .iter()
            .map(|b| b.frames.clone())
            .chain(
                ours.into_iter()
                    .filter(|b| !theirs.contains(&*b.offset))
                    .map(|b| b.frames),
            )
            .collect();
        attach(Some(missed))
    }

    /// Takes the saved session for `pid` if it is still within the window (a session is
    /// restored at most once).
    pub async fn take_session(&self, pid: &str) -> Option<SavedSession> {
        let now = now_ms();
        let shared = self.shared.read().clone();
        if let Some(shared) = shared {
            let found = shared.take(pid).await;
            return found.and_then(|json| SavedSession::from_json(&json, now));
        }
        let session = self.sessions.lock().remove(pid)?;
        (now.saturating_sub(session.at_ms) <= self.window_ms()).then_some(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socketio::packet::encode_event;
    use std::time::Duration;

    fn target(rooms: &[&str]) -> BroadcastTarget {
        BroadcastTarget::new(rooms, &[])
    }

    fn text(frames: &[OutFrame]) -> String {
        frames[0]
            .text()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default()
    }

    fn log(store: &RecoveryStore, rooms: &[&str], json: &str, offset: &str) -> Vec<OutFrame> {
        let args = Args::json(json).unwrap();
        let encode = |args: &Args| encode_event("/", "t", None, args);
        store.log_and_deliver(&target(rooms), &args, offset, true, encode, |f| f.to_vec())
    }

    /// Takes the session and replays, as a reconnect does.
    fn recover(store: &RecoveryStore, pid: &str, offset: &str) -> Option<(SavedSession, Missed)> {
        let session = take(store, pid)?;
        let missed = store.replay(offset, &session.sid, &session.rooms, |_| true, |m| m)?;
        Some((session, missed))
    }

    /// Without Redis, taking a session never waits.
    fn take(store: &RecoveryStore, pid: &str) -> Option<SavedSession> {
        use futures_util::FutureExt;
        store.take_session(pid).now_or_never().flatten()
    }

    fn save(store: &RecoveryStore, rooms: &[&str]) {
        let rooms = rooms.iter().map(|r| Arc::from(*r)).collect();
        store.save("pid", store.new_session("sid".into(), None, rooms, None));
    }

    #[test]
    fn replays_what_the_rooms_missed_in_order() {
        let store = RecoveryStore::new(RecoveryConfig::default());
        assert_eq!(
            text(&log(&store, &["user:1"], "1", "o1")),
            "42[\"t\",1,\"o1\"]"
        );
        log(&store, &["user:1"], "2", "o2");
        log(&store, &["user:2"], "3", "o3");
        log(&store, &[], "4", "o4");
        log(&store, &["sid"], "5", "o5");
        log(&store, &["other-sid"], "6", "o6");
        assert!(store.next_offset().ends_with("-1"));
        save(&store, &["user:1"]);
        let (session, missed) = recover(&store, "pid", "o1").unwrap();
        assert_eq!(&*session.sid, "sid");
        let texts: Vec<String> = missed.iter().map(|f| text(f)).collect();
        assert_eq!(
            texts,
            vec![
                "42[\"t\",2,\"o2\"]",
                "42[\"t\",4,\"o4\"]",
                "42[\"t\",5,\"o5\"]"
            ],
            "the socket's own room is replayed too"
        );
        assert!(
            recover(&store, "pid", "o1").is_none(),
            "a session recovers once"
        );
    }

    #[test]
    fn bounded_log_makes_old_offsets_unrecoverable() {
        let store = RecoveryStore::new(RecoveryConfig {
            max_packets: 3,
            ..RecoveryConfig::default()
        });
        for i in 1..=5 {
            log(&store, &[], &i.to_string(), &format!("o{i}"));
        }
        save(&store, &[]);
        assert!(
            recover(&store, "pid", "o1").is_none(),
            "offset o1 was evicted"
        );
        save(&store, &[]);
        assert_eq!(recover(&store, "pid", "o3").unwrap().1.len(), 2);
        assert!(recover(&store, "unknown", "o3").is_none());
    }

    #[test]
    fn the_log_is_bounded_in_bytes_too() {
        let store = RecoveryStore::new(RecoveryConfig {
            max_bytes: 1000,
            ..RecoveryConfig::default()
        });
        let big = format!("\"{}\"", "x".repeat(300));
        for i in 1..=10 {
            log(&store, &[], &big, &format!("o{i}"));
        }
        let kept = store.log.lock();
        assert_eq!(kept.len(), 3, "three 300-byte packets fit in 1000 bytes");
        assert!(kept.bytes() <= 1000);
        assert_eq!(kept.oldest_offset(), Some("o8"));
        drop(kept);
        save(&store, &[]);
        assert!(recover(&store, "pid", "o5").is_none(), "o5 was evicted");
        save(&store, &[]);
        assert_eq!(recover(&store, "pid", "o8").unwrap().1.len(), 2);
    }

    #[test]
    fn expired_sessions_and_packets_do_not_recover() {
        let store = RecoveryStore::new(RecoveryConfig {
            max_disconnection: Duration::from_millis(30),
            ..RecoveryConfig::default()
        });
        log(&store, &[], "1", "o1");
        save(&store, &[]);
        std::thread::sleep(Duration::from_millis(60));
        assert!(take(&store, "pid").is_none());
        assert!(store.replay("o1", "sid", &[], |_| true, |m| m).is_none());
        assert_eq!(store.log.lock().bytes(), 0);
    }

    #[test]
    fn a_log_that_may_lack_the_rooms_broadcasts_does_not_recover() {
        let store = RecoveryStore::new(RecoveryConfig::default());
        log(&store, &["a"], "1", "o1");
        let logged_at = store.log.lock().oldest_at_ms().unwrap();
        log(&store, &["a"], "2", "o2");
        let asked = std::cell::Cell::new(None);
        let missed = store.replay(
            "o1",
            "sid",
            &[Arc::from("a")],
            |since| {
                asked.set(Some(since));
                false
            },
            |m| m,
        );
        assert!(
            missed.is_none(),
            "not trusted: start fresh rather than with a gap"
        );
        assert_eq!(
            asked.get(),
            Some(logged_at),
            "asked from when the client's last packet was logged"
        );
        let trusted = store.replay("o1", "sid", &[Arc::from("a")], |_| true, |m| m);
        assert_eq!(trusted.map(|m| m.len()), Some(1));
    }

    #[test]
    fn saved_sessions_serialize_for_redis() {
        let identity = Identity {
            user_id: "u".into(),
            user_name: "N".into(),
            user_role: Arc::from("r"),
        };
        let data = Some(serde_json::json!({"k": [1]}));
        let saved = RecoveryStore::new(RecoveryConfig::default()).new_session(
            "sid".into(),
            Some(identity.clone()),
            vec![Arc::from("a")],
            data.clone(),
        );
        let back = SavedSession::from_json(&saved.to_json(), 5).unwrap();
        assert_eq!(back.node, saved.node, "which node saved it travels along");
        assert_eq!(
            (&*back.sid, back.identity, back.rooms, back.data),
            ("sid", Some(identity), vec![Arc::from("a")], data)
        );
        assert!(SavedSession::from_json("{}", 0).is_none());
    }
}
