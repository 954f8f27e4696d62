//! Identifiers sent on the wire: 20 characters of URL-safe base64 over 15 random bytes, the same
//! shape as the Node server's `base64id`, so nothing downstream is surprised by their length.

use base64::Engine as _;
use compact_str::CompactString;

/// The length of every id `new_wire_id` makes.
pub const WIRE_ID_LEN: usize = 20;

/// A fresh id. Held inline (a `CompactString` keeps up to 24 bytes in place): every session
/// and socket carries one, and a heap block per id would cost more than the id.
pub fn new_wire_id() -> CompactString {
    let bytes: [u8; 15] = rand::random();
    let mut text = [0u8; WIRE_ID_LEN];
    let written = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut text)
        .unwrap_or_default();
    // URL-safe base64 is ASCII.
    CompactString::from_utf8_lossy(&text[..written])
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_20_url_safe_chars_and_distinct() {
        let a = super::new_wire_id();
        let b = super::new_wire_id();
        assert_eq!(a.len(), 20);
        assert!(!a.is_heap_allocated());
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, b);
    }
}
