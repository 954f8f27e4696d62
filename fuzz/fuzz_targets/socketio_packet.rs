//! Any Socket.IO packet text: decoding must never panic nor recurse without bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roomcast::socketio::packet::{decode, event_name, DecodeLimits};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let limits = DecodeLimits { max_attachments: 64, max_depth: 32 };
        if let Ok(packet) = decode(text, limits) {
            if let Some(json) = packet.data {
                let _ = event_name(json);
            }
        }
    }
});
