//! `HostRequests`: questions the engine asks the C host and the host answers later, from any
//! thread, by id (the session validator, the handshake hook). Ids are never reused; whatever
//! ends the engine's wait (an answer, a timeout, the connection going away) retires the id, so a
//! late answer is refused with ROOMCAST_RESULT_ERR_ALREADY_COMPLETED.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::oneshot;

use crate::error::{fail, roomcast_result};

pub(crate) struct HostRequests<T> {
    next: AtomicU64,
    pending: DashMap<u64, oneshot::Sender<T>>,
}

impl<T> Default for HostRequests<T> {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(1),
            pending: DashMap::new(),
        }
    }
}

impl<T: Send + 'static> HostRequests<T> {
    /// A new request: its id (to hand to the host) and the answer to await, `dropped` when the
    /// host never answers and the request is abandoned.
    pub(crate) fn issue(
        self: &Arc<Self>,
        dropped: impl FnOnce() -> T + Send + 'static,
    ) -> (u64, impl Future<Output = T> + Send + 'static) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.insert(id, tx);
        let retire = Retire {
            requests: self.clone(),
            id,
        };
        let answer = async move {
            let _retire = retire;
            rx.await.unwrap_or_else(|_| dropped())
        };
        (id, answer)
    }

    /// Abandons every waiting request (the server is going away).
    pub(crate) fn clear(&self) {
        self.pending.clear();
    }

    /// The host's answer to request `id`; `what` names the request kind in the error message.
    pub(crate) fn answer(&self, id: u64, value: T, what: &str) -> roomcast_result {
        match self.pending.remove(&id) {
            Some((_, tx)) => {
                let _ = tx.send(value);
                roomcast_result::Ok
            }
            None => fail(
                roomcast_result::ErrAlreadyCompleted,
                format!("{what} {id} was already answered, timed out, or never issued"),
            ),
        }
    }
}

/// Retires an id however the engine's wait ends.
struct Retire<T> {
    requests: Arc<HostRequests<T>>,
    id: u64,
}

impl<T> Drop for Retire<T> {
    fn drop(&mut self) {
        self.requests.pending.remove(&self.id);
    }
}
