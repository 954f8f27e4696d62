//! The connect hand-off: what a namespace middleware receives and what it answers.

pub mod shared_strings;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

pub use compact_str::CompactString;
use hyper::HeaderMap;

use crate::error::{Error, ErrorKind, Result};

/// Who a connection belongs to, as the host's validator established it. Every socket keeps
/// one, so the user's own strings are held in place up to 24 bytes (`CompactString`; it reads
/// as a `&str`), not in a heap block each, and the role (one of a few) is the process's shared
/// copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: CompactString,
    pub user_name: CompactString,
    pub user_role: Arc<str>,
}

impl Identity {
    /// The name a user gets when the host's validator gives none.
    pub const DEFAULT_NAME: &'static str = "User";
    /// The role a user gets when the host's validator gives none.
    pub const DEFAULT_ROLE: &'static str = "user";

    /// An identity as hosts state it: an empty (or absent) name or role takes the default.
    pub fn new(user_id: &str, user_name: Option<&str>, user_role: Option<&str>) -> Self {
        fn given(value: Option<&str>) -> Option<&str> {
            value.filter(|v| !v.is_empty())
        }
        Self {
            user_id: CompactString::from(user_id),
            user_name: CompactString::from(given(user_name).unwrap_or(Self::DEFAULT_NAME)),
            user_role: shared_strings::shared(given(user_role).unwrap_or(Self::DEFAULT_ROLE)),
        }
    }

    /// `new` for an identity a host handed in: an empty user id is refused.
    pub fn from_host(
        user_id: &str,
        user_name: Option<&str>,
        user_role: Option<&str>,
    ) -> Result<Self> {
        if user_id.is_empty() {
            return Err(Error::invalid_argument("user id is empty"));
        }
        Ok(Self::new(user_id, user_name, user_role))
    }

    /// An identity as JSON text from a host across a language boundary:
    /// `{"userId": "...", "userName"?: "...", "userRole"?: "..."}`.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| Error::new(ErrorKind::InvalidJson, "identity is not JSON"))?;
        let field = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
        let user_id = field("userId")
            .ok_or_else(|| Error::new(ErrorKind::InvalidJson, "identity has no userId"))?;
        Self::from_host(user_id, field("userName"), field("userRole"))
    }
}

/// The `auth` payload of a namespace connect, as the client sent it (`{}` when it sent none).
/// Parsed at most once, on first use, and shared along the connect: the middleware, the
/// recovery claim and the host's validator read the same value, and hosts across a language
/// boundary get the client's own text, never a re-serialisation. A connected socket keeps only
/// the text (`shared_text`): the parsed tree costs more memory than it saves.
#[derive(Debug, Clone)]
pub struct AuthPayload(Arc<AuthText>);

#[derive(Debug)]
struct AuthText {
    text: Arc<str>,
    value: std::sync::OnceLock<serde_json::Value>,
}

impl AuthPayload {
    /// From the CONNECT packet's data, which the packet decoder checked is a JSON object.
    pub fn new(text: Option<&str>) -> Self {
        Self(Arc::new(AuthText {
            text: text.unwrap_or("{}").into(),
            value: std::sync::OnceLock::new(),
        }))
    }

    /// A payload from a value (hosts and tests that build a connect request themselves).
    pub fn from_value(value: serde_json::Value) -> Self {
        Self(Arc::new(AuthText {
            text: value.to_string().into(),
            value: std::sync::OnceLock::from(value),
        }))
    }

    pub fn text(&self) -> &str {
        &self.0.text
    }

    /// The text, shared (what a socket keeps for its handshake).
    pub fn shared_text(&self) -> Arc<str> {
        self.0.text.clone()
    }

    pub fn value(&self) -> &serde_json::Value {
        self.0.value.get_or_init(|| {
            serde_json::from_str(&self.0.text).unwrap_or_else(|_| serde_json::json!({}))
        })
    }
}

impl Default for AuthPayload {
    fn default() -> Self {
        Self::new(None)
    }
}

/// `payload["key"]` and the other `serde_json::Value` reads work on the payload itself.
impl std::ops::Deref for AuthPayload {
    type Target = serde_json::Value;

    fn deref(&self) -> &serde_json::Value {
        self.value()
    }
}

/// Data a middleware attaches to the socket it admits (socket.io's `socket.data` set in
/// `io.use`): the socket starts with it.
#[derive(Debug, Clone, Default)]
pub struct DataSlot(Arc<parking_lot::Mutex<Option<serde_json::Value>>>);

impl DataSlot {
    pub fn set(&self, data: serde_json::Value) {
        *self.0.lock() = Some(data);
    }

    pub(crate) fn take(&self) -> Option<serde_json::Value> {
        self.0.lock().take()
    }
}

/// What a middleware sees of a namespace connect.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The id the socket gets when admitted (a recovered one keeps its old id).
    pub socket_id: compact_str::CompactString,
    pub namespace: Arc<str>,
    /// The client's `auth` payload (an object; `{}` when the client sent none).
    pub auth: AuthPayload,
    /// Where the middleware may leave the socket's initial data.
    pub data: DataSlot,
    pub headers: HeaderMap,
    pub remote_addr: SocketAddr,
    pub query: String,
}

/// A refused connect: the client sees `connect_error` with this message (and data, if any).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    pub message: String,
    pub data: Option<serde_json::Value>,
}

impl ConnectError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }
}

pub type ConnectResult = Result<Option<Identity>, ConnectError>;
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// An async connect middleware: accept (optionally with an identity) or refuse.
pub type Middleware = Arc<dyn Fn(ConnectRequest) -> BoxFuture<ConnectResult> + Send + Sync>;
