//! `HeldAcks`: client acks a host answers later by number. Hosts across a language boundary (C,
//! JavaScript) cannot hold an `AckSender`; they get an id, answer with it once, and acks of a
//! socket that disconnected are dropped, so a late answer is refused instead of sent nowhere.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use super::packet::Args;
use super::socket::{AckSender, EmitError};

/// Why an answer to a held ack was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckAnswerError {
    /// The id was answered already, never issued, or its socket disconnected.
    NotPending,
    Emit(EmitError),
}

impl std::fmt::Display for AckAnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotPending => f.write_str("ack already answered or its client left"),
            Self::Emit(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AckAnswerError {}

#[derive(Debug)]
pub struct HeldAcks {
    next: AtomicU64,
    acks: DashMap<u64, AckSender>,
}

impl Default for HeldAcks {
    fn default() -> Self {
        Self {
            // 0 stands for "no ack" in the C event struct.
            next: AtomicU64::new(1),
            acks: DashMap::new(),
        }
    }
}

impl HeldAcks {
    /// Keeps `ack` until it is answered or its socket leaves; returns its id (never 0, below
    /// 2^53 for as long as a process can run, so JavaScript numbers hold it exactly).
    pub fn hold(&self, ack: AckSender) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.acks.insert(id, ack);
        id
    }

    /// Answers the ack `id` once.
    pub fn answer(&self, id: u64, args: &Args) -> Result<(), AckAnswerError> {
        let (_, ack) = self.acks.remove(&id).ok_or(AckAnswerError::NotPending)?;
        ack.send(args).map_err(AckAnswerError::Emit)
    }

    /// Drops every held ack of the socket `socket_id` (it disconnected).
    pub fn forget_socket(&self, socket_id: &str) {
        self.acks.retain(|_, ack| ack.socket_id() != socket_id);
    }

    pub fn len(&self) -> usize {
        self.acks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.acks.is_empty()
    }

    pub fn clear(&self) {
        self.acks.clear();
    }
}
