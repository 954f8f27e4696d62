//! Borrowing `(ptr, len)` strings from C.

use crate::error::{fail, roomcast_result};

/// A UTF-8 string borrowed for the duration of the call.
pub(crate) fn borrow_str<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a str, roomcast_result> {
    if ptr.is_null() {
        if len == 0 {
            return Ok("");
        }
        return Err(fail(
            roomcast_result::ErrNullPointer,
            format!("{what} is NULL"),
        ));
    }
    // ok: the caller guarantees `ptr` points to `len` readable bytes for this call.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    std::str::from_utf8(bytes).map_err(|_| {
        fail(
            roomcast_result::ErrInvalidUtf8,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// Writes `text` into a caller buffer: `ErrBufferTooSmall` with the needed length otherwise.
pub(crate) fn write_out(
    text: &str,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> roomcast_result {
    if out_len.is_null() {
        return fail(roomcast_result::ErrNullPointer, "out_len is NULL");
    }
    // ok: checked non-null; the caller owns it.
    unsafe { *out_len = text.len() };
    if text.len() > cap {
        return fail(
            roomcast_result::ErrBufferTooSmall,
            format!("buffer of {cap} bytes is too small: {} needed", text.len()),
        );
    }
    if text.is_empty() {
        return roomcast_result::Ok;
    }
    if buf.is_null() {
        return fail(roomcast_result::ErrNullPointer, "buf is NULL");
    }
    // ok: the caller guarantees `buf` holds `cap` >= len bytes.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, text.len()) };
    roomcast_result::Ok
}
