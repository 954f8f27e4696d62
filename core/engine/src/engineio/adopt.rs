//! Adopting a connection another HTTP server already parsed: the Node addon's same-port mode
//! hands over the socket of an upgrade request (plus the request head and any bytes read past
//! it). It goes through the same routing and validation as a request hyper parsed, so both
//! paths meet at one WebSocket entry point.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::forward;
use super::http::{handle, plain, RelayUpgrade, Router, StartWebSocket, Upgrade};
use super::websocket;
use crate::transport::response::to_bytes;

/// Serves `stream`, whose upgrade request `head` was already read, with `leftover` the bytes
/// read past the request. Errors are answered on the stream, which is then closed.
pub(crate) async fn adopt(
    router: Arc<Router>,
    stream: TcpStream,
    head: Request<()>,
    leftover: Bytes,
) {
    let remote_addr = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let slot = Arc::new(Mutex::new(Some(stream)));
    let req = head.map(|()| Empty::<Bytes>::new());
    let relay: RelayUpgrade<Empty<Bytes>> = {
        let slot = slot.clone();
        let leftover = leftover.clone();
        Box::new(move |owner, req| {
            let stream = slot.lock().take();
            Box::pin(async move {
                if let Some(stream) = stream {
                    tokio::spawn(forward::splice_adopted(owner, stream, req, leftover));
                }
                // Nothing for `adopt` to write: the splice carries the owner's answer.
                plain(101, "text/plain", Bytes::new())
            })
        })
    };
    let start_ws: StartWebSocket<Empty<Bytes>> = {
        let slot = slot.clone();
        Box::new(move |endpoint, mut start, _req, answer| {
            let Some(stream) = slot.lock().take() else {
                return;
            };
            start.leftover = leftover.to_vec();
            let response = answer.response_head();
            let connection = async move {
                let mut stream = stream;
                stream.write_all(response.as_bytes()).await.ok()?;
                Some(stream)
            };
            tokio::spawn(websocket::serve(endpoint, connection, start));
        })
    };
    let upgrade = Upgrade {
        start: start_ws,
        relay,
    };
    let Ok(response) = handle(router, req, remote_addr, upgrade).await;
    let unused = slot.lock().take();
    if let Some(mut stream) = unused {
        let bytes = to_bytes(response).await;
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    }
}
