//! roomcast core: a Socket.IO v4 server engine (Engine.IO v4 + Socket.IO v5 protocols) for hosts
//! written in Rust, Node (through the addon) and C (through the FFI crate).
//!
//! Layers, bottom up: `transport` (TCP listener, HTTP routing via hyper), `engineio` (sessions,
//! polling, WebSocket, upgrade, heartbeat), `socketio` (packets, namespaces, sockets, acks),
//! beside them `rooms` (room index, broadcast), `auth` (connect hand-off) and `stats`. `Server`
//! ties them together.

pub mod adapters;
pub mod auth;
pub mod clock;
pub mod config;
pub mod engineio;
pub mod error;
mod ids;
pub mod limits;
pub mod realtime;
pub mod rooms;
mod server;
pub mod socketio;
pub mod stats;
pub mod transport;

pub use auth::{AuthPayload, ConnectError, ConnectRequest, ConnectResult, Identity, Middleware};
pub use config::EngineConfig;
pub use engineio::endpoint::EngineHandler;
pub use engineio::handshake::HandshakeRequest;
pub use engineio::packet::OutFrame;
pub use engineio::session::{CloseReason, Message, Session, SessionHandler, TransportKind};
pub use error::{Error, ErrorKind};
pub use realtime::{
    AuthDecision, AuthRequest, RealtimeConfig, RealtimeServer, RealtimeStats, SessionValidator,
    ValidatorResult,
};
pub use server::Server;
pub use socketio::held_acks::HeldAcks;
pub use socketio::namespace::{Broadcast, Namespace};
pub use socketio::packet::{Args, InvalidArgs};
pub use socketio::socket::{
    AckError, AckReply, AckSender, ClientEvent, EmitError, Socket, SocketRef,
};
pub use stats::StatsSnapshot;
