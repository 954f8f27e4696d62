//! Socket.IO v5 packet codec: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`, in three
//! parts: `decode` (what clients send, checked), `encode` (what the server sends, built once
//! per broadcast) and `args` (the arguments of an emit or an ack, with binary attachments).

mod args;
mod decode;
mod encode;

pub use args::{Args, InvalidArgs};
pub use decode::{decode, event_name, DecodeLimits, SioDecodeError, SioPacket};
pub use encode::{
    encode_ack, encode_connect, encode_connect_error, encode_disconnect, encode_event,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioType {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl SioType {
    fn from_digit(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::DecodeLimits;
    use crate::engineio::packet::OutFrame;

    pub const LIMITS: DecodeLimits = DecodeLimits {
        max_attachments: 10,
        max_depth: 16,
    };

    pub fn text(frames: &[OutFrame]) -> String {
        match &frames[0] {
            OutFrame::Text(t) => t.as_str().to_owned(),
            _ => panic!("a text frame first"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decode::RESERVED_EVENTS;
    use super::test_support::{text, LIMITS};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn event_round_trips(nsp in "(/[a-z]{1,8})?", name in "[a-zA-Z:]{1,12}", id in proptest::option::of(0u64..u64::MAX),
                             values in proptest::collection::vec(any::<i64>(), 0..5)) {
            let nsp = if nsp.is_empty() { "/".to_owned() } else { nsp };
            prop_assume!(!RESERVED_EVENTS.contains(&name.as_str()));
            let args = Args::serialize(&values).unwrap();
            let frames = encode_event(&nsp, &name, id, &args);
            let wire = text(&frames);
            let packet = decode(&wire[1..], LIMITS).unwrap();
            prop_assert_eq!(packet.kind, SioType::Event);
            prop_assert_eq!(packet.nsp, nsp.as_str());
            prop_assert_eq!(packet.id, id);
            let (decoded_name, rest) = event_name(packet.data.unwrap()).unwrap();
            prop_assert_eq!(decoded_name, name);
            prop_assert_eq!(rest.len(), 1);
            let back: Vec<i64> = serde_json::from_str(rest[0].get()).unwrap();
            prop_assert_eq!(back, values);
        }

        #[test]
        fn arbitrary_input_never_panics(input in "\\PC{0,64}") {
            let _ = decode(&input, LIMITS);
        }
    }
}
