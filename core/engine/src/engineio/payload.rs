//! The HTTP long-polling payload: packets joined by the record separator `\x1e`, binary packets
//! as `b` + standard base64.

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::packet::{decode_text, DecodeError, Inbound, OutFrame};

pub const SEPARATOR: u8 = 0x1e;

/// Decodes a POST body into packets. The body is validated as UTF-8 once; each record is a
/// zero-copy slice of it.
pub fn decode_payload(body: Bytes, max_payload: usize) -> Result<Vec<Inbound>, DecodeError> {
    if body.len() > max_payload {
        return Err(DecodeError::TooLarge);
    }
    std::str::from_utf8(&body).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut packets = Vec::new();
    let mut start = 0;
    for end in memchr_all(&body).chain(std::iter::once(body.len())) {
        let record = body.slice(start..end);
        start = end + 1;
        if record.first() == Some(&b'b') {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&record[1..])
                .map_err(|_| DecodeError::InvalidBase64)?;
            packets.push(Inbound::Binary(Bytes::from(raw)));
        } else {
            // ok: the whole body was checked as UTF-8 and 0x1e is a one-byte character,
            // so every record boundary is a character boundary.
            let text = unsafe { Utf8Bytes::from_bytes_unchecked(record) };
            packets.push(decode_text(text)?);
        }
    }
    Ok(packets)
}

fn memchr_all(body: &[u8]) -> impl Iterator<Item = usize> + '_ {
    body.iter()
        .enumerate()
        .filter(|(_, b)| **b == SEPARATOR)
        .map(|(i, _)| i)
}

/// Encodes queued frames into one GET response body.
pub fn encode_payload(frames: &[OutFrame]) -> Bytes {
    let size: usize = frames.iter().map(|f| f.len() * 4 / 3 + 4).sum();
    let mut out = BytesMut::with_capacity(size);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&[SEPARATOR]);
        }
        match frame {
            OutFrame::Text(text) => out.extend_from_slice(text.as_bytes()),
            OutFrame::Deflatable(d) => out.extend_from_slice(d.text.as_bytes()),
            OutFrame::Binary(bin) => {
                out.extend_from_slice(b"b");
                let encoded = base64::engine::general_purpose::STANDARD.encode(bin);
                out.extend_from_slice(encoded.as_bytes());
            }
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::packet::PacketType;
    use proptest::prelude::*;

    #[test]
    fn decodes_records_and_binary() {
        let body = Bytes::from_static(b"4hello\x1ebAQID\x1e3");
        let packets = decode_payload(body, 1000).unwrap();
        assert_eq!(
            packets,
            vec![
                Inbound::Text(PacketType::Message, "hello".into()),
                Inbound::Binary(Bytes::from_static(&[1, 2, 3])),
                Inbound::Text(PacketType::Pong, "".into()),
            ]
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            decode_payload(Bytes::from_static(b"4a\x1eb!!!"), 100),
            Err(DecodeError::InvalidBase64)
        );
        assert_eq!(
            decode_payload(Bytes::from_static(b"4\xff\xfe"), 100),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            decode_payload(Bytes::from_static(b"4hello"), 3),
            Err(DecodeError::TooLarge)
        );
        assert_eq!(
            decode_payload(Bytes::from_static(b"4a\x1e\x1e4b"), 100),
            Err(DecodeError::Empty)
        );
    }

    #[test]
    fn encodes_text_and_binary() {
        let body = encode_payload(&[
            OutFrame::message("2[\"x\"]"),
            OutFrame::Binary(Bytes::from_static(&[1, 2, 3])),
            OutFrame::control(PacketType::Ping),
        ]);
        assert_eq!(&body[..], b"42[\"x\"]\x1ebAQID\x1e2");
    }

    proptest! {
        #[test]
        fn payload_round_trips(items in proptest::collection::vec(
            prop_oneof![
                "[^\u{1e}]{0,40}".prop_map(|s| OutFrame::message(&s)),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(|v| OutFrame::Binary(v.into())),
            ], 1..8))
        {
            let body = encode_payload(&items);
            let decoded = decode_payload(body, usize::MAX).unwrap();
            let expected: Vec<Inbound> = items.iter().map(|f| match f {
                OutFrame::Text(t) => decode_text(t.clone()).unwrap(),
                OutFrame::Binary(b) => Inbound::Binary(b.clone()),
                OutFrame::Deflatable(d) => decode_text(d.text.clone()).unwrap(),
            }).collect();
            prop_assert_eq!(decoded, expected);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_payload(Bytes::from(body), 1000);
        }
    }
}
