//! The Socket.IO client bundle under the endpoint's path (socket.io's `serveClient`):
//! `socket.io.js`, `socket.io.min.js`, `socket.io.esm.min.js`, `socket.io.msgpack.min.js` and
//! their source maps, with socket.io's headers (ETag of the version, `304` on a match) and its
//! encodings (br, gzip or deflate by `Accept-Encoding`). Each file is read and encoded once, off
//! the runtime's worker threads, and kept.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use parking_lot::Mutex;

use super::deflate;
use super::deflate::http::negotiate;
use crate::config::ClientBundle;
use crate::transport::response::{plain, HttpResponse};

const ENCODINGS: [&str; 3] = ["br", "gzip", "deflate"];

/// The bundle's files, each kept per encoding once asked for.
#[derive(Default)]
pub(crate) struct BundleCache {
    files: Mutex<HashMap<(String, &'static str), Bytes>>,
}

/// The bundle's files (socket.io 4.8.4's list): any other name under the path is an Engine.IO
/// request.
const FILES: [&str; 8] = [
    "socket.io.esm.min.js",
    "socket.io.esm.min.js.map",
    "socket.io.js",
    "socket.io.js.map",
    "socket.io.min.js",
    "socket.io.min.js.map",
    "socket.io.msgpack.min.js",
    "socket.io.msgpack.min.js.map",
];

/// The file name a request path asks for, when it is one of the bundle's (`rest` is the path
/// after the endpoint's prefix).
pub(crate) fn bundle_file(rest: &str) -> Option<&'static str> {
    FILES.into_iter().find(|file| *file == rest)
}

/// Answers a request for `file` of `bundle`.
pub(crate) async fn serve(
    bundle: &ClientBundle,
    cache: &Arc<BundleCache>,
    file: &str,
    request: &HeaderMap,
) -> HttpResponse {
    let etag = format!("\"{}\"", bundle.version);
    let sent = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if sent.is_some_and(|tag| tag == etag || tag.strip_prefix("W/") == Some(&etag)) {
        return plain(304, "text/plain", Bytes::new());
    }
    let accept = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = negotiate(accept, &ENCODINGS).unwrap_or("identity");
    let Some(body) = cached(bundle, cache, file, encoding).await else {
        return plain(404, "text/plain", Bytes::from_static(b"Not Found"));
    };
    let kind = if file.ends_with(".map") {
        "application/json; charset=utf-8"
    } else {
        "application/javascript; charset=utf-8"
    };
    let mut response = plain(200, kind, body);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if encoding != "identity" {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}

async fn cached(
    bundle: &ClientBundle,
    cache: &Arc<BundleCache>,
    file: &str,
    encoding: &'static str,
) -> Option<Bytes> {
    let key = (file.to_owned(), encoding);
    if let Some(body) = cache.files.lock().get(&key) {
        return Some(body.clone());
    }
    let path = bundle.dir.join(file);
    let body = tokio::task::spawn_blocking(move || -> Option<Bytes> {
        let raw = std::fs::read(&path)
            .map_err(|error| tracing::warn!(path = %path.display(), %error, "client bundle file unreadable"))
            .ok()?;
        encode(&raw, encoding).map(Bytes::from)
    })
    .await
    .ok()??;
    cache.files.lock().insert(key, body.clone());
    Some(body)
}

fn encode(raw: &[u8], encoding: &str) -> Option<Vec<u8>> {
    match encoding {
        "br" => {
            let mut out = Vec::new();
            let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
            writer.write_all(raw).ok()?;
            drop(writer);
            Some(out)
        }
        "gzip" | "deflate" => deflate::http::encode(encoding, raw),
        _ => Some(raw.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bundles_files_are_served() {
        for name in [
            "socket.io.js",
            "socket.io.js.map",
            "socket.io.min.js",
            "socket.io.min.js.map",
            "socket.io.esm.min.js",
            "socket.io.msgpack.min.js.map",
        ] {
            assert_eq!(bundle_file(name), Some(name));
        }
        for name in [
            "socket.io.esm.js.x",
            "other.js",
            "socket.io.css",
            "../socket.io.js",
            "",
        ] {
            assert_eq!(bundle_file(name), None, "{name}");
        }
    }

    #[tokio::test]
    async fn etag_304_and_encodings() {
        let dir = std::env::temp_dir().join(format!("roomcast-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = "/* engine.io */ var x = 1;".repeat(50);
        std::fs::write(dir.join("socket.io.js"), &source).unwrap();
        let bundle = ClientBundle {
            dir: dir.clone(),
            version: "1.2.3".into(),
        };
        let cache = Arc::new(BundleCache::default());
        let mut request = HeaderMap::new();
        request.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("br"));
        let response = serve(&bundle, &cache, "socket.io.js", &request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::ETAG], "\"1.2.3\"");
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "br");
        request.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"1.2.3\""),
        );
        assert_eq!(
            serve(&bundle, &cache, "socket.io.js", &request)
                .await
                .status(),
            304
        );
        let missing = serve(&bundle, &cache, "socket.io.min.js", &HeaderMap::new()).await;
        assert_eq!(missing.status(), 404);
        std::fs::remove_dir_all(dir).ok();
    }
}
