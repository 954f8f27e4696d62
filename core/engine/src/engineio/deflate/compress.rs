//! Compressing outgoing text frames: once per frame, shared by every recipient.
//!
//! A text frame at or above the threshold is queued as `OutFrame::Deflatable`: the plain text
//! plus a slot for its compressed form. The first writer whose connection negotiated deflate
//! fills the slot; every other member of the broadcast sends the same bytes. Connections
//! without deflate (and polling) send the text. Compression runs on a compressor kept per
//! thread and reset after every message (no context takeover), so no connection holds one.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::engineio::packet::OutFrame;

/// A text frame that may go out compressed.
#[derive(Debug)]
pub struct DeflatableText {
    pub text: Utf8Bytes,
    /// The compressed payload (15-bit window), or None when compressing did not make it smaller.
    deflated: OnceLock<Option<Bytes>>,
}

impl DeflatableText {
    pub fn new(text: Utf8Bytes) -> Self {
        Self {
            text,
            deflated: OnceLock::new(),
        }
    }

    /// The compressed payload for a connection that compresses with `window_bits`: made once for
    /// the common 15-bit window and shared, made afresh for a smaller one. None: send the text.
    /// The flag says whether this call did the compressing.
    pub fn deflated(&self, window_bits: u8) -> (Option<Bytes>, bool) {
        if window_bits != 15 {
            return (deflate(self.text.as_bytes(), window_bits), true);
        }
        let mut compressed_now = false;
        let bytes = self.deflated.get_or_init(|| {
            compressed_now = true;
            deflate(self.text.as_bytes(), 15)
        });
        (bytes.clone(), compressed_now)
    }
}

impl PartialEq for DeflatableText {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for DeflatableText {}

/// `frames` with each text frame of at least `threshold` bytes made deflatable (nothing changes
/// without a threshold: deflate is off).
pub fn deflatable(mut frames: Vec<OutFrame>, threshold: Option<usize>) -> Vec<OutFrame> {
    let Some(threshold) = threshold else {
        return frames;
    };
    for frame in &mut frames {
        if let OutFrame::Text(text) = frame {
            if text.len() >= threshold {
                let text = std::mem::take(text);
                *frame = OutFrame::Deflatable(Arc::new(DeflatableText::new(text)));
            }
        }
    }
    frames
}

thread_local! {
    /// One raw-deflate compressor per thread and window size in use (almost always just 15).
    static COMPRESSORS: RefCell<Vec<(u8, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// `data` compressed as one permessage-deflate message (raw deflate, sync-flushed, without the
/// trailing `00 00 ff ff`, RFC 7692 §7.2.1); None when that would not be smaller.
pub fn deflate(data: &[u8], window_bits: u8) -> Option<Bytes> {
    COMPRESSORS.with(|cell| {
        let mut compressors = cell.borrow_mut();
        let index = match compressors
            .iter()
            .position(|(bits, _)| *bits == window_bits)
        {
            Some(index) => index,
            None => {
                let compressor =
                    Compress::new_with_window_bits(Compression::default(), false, window_bits);
                compressors.push((window_bits, compressor));
                compressors.len() - 1
            }
        };
        let compressor = &mut compressors[index].1;
        let out = run(compressor, data);
        compressor.reset();
        let mut out = out?;
        if out.ends_with(&[0, 0, 0xff, 0xff]) {
            out.truncate(out.len() - 4);
        }
        (out.len() < data.len()).then(|| Bytes::from(out))
    })
}

fn run(compressor: &mut Compress, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let start_in = compressor.total_in();
    loop {
        let consumed = (compressor.total_in() - start_in) as usize;
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let status = compressor
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .ok()?;
        let consumed = (compressor.total_in() - start_in) as usize;
        // Done once all input is in and the flush left room to spare (nothing more pending).
        if consumed == data.len() && out.len() < out.capacity() {
            return Some(out);
        }
        if status == Status::BufError && out.len() < out.capacity() {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Decompress, FlushDecompress};

    fn inflate(payload: &[u8]) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut d = Decompress::new(false);
        let mut out = Vec::with_capacity(1 << 20);
        d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .unwrap();
        out
    }

    #[test]
    fn compresses_once_and_round_trips() {
        let text = format!("42[\"snapshot\",{}]", "{\"p\":185.5},".repeat(200));
        let frame = DeflatableText::new(text.clone().into());
        let (first, compressed_now) = frame.deflated(15);
        let first = first.unwrap();
        assert!(compressed_now);
        assert!(first.len() < text.len() / 4);
        assert_eq!(inflate(&first), text.as_bytes());
        // The same shared bytes for the next recipient, not compressed again.
        let (again, compressed_again) = frame.deflated(15);
        assert_eq!(again.unwrap().as_ptr(), first.as_ptr());
        assert!(!compressed_again);
        assert_eq!(inflate(&frame.deflated(10).0.unwrap()), text.as_bytes());
        // Independent messages (no context takeover): compressing again gives the same bytes.
        assert_eq!(deflate(text.as_bytes(), 15).unwrap(), first);
    }

    #[test]
    fn incompressible_text_stays_plain_and_small_frames_are_left_alone() {
        assert_eq!(deflate(b"4x", 15), None);
        let frames = deflatable(
            vec![
                OutFrame::Text("4short".into()),
                OutFrame::Text("4".repeat(2000).into()),
            ],
            Some(1024),
        );
        assert!(matches!(frames[0], OutFrame::Text(_)));
        assert!(matches!(frames[1], OutFrame::Deflatable(_)));
        let off = deflatable(vec![OutFrame::Text("4".repeat(2000).into())], None);
        assert!(matches!(off[0], OutFrame::Text(_)));
    }
}
