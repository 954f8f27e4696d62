//! The Engine.IO v4 transport layer: handshake, polling, WebSocket, upgrade, heartbeat and the
//! packet and payload codecs. It knows nothing of Socket.IO; the layer above plugs in through
//! `EngineHandler` and `SessionHandler`.

pub mod allow_request;
pub mod clock;
pub mod endpoint;
pub mod error;
pub mod heartbeat;
pub mod outbound;
pub mod packet;
pub mod payload;
pub(crate) mod polling;
pub mod session;
pub(crate) mod websocket;
