//! `StackReader`: the read side of a WebSocket connection without a read buffer of its own
//! between messages. It reads the socket into a buffer on the stack and hands the bytes on;
//! only what the reader did not take yet is kept (boxed, and freed once taken). The WebSocket
//! codec above it can then start with a small buffer of its own: it pulls a few bytes at a time
//! out of memory here, not out of the socket.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read from the socket per call (on the stack).
const READ_CHUNK: usize = 4096;

pub struct StackReader<S> {
    inner: S,
    /// Read from the socket, not yet taken.
    pending: Option<Box<BytesMut>>,
}

impl<S> StackReader<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StackReader<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(pending) = this.pending.as_deref_mut() {
            let n = pending.len().min(buf.remaining());
            buf.put_slice(&pending[..n]);
            pending.advance(n);
            if pending.is_empty() {
                this.pending = None;
            }
            return Poll::Ready(Ok(()));
        }
        let mut chunk = [0u8; READ_CHUNK];
        let read = {
            let mut into = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut into))?;
            into.filled().len()
        };
        let n = read.min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        if n < read {
            this.pending = Some(Box::new(BytesMut::from(&chunk[n..read])));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StackReader<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn small_reads_are_served_from_memory_and_nothing_is_kept_after() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut reader = StackReader::new(server);
        let message: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&message).await.unwrap();
        let mut got = Vec::new();
        let mut small = [0u8; 14];
        while got.len() < message.len() {
            let n = reader.read(&mut small).await.unwrap();
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, message, "every byte, in order");
        assert!(reader.pending.is_none(), "nothing kept once taken");
        drop(client);
        assert_eq!(reader.read(&mut small).await.unwrap(), 0, "end of stream");
    }
}
