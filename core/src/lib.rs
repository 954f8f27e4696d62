//! roomcast: a Socket.IO v4 server engine (Engine.IO v4 + Socket.IO v5 protocols) for hosts
//! written in Rust, Node (through the addon) and C (through the FFI crate). The crate hosts
//! depend on: the protocol engine (`roomcast-engine`) and, on top of its public API only, the
//! trading dashboard preset (`roomcast-realtime`: user rooms, subscriptions, limits, the stats and
//! health document, the shutdown notice).

pub use roomcast_engine::*;
pub use roomcast_realtime::{
    AuthDecision, AuthRequest, RealtimeConfig, RealtimeServer, RealtimeStats, SessionValidator,
    ValidatorResult,
};

/// The dashboard preset.
pub mod realtime {
    pub use roomcast_realtime::*;
}

/// Per-user rate limits and subscription caps, local and in Redis (part of the preset).
pub mod limits {
    pub use roomcast_realtime::limits::*;
}
