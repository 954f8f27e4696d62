//! Identifiers sent on the wire: 20 characters of URL-safe base64 over 15 random bytes, the same
//! shape as the Node server's `base64id`, so nothing downstream is surprised by their length.

use base64::Engine as _;

/// The length of every id `new_wire_id` makes.
pub const WIRE_ID_LEN: usize = 20;

pub fn new_wire_id() -> Box<str> {
    let bytes: [u8; 15] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(bytes)
        .into_boxed_str()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_20_url_safe_chars_and_distinct() {
        let a = super::new_wire_id();
        let b = super::new_wire_id();
        assert_eq!(a.len(), 20);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, b);
    }
}
