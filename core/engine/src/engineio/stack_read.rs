//! Reading a socket without a read buffer of its own between messages: into a buffer on the
//! stack, handing the bytes on (`ws_stream` and `deflate::inflate` read this way), plus the
//! `AsyncWrite` pass-through of a read-side wrapper.

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
