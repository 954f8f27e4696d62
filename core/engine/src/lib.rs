//! roomcast's protocol engine: a Socket.IO v4 server (Engine.IO v4 + Socket.IO v5 protocols).
//! Hosts depend on the `roomcast` facade crate, which re-exports this one beside the dashboard
//! preset (`roomcast-realtime`, built only on this crate's public API).
//!
//! Layers, bottom up (scripts/check-layers.mjs fails CI on an import against the order or a
//! cycle between files): `ids`/`clock`/`error`, `stats`, `config`, `transport` (TCP listener,
//! hyper connections), `engineio` (HTTP routing, sessions, polling, WebSocket, upgrade,
//! heartbeat), `rooms` (room index, delivery) and `auth` (connect hand-off), `socketio` (packets,
//! namespaces, sockets, acks, recovery, the adapter trait), `server` (`Server`), `adapters`
//! (Redis).

pub mod adapters;
pub mod auth;
pub mod clock;
pub mod config;
pub mod engineio;
pub mod error;
pub mod ids;
pub mod metrics;
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
pub use server::Server;
pub use socketio::held_acks::HeldAcks;
pub use socketio::namespace::{Broadcast, Namespace};
pub use socketio::packet::{Args, InvalidArgs};
pub use socketio::socket::{
    AckError, AckReply, AckSender, ClientEvent, EmitError, EmitOptions, PacketMiddleware, Socket,
    SocketRef,
};
pub use stats::StatsSnapshot;
