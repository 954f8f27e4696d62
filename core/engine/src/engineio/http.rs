//! The HTTP front: routes requests to a mounted Engine.IO endpoint, answers CORS preflights,
//! checks origins, validates WebSocket upgrades, and maps every protocol error to the Engine.IO
//! error body. hyper does the HTTP parsing, header deadline and size limits.

use std::convert::Infallible;
use std::future::ready;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::deflate::http::encode_body;
use super::deflate::{negotiate, Agreement};

use super::{client_bundle, cors, forward, query};
use crate::clock::now_ms;
use crate::engineio::allow_request::{self, IncomingRequest};
use crate::engineio::connection_error::{ConnectionError, RequestFacts};
use crate::engineio::endpoint::Endpoint;
use crate::engineio::error::EngineError;
use crate::engineio::handshake::HandshakeRequest;
use crate::engineio::polling::{self, PollAnswer};
use crate::engineio::session::{CloseReason, TransportKind};
use crate::engineio::websocket::{self, WebSocketStart};

pub(crate) use crate::transport::response::{plain, HttpResponse, RequestBody};

/// A route the host serves beside the engine (health, metrics): returns `None` to pass.
pub type ExtraRoute =
    Arc<dyn Fn(&Method, &str) -> Option<(u16, &'static str, String)> + Send + Sync>;

pub(crate) struct Router {
    pub endpoints: Vec<Arc<Endpoint>>,
    pub extra: Option<ExtraRoute>,
}

impl Router {
    /// The endpoint whose path is `path` (with or without its trailing slash).
    fn endpoint_at(&self, path: &str) -> Option<&Arc<Endpoint>> {
        self.endpoints
            .iter()
            .find(|e| path == e.path() || path == e.path().trim_end_matches('/'))
    }

    /// The endpoint a request path belongs to: as in engine.io, everything under an endpoint's
    /// path (`/socket.io/default/`) is that endpoint's. The host's own routes come before a
    /// prefix match, so an endpoint mounted at `/` leaves `/health` to the host.
    fn endpoint_under(&self, path: &str) -> Option<&Arc<Endpoint>> {
        self.endpoints
            .iter()
            .filter(|e| path.starts_with(e.path()))
            .max_by_key(|e| e.path().len())
    }
}

/// What a validated upgrade answers: the `Sec-WebSocket-Accept` value and, when agreed, the
/// permessage-deflate terms.
pub(crate) struct UpgradeAnswer {
    pub accept: String,
    pub deflate: Option<Agreement>,
}

impl UpgradeAnswer {
    /// The 101 response's own headers, as text (for an adopted socket, which writes it itself).
    pub(crate) fn response_head(&self) -> String {
        let mut head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            self.accept
        );
        if let Some(agreement) = &self.deflate {
            head.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                agreement.response
            ));
        }
        head.push_str("\r\n");
        head
    }

    fn window_bits(&self) -> Option<u8> {
        self.deflate.as_ref().map(|a| a.server_window_bits)
    }
}

/// Starts the WebSocket transport for a validated upgrade; given the endpoint, what to start
/// with (session id for a probe, handshake, agreed deflate window), the request and the answer.
/// Over hyper it waits for hyper to release the connection; for an adopted socket it writes the
/// 101 itself.
pub(crate) type StartWebSocket<B> =
    Box<dyn FnOnce(Arc<Endpoint>, Box<WebSocketStart>, Request<B>, &UpgradeAnswer) + Send>;

/// Splices the connection of an upgrade for another node's session to that node (`owner`),
/// answering what the client is sent (nothing when the splice carries the owner's answer).
pub(crate) type RelayUpgrade<B> =
    Box<dyn FnOnce(String, Request<B>) -> BoxFuture<'static, HttpResponse> + Send>;

/// What a connection does with a WebSocket upgrade: serve it here, or relay it to the node that
/// owns its session.
pub(crate) struct Upgrade<B> {
    pub start: StartWebSocket<B>,
    pub relay: RelayUpgrade<B>,
}

/// The upgrade path of a connection hyper serves.
pub(crate) fn hyper_upgrade<B: RequestBody>() -> Upgrade<B> {
    Upgrade {
        start: hyper_start(),
        relay: Box::new(|owner, req| {
            Box::pin(async move { forward::relay_upgrade(&owner, req).await })
        }),
    }
}

fn hyper_start<B: RequestBody>() -> StartWebSocket<B> {
    Box::new(|endpoint, start, req, _answer| {
        // Take the upgrade handle now so the spawned task does not carry the whole request.
        let on_upgrade = hyper::upgrade::on(req);
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve_upgraded(endpoint, upgraded, start),
                Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
            }
        });
    })
}

/// Drives a WebSocket hyper upgraded. hyper hands the connection back boxed; the listener's are
/// TCP streams, taken back out of the box so that each connection's long-lived task holds the
/// socket itself (no box, no rewind buffer). Bytes hyper read past the request come first.
fn serve_upgraded(endpoint: Arc<Endpoint>, upgraded: Upgraded, mut start: Box<WebSocketStart>) {
    match upgraded.downcast::<TokioIo<TcpStream>>() {
        Ok(parts) => {
            if !parts.read_buf.is_empty() {
                let mut leftover = parts.read_buf.to_vec();
                leftover.extend_from_slice(&start.leftover);
                start.leftover = leftover;
            }
            let stream = parts.io.into_inner();
            tokio::spawn(websocket::serve(endpoint, ready(Some(stream)), start));
        }
        Err(upgraded) => {
            let stream = TokioIo::new(upgraded);
            tokio::spawn(websocket::serve(endpoint, ready(Some(stream)), start));
        }
    }
}

pub(crate) async fn handle<B: RequestBody>(
    router: Arc<Router>,
    req: Request<B>,
    remote_addr: SocketAddr,
    upgrade: Upgrade<B>,
) -> Result<HttpResponse, Infallible> {
    let path = req.uri().path().to_owned();
    let endpoint = match router.endpoint_at(&path) {
        Some(endpoint) => endpoint.clone(),
        None => {
            if let Some(extra) = &router.extra {
                if let Some((status, content_type, body)) = extra(req.method(), &path) {
                    return Ok(plain(status, content_type, Bytes::from(body)));
                }
            }
            match router.endpoint_under(&path) {
                Some(endpoint) => endpoint.clone(),
                None => return Ok(plain(404, "text/plain", Bytes::from_static(b"Not Found"))),
            }
        }
    };
    let origin = req.headers().get(header::ORIGIN).cloned();
    if let Some(mut response) = client_bundle_answer(&endpoint, &req, &path).await {
        cors::add_headers(
            &endpoint.context.config,
            response.headers_mut(),
            origin.as_ref(),
        );
        return Ok(response);
    }
    // Kept only when the host listens for refusals.
    let reporting = endpoint.connection_error.read().clone();
    let facts = reporting.as_ref().map(|_| RequestFacts {
        method: req.method().to_string(),
        url: req.uri().to_string(),
        headers: req.headers().clone(),
        remote_addr,
    });
    let mut response = route(&endpoint, req, remote_addr, upgrade).await;
    if let (Some(hook), Some(facts), Some(error)) = (
        reporting,
        facts,
        response.extensions().get::<EngineError>().copied(),
    ) {
        hook(&ConnectionError::new(error, facts));
    }
    if response.status() == StatusCode::BAD_REQUEST {
        endpoint
            .context
            .stats
            .bad_requests
            .fetch_add(1, Ordering::Relaxed);
    }
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        cors::add_headers(
            &endpoint.context.config,
            response.headers_mut(),
            origin.as_ref(),
        );
    }
    Ok(response)
}

/// A GET for one of the client bundle's files, when the endpoint serves them.
async fn client_bundle_answer<B>(
    endpoint: &Endpoint,
    req: &Request<B>,
    path: &str,
) -> Option<HttpResponse> {
    let bundle = endpoint.context.config.client_bundle.as_ref()?;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let file = client_bundle::bundle_file(path.strip_prefix(endpoint.path())?)?;
    Some(client_bundle::serve(bundle, &endpoint.context.bundle_cache, file, req.headers()).await)
}

async fn route<B: RequestBody>(
    endpoint: &Arc<Endpoint>,
    req: Request<B>,
    remote_addr: SocketAddr,
    upgrade: Upgrade<B>,
) -> HttpResponse {
    // Both framing headers at once is the classic request-smuggling shape: refuse it outright.
    if req.headers().contains_key(header::TRANSFER_ENCODING)
        && req.headers().contains_key(header::CONTENT_LENGTH)
    {
        tracing::debug!(%remote_addr, "both Content-Length and Transfer-Encoding: rejected");
        return engine_error(EngineError::BadRequest);
    }
    if req.method() == Method::OPTIONS {
        return cors::preflight(&endpoint.context.config, req.headers());
    }
    if !origin_allowed(endpoint, req.headers()) {
        return engine_error(EngineError::Forbidden);
    }
    let query_string = req.uri().query().unwrap_or("").to_owned();
    let q = query::parse(&query_string);
    // engine.io's order: the transport first, then the protocol version.
    let config = &endpoint.context.config;
    let transport = match q.transport {
        Some("polling") if config.allow_polling => TransportKind::Polling,
        Some("websocket") if config.allow_websocket => TransportKind::WebSocket,
        _ => return engine_error(EngineError::UnknownTransport),
    };
    if q.eio != Some("4") {
        return engine_error(EngineError::UnsupportedProtocolVersion);
    }
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let sid = q.sid.map(str::to_owned);
    if let Some(sid) = sid.as_deref().filter(|sid| endpoint.session(sid).is_none()) {
        if let Some(owner) =
            forward::owner_elsewhere(&endpoint.session_locator, sid, req.headers()).await
        {
            return match is_upgrade {
                true => (upgrade.relay)(owner, req).await,
                false => forward::relay_polling(&owner, req, config.max_payload).await,
            };
        }
    }
    if sid.is_none() && !endpoint.is_accepting() {
        return plain(
            503,
            "text/plain",
            Bytes::from_static(b"Server shutting down"),
        );
    }
    if sid.is_none()
        && req.method() == Method::GET
        && allow_request::is_set(&endpoint.allow_request)
    {
        let incoming = IncomingRequest {
            method: req.method().to_string(),
            url: req.uri().to_string(),
            headers: req.headers().clone(),
            remote_addr,
        };
        if let Err(refused) = allow_request::check(&endpoint.allow_request, incoming).await {
            tracing::debug!(%remote_addr, ?refused.message, "handshake refused by the host");
            return plain(403, "application/json", Bytes::from(refused.body()));
        }
    }
    match (transport, is_upgrade) {
        (TransportKind::WebSocket, true) if req.method() == Method::GET => {
            start_upgrade(endpoint, req, sid, query_string, remote_addr, upgrade.start)
        }
        (TransportKind::WebSocket, _) | (TransportKind::Polling, true) => {
            engine_error(EngineError::BadRequest)
        }
        (TransportKind::Polling, false) => match sid {
            None if req.method() == Method::GET => {
                let request = HandshakeRequest::new(req.headers(), remote_addr, &query_string);
                let (_, open) = endpoint.open_session(TransportKind::Polling, request);
                ok_text(Bytes::from(open))
            }
            None => engine_error(EngineError::BadHandshakeMethod),
            Some(sid) => polling_request(endpoint, req, &sid).await,
        },
    }
}

async fn polling_request<B: RequestBody>(
    endpoint: &Arc<Endpoint>,
    req: Request<B>,
    sid: &str,
) -> HttpResponse {
    let Some(session) = endpoint.session(sid) else {
        return engine_error(EngineError::UnknownSid);
    };
    // The sweeper runs every few milliseconds; a request arriving after the pong deadline must
    // find the session gone, as it would be on Node, not still open until the next sweep.
    if session.missed_pong(now_ms()) {
        session.close(CloseReason::PingTimeout);
        return engine_error(EngineError::UnknownSid);
    }
    let accept_encoding = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = match *req.method() {
        Method::GET => polling::get(session).await,
        Method::POST => {
            let limit = endpoint.context.config.max_payload;
            match Limited::new(req.into_body(), limit).collect().await {
                Ok(body) => polling::post(&session, body.to_bytes()),
                Err(error) => {
                    let too_large = error
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some();
                    tracing::debug!(sid, %error, "polling body refused");
                    session.close(CloseReason::ParseError);
                    if too_large {
                        return plain(413, "text/plain", Bytes::from_static(b"Payload Too Large"));
                    }
                    PollAnswer::BadRequest("unreadable body")
                }
            }
        }
        _ => PollAnswer::BadRequest("method not allowed"),
    };
    match answer {
        PollAnswer::Payload(body) => match endpoint.context.config.http_compression {
            Some(compression) => {
                let encoded = encode_body(accept_encoding.as_deref(), &body, compression.threshold);
                match encoded {
                    Some((encoding, encoded)) => {
                        let mut response = ok_text(Bytes::from(encoded));
                        let headers = response.headers_mut();
                        headers
                            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
                        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
                        response
                    }
                    None => ok_text(body),
                }
            }
            None => ok_text(body),
        },
        PollAnswer::Ok => plain(200, "text/html", Bytes::from_static(b"ok")),
        PollAnswer::BadRequest(why) => {
            tracing::debug!(sid, why, "polling request refused");
            engine_error(EngineError::BadRequest)
        }
    }
}

/// Validates the upgrade request (RFC 6455 §4.2.1), starts the WebSocket transport and answers
/// 101.
fn start_upgrade<B: RequestBody>(
    endpoint: &Arc<Endpoint>,
    req: Request<B>,
    sid: Option<String>,
    query: String,
    remote_addr: SocketAddr,
    start_ws: StartWebSocket<B>,
) -> HttpResponse {
    let headers = req.headers();
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|k| k.as_bytes())
        .filter(|k| valid_ws_key(k));
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    let (Some(key), true, true) = (key, version_ok, connection_upgrade) else {
        tracing::debug!(%remote_addr, "invalid websocket upgrade request");
        return engine_error(EngineError::BadRequest);
    };
    if let Some(sid) = &sid {
        if !endpoint.context.config.allow_upgrades {
            tracing::debug!(sid, "upgrade refused: upgrades are off");
            return engine_error(EngineError::BadRequest);
        }
        // A WebSocket for a session that already upgraded, or is upgrading over another
        // WebSocket, completes its handshake and is then closed by the probe (as Node does):
        // only an unknown sid is refused here.
        if endpoint.session(sid).is_none() {
            return engine_error(EngineError::UnknownSid);
        }
    }
    let deflate = endpoint.context.config.per_message_deflate.and_then(|_| {
        let offers = headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS);
        negotiate(offers.iter().filter_map(|v| v.to_str().ok()))
    });
    let answer = UpgradeAnswer {
        accept: derive_accept_key(key),
        deflate,
    };
    let start = Box::new(WebSocketStart {
        sid,
        request: HandshakeRequest::new(headers, remote_addr, &query),
        leftover: Vec::new(),
        deflate: answer.window_bits(),
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&answer.accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    if let Some(agreement) = &answer.deflate {
        if let Ok(value) = HeaderValue::from_str(&agreement.response) {
            h.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
        }
    }
    start_ws(endpoint.clone(), start, req, &answer);
    response
}

/// A key is the base64 of 16 bytes: 24 characters ending in `==`.
fn valid_ws_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|raw| raw.len() == 16)
}

fn origin_allowed(endpoint: &Endpoint, headers: &HeaderMap) -> bool {
    let Some(allowed) = &endpoint.context.config.allowed_origins else {
        return true;
    };
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        // Non-browser clients send no Origin; the check exists to stop cross-site browsers.
        None => true,
        Some(origin) => allowed.iter().any(|a| a == "*" || a == origin),
    }
}

/// An Engine.IO error answer; the error rides along as an extension so `handle` can report it.
fn engine_error(error: EngineError) -> HttpResponse {
    let mut response = plain(
        error.status(),
        "application/json",
        Bytes::from(error.body()),
    );
    response.extensions_mut().insert(error);
    response
}

fn ok_text(body: Bytes) -> HttpResponse {
    plain(200, "text/plain; charset=UTF-8", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_keys_must_be_16_bytes_of_base64() {
        assert!(valid_ws_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!valid_ws_key(b"short"));
        assert!(!valid_ws_key(b"!!!!!!!!!!!!!!!!!!!!!!=="));
        assert!(!valid_ws_key(b"dGhlIHNhbXBsZSBub25jZQ==AA"));
    }
}
