//! What one node asks the other nodes of a cluster (socket.io's adapter requests), and what they
//! answer. Plain data: the adapter carries it, the namespace answers it (answer.rs).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::packet::Args;

/// A request to the other nodes' copies of one namespace.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterRequest {
    /// The ids of the sockets `target` addresses (socket.io's deprecated `allSockets`).
    SocketIds(BroadcastTarget),
    /// The sockets `target` addresses, described (socket.io's `fetchSockets`).
    FetchSockets(BroadcastTarget),
    /// The names of every room with a member.
    AllRooms,
    /// Put the sockets `target` addresses in `rooms` (`socketsJoin`).
    Join {
        target: BroadcastTarget,
        rooms: Vec<Arc<str>>,
    },
    /// Take the sockets `target` addresses out of `rooms` (`socketsLeave`).
    Leave {
        target: BroadcastTarget,
        rooms: Vec<Arc<str>>,
    },
    /// Disconnect the sockets `target` addresses; with `close`, their whole connection.
    Disconnect {
        target: BroadcastTarget,
        close: bool,
    },
    /// An event for the servers themselves (`serverSideEmit`); `with_ack`: each node answers
    /// once with one value.
    ServerSideEmit {
        event: String,
        args: Args,
        with_ack: bool,
    },
    /// A broadcast whose every recipient acknowledges (`io.timeout(ms).emit(…, callback)`):
    /// each node answers with how many sockets it reached, then with each socket's ack.
    BroadcastWithAck {
        target: BroadcastTarget,
        event: String,
        args: Args,
        timeout: Duration,
    },
}

impl ClusterRequest {
    /// Whether the other nodes answer it (the requester then waits for them).
    pub fn expects_answers(&self) -> bool {
        match self {
            Self::SocketIds(_)
            | Self::FetchSockets(_)
            | Self::AllRooms
            | Self::BroadcastWithAck { .. } => true,
            Self::ServerSideEmit { with_ack, .. } => *with_ack,
            Self::Join { .. } | Self::Leave { .. } | Self::Disconnect { .. } => false,
        }
    }
}

/// A socket as another node describes it (socket.io's `RemoteSocket` fields).
#[derive(Debug, Clone, PartialEq)]
pub struct SocketInfo {
    pub id: String,
    /// socket.io's `socket.handshake` shape.
    pub handshake: Json,
    /// Its rooms, its own id first.
    pub rooms: Vec<String>,
    /// `socket.data` (null when none).
    pub data: Json,
}

/// One node's answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterAnswer {
    SocketIds(Vec<String>),
    Sockets(Vec<SocketInfo>),
    Rooms(Vec<String>),
    /// A server's reply to a server-side emit with ack.
    ServerAck(Json),
    /// How many sockets a broadcast with ack reached on the answering node.
    ClientCount(usize),
    /// One socket's ack to a broadcast with ack (its first value).
    ClientAck(Args),
}

/// Where a node sends its answers to one request: once for most requests, several times for a
/// broadcast with ack (the count, then each ack).
pub type Reply = Arc<dyn Fn(ClusterAnswer) + Send + Sync>;

/// Answers one server-side emit with ack (socket.io gives its listener a callback).
pub type ServerSideAck = Box<dyn FnOnce(Json) + Send + Sync>;

/// Receives the events other nodes sent with `serverSideEmit`.
pub type ServerSideHandler = Arc<dyn Fn(&str, &Args, Option<ServerSideAck>) + Send + Sync>;

/// What a cluster request gathered: `complete` unless some node did not answer in time (the
/// values are then those that arrived).
#[derive(Debug, Clone, PartialEq)]
pub struct Collected<T> {
    pub values: Vec<T>,
    pub complete: bool,
}

impl<T> Collected<T> {
    pub fn complete(values: Vec<T>) -> Self {
        Self {
            values,
            complete: true,
        }
    }
}
