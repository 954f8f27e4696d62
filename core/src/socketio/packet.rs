//! Socket.IO v5 packet codec: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`.
//!
//! Decoding borrows from the Engine.IO message (no copies) and checks everything a client could
//! get wrong: the type, the attachment count, the ack id (overflow included), the JSON itself,
//! its nesting depth, and that the payload has the shape each packet type requires.

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::engineio::packet::OutFrame;

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

/// A decoded packet; `data` is the raw JSON text, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SioPacket<'a> {
    pub kind: SioType,
    pub nsp: &'a str,
    pub attachments: usize,
    pub id: Option<u64>,
    pub data: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SioDecodeError {
    Empty,
    UnknownType,
    BadAttachments,
    TooManyAttachments,
    BadAckId,
    InvalidJson,
    TooDeep,
    InvalidPayload,
}

impl std::fmt::Display for SioDecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty packet",
            Self::UnknownType => "unknown packet type",
            Self::BadAttachments => "illegal attachments",
            Self::TooManyAttachments => "too many attachments",
            Self::BadAckId => "invalid ack id",
            Self::InvalidJson => "invalid JSON",
            Self::TooDeep => "JSON nested too deeply",
            Self::InvalidPayload => "invalid payload for packet type",
        })
    }
}

impl std::error::Error for SioDecodeError {}

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_attachments: usize,
    pub max_depth: usize,
}

/// Event names the client may never use (they are reserved by the client library).
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

pub fn decode(text: &str, limits: DecodeLimits) -> Result<SioPacket<'_>, SioDecodeError> {
    let bytes = text.as_bytes();
    let kind = SioType::from_digit(*bytes.first().ok_or(SioDecodeError::Empty)?)
        .ok_or(SioDecodeError::UnknownType)?;
    let mut i = 1;

    let mut attachments = 0;
    if kind.is_binary() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 6 || bytes.get(i) != Some(&b'-') {
            return Err(SioDecodeError::BadAttachments);
        }
        attachments = text[start..i]
            .parse::<usize>()
            .map_err(|_| SioDecodeError::BadAttachments)?;
        if attachments > limits.max_attachments {
            return Err(SioDecodeError::TooManyAttachments);
        }
        i += 1;
    }

    let mut nsp = "/";
    if bytes.get(i) == Some(&b'/') {
        let start = i;
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        nsp = &text[start..i];
        if i < bytes.len() {
            i += 1; // the comma
        }
    }

    let mut id = None;
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        id = Some(
            text[start..i]
                .parse::<u64>()
                .map_err(|_| SioDecodeError::BadAckId)?,
        );
    }

    let data = (i < bytes.len()).then(|| &text[i..]);
    if let Some(json) = data {
        check_depth(json, limits.max_depth)?;
        serde_json::from_str::<&RawValue>(json).map_err(|_| SioDecodeError::InvalidJson)?;
    }
    validate_payload(kind, data)?;
    if kind.is_binary() {
        check_placeholders(data.unwrap_or("null"), attachments)?;
    }
    if id.is_some()
        && !matches!(
            kind,
            SioType::Event | SioType::BinaryEvent | SioType::Ack | SioType::BinaryAck
        )
    {
        return Err(SioDecodeError::BadAckId);
    }
    if matches!(kind, SioType::Ack | SioType::BinaryAck) && id.is_none() {
        return Err(SioDecodeError::BadAckId);
    }
    Ok(SioPacket {
        kind,
        nsp,
        attachments,
        id,
        data,
    })
}

/// The payload shape each type requires, as the reference parser checks it.
fn validate_payload(kind: SioType, data: Option<&str>) -> Result<(), SioDecodeError> {
    let first = data.map(|d| d.trim_start().as_bytes().first().copied());
    let ok = match kind {
        SioType::Connect => matches!(first, None | Some(Some(b'{'))),
        SioType::Disconnect => data.is_none(),
        SioType::ConnectError => false, // only servers send it
        SioType::Ack | SioType::BinaryAck => matches!(first, Some(Some(b'['))),
        SioType::Event | SioType::BinaryEvent => match data {
            Some(json) => event_name(json).is_some(),
            None => false,
        },
    };
    if ok {
        Ok(())
    } else {
        Err(SioDecodeError::InvalidPayload)
    }
}

/// The event name of an event payload: a non-empty array whose first element is a string that
/// is not reserved. Returns the name and the remaining arguments as raw JSON values.
pub fn event_name(json: &str) -> Option<(String, Vec<&RawValue>)> {
    let mut items: Vec<&RawValue> = serde_json::from_str(json).ok()?;
    if items.is_empty() {
        return None;
    }
    let name: String = serde_json::from_str(items[0].get()).ok()?;
    if RESERVED_EVENTS.contains(&name.as_str()) {
        return None;
    }
    items.remove(0);
    Some((name, items))
}

/// Every placeholder of a binary packet must be exactly `{"_placeholder":true,"num":i}` with
/// `0 <= i < attachments`, as the reference parser requires before it puts the buffers in; an
/// object that looks like a placeholder but is not one is refused too, so it can never be
/// mistaken for an attachment later. The depth is already bounded; the walk uses its own stack.
fn check_placeholders(json: &str, attachments: usize) -> Result<(), SioDecodeError> {
    use serde_json::Value;
    let root: Value = serde_json::from_str(json).map_err(|_| SioDecodeError::InvalidJson)?;
    let mut stack = vec![&root];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) if map.contains_key("_placeholder") => {
                let valid = map.len() == 2
                    && map.get("_placeholder") == Some(&Value::Bool(true))
                    && map
                        .get("num")
                        .and_then(Value::as_u64)
                        .is_some_and(|num| (num as usize) < attachments);
                if !valid {
                    return Err(SioDecodeError::BadAttachments);
                }
            }
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    Ok(())
}

/// Rejects JSON nested deeper than `max` without recursing (strings are skipped correctly).
fn check_depth(json: &str, max: usize) -> Result<(), SioDecodeError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Err(SioDecodeError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Arguments of an emit or an ack: the JSON of each argument joined by commas (no brackets), plus
/// binary attachments referenced by `{"_placeholder":true,"num":i}` markers in that JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    inner: String,
    attachments: Vec<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidArgs(pub &'static str);

impl std::fmt::Display for InvalidArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidArgs {}

impl Args {
    /// No arguments.
    pub fn none() -> Self {
        Self::default()
    }

    /// One argument given as JSON text; the text is validated once, here.
    pub fn json(json: &str) -> Result<Self, InvalidArgs> {
        serde_json::from_str::<&RawValue>(json).map_err(|_| InvalidArgs("invalid JSON"))?;
        Ok(Self {
            inner: json.trim().to_owned(),
            attachments: Vec::new(),
        })
    }

    /// One argument given as JSON text the caller guarantees is valid (produced by a JSON
    /// serializer such as `JSON.stringify`); nothing is checked or copied. Invalid text here
    /// would reach clients as an undecodable packet, so validate anything else with `json`.
    pub fn trusted_json(json: String) -> Self {
        Self {
            inner: json,
            attachments: Vec::new(),
        }
    }

    /// Several arguments given as a JSON array text.
    pub fn json_array(json: &str) -> Result<Self, InvalidArgs> {
        let items: Vec<&RawValue> =
            serde_json::from_str(json).map_err(|_| InvalidArgs("expected a JSON array"))?;
        Ok(Self::from_raw(&items))
    }

    /// One argument from any serializable value.
    pub fn serialize<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, InvalidArgs> {
        let inner = serde_json::to_string(value).map_err(|_| InvalidArgs("not serializable"))?;
        Ok(Self {
            inner,
            attachments: Vec::new(),
        })
    }

    /// One binary argument.
    pub fn binary(data: Bytes) -> Self {
        Self {
            inner: r#"{"_placeholder":true,"num":0}"#.to_owned(),
            attachments: vec![data],
        }
    }

    pub(crate) fn from_raw(items: &[&RawValue]) -> Self {
        let mut inner = String::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                inner.push(',');
            }
            inner.push_str(item.get());
        }
        Self {
            inner,
            attachments: Vec::new(),
        }
    }

    /// Arguments whose JSON refers to `attachments` through placeholders; `json_array` is the
    /// arguments as an array. The placeholder count must match the attachments.
    pub fn with_attachments(
        json_array: &str,
        attachments: Vec<Bytes>,
    ) -> Result<Self, InvalidArgs> {
        let mut args = Self::json_array(json_array)?;
        if count_placeholders(&args.inner) != attachments.len() {
            return Err(InvalidArgs("placeholder count does not match attachments"));
        }
        args.attachments = attachments;
        Ok(args)
    }

    /// These arguments plus one trailing string (the recovery offset).
    pub(crate) fn with_trailing_string(&self, value: &str) -> Self {
        let quoted = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned());
        let inner = if self.inner.is_empty() {
            quoted
        } else {
            format!("{},{}", self.inner, quoted)
        };
        Self {
            inner,
            attachments: self.attachments.clone(),
        }
    }

    pub(crate) fn set_attachments(&mut self, attachments: Vec<Bytes>) {
        self.attachments = attachments;
    }

    /// The arguments as a JSON array text (placeholders included).
    pub fn to_json_array(&self) -> String {
        format!("[{}]", self.inner)
    }

    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }
}

fn count_placeholders(json: &str) -> usize {
    json.matches(r#""_placeholder":true"#).count()
}

fn push_nsp(out: &mut String, nsp: &str) {
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
}

fn push_binary_prefix(out: &mut String, plain: char, binary: char, attachments: usize) {
    if attachments == 0 {
        out.push(plain);
    } else {
        out.push(binary);
        out.push_str(&attachments.to_string());
        out.push('-');
    }
}

/// The frames of one event: the text packet, then its attachments. Encoded once, then shared by
/// every recipient of a broadcast.
pub fn encode_event(nsp: &str, event: &str, id: Option<u64>, args: &Args) -> Vec<OutFrame> {
    let name = serde_json::to_string(event).unwrap_or_else(|_| "\"\"".to_owned());
    let mut out = String::with_capacity(8 + nsp.len() + name.len() + args.inner.len());
    out.push('4');
    push_binary_prefix(&mut out, '2', '5', args.attachments.len());
    push_nsp(&mut out, nsp);
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    out.push('[');
    out.push_str(&name);
    if !args.inner.is_empty() {
        out.push(',');
        out.push_str(&args.inner);
    }
    out.push(']');
    with_attachments(out, args)
}

pub fn encode_ack(nsp: &str, id: u64, args: &Args) -> Vec<OutFrame> {
    let mut out = String::with_capacity(8 + nsp.len() + args.inner.len());
    out.push('4');
    push_binary_prefix(&mut out, '3', '6', args.attachments.len());
    push_nsp(&mut out, nsp);
    out.push_str(&id.to_string());
    out.push('[');
    out.push_str(&args.inner);
    out.push(']');
    with_attachments(out, args)
}

fn with_attachments(text: String, args: &Args) -> Vec<OutFrame> {
    let mut frames = Vec::with_capacity(1 + args.attachments.len());
    frames.push(OutFrame::Text(text.into()));
    frames.extend(args.attachments.iter().cloned().map(OutFrame::Binary));
    frames
}

pub fn encode_connect(nsp: &str, sid: &str, pid: Option<&str>) -> OutFrame {
    let mut out = String::from("40");
    push_nsp(&mut out, nsp);
    out.push_str(r#"{"sid":""#);
    out.push_str(sid);
    if let Some(pid) = pid {
        out.push_str(r#"","pid":""#);
        out.push_str(pid);
    }
    out.push_str("\"}");
    OutFrame::Text(out.into())
}

pub fn encode_connect_error(
    nsp: &str,
    message: &str,
    data: Option<&serde_json::Value>,
) -> OutFrame {
    let mut out = String::from("44");
    push_nsp(&mut out, nsp);
    let body = match data {
        Some(data) => serde_json::json!({ "message": message, "data": data }),
        None => serde_json::json!({ "message": message }),
    };
    out.push_str(&body.to_string());
    OutFrame::Text(out.into())
}

pub fn encode_disconnect(nsp: &str) -> OutFrame {
    let mut out = String::from("41");
    push_nsp(&mut out, nsp);
    OutFrame::Text(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMITS: DecodeLimits = DecodeLimits {
        max_attachments: 10,
        max_depth: 16,
    };

    fn text(frames: &[OutFrame]) -> String {
        match &frames[0] {
            OutFrame::Text(t) => t.as_str().to_owned(),
            OutFrame::Binary(_) => panic!("binary first"),
        }
    }

    #[test]
    fn decodes_the_reference_examples() {
        let p = decode("0", LIMITS).unwrap();
        assert_eq!((p.kind, p.nsp, p.data), (SioType::Connect, "/", None));
        let p = decode("0/admin,{\"token\":\"x\"}", LIMITS).unwrap();
        assert_eq!((p.nsp, p.data), ("/admin", Some("{\"token\":\"x\"}")));
        let p = decode("2[\"foo\",1]", LIMITS).unwrap();
        assert_eq!((p.kind, p.id), (SioType::Event, None));
        let p = decode("2/admin,456[\"project:delete\",123]", LIMITS).unwrap();
        assert_eq!((p.nsp, p.id), ("/admin", Some(456)));
        let p = decode("3/admin,456[]", LIMITS).unwrap();
        assert_eq!((p.kind, p.id), (SioType::Ack, Some(456)));
        let p = decode("51-[\"hello\",{\"_placeholder\":true,\"num\":0}]", LIMITS).unwrap();
        assert_eq!((p.kind, p.attachments), (SioType::BinaryEvent, 1));
        let p = decode("61-/admin,456[{\"_placeholder\":true,\"num\":0}]", LIMITS).unwrap();
        assert_eq!(
            (p.kind, p.nsp, p.id, p.attachments),
            (SioType::BinaryAck, "/admin", Some(456), 1)
        );
        let p = decode("1/admin,", LIMITS).unwrap();
        assert_eq!((p.kind, p.nsp), (SioType::Disconnect, "/admin"));
    }

    #[test]
    fn rejects_malformed_packets() {
        use SioDecodeError::*;
        for (input, error) in [
            ("", Empty),
            ("9", UnknownType),
            ("x", UnknownType),
            ("5[\"a\"]", BadAttachments),
            ("5-[\"a\"]", BadAttachments),
            ("51[\"a\"]", BadAttachments),
            ("599999999-[\"a\"]", BadAttachments),
            ("511-[\"a\"]", TooManyAttachments),
            ("299999999999999999999999[\"a\"]", BadAckId),
            ("2[\"a\"", InvalidJson),
            ("2{\"a\":1}", InvalidPayload),
            ("2[]", InvalidPayload),
            ("2[1]", InvalidPayload),
            ("2[\"connect\"]", InvalidPayload),
            ("2", InvalidPayload),
            ("3[]", BadAckId),
            ("31{}", InvalidPayload),
            ("0[1]", InvalidPayload),
            ("0\"s\"", InvalidPayload),
            ("1{}", InvalidPayload),
            ("4{\"message\":\"x\"}", InvalidPayload),
            ("2[\"a\"]garbage", InvalidJson),
        ] {
            assert_eq!(decode(input, LIMITS), Err(error), "input {input:?}");
        }
    }

    #[test]
    fn binary_placeholders_must_point_at_an_attachment() {
        let bad = [
            r#"51-["x",{"_placeholder":true,"num":5}]"#,
            r#"51-["x",{"_placeholder":true,"num":1}]"#,
            r#"51-["x",{"_placeholder":true,"num":-1}]"#,
            r#"51-["x",{"_placeholder":true,"num":0.5}]"#,
            r#"51-["x",{"_placeholder":true,"num":"0"}]"#,
            r#"51-["x",{"_placeholder":true}]"#,
            r#"51-["x",{"_placeholder":"true","num":0}]"#,
            r#"51-["x",{"_placeholder":true,"num":0,"extra":1}]"#,
            r#"51-["x",{"deep":[{"_placeholder":true,"num":3}]}]"#,
            r#"61-1[{"_placeholder":true,"num":1}]"#,
        ];
        for text in bad {
            assert_eq!(
                decode(text, LIMITS),
                Err(SioDecodeError::BadAttachments),
                "{text}"
            );
        }
        let good = [
            r#"52-["x",{"_placeholder":true,"num":1},{"a":{"_placeholder":true,"num":0}}]"#,
            r#"61-1[{"_placeholder":true,"num":0}]"#,
            r#"51-["x","no placeholder at all"]"#,
        ];
        for text in good {
            assert!(decode(text, LIMITS).is_ok(), "{text}");
        }
        // In a plain event the marker is just data, as on Node.
        assert!(decode(r#"2["x",{"_placeholder":true,"num":9}]"#, LIMITS).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!("2[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(decode(&deep, LIMITS), Err(SioDecodeError::TooDeep));
        // Brackets inside strings do not count.
        let fine = format!("2[\"a\",\"{}\"]", "[".repeat(100));
        assert!(decode(&fine, LIMITS).is_ok());
    }

    #[test]
    fn encodes_packets() {
        let args = Args::json("{\"x\":1}").unwrap();
        assert_eq!(
            text(&encode_event("/", "quote:update", None, &args)),
            "42[\"quote:update\",{\"x\":1}]"
        );
        assert_eq!(
            text(&encode_event("/custom", "a", Some(7), &Args::none())),
            "42/custom,7[\"a\"]"
        );
        assert_eq!(
            text(&encode_ack("/", 3, &Args::json_array("[1,\"b\"]").unwrap())),
            "433[1,\"b\"]"
        );
        let bin = encode_event("/", "b", None, &Args::binary(Bytes::from_static(&[1, 2])));
        assert_eq!(text(&bin), "451-[\"b\",{\"_placeholder\":true,\"num\":0}]");
        assert_eq!(bin[1], OutFrame::Binary(Bytes::from_static(&[1, 2])));
        assert_eq!(
            encode_connect("/", "abc", None),
            OutFrame::Text("40{\"sid\":\"abc\"}".into())
        );
        assert_eq!(
            encode_connect("/", "abc", Some("p")),
            OutFrame::Text("40{\"sid\":\"abc\",\"pid\":\"p\"}".into())
        );
        assert_eq!(encode_disconnect("/a"), OutFrame::Text("41/a,".into()));
        assert_eq!(
            encode_connect_error("/", "Invalid namespace", None),
            OutFrame::Text("44{\"message\":\"Invalid namespace\"}".into())
        );
        assert_eq!(
            text(&encode_event("/", "q\"uote", None, &Args::none())),
            "42[\"q\\\"uote\"]"
        );
    }

    #[test]
    fn args_validate_their_json() {
        assert!(Args::json("{oops").is_err());
        assert!(Args::json_array("{}").is_err());
        assert!(Args::with_attachments("[1]", vec![Bytes::new()]).is_err());
        assert_eq!(Args::json_array("[1, 2]").unwrap().to_json_array(), "[1,2]");
    }

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
