//! `StackReader`: the read side of a WebSocket connection without a read buffer of its own
//! between messages. It reads the socket into a buffer on the stack and hands the bytes on;
//! only what the reader did not take yet is kept (boxed, and freed once taken). The WebSocket
//! codec above it can then start with a small buffer of its own: it pulls a few bytes at a time
//! out of memory here, not out of the socket.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes read from the socket per call (on the stack).
pub(crate) const READ_CHUNK: usize = 4096;

/// Reads what `inner` has into `chunk` (a buffer on the caller's stack): how many bytes.
pub(crate) fn poll_read_chunk<S: AsyncRead + Unpin>(
    inner: &mut S,
    cx: &mut Context<'_>,
    chunk: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut into = ReadBuf::new(chunk);
    ready!(Pin::new(inner).poll_read(cx, &mut into))?;
    Poll::Ready(Ok(into.filled().len()))
}

/// Moves as much of `from` as fits into `buf`; true when nothing of `from` is left.
pub(crate) fn hand_on(from: &mut BytesMut, buf: &mut ReadBuf<'_>) -> bool {
    let n = from.len().min(buf.remaining());
    buf.put_slice(&from[..n]);
    from.advance(n);
    from.is_empty()
}

/// `AsyncWrite` for a read-side wrapper `$wrapper<S>`: writes go to its `inner` untouched.
macro_rules! write_through {
    ($wrapper:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                data: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }
        }
    };
}
pub(crate) use write_through;

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
            if hand_on(pending, buf) {
                this.pending = None;
            }
            return Poll::Ready(Ok(()));
        }
        let mut chunk = [0u8; READ_CHUNK];
        let read = ready!(poll_read_chunk(&mut this.inner, cx, &mut chunk))?;
        let n = read.min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        if n < read {
            this.pending = Some(Box::new(BytesMut::from(&chunk[n..read])));
        }
        Poll::Ready(Ok(()))
    }
}

write_through!(StackReader);

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
