//! Sessions without sticky load balancing: a request for a session another node owns is relayed
//! to that node. Polling requests are sent on as they came (method, path and query, headers,
//! body) and the owner's answer comes back the same way; a WebSocket upgrade is relayed, then
//! the two upgraded connections are spliced, so the polling→WebSocket upgrade works wherever
//! each request lands.
//!
//! Node to node, over HTTP: one hop on the path the request already takes, where a relay
//! through Redis would add two pub/sub hops and a request/answer protocol for each poll.
//!
//! Who owns a session is the `SessionLocator`'s business (the cluster adapter implements it):
//! session ids start with the owning node's tag, and the locator maps tags to addresses. A
//! relayed request carries `x-roomcast-forwarded`, and is never relayed again.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::RwLock;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::transport::response::{plain, HttpResponse, RequestBody};

/// The header a relayed request carries.
pub(crate) const FORWARDED: HeaderName = HeaderName::from_static("x-roomcast-forwarded");

/// How long a relay waits for the owner to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Finds which node owns a session.
pub trait SessionLocator: Send + Sync {
    /// How this node's session ids start (4 characters of the id alphabet).
    fn tag(&self) -> &str;
    /// The `host:port` of the node that owns `sid`, when it is another node that is known.
    fn owner(&self, sid: &str) -> BoxFuture<'static, Option<String>>;
}

/// Where the locator lives: shared by the server and its endpoints, set before or after start.
pub(crate) type SessionLocatorSlot = Arc<RwLock<Option<Arc<dyn SessionLocator>>>>;

/// The node that owns `sid`, when it is not this one and the request may be relayed.
pub(crate) async fn owner_elsewhere(
    slot: &SessionLocatorSlot,
    sid: &str,
    headers: &HeaderMap,
) -> Option<String> {
    if headers.contains_key(FORWARDED) {
        return None; // relayed once already: this node is the one the owner's tag named
    }
    let locator = slot.read().clone()?;
    if sid.starts_with(locator.tag()) {
        return None;
    }
    locator.owner(sid).await
}

/// Hop-by-hop headers, which belong to one connection and are not relayed (RFC 9110 7.6.1).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::TE
        || name == header::TRAILER
        || name == header::UPGRADE
        || name == header::PROXY_AUTHORIZATION
        || name == header::PROXY_AUTHENTICATE
        || name.as_str() == "keep-alive"
}

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_hop_by_hop(name) {
            kept.append(name, value.clone());
        }
    }
    kept
}

fn bad_gateway(why: &str, owner: &str) -> HttpResponse {
    tracing::debug!(owner, why, "relay to the session's owner failed");
    plain(
        502,
        "text/plain",
        Bytes::from_static(b"Session owner unreachable"),
    )
}

async fn open(
    owner: &str,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, &'static str> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(owner))
        .await
        .map_err(|_| "connect timed out")?
        .map_err(|_| "connect failed")?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| "handshake failed")?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "relay connection ended with an error");
        }
    });
    Ok(sender)
}

/// A polling request (body at most `max_body` bytes), answered by the owner.
pub(crate) async fn relay_polling<B: RequestBody>(
    owner: &str,
    req: Request<B>,
    max_body: usize,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, max_body).collect().await else {
        return plain(413, "text/plain", Bytes::from_static(b"Payload Too Large"));
    };
    let mut sender = match open(owner).await {
        Ok(sender) => sender,
        Err(why) => return bad_gateway(why, owner),
    };
    let mut relayed = Request::new(Full::new(body.to_bytes()));
    *relayed.method_mut() = parts.method;
    *relayed.uri_mut() = parts.uri;
    *relayed.headers_mut() = end_to_end(&parts.headers);
    relayed
        .headers_mut()
        .insert(FORWARDED, HeaderValue::from_static("1"));
    let Ok(answer) = sender.send_request(relayed).await else {
        return bad_gateway("request", owner);
    };
    let (parts, body) = answer.into_parts();
    let Ok(body) = body.collect().await else {
        return bad_gateway("answer body", owner);
    };
    let mut response = Response::new(Full::new(body.to_bytes()));
    *response.status_mut() = parts.status;
    *response.headers_mut() = end_to_end(&parts.headers);
    response
}

/// A WebSocket upgrade on a connection hyper serves: the owner's 101 goes back to the client,
/// then both connections are spliced until either side closes.
pub(crate) async fn relay_upgrade<B: RequestBody>(
    owner: &str,
    mut req: Request<B>,
) -> HttpResponse {
    let from_client = hyper::upgrade::on(&mut req);
    let mut sender = match open(owner).await {
        Ok(sender) => sender,
        Err(why) => return bad_gateway(why, owner),
    };
    let mut relayed = Request::new(Full::new(Bytes::new()));
    *relayed.method_mut() = req.method().clone();
    *relayed.uri_mut() = req.uri().clone();
    // The upgrade headers are the point here, so all of them go on.
    *relayed.headers_mut() = req.headers().clone();
    relayed
        .headers_mut()
        .insert(FORWARDED, HeaderValue::from_static("1"));
    let Ok(mut answer) = sender.send_request(relayed).await else {
        return bad_gateway("request", owner);
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = answer.status();
    *response.headers_mut() = answer.headers().clone();
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let body = answer.into_body().collect().await.map(|b| b.to_bytes());
        *response.body_mut() = Full::new(body.unwrap_or_default());
        return response;
    }
    let from_owner = hyper::upgrade::on(&mut answer);
    tokio::spawn(async move {
        let (Ok(client), Ok(owner)) = tokio::join!(from_client, from_owner) else {
            tracing::debug!("relayed websocket upgrade did not complete");
            return;
        };
        let (mut client, mut owner) = (TokioIo::new(client), TokioIo::new(owner));
        let _ = tokio::io::copy_bidirectional(&mut client, &mut owner).await;
    });
    response
}

/// The upgrade of a socket a host adopted (its request already parsed): the request goes to
/// the owner as it came, with the bytes read past it, and the two connections are spliced; the
/// owner's 101 reaches the client through the splice.
pub(crate) async fn splice_adopted<B>(
    owner: String,
    mut client: TcpStream,
    req: Request<B>,
    leftover: Bytes,
) {
    let Ok(Ok(mut upstream)) =
        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&owner)).await
    else {
        tracing::debug!(owner, "relay to the session's owner failed: connect");
        let _ = client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let _ = upstream.set_nodelay(true);
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method(), req.uri()).into_bytes();
    for (name, value) in req.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(FORWARDED.as_str().as_bytes());
    head.extend_from_slice(b": 1\r\n\r\n");
    head.extend_from_slice(&leftover);
    if upstream.write_all(&head).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::COOKIE, HeaderValue::from_static("io=abc"));
        headers.append(header::ACCEPT, HeaderValue::from_static("a"));
        headers.append(header::ACCEPT, HeaderValue::from_static("b"));
        let kept = end_to_end(&headers);
        assert_eq!(kept.len(), 3, "cookie and both accept values");
        assert!(kept.get(header::CONNECTION).is_none());
        assert_eq!(kept.get_all(header::ACCEPT).iter().count(), 2);
    }

    struct Tagged;
    impl SessionLocator for Tagged {
        fn tag(&self) -> &str {
            "AAAA"
        }
        fn owner(&self, _sid: &str) -> BoxFuture<'static, Option<String>> {
            Box::pin(async { Some("127.0.0.1:1".to_owned()) })
        }
    }

    #[tokio::test]
    async fn own_sessions_and_relayed_requests_are_never_relayed() {
        let slot: SessionLocatorSlot = Arc::new(RwLock::new(Some(Arc::new(Tagged))));
        let plain_headers = HeaderMap::new();
        assert_eq!(
            owner_elsewhere(&slot, "AAAAxyz", &plain_headers).await,
            None
        );
        assert_eq!(
            owner_elsewhere(&slot, "BBBBxyz", &plain_headers).await,
            Some("127.0.0.1:1".to_owned())
        );
        let mut relayed = HeaderMap::new();
        relayed.insert(FORWARDED, HeaderValue::from_static("1"));
        assert_eq!(owner_elsewhere(&slot, "BBBBxyz", &relayed).await, None);
        let empty: SessionLocatorSlot = Arc::default();
        assert_eq!(
            owner_elsewhere(&empty, "BBBBxyz", &plain_headers).await,
            None
        );
    }
}
