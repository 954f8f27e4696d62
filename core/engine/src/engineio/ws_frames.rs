//! WebSocket frames (RFC 6455) as a server reads and writes them. Headers are parsed and
//! formatted by tungstenite's `FrameHeader`; what this module adds is the server's rules for a
//! client's frames (masked, no reserved bits or opcodes, control frames short and whole,
//! continuations only inside a fragmented message, text valid UTF-8, nothing over the payload
//! limit) and a read state that exists only while a frame or a fragmented message is partly read.

use std::io::Cursor;

use bytes::{Bytes, BytesMut};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A message, or a control frame the connection acts on, read from a client.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    Text(Utf8Bytes),
    Binary(Bytes),
    /// Answered with a pong carrying the same bytes.
    Ping(Bytes),
    /// The client closes (its status code, when it gave one).
    Close(Option<u16>),
}

/// Why a client's frames are refused (the connection closes with a parse error).
#[derive(Debug, PartialEq)]
pub enum FrameError {
    /// A frame or message over the payload limit.
    TooBig,
    /// A frame a client may not send.
    Protocol(&'static str),
}

impl FrameError {
    /// The close code a server answers it with (RFC 6455 section 7.4.1).
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TooBig => 1009,
            Self::Protocol(INVALID_UTF8) => 1007,
            Self::Protocol(_) => 1002,
        }
    }
}

const INVALID_UTF8: &str = "text message is not UTF-8";

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooBig => f.write_str("message over the payload limit"),
            Self::Protocol(why) => f.write_str(why),
        }
    }
}

/// What a connection holds of its client's frames between reads: the bytes of a frame not yet
/// complete, and the parts of a fragmented message. Dropped whenever it holds nothing.
#[derive(Default)]
pub struct ReadState {
    pub buf: BytesMut,
    /// A fragmented message so far: whether it is text, and its bytes.
    fragments: Option<(bool, Vec<u8>)>,
}

impl ReadState {
    /// Holding `bytes` read so far.
    pub fn holding(bytes: &[u8]) -> Self {
        Self {
            buf: BytesMut::from(bytes),
            fragments: None,
        }
    }

    /// Nothing partly read.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.fragments.is_none()
    }

    /// Takes the next message or control frame out of `buf` (None: not complete yet).
    /// Pongs carry nothing for a server and are skipped.
    pub fn next(&mut self, max_payload: usize) -> Result<Option<Incoming>, FrameError> {
        loop {
            let mut cursor = Cursor::new(&self.buf[..]);
            let parsed = FrameHeader::parse(&mut cursor)
                .map_err(|_| FrameError::Protocol("invalid frame header"))?;
            let Some((header, length)) = parsed else {
                return Ok(None);
            };
            let at = cursor.position() as usize;
            let length = usize::try_from(length).map_err(|_| FrameError::TooBig)?;
            if length > max_payload {
                return Err(FrameError::TooBig);
            }
            check(&header, length)?;
            if self.buf.len() - at < length {
                self.buf.reserve(at + length - self.buf.len());
                return Ok(None);
            }
            let _ = self.buf.split_to(at);
            let mut payload = self.buf.split_to(length);
            if let Some(key) = header.mask {
                unmask(&mut payload, key);
            }
            if let Some(incoming) = self.take(&header, payload, max_payload)? {
                return Ok(Some(incoming));
            }
        }
    }

    /// One whole frame: a control frame or a complete message comes out; a fragment joins the
    /// message it belongs to.
    fn take(
        &mut self,
        header: &FrameHeader,
        payload: BytesMut,
        max_payload: usize,
    ) -> Result<Option<Incoming>, FrameError> {
        let fin = header.is_final;
        match header.opcode {
            OpCode::Control(Control::Ping) => Ok(Some(Incoming::Ping(payload.freeze()))),
            OpCode::Control(Control::Pong) => Ok(None),
            OpCode::Control(Control::Close) => Ok(Some(Incoming::Close(close_code(&payload)?))),
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                Err(FrameError::Protocol("reserved opcode"))
            }
            OpCode::Data(Data::Continue) => {
                let Some((text, mut so_far)) = self.fragments.take() else {
                    return Err(FrameError::Protocol("continuation outside a message"));
                };
                if so_far.len() + payload.len() > max_payload {
                    return Err(FrameError::TooBig);
                }
                so_far.extend_from_slice(&payload);
                match fin {
                    true => message(text, Bytes::from(so_far)).map(Some),
                    false => {
                        self.fragments = Some((text, so_far));
                        Ok(None)
                    }
                }
            }
            OpCode::Data(kind) => {
                if self.fragments.is_some() {
                    return Err(FrameError::Protocol("new message inside a fragmented one"));
                }
                let text = kind == Data::Text;
                match fin {
                    true => message(text, payload.freeze()).map(Some),
                    false => {
                        self.fragments = Some((text, payload.to_vec()));
                        Ok(None)
                    }
                }
            }
        }
    }
}

/// A client's frame must be masked and use no reserved bits (a compressed message reaches this
/// reader inflated, see `deflate::inflate`); a control frame is whole and at most 125 bytes.
fn check(header: &FrameHeader, length: usize) -> Result<(), FrameError> {
    if matches!(header.opcode, OpCode::Control(_)) && (!header.is_final || length > 125) {
        return Err(FrameError::Protocol(
            "control frame fragmented or over 125 bytes",
        ));
    }
    if header.mask.is_none() {
        return Err(FrameError::Protocol("unmasked frame from a client"));
    }
    if header.rsv1 || header.rsv2 || header.rsv3 {
        return Err(FrameError::Protocol("reserved bits set"));
    }
    Ok(())
}

fn close_code(payload: &[u8]) -> Result<Option<u16>, FrameError> {
    match payload {
        [] => Ok(None),
        [high, low, reason @ ..] if std::str::from_utf8(reason).is_ok() => {
            Ok(Some(u16::from_be_bytes([*high, *low])))
        }
        _ => Err(FrameError::Protocol("invalid close frame")),
    }
}

fn message(text: bool, payload: Bytes) -> Result<Incoming, FrameError> {
    match text {
        true => Utf8Bytes::try_from(payload)
            .map(Incoming::Text)
            .map_err(|_| FrameError::Protocol(INVALID_UTF8)),
        false => Ok(Incoming::Binary(payload)),
    }
}

fn unmask(payload: &mut [u8], key: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

/// The opcodes a server sends.
#[derive(Clone, Copy)]
pub enum OutKind {
    Text,
    Binary,
    Pong,
    Close,
}

/// Appends one unmasked, final frame to `buf` (`compressed`: RSV1, a permessage-deflate
/// message).
pub fn write_frame(buf: &mut Vec<u8>, kind: OutKind, compressed: bool, payload: &[u8]) {
    let opcode = match kind {
        OutKind::Text => OpCode::Data(Data::Text),
        OutKind::Binary => OpCode::Data(Data::Binary),
        OutKind::Pong => OpCode::Control(Control::Pong),
        OutKind::Close => OpCode::Control(Control::Close),
    };
    let header = FrameHeader {
        is_final: true,
        rsv1: compressed,
        opcode,
        ..FrameHeader::default()
    };
    let length = payload.len() as u64;
    buf.reserve(header.len(length) + payload.len());
    // Writing into a Vec cannot fail.
    let _ = header.format(length, buf);
    buf.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1000;

    /// A client's frame: `first` byte (FIN, RSV, opcode), masked with a fixed key.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let key = [1u8, 2, 3, 4];
        let mut out = vec![first];
        match payload.len() {
            n @ 0..=125 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
        out
    }

    fn read_all(bytes: &[u8]) -> Vec<Result<Incoming, FrameError>> {
        let mut state = ReadState::default();
        let mut out = Vec::new();
        // One byte at a time: every split point of every frame.
        for byte in bytes {
            state.buf.extend_from_slice(&[*byte]);
            loop {
                match state.next(MAX) {
                    Ok(Some(incoming)) => out.push(Ok(incoming)),
                    Ok(None) => break,
                    Err(error) => {
                        out.push(Err(error));
                        return out;
                    }
                }
            }
        }
        assert!(state.is_idle(), "nothing left over");
        out
    }

    #[test]
    fn messages_control_frames_and_fragments_come_out_whole_at_any_split() {
        let mut bytes = frame(0x81, b"4hello");
        bytes.extend(frame(0x89, b"hb"));
        bytes.extend(frame(0x8a, b"ignored pong"));
        bytes.extend(frame(0x01, "4h\u{e9}".as_bytes()[..3].as_ref()));
        bytes.extend(frame(0x89, b"")); // a ping between fragments
        bytes.extend(frame(0x80, "4h\u{e9}".as_bytes()[3..].as_ref()));
        bytes.extend(frame(0x82, &[0, 1, 2]));
        bytes.extend(frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
        assert_eq!(
            read_all(&bytes),
            vec![
                Ok(Incoming::Text("4hello".into())),
                Ok(Incoming::Ping(Bytes::from_static(b"hb"))),
                Ok(Incoming::Ping(Bytes::new())),
                Ok(Incoming::Text("4h\u{e9}".into())),
                Ok(Incoming::Binary(Bytes::from_static(&[0, 1, 2]))),
                Ok(Incoming::Close(Some(1000))),
            ]
        );
    }

    #[test]
    fn frames_a_client_may_not_send_are_refused() {
        let unmasked = [0x81u8, 0x01, b'x'];
        let cases: [(Vec<u8>, FrameError); 9] = [
            (
                frame(0x09, b"x"),
                FrameError::Protocol("control frame fragmented or over 125 bytes"),
            ),
            (
                frame(0x89, &[0; 126]),
                FrameError::Protocol("control frame fragmented or over 125 bytes"),
            ),
            (
                unmasked.to_vec(),
                FrameError::Protocol("unmasked frame from a client"),
            ),
            (frame(0xc1, b"x"), FrameError::Protocol("reserved bits set")),
            (
                frame(0x83, b"x"),
                FrameError::Protocol("invalid frame header"),
            ),
            (
                frame(0x80, b"x"),
                FrameError::Protocol("continuation outside a message"),
            ),
            (
                [frame(0x01, b"a"), frame(0x81, b"b")].concat(),
                FrameError::Protocol("new message inside a fragmented one"),
            ),
            (
                frame(0x81, &[0xff, 0xfe]),
                FrameError::Protocol("text message is not UTF-8"),
            ),
            (frame(0x82, &[0; MAX + 1]), FrameError::TooBig),
        ];
        for (bytes, error) in cases {
            assert_eq!(read_all(&bytes).pop(), Some(Err(error)));
        }
        let parts = [frame(0x02, &[0; 600]), frame(0x80, &[0; 600])].concat();
        assert_eq!(read_all(&parts).pop(), Some(Err(FrameError::TooBig)));
    }

    #[test]
    fn a_server_frame_is_unmasked_and_final() {
        let mut buf = Vec::new();
        write_frame(&mut buf, OutKind::Text, false, b"40");
        write_frame(&mut buf, OutKind::Text, true, &[7; 200]);
        assert_eq!(&buf[..4], &[0x81, 2, b'4', b'0']);
        assert_eq!(&buf[4..8], &[0xc1, 126, 0, 200]);
        assert_eq!(buf.len(), 8 + 200);
    }
}
