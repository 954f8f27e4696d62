//! `HeldAcks`: client acks a host answers later by number. Hosts across a language boundary (C,
//! JavaScript) cannot hold an `AckSender`; they get an id, answer with it once, and acks of a
//! socket that disconnected are dropped, so a late answer is refused instead of sent nowhere.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use super::packet::Args;
use super::socket::AckSender;
use crate::error::{Error, ErrorKind, Result};

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

    /// Answers the ack `id` once. `AlreadyCompleted` when it was answered already, never
    /// issued, or its socket disconnected. A client that leaves while the answer is sent is no
    /// error, as with any emit: the answer had nowhere to go.
    pub fn answer(&self, id: u64, args: &Args) -> Result<()> {
        let (_, ack) = self.acks.remove(&id).ok_or_else(|| {
            Error::new(
                ErrorKind::AlreadyCompleted,
                "ack already answered or its client left",
            )
        })?;
        let _ = ack.send(args);
        Ok(())
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
