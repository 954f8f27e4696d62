//! Result codes and the thread-local last-error message.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use engine::{Error, ErrorKind};

/// The outcome of every call: the engine's error kinds one for one (Node has the same ones as
/// `ERR_<KIND>` codes), plus what only a C caller can get wrong (NULL, UTF-8, buffer sizes) and
/// a caught panic.
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
    /// Another node of the cluster did not answer a request in time.
    ErrTimeout = 12,
}

impl From<ErrorKind> for roomcast_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => Self::ErrInvalidArgument,
            ErrorKind::InvalidJson => Self::ErrInvalidJson,
            ErrorKind::NotRunning => Self::ErrNotRunning,
            ErrorKind::AlreadyRunning => Self::ErrAlreadyRunning,
            ErrorKind::Io => Self::ErrIo,
            ErrorKind::AlreadyCompleted => Self::ErrAlreadyCompleted,
            ErrorKind::NotFound => Self::ErrNotFound,
            ErrorKind::Timeout => Self::ErrTimeout,
        }
    }
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

/// A core error as the call's result, its message kept for `roomcast_last_error_message`.
pub(crate) fn fail_with(error: Error) -> roomcast_result {
    fail(error.kind().into(), error.message())
}

/// The result of a core call that returns nothing.
pub(crate) fn result_of(outcome: engine::error::Result<()>) -> roomcast_result {
    match outcome {
        Ok(()) => roomcast_result::Ok,
        Err(error) => fail_with(error),
    }
}

/// Runs an FFI body, turning a panic into `ErrPanic`.
pub(crate) fn guard(body: impl FnOnce() -> roomcast_result) -> roomcast_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(_) => fail(roomcast_result::ErrPanic, "internal error (panic caught)"),
    }
}

/// The calling thread's last error message (the one set by the last call that failed).
///
/// Parameters: `buf` receives the message, NUL-terminated and truncated to `cap` bytes; it may be
/// NULL when `cap` is 0, to query the length.
/// Returns: the full message length in bytes, without the NUL (not a roomcast_result).
/// Memory: `buf` is caller-owned. Thread-safe: each thread has its own last error.
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

/// Returns early with the error code of a failed step (`Err(code)`), else its value.
macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}
pub(crate) use try_ffi;
