//! The read side of permessage-deflate: a stream wrapper that inflates the client's compressed
//! messages before tungstenite reads them (tungstenite refuses frames with RSV1 set).
//!
//! It parses the frames of the byte stream. Frames without RSV1 (uncompressed messages, control
//! frames) pass through unchanged. A compressed message (RSV1 on its first frame, possibly
//! continued) is collected whole, inflated on this thread's decompressor, and handed on as one
//! uncompressed frame, masked (with a zero key) when it came masked: a server reads clients'
//! frames through it, and a client (the load generator) can read a server's. The payload limit
//! applies to the compressed size and to the inflated size, so a small frame cannot expand
//! into gigabytes: such a message fails the read, which closes this connection only.
//!
//! Between messages it holds no buffers: a quiet connection costs the wrapper's few words.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use flate2::{Decompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, ReadBuf};

use crate::engineio::stack_read::{hand_on, poll_read_chunk, write_through, READ_CHUNK};

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const MASKED: u8 = 0x80;

pub struct InflatingStream<S> {
    inner: S,
    /// Boxed: the stream lives inside every WebSocket connection's long-lived future, and a
    /// pointer there costs less than the state. None: a connection that did not agree to
    /// permessage-deflate, whose bytes pass through untouched (one stream type for both keeps
    /// the connection's future one word larger than the socket, not two).
    state: Option<Box<Inflater>>,
}

struct Inflater {
    /// Bytes read from the socket and not yet parsed into frames.
    input: BytesMut,
    /// Bytes ready for tungstenite.
    output: BytesMut,
    /// A compressed message whose final frame has not arrived: its opcode, whether it came
    /// masked, and its payload so far.
    partial: Option<(u8, bool, Vec<u8>)>,
    max_payload: usize,
    eof: bool,
    /// A client reads the server's HTTP 101 response through this stream first: passed on as
    /// is, frames start after it.
    http_head: bool,
    /// A decompressor of this connection's own, for a peer that keeps its compression context
    /// across messages (a server that did not agree to `server_no_context_takeover`; a client
    /// reading through this stream finds out from the 101 response). None: the thread's.
    context: Option<Box<Decompress>>,
}

impl<S> InflatingStream<S> {
    pub fn new(inner: S, max_payload: usize) -> Self {
        Self::with(inner, max_payload, false)
    }

    /// Bytes pass through as read: nothing is inflated.
    pub fn passthrough(inner: S) -> Self {
        Self { inner, state: None }
    }

    fn with(inner: S, max_payload: usize, http_head: bool) -> Self {
        Self {
            inner,
            state: Some(Box::new(Inflater {
                input: BytesMut::new(),
                output: BytesMut::new(),
                partial: None,
                max_payload,
                eof: false,
                http_head,
                context: None,
            })),
        }
    }

    /// For a client: the upgrade response comes first and passes through untouched.
    pub fn after_http_head(inner: S, max_payload: usize) -> Self {
        Self::with(inner, max_payload, true)
    }
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// One frame's header: its first byte, where the payload starts, its length and mask key.
struct Header {
    first: u8,
    payload_at: usize,
    payload_len: usize,
    mask: Option<[u8; 4]>,
}

fn parse_header(bytes: &[u8]) -> io::Result<Option<Header>> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let (first, second) = (bytes[0], bytes[1]);
    let (len, mut at) = match second & 0x7f {
        126 if bytes.len() >= 4 => (u64::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
        127 if bytes.len() >= 10 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&bytes[2..10]);
            (u64::from_be_bytes(raw), 10)
        }
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    let mask = if second & MASKED != 0 {
        if bytes.len() < at + 4 {
            return Ok(None);
        }
        let key = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        at += 4;
        Some(key)
    } else {
        None
    };
    let payload_len = usize::try_from(len).map_err(|_| invalid("frame too large"))?;
    Ok(Some(Header {
        first,
        payload_at: at,
        payload_len,
        mask,
    }))
}

impl Inflater {
    /// Moves every complete frame of `input` to `output`, inflating compressed messages.
    fn process(&mut self) -> io::Result<()> {
        if self.http_head {
            let Some(end) = self.input.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(());
            };
            let head = self.input.split_to(end + 4);
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            if text.contains("permessage-deflate") && !text.contains("server_no_context_takeover") {
                self.context = Some(Box::new(Decompress::new(false)));
            }
            self.output.extend_from_slice(&head);
            self.http_head = false;
        }
        while let Some(header) = parse_header(&self.input)? {
            let opcode = header.first & 0x0f;
            let compressed = header.first & RSV1 != 0;
            let is_data = opcode & 0x08 == 0;
            let limit = self.max_payload.saturating_add(16);
            if is_data && (compressed || self.partial.is_some()) && header.payload_len > limit {
                return Err(invalid("compressed frame over the payload limit"));
            }
            let total = header.payload_at.saturating_add(header.payload_len);
            if self.input.len() < total {
                // Uncompressed frames of any size pass through once whole (tungstenite applies
                // its own limits to them); reserve for the rest so reads fill it in few steps.
                self.input.reserve(total - self.input.len());
                return Ok(());
            }
            let frame = self.input.split_to(total);
            match (is_data, compressed, opcode, self.partial.take()) {
                // A control frame, or a data frame of an uncompressed message: unchanged.
                (false, _, _, partial) | (true, false, _, partial @ None) => {
                    self.partial = partial;
                    self.output.extend_from_slice(&frame);
                }
                // The first frame of a compressed message.
                (true, true, 1 | 2, None) => {
                    let payload = unmasked(&frame, &header);
                    self.collect(header.first, opcode, header.mask.is_some(), payload)?;
                }
                // A continuation of the compressed message being collected.
                (true, false, 0, Some((kind, masked, mut payload))) => {
                    payload.extend_from_slice(&unmasked(&frame, &header));
                    if payload.len() > limit {
                        return Err(invalid("compressed message over the payload limit"));
                    }
                    self.collect(header.first, kind, masked, payload)?;
                }
                _ => return Err(invalid("invalid compressed message framing")),
            }
        }
        Ok(())
    }

    /// Keeps collecting (not final yet) or inflates the message and queues it as one frame.
    fn collect(&mut self, first: u8, opcode: u8, masked: bool, payload: Vec<u8>) -> io::Result<()> {
        if first & FIN == 0 {
            self.partial = Some((opcode, masked, payload));
            return Ok(());
        }
        let message = match self.context.as_deref_mut() {
            Some(decompressor) => inflate_with(decompressor, &payload, self.max_payload)?,
            None => inflate(&payload, self.max_payload)?,
        };
        write_frame(&mut self.output, opcode, masked, &message);
        Ok(())
    }
}

fn unmasked(frame: &[u8], header: &Header) -> Vec<u8> {
    let mut payload = frame[header.payload_at..].to_vec();
    if let Some(key) = header.mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    payload
}

/// A final frame of `opcode` carrying `payload`, masked (with a zero key: the payload as is)
/// when `masked`.
fn write_frame(out: &mut BytesMut, opcode: u8, masked: bool, payload: &[u8]) {
    let mask_bit = if masked { MASKED } else { 0 };
    out.reserve(payload.len() + 14);
    out.extend_from_slice(&[FIN | opcode]);
    match payload.len() {
        n if n < 126 => out.extend_from_slice(&[mask_bit | n as u8]),
        n if n <= 0xffff => {
            out.extend_from_slice(&[mask_bit | 126]);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.extend_from_slice(&[mask_bit | 127]);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out.extend_from_slice(payload);
}

thread_local! {
    /// One raw-inflate decompressor per thread, reset before every message (the client has no
    /// context takeover: every message stands alone).
    static DECOMPRESSOR: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Inflates one message (its payload plus the `00 00 ff ff` the sender removed); fails once the
/// output would pass `max`.
pub fn inflate(compressed: &[u8], max: usize) -> io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|cell| {
        let mut decompressor = cell.borrow_mut();
        decompressor.reset(false);
        inflate_with(&mut decompressor, compressed, max)
    })
}

/// `inflate` on `decompressor` as it is (its context kept from earlier messages).
fn inflate_with(
    decompressor: &mut Decompress,
    compressed: &[u8],
    max: usize,
) -> io::Result<Vec<u8>> {
    {
        let mut out = Vec::with_capacity((compressed.len() * 4).min(max + 1).max(64));
        for input in [compressed, &[0, 0, 0xff, 0xff][..]] {
            let mut offset = 0;
            loop {
                let before = decompressor.total_in();
                if out.len() == out.capacity() {
                    if out.len() > max {
                        return Err(invalid("inflated message over the payload limit"));
                    }
                    let grow = out.capacity().min(max + 1 - out.len()).max(1);
                    out.reserve(grow);
                }
                let status = decompressor
                    .decompress_vec(&input[offset..], &mut out, FlushDecompress::Sync)
                    .map_err(|_| invalid("invalid compressed data"))?;
                offset += (decompressor.total_in() - before) as usize;
                if out.len() > max {
                    return Err(invalid("inflated message over the payload limit"));
                }
                let room_left = out.len() < out.capacity();
                if status == Status::StreamEnd || (offset == input.len() && room_left) {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for InflatingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(state) = this.state.as_deref_mut() else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        loop {
            if !state.output.is_empty() {
                if hand_on(&mut state.output, buf) {
                    // Nothing kept between messages.
                    state.output = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if state.eof {
                // What is left is a truncated frame: hand it on for tungstenite to refuse.
                let rest = std::mem::take(&mut state.input);
                state.output = rest;
                if state.output.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // Read on the stack: a connection waiting for data holds no buffer of its own.
            let mut chunk = [0u8; READ_CHUNK];
            let read = ready!(poll_read_chunk(&mut this.inner, cx, &mut chunk))?;
            if read == 0 {
                state.eof = true;
                continue;
            }
            state.input.extend_from_slice(&chunk[..read]);
            state.process()?;
            if state.input.is_empty() {
                state.input = BytesMut::new();
            }
        }
    }
}

write_through!(InflatingStream);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::deflate::compress::deflate;
    use tokio::io::AsyncReadExt;

    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let key = [1u8, 2, 3, 4];
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(MASKED | n as u8),
            n => {
                out.push(MASKED | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    async fn read_all(bytes: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
        let mut stream = InflatingStream::new(std::io::Cursor::new(bytes), max);
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn inflates_single_and_fragmented_messages_and_passes_the_rest() {
        let text = "4".repeat(3000);
        let compressed = deflate(text.as_bytes(), 15).unwrap();
        let mut wire = client_frame(FIN | RSV1 | 1, &compressed);
        let (a, b) = compressed.split_at(compressed.len() / 2);
        wire.extend(client_frame(RSV1 | 1, a));
        wire.extend(client_frame(FIN | 0x9, b"ping")); // a control frame in between
        wire.extend(client_frame(FIN, b));
        wire.extend(client_frame(FIN | 1, b"2probe"));
        let out = read_all(wire, 10_000).await.unwrap();
        let mut expected = BytesMut::new();
        write_frame(&mut expected, 1, true, text.as_bytes());
        let ping = client_frame(FIN | 0x9, b"ping");
        let plain = client_frame(FIN | 1, b"2probe");
        let mut all = expected.to_vec();
        all.extend_from_slice(&ping);
        all.extend_from_slice(&expected);
        all.extend_from_slice(&plain);
        assert_eq!(out, all);
    }

    #[tokio::test]
    async fn a_decompression_bomb_fails_the_read() {
        let bomb = deflate(&vec![b'a'; 5_000_000], 15).unwrap();
        assert!(bomb.len() < 10_000);
        let wire = client_frame(FIN | RSV1 | 1, &bomb);
        let error = read_all(wire, 100_000).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn garbage_and_bad_framing_are_errors_not_panics() {
        for wire in [
            client_frame(FIN | RSV1 | 1, b"\xff\xff\xff"),
            client_frame(FIN, b"x"), // a continuation without a message
            [client_frame(RSV1 | 1, b"\x00"), client_frame(FIN | 1, b"x")].concat(),
        ] {
            // A continuation without a message passes through (tungstenite refuses it).
            let _ = read_all(wire, 1000).await;
        }
        assert!(inflate(b"\xff\xff\xff", 1000).is_err());
    }
}
