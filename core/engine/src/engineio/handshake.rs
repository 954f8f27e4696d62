//! `HandshakeRequest`: what the request that opened a session said (headers, query, address,
//! time), kept compactly for the session's lifetime.

use std::net::SocketAddr;

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

/// What the handshake request told us about the client. Kept for the session's lifetime (a later
/// namespace connect runs the middleware again), so it is stored compactly: headers that only
/// matter to the HTTP/WebSocket handshake itself are dropped, and the query and the kept
/// headers share one allocation (`text`).
#[derive(Debug, Clone)]
pub struct HandshakeRequest {
    /// The raw query string, then each kept header as `\0name\0value`. Neither a URI nor a
    /// header name or value may hold a NUL byte, so it separates them unambiguously.
    text: Box<[u8]>,
    pub remote_addr: SocketAddr,
    /// When the handshake arrived, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
}

impl HandshakeRequest {
    pub fn new(headers: &HeaderMap, remote_addr: SocketAddr, query: &str) -> Self {
        let kept = headers.iter().filter(|(name, _)| !is_handshake_only(name));
        let mut text = query.as_bytes().to_vec();
        for (name, value) in kept {
            text.push(0);
            text.extend_from_slice(name.as_str().as_bytes());
            text.push(0);
            text.extend_from_slice(value.as_bytes());
        }
        Self {
            text: text.into_boxed_slice(),
            remote_addr,
            issued_ms: unix_ms(),
        }
    }

    /// The raw query string of the handshake request.
    pub fn query(&self) -> &str {
        let end = self
            .text
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.text.len());
        // The query came in as a `&str`; a cut at a NUL byte stays on a character boundary.
        std::str::from_utf8(&self.text[..end]).unwrap_or_default()
    }

    /// The query parameters, percent-decoded (`+` as a space), in request order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_query(self.query())
    }

    /// The request headers (minus handshake-only ones: upgrade, connection, sec-websocket-*).
    pub fn headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in self.header_bytes() {
            // They were a valid name and value when stored.
            if let (Ok(name), Ok(value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                map.append(name, value);
            }
        }
        map
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<HeaderValue> {
        self.header_bytes()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .and_then(|(_, v)| HeaderValue::from_bytes(v).ok())
    }

    /// The kept headers' names and values, in request order.
    fn header_bytes(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut parts = self.text.split(|&b| b == 0).skip(1);
        std::iter::from_fn(move || Some((parts.next()?, parts.next()?)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_query_and_the_headers_a_socket_shows_in_one_allocation() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.test:3000"));
        headers.insert("upgrade", HeaderValue::from_static("websocket"));
        headers.append("x-trace", HeaderValue::from_static("a"));
        headers.append("x-trace", HeaderValue::from_static("b"));
        headers.insert("cookie", HeaderValue::from_bytes(b"s=caf\xc3\xa9").unwrap());
        headers.insert("x-empty", HeaderValue::from_static(""));
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        let request = HandshakeRequest::new(&headers, addr, "EIO=4&transport=websocket&t=a%20b");

        assert_eq!(request.query(), "EIO=4&transport=websocket&t=a%20b");
        assert_eq!(request.query_pairs()[2], ("t".to_owned(), "a b".to_owned()));
        let kept = request.headers();
        assert_eq!(kept.len(), 5, "upgrade is the handshake's own");
        assert_eq!(kept["host"], "example.test:3000");
        let traces: Vec<_> = kept.get_all("x-trace").iter().collect();
        assert_eq!(traces, ["a", "b"], "repeated headers keep their order");
        assert_eq!(kept["cookie"].as_bytes(), b"s=caf\xc3\xa9");
        assert_eq!(kept["x-empty"], "");
        assert_eq!(request.header("X-Trace").unwrap(), "a");
        assert!(request.header("upgrade").is_none());
    }

    #[test]
    fn a_request_without_query_or_headers() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 9));
        let request = HandshakeRequest::new(&HeaderMap::new(), addr, "");
        assert_eq!(request.query(), "");
        assert!(request.headers().is_empty());
    }
}
