//! Cluster-wide operations of a namespace (socket.io's `fetchSockets`, `socketsJoin`,
//! `socketsLeave`, `disconnectSockets`, `serverSideEmit`, `allRooms`, acks from many): this
//! node's part, plus the other nodes' through the adapter when the namespace is clustered.
//! `Broadcast::local` keeps an operation on this node.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use super::request::{ClusterAnswer, ClusterRequest, Collected, ServerSideHandler, SocketInfo};
use crate::error::{Error, ErrorKind, Result};
use crate::socketio::adapter::Adapter;
use crate::socketio::namespace::{Broadcast, Namespace};
use crate::socketio::packet::Args;
use crate::socketio::socket::SocketRef;

/// A socket `fetch_sockets` found: on this node (`local`, the socket itself) or on another.
#[derive(Clone)]
pub struct FetchedSocket {
    pub info: SocketInfo,
    pub local: Option<SocketRef>,
}

fn timed_out(operation: &str) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("timeout reached while waiting for {operation} response"),
    )
}

impl Namespace {
    /// How many servers serve this namespace, this one included (1 when not clustered).
    pub async fn server_count(&self) -> usize {
        match self.shared.adapter() {
            Some(adapter) => adapter.server_count(&self.shared.name).await.max(1),
            None => 1,
        }
    }

    /// Receives the events other servers send with `server_side_emit`; an ack, when the sender
    /// wants one, answers it (once).
    pub fn on_server_side_emit(
        &self,
        handler: impl Fn(&str, &Args, Option<super::request::ServerSideAck>) + Send + Sync + 'static,
    ) {
        let handler: ServerSideHandler = Arc::new(handler);
        self.set_server_side_handler(handler);
    }

    /// Sends an event to the other servers of the cluster (not to clients, not to this server).
    pub fn server_side_emit(&self, event: &str, args: &Args) {
        if let Some(adapter) = self.shared.adapter() {
            adapter.tell(
                &self.shared.name,
                &ClusterRequest::ServerSideEmit {
                    event: event.to_owned(),
                    args: args.clone(),
                    with_ack: false,
                },
            );
        }
    }

    /// `server_side_emit` where each other server answers once; not `complete` when some did
    /// not answer within the adapter's request timeout.
    pub async fn server_side_emit_with_ack(&self, event: &str, args: &Args) -> Collected<Json> {
        let Some(adapter) = self.shared.adapter() else {
            return Collected::complete(Vec::new());
        };
        let request = ClusterRequest::ServerSideEmit {
            event: event.to_owned(),
            args: args.clone(),
            with_ack: true,
        };
        let gathered = adapter.ask(&self.shared.name, request).await;
        Collected {
            values: gathered
                .values
                .into_iter()
                .filter_map(|answer| match answer {
                    ClusterAnswer::ServerAck(value) => Some(value),
                    _ => None,
                })
                .collect(),
            complete: gathered.complete,
        }
    }

    /// Every room with a member on any server (socket ids included, as in socket.io).
    pub async fn all_rooms(&self) -> Result<Vec<String>> {
        let mut rooms: BTreeSet<String> = self.local_rooms().into_iter().collect();
        if let Some(adapter) = self.shared.adapter() {
            let gathered = adapter
                .ask(&self.shared.name, ClusterRequest::AllRooms)
                .await;
            if !gathered.complete {
                return Err(timed_out("allRooms"));
            }
            for answer in gathered.values {
                if let ClusterAnswer::Rooms(names) = answer {
                    rooms.extend(names);
                }
            }
        }
        Ok(rooms.into_iter().collect())
    }
}

impl Broadcast<'_> {
    /// Keeps the operations of this broadcast on this server (socket.io's `local` flag).
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    fn adapter(&self) -> Option<Arc<dyn Adapter>> {
        if self.local {
            return None;
        }
        self.ns.adapter()
    }

    /// Tells the other servers (when clustered and not `local`), then does it here.
    fn everywhere(&self, request: ClusterRequest) {
        if let Some(adapter) = self.adapter() {
            adapter.tell(&self.ns.name, &request);
        }
        self.ns.apply(request, Arc::new(|_| {}));
    }

    /// The addressed sockets of every server: this server's first, then the others'. Fails
    /// with `Timeout` when a server did not answer within the adapter's request timeout.
    pub async fn fetch_sockets(&self) -> Result<Vec<FetchedSocket>> {
        let mut found: Vec<FetchedSocket> = self
            .sockets()
            .into_iter()
            .map(|socket| FetchedSocket {
                info: SocketInfo::of(&socket),
                local: Some(socket),
            })
            .collect();
        if let Some(adapter) = self.adapter() {
            let request = ClusterRequest::FetchSockets(self.target.clone());
            let gathered = adapter.ask(&self.ns.name, request).await;
            if !gathered.complete {
                return Err(timed_out("fetchSockets"));
            }
            for answer in gathered.values {
                if let ClusterAnswer::Sockets(sockets) = answer {
                    found.extend(
                        sockets
                            .into_iter()
                            .map(|info| FetchedSocket { info, local: None }),
                    );
                }
            }
        }
        Ok(found)
    }

    /// Puts every addressed socket, on every server, in `rooms` (socket.io's `socketsJoin`).
    pub fn sockets_join(&self, rooms: &[&str]) {
        self.everywhere(ClusterRequest::Join {
            target: self.target.clone(),
            rooms: rooms.iter().map(|r| Arc::from(*r)).collect(),
        });
    }

    /// Takes every addressed socket, on every server, out of `rooms` (`socketsLeave`).
    pub fn sockets_leave(&self, rooms: &[&str]) {
        self.everywhere(ClusterRequest::Leave {
            target: self.target.clone(),
            rooms: rooms.iter().map(|r| Arc::from(*r)).collect(),
        });
    }

    /// Disconnects every addressed socket on every server; with `close`, their whole connection
    /// (`disconnectSockets`).
    pub fn disconnect_sockets(&self, close: bool) {
        self.everywhere(ClusterRequest::Disconnect {
            target: self.target.clone(),
            close,
        });
    }

    /// Acks from many across the cluster (`io.timeout(ms).emit(…, callback)`): every addressed
    /// socket on every server gets the event and may answer within `timeout`; each answer's
    /// first value is collected. Not `complete` when some socket did not answer in time.
    pub async fn collect_acks(
        &self,
        event: &str,
        args: &Args,
        timeout: Duration,
    ) -> Collected<Args> {
        let remote = async {
            match self.adapter() {
                Some(adapter) => {
                    let request = ClusterRequest::BroadcastWithAck {
                        target: self.target.clone(),
                        event: event.to_owned(),
                        args: args.clone(),
                        timeout,
                    };
                    adapter.ask(&self.ns.name, request).await
                }
                None => Collected::complete(Vec::new()),
            }
        };
        let (local, remote) =
            futures_util::future::join(self.emit_with_ack(event, args, timeout), remote).await;
        let mut complete = remote.complete;
        let mut values = Vec::with_capacity(local.len());
        for (_, outcome) in local {
            match outcome {
                Ok(reply) => values.push(reply.args.first()),
                Err(_) => complete = false,
            }
        }
        values.extend(remote.values.into_iter().filter_map(|answer| match answer {
            ClusterAnswer::ClientAck(value) => Some(value),
            _ => None,
        }));
        Collected { values, complete }
    }
}
