//! HTTP responses as the engine gives them, the request bodies it reads, and raw HTTP/1.1
//! responses for sockets whose request another server parsed (they have no hyper connection to
//! answer through).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

pub(crate) type HttpResponse = Response<Full<Bytes>>;

/// Any request body hyper can read: a live connection's `Incoming`, or a complete body handed
/// over by a host (the Node addon passes Express's polling requests through).
pub(crate) trait RequestBody:
    hyper::body::Body<Data = Bytes, Error = Self::E> + Send + Unpin + 'static
{
    type E: Into<Box<dyn std::error::Error + Send + Sync>>;
}

impl<B, E> RequestBody for B
where
    B: hyper::body::Body<Data = Bytes, Error = E> + Send + Unpin + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type E = E;
}

pub(crate) fn plain(status: u16, content_type: &'static str, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An HTTP/1.1 response as bytes, for answering an adopted socket that was not upgraded.
pub(crate) async fn to_bytes(response: Response<Full<Bytes>>) -> Vec<u8> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    out
}
