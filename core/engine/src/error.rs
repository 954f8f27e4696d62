//! The one error type every host sees. Each binding maps `ErrorKind` 1:1 and adds nothing:
//! C returns it as `roomcast_result` (`ROOMCAST_RESULT_ERR_<KIND>`), Node throws an `Error`
//! whose `code` is `ErrorKind::code` (`ERR_<KIND>`), Rust hosts get it as is.

use std::borrow::Cow;

/// What went wrong, in words every host shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A value is out of range or malformed (a path without `/`, a zero ping interval…).
    InvalidArgument,
    /// A payload is not JSON, or not the JSON shape required.
    InvalidJson,
    /// The server is not running: never started, or already shut down.
    NotRunning,
    /// The server is already running.
    AlreadyRunning,
    /// A socket or runtime operation of the operating system failed (e.g. the port is taken).
    Io,
    /// A pending request or ack was already answered, timed out, or never existed.
    AlreadyCompleted,
    /// No connected socket has that id.
    NotFound,
    /// Another node of the cluster did not answer a request in time.
    Timeout,
}

impl ErrorKind {
    /// The Node `code` string: `ERR_` and the kind in upper snake case, as C's
    /// `ROOMCAST_RESULT_ERR_<KIND>`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidArgument => "ERR_INVALID_ARGUMENT",
            Self::InvalidJson => "ERR_INVALID_JSON",
            Self::NotRunning => "ERR_NOT_RUNNING",
            Self::AlreadyRunning => "ERR_ALREADY_RUNNING",
            Self::Io => "ERR_IO",
            Self::AlreadyCompleted => "ERR_ALREADY_COMPLETED",
            Self::NotFound => "ERR_NOT_FOUND",
            Self::Timeout => "ERR_TIMEOUT",
        }
    }
}

/// An error with its kind and a message for people (logs, exceptions, `last_error_message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context: ` before its message.
    pub fn context(self, context: &str) -> Self {
        Self::new(self.kind, format!("{context}: {}", self.message))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self::new(ErrorKind::Io, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_kind_names() {
        assert_eq!(ErrorKind::InvalidArgument.code(), "ERR_INVALID_ARGUMENT");
        assert_eq!(ErrorKind::AlreadyCompleted.code(), "ERR_ALREADY_COMPLETED");
        let io: Error = std::io::Error::other("port taken").into();
        assert_eq!(io.kind(), ErrorKind::Io);
        assert_eq!(
            io.context("cannot listen").message(),
            "cannot listen: port taken"
        );
    }
}
