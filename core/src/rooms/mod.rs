//! Rooms and broadcast: the per-namespace room index and encode-once delivery.

pub mod broadcast;
pub mod room_index;
