//! The cluster requests this node is waiting on: each collects the other nodes' answers until
//! every expected one arrived (then it resolves) or its timeout passes (then it resolves with
//! what arrived, incomplete).

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::socketio::cluster::{ClusterAnswer, ClusterRequest, Collected};

struct InFlight {
    request: ClusterRequest,
    /// Nodes expected to answer (for a broadcast with ack: to report their client count).
    servers: usize,
    servers_answered: usize,
    /// A broadcast with ack: client acks announced by the counts so far.
    acks_expected: usize,
    values: Vec<ClusterAnswer>,
    done: oneshot::Sender<Vec<ClusterAnswer>>,
}

impl InFlight {
    fn accept(&mut self, answer: ClusterAnswer) {
        match answer {
            ClusterAnswer::ClientCount(count) => {
                self.servers_answered += 1;
                self.acks_expected += count;
            }
            ClusterAnswer::ClientAck(_) => self.values.push(answer),
            other => {
                self.servers_answered += 1;
                self.values.push(other);
            }
        }
    }

    fn is_complete(&self) -> bool {
        match self.request {
            ClusterRequest::BroadcastWithAck { .. } => {
                self.servers_answered >= self.servers && self.values.len() >= self.acks_expected
            }
            _ => self.servers_answered >= self.servers,
        }
    }
}

#[derive(Default)]
pub struct PendingRequests {
    requests: Mutex<HashMap<String, InFlight>>,
}

impl PendingRequests {
    /// Registers a request before it is published (answers may come back at once); `servers`
    /// is how many other nodes will answer. Returns what resolves when it completes.
    pub fn register(
        &self,
        request_id: &str,
        request: ClusterRequest,
        servers: usize,
    ) -> oneshot::Receiver<Vec<ClusterAnswer>> {
        let (done, completed) = oneshot::channel();
        self.requests.lock().insert(
            request_id.to_owned(),
            InFlight {
                request,
                servers,
                servers_answered: 0,
                acks_expected: 0,
                values: Vec::new(),
                done,
            },
        );
        completed
    }

    /// Records an answer; one for no request of ours (another node's, or late) is ignored.
    /// `read` reads the answer as one to the request it names (None: not one).
    pub fn answer(
        &self,
        request_id: &str,
        read: impl FnOnce(&ClusterRequest) -> Option<ClusterAnswer>,
    ) {
        let mut requests = self.requests.lock();
        let Some(in_flight) = requests.get_mut(request_id) else {
            return;
        };
        let Some(read) = read(&in_flight.request) else {
            return;
        };
        in_flight.accept(read);
        if in_flight.is_complete() {
            if let Some(in_flight) = requests.remove(request_id) {
                let _ = in_flight.done.send(in_flight.values);
            }
        }
    }

    /// Waits for the request to complete, at most `timeout`, and takes what it collected.
    pub async fn collect(
        &self,
        request_id: &str,
        mut completed: oneshot::Receiver<Vec<ClusterAnswer>>,
        timeout: Duration,
    ) -> Collected<ClusterAnswer> {
        if let Ok(Ok(values)) = tokio::time::timeout(timeout, &mut completed).await {
            return Collected::complete(values);
        }
        let timed_out = self.requests.lock().remove(request_id);
        match timed_out {
            Some(in_flight) => Collected {
                values: in_flight.values,
                complete: false,
            },
            // Completed just as the timeout passed.
            None => match completed.try_recv() {
                Ok(values) => Collected::complete(values),
                Err(_) => Collected {
                    values: Vec::new(),
                    complete: false,
                },
            },
        }
    }
}
