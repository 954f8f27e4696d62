//! HTTP and TCP: the listener, the request router, and the hand-off of upgraded connections to
//! the Engine.IO WebSocket transport.

pub(crate) mod adopt;
pub mod http;
pub(crate) mod listener;
pub(crate) mod query;
