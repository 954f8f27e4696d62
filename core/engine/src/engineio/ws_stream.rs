//! `WsStream`: one server-side WebSocket connection over a byte stream, with no buffer of its
//! own while it is idle. Reads go through a buffer on the stack; only a frame that arrived in
//! part, or a fragmented message, is kept (`ws_frames::ReadState`, boxed, dropped once
//! complete). Frames to send are formatted into a write buffer that is written out in chunks
//! and released once flushed, so a quiet connection holds neither.
//!
//! Pings are answered here; a client's close is answered with a close frame before the
//! connection reports it.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use super::stack_read::{poll_read_chunk, READ_CHUNK};
use super::ws_frames::{write_frame, FrameError, Incoming, OutKind, ReadState};

/// Bytes collected before the write buffer goes to the socket in the middle of a batch.
const WRITE_CHUNK: usize = 16 * 1024;

/// Why reading ended.
#[derive(Debug)]
pub(crate) enum WsError {
    /// The peer closed the TCP connection without a closing handshake.
    Eof,
    /// The client sent what a client may not.
    Frame(FrameError),
    Io(io::Error),
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Eof => f.write_str("connection closed without a closing handshake"),
            Self::Frame(error) => error.fmt(f),
            Self::Io(error) => error.fmt(f),
        }
    }
}

pub(crate) struct WsStream<S> {
    io: S,
    read: Option<Box<ReadState>>,
    write: Vec<u8>,
    /// How much of `write` the socket took. 32 bits keep the connection's future a word
    /// smaller; a buffer past 4 GiB drops what was written instead (`advance_written`).
    written: u32,
    /// Written out but not flushed yet.
    unflushed: bool,
    /// A close frame is queued or sent: nothing follows it.
    closing: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// `leftover`: bytes read past the upgrade request, the start of the stream.
    pub fn new(io: S, leftover: Vec<u8>) -> Self {
        let read = (!leftover.is_empty()).then(|| Box::new(ReadState::holding(&leftover)));
        Self {
            io,
            read,
            write: Vec::new(),
            written: 0,
            unflushed: false,
            closing: false,
        }
    }

    /// The next message from the client (a close frame is answered and reported as
    /// `Incoming::Close`; pings are answered: the pong waits in the write buffer). Messages and
    /// frames over `max_payload` bytes are refused (the limit is the caller's: the connection
    /// does not keep a copy of the configuration).
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        max_payload: usize,
    ) -> Poll<Result<Incoming, WsError>> {
        loop {
            if let Some(state) = self.read.as_deref_mut() {
                let next = state.next(max_payload);
                if state.is_idle() {
                    self.read = None;
                }
                match next.map_err(WsError::Frame)? {
                    Some(Incoming::Ping(payload)) => {
                        write_frame(&mut self.write, OutKind::Pong, false, &payload);
                        continue;
                    }
                    Some(Incoming::Close(code)) => {
                        let reply = code.map(u16::to_be_bytes).unwrap_or_default();
                        let reply = if code.is_some() { &reply[..] } else { &[] };
                        self.push_close(reply);
                        return Poll::Ready(Ok(Incoming::Close(code)));
                    }
                    Some(incoming) => return Poll::Ready(Ok(incoming)),
                    None => {}
                }
            }
            let mut chunk = [0u8; READ_CHUNK];
            let read =
                ready!(poll_read_chunk(&mut self.io, cx, &mut chunk)).map_err(WsError::Io)?;
            if read == 0 {
                return Poll::Ready(Err(WsError::Eof));
            }
            let state = self.read.get_or_insert_with(Box::default);
            state.buf.extend_from_slice(&chunk[..read]);
        }
    }

    /// Queues one frame (`compressed`: a permessage-deflate payload).
    pub fn push(&mut self, kind: OutKind, compressed: bool, payload: &[u8]) {
        write_frame(&mut self.write, kind, compressed, payload);
    }

    /// Whether another frame may be queued now: true below `WRITE_CHUNK` bytes, else once the
    /// socket took what is queued.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write.len() - self.written() < WRITE_CHUNK {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_write_out(cx))?;
        self.write.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Whether frames wait to be written or flushed.
    pub fn has_unflushed(&self) -> bool {
        self.written() < self.write.len() || self.unflushed
    }

    /// Writes and flushes everything queued, then lets the write buffer go.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_out(cx))?;
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        self.unflushed = false;
        self.write = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written() < self.write.len() {
            let unwritten = &self.write[self.written()..];
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, unwritten))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance_written(n);
            self.unflushed = true;
        }
        Poll::Ready(Ok(()))
    }

    fn written(&self) -> usize {
        self.written as usize
    }

    /// Counts `n` more bytes as written; past what 32 bits count, the written bytes are dropped
    /// from the buffer instead.
    fn advance_written(&mut self, n: usize) {
        let at = self.written() + n;
        match u32::try_from(at) {
            Ok(at) => self.written = at,
            Err(_) => {
                self.write.drain(..at);
                self.written = 0;
            }
        }
    }

    /// The next message (for the upgrade probe, before the connection is driven).
    pub async fn next(&mut self, max_payload: usize) -> Result<Incoming, WsError> {
        poll_fn(|cx| self.poll_next(cx, max_payload)).await
    }

    /// Sends one text frame now (the upgrade probe's answer).
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.push(OutKind::Text, false, text.as_bytes());
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Writes what is queued, then a close frame (with `code`, if any; none if one went
    /// already), and ends the TCP stream's sending side.
    pub async fn close(&mut self, code: Option<u16>) -> io::Result<()> {
        match code {
            Some(code) => self.push_close(&code.to_be_bytes()),
            None => self.push_close(&[]),
        }
        self.finish().await
    }

    /// Queues a close frame unless one went already.
    fn push_close(&mut self, payload: &[u8]) {
        if !std::mem::replace(&mut self.closing, true) {
            write_frame(&mut self.write, OutKind::Close, false, payload);
        }
    }

    /// Writes what is queued (a close reply, say) and ends the TCP stream's sending side.
    pub async fn finish(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await?;
        poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        out.extend_from_slice(payload);
        out
    }

    #[tokio::test]
    async fn answers_pings_and_closes_and_keeps_nothing_between_messages() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        // The upgrade request's reader had already read the first frame.
        let mut ws = WsStream::new(server, masked(0x81, b"2probe"));
        assert_eq!(
            ws.next(1000).await.unwrap(),
            Incoming::Text("2probe".into())
        );
        assert!(ws.read.is_none(), "no read state between messages");
        client.write_all(&masked(0x89, b"p")).await.unwrap();
        client.write_all(&masked(0x81, b"4x")).await.unwrap();
        assert_eq!(ws.next(1000).await.unwrap(), Incoming::Text("4x".into()));
        ws.send_text("3probe").await.unwrap();
        assert!(
            ws.write.capacity() == 0,
            "the write buffer goes once flushed"
        );
        let mut got = [0u8; 11];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x8a\x01p\x81\x063probe", "the pong, then the text");
        client
            .write_all(&masked(0x88, &[0x03, 0xe8]))
            .await
            .unwrap();
        assert_eq!(ws.next(1000).await.unwrap(), Incoming::Close(Some(1000)));
        ws.close(None).await.unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).await.unwrap();
        assert_eq!(
            reply,
            [0x88, 2, 0x03, 0xe8],
            "the close is echoed once, then the stream ends"
        );
    }

    #[tokio::test]
    async fn a_dropped_connection_is_an_end_without_handshake() {
        let (client, server) = tokio::io::duplex(1024);
        let mut ws = WsStream::new(server, Vec::new());
        drop(client);
        assert!(matches!(ws.next(1000).await, Err(WsError::Eof)));
    }
}
