//! Result codes and the thread-local last-error message.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The outcome of every call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum roomcast_result {
    Ok = 0,
    /// A required pointer was NULL.
    ErrNullPointer = 1,
    /// A string was not valid UTF-8.
    ErrInvalidUtf8 = 2,
    /// A payload was not valid JSON (or not the JSON shape required).
    ErrInvalidJson = 3,
    /// An argument was out of range or malformed.
    ErrInvalidArgument = 4,
    /// The server is not running (start it first), or already stopped.
    ErrNotRunning = 5,
    /// The server is already running.
    ErrAlreadyRunning = 6,
    /// A socket operation failed (e.g. the port is taken).
    ErrIo = 7,
    /// The auth request or ack was already completed, timed out, or never existed.
    ErrAlreadyCompleted = 8,
    /// The caller's buffer is too small; the needed length was written to the length output.
    ErrBufferTooSmall = 9,
    /// A bug inside roomcast was caught before it could cross the C boundary.
    ErrPanic = 10,
    /// No connected socket has that id.
    ErrNotFound = 11,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub(crate) fn set_error(message: impl Into<String>) {
    let message = message.into();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

pub(crate) fn fail(code: roomcast_result, message: impl Into<String>) -> roomcast_result {
    set_error(message);
    code
}

/// Runs an FFI body, turning a panic into `ErrPanic`.
pub(crate) fn guard(body: impl FnOnce() -> roomcast_result) -> roomcast_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(_) => fail(roomcast_result::ErrPanic, "internal error (panic caught)"),
    }
}

/// Copies the calling thread's last error message into `buf` (NUL-terminated, truncated to
/// `cap`); returns the full message length (without NUL). Thread-safe; `buf` may be NULL when
/// `cap` is 0 to query the length.
#[no_mangle]
pub extern "C" fn roomcast_last_error_message(buf: *mut u8, cap: usize) -> usize {
    LAST_ERROR.with(|e| {
        let message = e.borrow();
        if !buf.is_null() && cap > 0 {
            let n = message.len().min(cap - 1);
            // ok: the caller guarantees `buf` holds `cap` bytes.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf, n);
                *buf.add(n) = 0;
            }
        }
        message.len()
    })
}
