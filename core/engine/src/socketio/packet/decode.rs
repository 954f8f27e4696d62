//! Decoding what clients send. Borrows from the Engine.IO message (no copies) and checks
//! everything a client could get wrong: the type, the attachment count, the ack id (overflow
//! included), the JSON itself, its nesting depth, binary placeholders, and that the payload has
//! the shape each packet type requires.

use serde_json::value::RawValue;

use super::SioType;

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
pub(super) const RESERVED_EVENTS: [&str; 6] = [
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

#[cfg(test)]
mod tests {
    use super::super::test_support::LIMITS;
    use super::*;

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
}
