//! Reading a client's permessage-deflate offers and choosing our answer (RFC 7692 §5, §7.1).
//!
//! We accept the first offer we can honour and answer it with both no-context-takeover
//! parameters (the server may add `client_no_context_takeover` on its own, §7.1.1.1). An offer
//! that limits our window (`server_max_window_bits`) below what zlib can do for raw deflate
//! (9 bits), or that carries unknown or repeated parameters, is declined: the client then gets
//! plain frames.

/// What was agreed with one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// The window we compress with (15 unless the client asked for less).
    pub server_window_bits: u8,
    /// The `Sec-WebSocket-Extensions` value of our 101 response.
    pub response: String,
}

/// Our answer to the `Sec-WebSocket-Extensions` header values of an upgrade request: None when
/// no permessage-deflate offer can be accepted.
pub fn negotiate<'a>(header_values: impl IntoIterator<Item = &'a str>) -> Option<Agreement> {
    header_values
        .into_iter()
        .flat_map(|value| value.split(','))
        .find_map(accept_offer)
}

fn accept_offer(offer: &str) -> Option<Agreement> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut server_window_bits = 15u8;
    let mut asked_window = false;
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => {}
            ("server_max_window_bits", Some(bits)) => {
                server_window_bits = window_bits(bits)?;
                asked_window = true;
            }
            // The client's own window: any size inflates with our 15-bit inflater.
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(bits)) => {
                window_bits(bits)?;
            }
            _ => return None,
        }
        seen.push(name);
    }
    let mut response =
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover".to_owned();
    if asked_window {
        response.push_str(&format!("; server_max_window_bits={server_window_bits}"));
    }
    Some(Agreement {
        server_window_bits,
        response,
    })
}

/// A window size we can use: 9 to 15 (zlib refuses 8 for raw deflate).
fn window_bits(value: &str) -> Option<u8> {
    let bits: u8 = value.parse().ok()?;
    (9..=15).contains(&bits).then_some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &str = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

    #[test]
    fn accepts_what_browsers_and_node_offer() {
        // Chrome and the Node `ws` client.
        let chrome = negotiate(["permessage-deflate; client_max_window_bits"]).unwrap();
        assert_eq!(chrome.response, BOTH);
        assert_eq!(chrome.server_window_bits, 15);
        let limited = negotiate(["permessage-deflate; server_max_window_bits=10"]).unwrap();
        assert_eq!(limited.server_window_bits, 10);
        assert_eq!(
            limited.response,
            format!("{BOTH}; server_max_window_bits=10")
        );
    }

    #[test]
    fn declines_what_cannot_be_honoured_and_takes_the_next_offer() {
        for refused in [
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; unknown_param",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "x-webkit-deflate-frame",
            "",
        ] {
            assert_eq!(negotiate([refused]), None, "{refused}");
        }
        let second =
            negotiate(["permessage-deflate; server_max_window_bits=8, permessage-deflate"]);
        assert_eq!(second.unwrap().response, BOTH);
        assert!(negotiate(["foo", "permessage-deflate"]).is_some());
    }
}
