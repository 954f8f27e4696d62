//! Same-port mode: WebSocket upgrades and polling requests that Node's own http.Server
//! received, handed to the engine.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{invalid, js_async_error, js_error, Result};
use crate::NativeServer;

#[napi]
impl NativeServer {
    /// Same-port mode: takes over the socket (by file descriptor, which is duplicated; the
    /// caller destroys its own handle afterwards) of an upgrade request Node already parsed.
    #[napi]
    pub fn adopt_websocket(
        &self,
        fd: i32,
        method: String,
        url: String,
        headers: Vec<String>,
        head: Buffer,
    ) -> Result<()> {
        adopt_websocket_on(self.server.engine(), fd, &method, &url, &headers, &head)
    }

    /// Same-port mode: serves a polling (or health) request Node received. `headers` is Node's
    /// flat `rawHeaders` list.
    #[napi]
    pub async fn handle_http(
        &self,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Buffer,
        remote_ip: String,
        remote_port: u32,
    ) -> napi::Result<HttpAnswer> {
        let body = bytes_from(&body);
        let server = self.server.engine();
        handle_http_on(
            server,
            &method,
            &url,
            &headers,
            body,
            &remote_ip,
            remote_port,
        )
        .await
    }
}

/// `adopt_websocket` for any engine server (the preset's and `NativeIo`'s).
pub(crate) fn adopt_websocket_on(
    server: &roomcast::Server,
    fd: i32,
    method: &str,
    url: &str,
    headers: &[String],
    head: &Buffer,
) -> Result<()> {
    use std::os::fd::{BorrowedFd, OwnedFd};
    if fd < 0 {
        return Err(invalid("invalid file descriptor"));
    }
    // ok: the fd belongs to the live Node socket for the duration of this call.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned: OwnedFd = borrowed
        .try_clone_to_owned()
        .map_err(|e| js_error(roomcast::Error::from(e).context("dup failed")))?;
    let stream = std::net::TcpStream::from(owned);
    let request = build_request(method, url, headers, ()).map_err(js_error)?;
    let leftover = bytes_from(head);
    let server = server.clone();
    napi::bindgen_prelude::within_runtime_if_available(move || {
        server.adopt_websocket(stream, request, leftover)
    })
    .map_err(|e| js_error(e.context("cannot adopt the connection")))
}

/// `handle_http` for any engine server.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn handle_http_on(
    server: &roomcast::Server,
    method: &str,
    url: &str,
    headers: &[String],
    body: bytes::Bytes,
    remote_ip: &str,
    remote_port: u32,
) -> napi::Result<HttpAnswer> {
    let body = http_body_util::Full::new(body);
    let request = build_request(method, url, headers, body).map_err(js_async_error)?;
    let ip = remote_ip
        .parse()
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let remote = std::net::SocketAddr::new(ip, remote_port as u16);
    let response = server.handle_http(request, remote).await;
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut flat = Vec::with_capacity(parts.headers.len() * 2);
    for (name, value) in &parts.headers {
        flat.push(name.as_str().to_owned());
        flat.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    Ok(HttpAnswer {
        status: u32::from(parts.status.as_u16()),
        headers: flat,
        body: Buffer::from(body.to_vec()),
    })
}

/// An HTTP response for the JS layer to write.
#[napi(object)]
pub struct HttpAnswer {
    pub status: u32,
    /// Flat `[name, value, name, value, ...]`.
    pub headers: Vec<String>,
    pub body: Buffer,
}

pub(crate) fn bytes_from(buffer: &Buffer) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(buffer.as_ref())
}

fn build_request<B>(
    method: &str,
    url: &str,
    headers: &[String],
    body: B,
) -> roomcast::error::Result<hyper::Request<B>> {
    let mut builder = hyper::Request::builder().method(method).uri(url);
    for pair in headers.chunks(2) {
        if let [name, value] = pair {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    builder
        .body(body)
        .map_err(|e| roomcast::Error::invalid_argument(format!("invalid request: {e}")))
}
