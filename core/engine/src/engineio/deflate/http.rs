//! Compressed long-polling responses (Node's `httpCompression`): a payload of at least the
//! threshold is sent gzip- or deflate-encoded when the request's `Accept-Encoding` allows one
//! (gzip preferred, as engine.io does). Per response: a polling payload has one reader.

use std::io::Write;

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;

/// The body encoded for a client that sent `accept_encoding`, with its `Content-Encoding`; None
/// to send it as is (too small, nothing acceptable, or not smaller).
pub fn encode_body(
    accept_encoding: Option<&str>,
    body: &[u8],
    threshold: usize,
) -> Option<(&'static str, Vec<u8>)> {
    if body.len() < threshold {
        return None;
    }
    let encoding = chosen(accept_encoding?)?;
    let encoded = encode(encoding, body)?;
    (encoded.len() < body.len()).then_some((encoding, encoded))
}

/// `body` in HTTP content coding `gzip` or `deflate` (zlib-wrapped, as HTTP's `deflate` is).
pub(crate) fn encode(coding: &str, body: &[u8]) -> Option<Vec<u8>> {
    if coding == "gzip" {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(body).ok()?;
        return encoder.finish().ok();
    }
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

/// gzip or deflate, as `negotiate` picks between them.
fn chosen(accept_encoding: &str) -> Option<&'static str> {
    negotiate(accept_encoding, &["gzip", "deflate"])
}

/// The coding of `offered` an `Accept-Encoding` value prefers, as the `negotiator` package
/// engine.io uses picks: the highest `q`, then the one the client named first (`*` matches any;
/// `q=0` refuses). None when nothing offered is acceptable.
pub(crate) fn negotiate(accept_encoding: &str, offered: &[&'static str]) -> Option<&'static str> {
    let entries: Vec<(&str, f32)> = accept_encoding
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let coding = parts.next().filter(|c| !c.is_empty())?;
            let q = parts
                .find_map(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
                .unwrap_or(1.0);
            Some((coding, q))
        })
        .collect();
    let rank = |name: &str| {
        let exact = entries
            .iter()
            .position(|(coding, _)| coding.eq_ignore_ascii_case(name));
        let index = exact.or_else(|| entries.iter().position(|(coding, _)| *coding == "*"))?;
        let q = entries[index].1;
        (q > 0.0).then_some((q, index))
    };
    let mut best: Option<(&'static str, f32, usize)> = None;
    for &name in offered {
        if let Some((q, index)) = rank(name) {
            let better = best.is_none_or(|(_, bq, bi)| q > bq || (q == bq && index < bi));
            if better {
                best = Some((name, q, index));
            }
        }
    }
    best.map(|(name, _, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, ZlibDecoder};
    use std::io::Read;

    #[test]
    fn gzip_first_then_deflate_only_above_the_threshold() {
        let body = "42[\"q\",{\"p\":1}]".repeat(100);
        let (encoding, gz) = encode_body(Some("gzip, deflate, br"), body.as_bytes(), 1024).unwrap();
        assert_eq!(encoding, "gzip");
        let mut back = String::new();
        GzDecoder::new(&gz[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, body);
        let (encoding, z) = encode_body(Some("deflate"), body.as_bytes(), 1024).unwrap();
        assert_eq!(encoding, "deflate");
        back.clear();
        ZlibDecoder::new(&z[..]).read_to_string(&mut back).unwrap();
        assert_eq!(back, body);
        assert_eq!(encode_body(Some("gzip"), b"4hi", 1024), None);
        assert_eq!(encode_body(None, body.as_bytes(), 1024), None);
        assert_eq!(encode_body(Some("br"), body.as_bytes(), 1024), None);
        assert_eq!(encode_body(Some("gzip;q=0"), body.as_bytes(), 1024), None);
    }

    #[test]
    fn negotiation_prefers_q_then_the_clients_order() {
        let offered = ["br", "gzip", "deflate"];
        assert_eq!(negotiate("gzip,br,deflate", &offered), Some("gzip"));
        assert_eq!(negotiate("br", &offered), Some("br"));
        assert_eq!(negotiate("gzip;q=0.5, br;q=0.9", &offered), Some("br"));
        assert_eq!(negotiate("*", &offered), Some("br"));
        assert_eq!(negotiate("identity", &offered), None);
        assert_eq!(negotiate("br;q=0, *", &offered), Some("gzip"));
    }
}
