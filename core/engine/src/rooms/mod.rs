//! Rooms and broadcast: the per-namespace room index and encode-once delivery.

pub mod broadcast;
mod members;
pub mod room_index;
