//! `HandshakeRequest`: what the request that opened a session said (headers, query, address,
//! time), kept compactly for the session's lifetime.

use std::net::SocketAddr;

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

/// What the handshake request told us about the client. Kept for the session's lifetime (a later
/// namespace connect runs the middleware again), so it is stored compactly: headers that only
/// matter to the HTTP/WebSocket handshake itself are dropped and the rest own their bytes.
#[derive(Debug, Clone)]
pub struct HandshakeRequest {
    headers: Box<[(HeaderName, HeaderValue)]>,
    pub remote_addr: SocketAddr,
    /// The raw query string of the handshake request.
    pub query: Box<str>,
    /// When the handshake arrived, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
}

impl HandshakeRequest {
    pub fn new(headers: &HeaderMap, remote_addr: SocketAddr, query: &str) -> Self {
        let kept: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .filter(|(name, _)| !is_handshake_only(name))
            .filter_map(|(name, value)| {
                // hyper's values are slices of the connection's read buffer; copying detaches
                // them so the session does not pin that buffer.
                HeaderValue::from_bytes(value.as_bytes())
                    .ok()
                    .map(|v| (name.clone(), v))
            })
            .collect();
        Self {
            headers: kept.into_boxed_slice(),
            remote_addr,
            query: query.into(),
            issued_ms: unix_ms(),
        }
    }

    /// The query parameters, percent-decoded (`+` as a space), in request order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(&self.query)
    }

    /// The request headers (minus handshake-only ones: upgrade, connection, sec-websocket-*).
    pub fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for (name, value) in self.headers.iter() {
            map.append(name.clone(), value.clone());
        }
        map
    }

    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Query parameters, percent-decoded (`+` as a space), in request order.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Headers as the JSON object every host is shown: the first value of each name (values that
/// are not text are left out).
pub fn headers_object(headers: &HeaderMap) -> serde_json::Map<String, serde_json::Value> {
    let mut object = serde_json::Map::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            object
                .entry(name.as_str())
                .or_insert_with(|| serde_json::Value::from(value));
        }
    }
    object
}

/// Query pairs as the JSON object every host is shown: the first value of each key.
pub fn query_object(pairs: &[(String, String)]) -> serde_json::Map<String, serde_json::Value> {
    let mut object = serde_json::Map::new();
    for (key, value) in pairs {
        object
            .entry(key.as_str())
            .or_insert_with(|| serde_json::Value::from(value.as_str()));
    }
    object
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn is_handshake_only(name: &HeaderName) -> bool {
    use hyper::header;
    name == header::UPGRADE
        || name == header::CONNECTION
        || name == header::SEC_WEBSOCKET_KEY
        || name == header::SEC_WEBSOCKET_VERSION
        || name == header::SEC_WEBSOCKET_EXTENSIONS
        || name == header::CONTENT_LENGTH
        || name == header::ACCEPT_ENCODING
}
