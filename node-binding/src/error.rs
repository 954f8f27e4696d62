//! Core errors as JavaScript exceptions: `code` is the core's `ErrorKind::code()` (`ERR_<KIND>`),
//! the message its message. Nothing is decided here; every failure comes from core as a
//! `roomcast::Error` or is a conversion of JavaScript input.

use napi::Status;
use roomcast::Error;

/// What a fallible synchronous export returns: the exception carries the core's code. (Named
/// `Result` because napi-derive recognises a fallible export by that name.)
pub(crate) type Result<T> = std::result::Result<T, napi::Error<String>>;

pub(crate) fn js_error(error: Error) -> napi::Error<String> {
    napi::Error::new(error.kind().code().to_owned(), error.message())
}

/// For async exports, whose rejections napi-rs builds with its own `Status`: the code goes in
/// front of the message and index.js moves it to `code` (`nativeError`).
pub(crate) fn js_async_error(error: Error) -> napi::Error {
    napi::Error::new(
        Status::GenericFailure,
        format!("{}: {}", error.kind().code(), error.message()),
    )
}

/// A JavaScript value of the wrong shape (the conversion's own failure).
pub(crate) fn invalid(message: impl Into<String>) -> napi::Error<String> {
    js_error(Error::invalid_argument(message.into()))
}
