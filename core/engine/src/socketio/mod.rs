//! The Socket.IO v5 layer, above Engine.IO: packets, namespaces, sockets, acks, binary
//! attachments, connection-state recovery, and the adapter trait that clusters a namespace.

pub mod adapter;
pub mod client;
pub mod cluster;
pub mod dynamic;
pub mod held_acks;
pub mod namespace;
pub mod packet;
pub mod recovery;
pub mod socket;
