//! permessage-deflate (RFC 7692) on the WebSocket transport, compressed once per broadcast.
//!
//! Both directions run without context takeover (`server_no_context_takeover`,
//! `client_no_context_takeover`): every message is compressed on its own, which is what lets one
//! compressed frame be valid for every receiver, and lets one compressor and one decompressor per
//! thread serve every connection. A connection with deflate costs no compressor state of its own.
//!
//! - offer.rs: the `Sec-WebSocket-Extensions` offer and our answer;
//! - compress.rs: text frames at or above the threshold become `OutFrame::Deflatable`, whose
//!   compressed bytes are made at most once, by the first writer that needs them;
//! - inflate.rs: the read side, which inflates compressed client frames (bounded by the payload
//!   limit) before tungstenite sees them;
//! - http.rs: gzip/deflate-encoded long-polling responses (Node's `httpCompression`).

pub mod compress;
pub mod http;
pub mod inflate;
pub mod offer;

pub use crate::config::DeflateConfig;
pub use compress::{deflatable, DeflatableText};
pub use offer::{negotiate, Agreement};
