//! The listening socket and accept loop. The socket is bound through socket2 so the backlog can be
//! raised: tokio's default (128 here) drops SYNs in a reconnect storm.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// What serves each request of a connection: the layer above (Engine.IO's router) plugs in here.
pub(crate) type HttpService = Arc<
    dyn Fn(Request<Incoming>, SocketAddr) -> BoxFuture<'static, Response<Full<Bytes>>>
        + Send
        + Sync,
>;

pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    TcpListener::from_std(socket.into())
}

pub(crate) struct HttpLimits {
    pub header_timeout: Duration,
    pub max_header_bytes: usize,
}

/// Accepts until `stop` turns true. Each connection is served by hyper with upgrades enabled.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    service: HttpService,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => break,
        };
        let (stream, remote_addr) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of descriptors or a transient accept error: back off briefly, keep serving.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = service(req, remote_addr);
                async move { Ok::<_, std::convert::Infallible>(response.await) }
            });
            if let Err(error) = builder
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await
            {
                tracing::debug!(%remote_addr, %error, "http connection ended with an error");
            }
        });
    }
    tracing::debug!("listener stopped");
}
