//! Any polling POST body: decoding must never panic, and what decodes re-encodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roomcast::engineio::packet::{Inbound, OutFrame};
use roomcast::engineio::payload::{decode_payload, encode_payload};

fuzz_target!(|data: &[u8]| {
    if let Ok(packets) = decode_payload(bytes::Bytes::copy_from_slice(data), 1 << 20) {
        let frames: Vec<OutFrame> = packets
            .into_iter()
            .map(|p| match p {
                Inbound::Text(kind, text) => OutFrame::with_data(kind, &text),
                Inbound::Binary(b) => OutFrame::Binary(b),
            })
            .collect();
        let again = decode_payload(encode_payload(&frames), usize::MAX);
        assert!(again.is_ok());
    }
});
