//! Any bytes from a WebSocket client, split anywhere: reading frames must never panic, and
//! must stop at the first refused frame.
#![no_main]
use libfuzzer_sys::fuzz_target;
use roomcast::engineio::ws_frames::ReadState;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b) % data.len().max(1));
    let mut state = ReadState::default();
    for chunk in [&data[..split], &data[split..]] {
        state.buf.extend_from_slice(chunk);
        loop {
            match state.next(4096) {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
