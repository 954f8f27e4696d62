//! Adapters carry broadcasts between nodes (the trait is `socketio::adapter::Adapter`). Redis is
//! the one implemented here: the Node `@socket.io/redis-adapter` wire format over classic
//! pub/sub, Redis commands on a runtime of their own, and saved recovery sessions.

pub mod redis;

pub use crate::socketio::adapter::Adapter;
