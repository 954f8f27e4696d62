//! The Engine.IO v4 transport layer: handshake, polling, WebSocket (with permessage-deflate),
//! upgrade, heartbeat and the packet and payload codecs. It knows nothing of Socket.IO; the layer above plugs in through
//! `EngineHandler` and `SessionHandler`.

pub(crate) mod adopt;
pub mod allow_request;
pub(crate) mod client_bundle;
pub mod connection_error;
pub(crate) mod context;
pub mod cors;
pub mod deflate;
pub mod delivery_timer;
pub mod endpoint;
pub mod error;
pub mod forward;
mod free_pages;
pub mod handshake;
pub mod heartbeat;
pub mod http;
pub mod outbound;
pub mod packet;
pub mod payload;
pub(crate) mod polling;
pub(crate) mod query;
pub mod session;
pub(crate) mod stack_read;
pub(crate) mod websocket;
pub(crate) mod write_holds;
pub mod ws_frames;
pub(crate) mod ws_stream;
