//! `HeldAcks`: acks a host answers later by number, a client's (`AckSender`) or another
//! server's (a server-side emit's `ServerSideAck`). Hosts across a language boundary (C,
//! JavaScript) cannot hold either; they get an id, answer with it once, and acks of a socket
//! that disconnected are dropped, so a late answer is refused instead of sent nowhere.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;

use super::cluster::ServerSideAck;
use super::packet::Args;
use super::socket::AckSender;
use crate::error::{Error, ErrorKind, Result};

enum Held {
    Client(AckSender),
    Server(ServerSideAck),
}

pub struct HeldAcks {
    next: AtomicU64,
    acks: DashMap<u64, Held>,
}

impl std::fmt::Debug for HeldAcks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldAcks")
            .field("held", &self.acks.len())
            .finish()
    }
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
        self.keep(Held::Client(ack))
    }

    /// Keeps another server's ack (a server-side emit's) until it is answered.
    pub fn hold_server_ack(&self, ack: ServerSideAck) -> u64 {
        self.keep(Held::Server(ack))
    }

    fn keep(&self, held: Held) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.acks.insert(id, held);
        id
    }

    /// Answers the ack `id` once (a server's ack takes the first value only, as in socket.io).
    /// `AlreadyCompleted` when it was answered already, never issued, or its socket
    /// disconnected. A client that leaves while the answer is sent is no error, as with any
    /// emit: the answer had nowhere to go.
    pub fn answer(&self, id: u64, args: &Args) -> Result<()> {
        let (_, ack) = self.acks.remove(&id).ok_or_else(|| {
            Error::new(
                ErrorKind::AlreadyCompleted,
                "ack already answered or its client left",
            )
        })?;
        match ack {
            Held::Client(ack) => {
                let _ = ack.send(args);
            }
            Held::Server(ack) => ack(first_json(args)),
        }
        Ok(())
    }

    /// Drops every held ack of the socket `socket_id` (it disconnected).
    pub fn forget_socket(&self, socket_id: &str) {
        self.acks.retain(|_, held| match held {
            Held::Client(ack) => ack.socket_id() != socket_id,
            Held::Server(_) => true,
        });
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

/// The first value of `args` as JSON (null when there is none).
fn first_json(args: &Args) -> serde_json::Value {
    serde_json::from_str::<Vec<serde_json::Value>>(&args.to_json_array())
        .ok()
        .and_then(|values| values.into_iter().next())
        .unwrap_or(serde_json::Value::Null)
}
