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
    let encoded = match encoding {
        "gzip" => {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(body).ok()?;
            encoder.finish().ok()?
        }
        _ => {
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(body).ok()?;
            encoder.finish().ok()?
        }
    };
    (encoded.len() < body.len()).then_some((encoding, encoded))
}

/// gzip if acceptable, else deflate, else nothing (`q=0` refuses an encoding).
fn chosen(accept_encoding: &str) -> Option<&'static str> {
    let accepted = |name: &str| {
        accept_encoding.split(',').any(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case(name) || coding == "*") && !refused
        })
    };
    ["gzip", "deflate"].into_iter().find(|name| accepted(name))
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
}
