//! A namespace as a member of a cluster: the requests nodes send each other (request.rs), how a
//! node answers them from its own sockets (answer.rs), and the cluster-wide operations hosts
//! call (operations.rs). The adapter (`socketio::adapter::Adapter`) carries them.

pub mod answer;
pub mod operations;
pub mod request;

pub use operations::FetchedSocket;
pub use request::{
    ClusterAnswer, ClusterRequest, Collected, Reply, ServerSideAck, ServerSideHandler, SocketInfo,
};
