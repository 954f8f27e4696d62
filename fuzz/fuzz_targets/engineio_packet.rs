//! Any WebSocket text frame: decoding must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = roomcast::engineio::packet::decode_text(text.to_owned().into());
    }
});
