//! Engine.IO v4 packet codec.
//!
//! A text packet is one ASCII type digit followed by its data; over WebSocket a binary frame is
//! a `message` packet with no type prefix, and over polling it travels as `b` + base64.

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The seven Engine.IO packet types, with their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Open = 0,
    Close = 1,
    Ping = 2,
    Pong = 3,
    Message = 4,
    Upgrade = 5,
    Noop = 6,
}

impl PacketType {
    fn from_digit(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    pub fn digit(self) -> char {
        (b'0' + self as u8) as char
    }
}

/// A decoded packet received from a client. Text data is a zero-copy slice of the frame or body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A text packet of the given type; `data` is everything after the type digit.
    Text(PacketType, Utf8Bytes),
    /// A binary message (only ever of type `message`).
    Binary(Bytes),
}

/// Why a packet could not be decoded. Each closes the offending connection only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Empty,
    UnknownType(u8),
    InvalidUtf8,
    InvalidBase64,
    TooLarge,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty packet"),
            Self::UnknownType(b) => write!(f, "unknown packet type byte 0x{b:02x}"),
            Self::InvalidUtf8 => f.write_str("invalid UTF-8"),
            Self::InvalidBase64 => f.write_str("invalid base64 in binary packet"),
            Self::TooLarge => f.write_str("payload larger than maxPayload"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one text packet (a WebSocket text frame or one record of a polling payload).
pub fn decode_text(text: Utf8Bytes) -> Result<Inbound, DecodeError> {
    let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
    let kind = PacketType::from_digit(first).ok_or(DecodeError::UnknownType(first))?;
    let bytes: &Bytes = text.as_ref();
    // ok: slicing after an ASCII digit keeps the remainder valid UTF-8.
    let data = unsafe { Utf8Bytes::from_bytes_unchecked(bytes.slice(1..)) };
    Ok(Inbound::Text(kind, data))
}

/// A packet queued for a client: the full text packet (type digit included) or a binary message.
/// Both hold shared bytes, so one encoded broadcast is cloned into many queues without copying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFrame {
    Text(Utf8Bytes),
    Binary(Bytes),
    /// A text packet that WebSocket connections with permessage-deflate receive compressed,
    /// compressed once for all of them (see `deflate::compress`).
    Deflatable(std::sync::Arc<super::deflate::DeflatableText>),
}

/// An empty text frame: what a consumer leaves behind when it takes a frame out of its batch.
impl Default for OutFrame {
    fn default() -> Self {
        Self::Text(Utf8Bytes::from_static(""))
    }
}

impl OutFrame {
    /// A text packet with no data (`2`, `3`, `6`, `1`, ...).
    pub fn control(kind: PacketType) -> Self {
        Self::Text(Utf8Bytes::from_static(match kind {
            PacketType::Open => "0",
            PacketType::Close => "1",
            PacketType::Ping => "2",
            PacketType::Pong => "3",
            PacketType::Message => "4",
            PacketType::Upgrade => "5",
            PacketType::Noop => "6",
        }))
    }

    /// A `message` packet carrying `data` (already encoded by the layer above).
    pub fn message(data: &str) -> Self {
        let mut s = String::with_capacity(data.len() + 1);
        s.push('4');
        s.push_str(data);
        Self::Text(s.into())
    }

    /// A packet of `kind` with `data`, e.g. the open packet or `3probe`.
    pub fn with_data(kind: PacketType, data: &str) -> Self {
        let mut s = String::with_capacity(data.len() + 1);
        s.push(kind.digit());
        s.push_str(data);
        Self::Text(s.into())
    }

    /// Wire size in bytes, used for queue accounting.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(t) => t.len(),
            Self::Binary(b) => b.len(),
            Self::Deflatable(d) => d.text.len(),
        }
    }

    /// The text of a text packet (None for binary).
    pub fn text(&self) -> Option<&Utf8Bytes> {
        match self {
            Self::Text(t) => Some(t),
            Self::Deflatable(d) => Some(&d.text),
            Self::Binary(_) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_text_type() {
        for (wire, kind) in [
            ("1", PacketType::Close),
            ("2probe", PacketType::Ping),
            ("3", PacketType::Pong),
            ("4hello", PacketType::Message),
            ("5", PacketType::Upgrade),
            ("6", PacketType::Noop),
        ] {
            match decode_text(Utf8Bytes::from_static(wire)).unwrap() {
                Inbound::Text(k, data) => {
                    assert_eq!(k, kind);
                    assert_eq!(data.as_str(), &wire[1..]);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_empty_and_unknown_types() {
        assert_eq!(
            decode_text(Utf8Bytes::from_static("")),
            Err(DecodeError::Empty)
        );
        assert_eq!(
            decode_text(Utf8Bytes::from_static("9x")),
            Err(DecodeError::UnknownType(b'9'))
        );
        assert_eq!(
            decode_text(Utf8Bytes::from_static("é")),
            Err(DecodeError::UnknownType(0xc3))
        );
    }

    #[test]
    fn encodes_frames() {
        assert_eq!(
            OutFrame::message("2[\"a\"]"),
            OutFrame::Text("42[\"a\"]".into())
        );
        assert_eq!(
            OutFrame::with_data(PacketType::Pong, "probe"),
            OutFrame::Text("3probe".into())
        );
        assert_eq!(
            OutFrame::control(PacketType::Noop),
            OutFrame::Text("6".into())
        );
    }
}
