//! Encoding what the server sends: text packets and their attachments as Engine.IO frames,
//! built once and shared by every recipient.

use super::Args;
use crate::engineio::packet::OutFrame;

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
    use super::super::test_support::text;
    use super::*;
    use bytes::Bytes;

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
}
