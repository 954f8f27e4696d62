//! The trading dashboard's preset on the engine's public API: `RealtimeServer`, the dashboard's
//! `WebSocketServer` as the default behaviour on `/` — authentication hand-off, per-user rooms,
//! built-in subscriptions with limits, host emits and hooks, health and metrics, graceful
//! shutdown. By concept: `server` (the API), `shared` (state and the connect/leave flows),
//! `subscriptions` (the `subscribe:*` events), `limits`, `validator` (the session hand-off),
//! `report` (stats, health, metrics), `rooms` (room names), `connections`, `config`.

mod clock;
pub mod config;
pub mod connections;
pub mod limits;
pub mod report;
pub mod rooms;
mod server;
mod shared;
pub mod subscriptions;
pub mod validator;

pub use clock::iso_now;
pub use config::RealtimeConfig;
pub use report::RealtimeStats;
pub use server::RealtimeServer;
pub use validator::{AuthDecision, AuthRequest, SessionValidator, ValidatorResult};
