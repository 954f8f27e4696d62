//! This node's part of a cluster request: a namespace applies what another node asked of its
//! own sockets and answers from them.

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::request::{ClusterAnswer, ClusterRequest, Reply, SocketInfo};
use crate::rooms::broadcast::Audience;
use crate::socketio::namespace::{Namespace, NamespaceShared};
use crate::socketio::socket::SocketRef;

impl SocketInfo {
    /// How a socket of this node is described to the cluster.
    pub fn of(socket: &SocketRef) -> Self {
        let mut rooms = vec![socket.id().to_owned()];
        rooms.extend(socket.rooms().iter().map(|r| r.to_string()));
        Self {
            id: socket.id().to_owned(),
            handshake: socket.handshake().to_json(),
            rooms,
            data: socket.data().unwrap_or(serde_json::Value::Null),
        }
    }
}

impl Namespace {
    /// Applies `request` (from another node) to this node's sockets and sends this node's
    /// answer, if the request has one, to `reply`. Adapters call it for what they receive.
    pub fn apply_remote(&self, request: ClusterRequest, reply: Reply) {
        self.shared.apply(request, reply);
    }

    /// Every room with a member here, socket ids included (as socket.io's adapter lists them).
    pub fn local_rooms(&self) -> Vec<String> {
        self.shared.local_rooms()
    }
}

impl NamespaceShared {
    pub(crate) fn apply(&self, request: ClusterRequest, reply: Reply) {
        let shared = self;
        match request {
            ClusterRequest::SocketIds(target) => {
                let sockets = shared.recipients(&target);
                let ids = sockets.iter().map(|s| s.id().to_owned());
                reply(ClusterAnswer::SocketIds(ids.collect()));
            }
            ClusterRequest::FetchSockets(target) => {
                let sockets = shared.recipients(&target);
                reply(ClusterAnswer::Sockets(
                    sockets.iter().map(SocketInfo::of).collect(),
                ));
            }
            ClusterRequest::AllRooms => reply(ClusterAnswer::Rooms(self.local_rooms())),
            ClusterRequest::Join { target, rooms } => {
                for socket in shared.recipients(&target) {
                    for room in &rooms {
                        socket.join(room);
                    }
                }
            }
            ClusterRequest::Leave { target, rooms } => {
                for socket in shared.recipients(&target) {
                    for room in &rooms {
                        socket.leave(room);
                    }
                }
            }
            ClusterRequest::Disconnect { target, close } => {
                for socket in shared.recipients(&target) {
                    socket.disconnect(close);
                }
            }
            ClusterRequest::ServerSideEmit {
                event,
                args,
                with_ack,
            } => {
                let Some(handler) = shared.handlers().server_side.clone() else {
                    // As in socket.io: no listener, no answer (the requester times out).
                    return;
                };
                let ack = with_ack.then(|| {
                    Box::new(move |value| reply(ClusterAnswer::ServerAck(value)))
                        as super::request::ServerSideAck
                });
                handler(&event, &args, ack);
            }
            ClusterRequest::BroadcastWithAck {
                target,
                event,
                args,
                timeout,
            } => {
                let sockets = shared.recipients(&target);
                reply(ClusterAnswer::ClientCount(sockets.len()));
                if sockets.is_empty() {
                    return;
                }
                tokio::spawn(async move {
                    let mut asks: FuturesUnordered<_> = sockets
                        .iter()
                        .map(|socket| socket.emit_with_ack(&event, &args, timeout))
                        .collect();
                    while let Some(outcome) = asks.next().await {
                        if let Ok(answer) = outcome {
                            // socket.io passes a broadcast callback only the first value.
                            reply(ClusterAnswer::ClientAck(answer.args.first()));
                        }
                    }
                });
            }
        }
    }

    fn local_rooms(&self) -> Vec<String> {
        let mut rooms = Vec::new();
        self.for_each(&mut |_, socket| rooms.push(socket.id().to_owned()));
        rooms.extend(self.rooms.room_names().iter().map(|r| r.to_string()));
        rooms
    }
}
