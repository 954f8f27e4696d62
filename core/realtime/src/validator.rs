//! The hand-off to the host's session store. The host plugs in an async validator; this module
//! enforces the dashboard's error codes around it, bounds it with a timeout, isolates its failures
//! (an error, a panic or silence fail only that handshake), and coalesces concurrent handshakes
//! of one session into one call, so a reconnect storm does not hammer the session store.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{FutureExt, Shared};
use hyper::HeaderMap;
use parking_lot::Mutex;

use roomcast_engine::auth::{
    AuthPayload, BoxFuture, ConnectError, ConnectRequest, ConnectResult, Identity,
};
use roomcast_engine::engineio::handshake::headers_object;

/// What the validator is asked about.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub session_id: String,
    pub user_id: String,
    /// The whole `auth` payload (sessionID, userId, userName, anything else).
    pub auth: AuthPayload,
    pub headers: HeaderMap,
    pub remote_addr: SocketAddr,
}

impl AuthRequest {
    /// The request as JSON for hosts across a language boundary (Node, C):
    /// `{"auth": {...}, "headers": {name: value}, "address": "...", "port": n}`.
    /// The `auth` value is the client's own text, spliced in rather than re-serialised.
    pub fn to_json(&self) -> String {
        let rest = serde_json::json!({
            "headers": headers_object(&self.headers),
            "address": self.remote_addr.ip().to_string(),
            "port": self.remote_addr.port(),
        })
        .to_string();
        // `rest` is an object: `{` and at least one member follow.
        format!(r#"{{"auth":{},{}"#, self.auth.text(), &rest[1..])
    }
}

/// The validator's answer when it could decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    Accept(Identity),
    Reject,
}

/// `Err` means the validator failed (store down, bug): the client sees `AUTHENTICATION_FAILED`.
pub type ValidatorResult = Result<AuthDecision, String>;
pub type SessionValidator = Arc<dyn Fn(AuthRequest) -> BoxFuture<ValidatorResult> + Send + Sync>;

pub const MISSING_CREDENTIALS: &str = "UNAUTHORIZED: Missing authentication credentials";
pub const INVALID_SESSION: &str = "UNAUTHORIZED: Invalid session or user mismatch";
pub const AUTHENTICATION_FAILED: &str = "AUTHENTICATION_FAILED";

type SharedOutcome = Shared<BoxFuture<ValidatorResult>>;

pub(crate) struct AuthGate {
    validator: Mutex<Option<SessionValidator>>,
    timeout: Duration,
    inflight: Mutex<HashMap<(String, String), SharedOutcome>>,
}

impl AuthGate {
    pub fn new(timeout: Duration) -> Self {
        Self {
            validator: Mutex::new(None),
            timeout,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_validator(&self, validator: SessionValidator) {
        *self.validator.lock() = Some(validator);
    }

    /// Runs the dashboard's authentication middleware for one connect.
    pub async fn authenticate(&self, request: ConnectRequest) -> ConnectResult {
        let (Some(session_id), Some(user_id)) = (
            credential(&request.auth, "sessionID"),
            credential(&request.auth, "userId"),
        ) else {
            return Err(unauthorized(MISSING_CREDENTIALS));
        };
        let auth_request = AuthRequest {
            session_id,
            user_id,
            auth: request.auth,
            headers: request.headers,
            remote_addr: request.remote_addr,
        };
        match self.validate(auth_request).await {
            Ok(AuthDecision::Accept(identity)) => Ok(Some(identity)),
            Ok(AuthDecision::Reject) => Err(unauthorized(INVALID_SESSION)),
            Err(error) => {
                tracing::warn!(%error, "session validator failed");
                Err(ConnectError::new(AUTHENTICATION_FAILED)
                    .with_data(serde_json::json!({ "code": "AUTHENTICATION_FAILED" })))
            }
        }
    }

    async fn validate(&self, request: AuthRequest) -> ValidatorResult {
        let Some(validator) = self.validator.lock().clone() else {
            return Err("no session validator configured".to_owned());
        };
        let key = (request.session_id.clone(), request.user_id.clone());
        let shared = {
            let mut inflight = self.inflight.lock();
            inflight
                .entry(key.clone())
                .or_insert_with(|| guarded(validator, request, self.timeout).shared())
                .clone()
        };
        let outcome = shared.clone().await;
        let mut inflight = self.inflight.lock();
        if inflight.get(&key).is_some_and(|s| s.ptr_eq(&shared)) {
            inflight.remove(&key);
        }
        outcome
    }

    #[cfg(test)]
    pub fn inflight(&self) -> usize {
        self.inflight.lock().len()
    }
}

/// The validator call with its failure modes folded into `Err`: a panic (while building or
/// awaiting the future) and a timeout.
fn guarded(
    validator: SessionValidator,
    request: AuthRequest,
    timeout: Duration,
) -> BoxFuture<ValidatorResult> {
    Box::pin(async move {
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| validator(request)))
            .map_err(|_| "session validator panicked".to_owned())?;
        match tokio::time::timeout(timeout, AssertUnwindSafe(call).catch_unwind()).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("session validator panicked".to_owned()),
            Err(_) => Err(format!(
                "session validator did not answer within {timeout:?}"
            )),
        }
    })
}

/// A credential from the auth payload: a non-empty string (numbers are accepted as their text).
fn credential(auth: &serde_json::Value, key: &str) -> Option<String> {
    match auth.get(key)? {
        serde_json::Value::String(s) if !s.trim().is_empty() && s.len() <= 512 => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unauthorized(message: &str) -> ConnectError {
    ConnectError::new(message).with_data(serde_json::json!({ "code": "UNAUTHORIZED" }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn request(auth: serde_json::Value) -> ConnectRequest {
        ConnectRequest {
            socket_id: "socket-1".into(),
            namespace: Arc::from("/"),
            auth: AuthPayload::from_value(auth),
            data: Default::default(),
            headers: HeaderMap::new(),
            remote_addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            query: String::new(),
        }
    }

    #[test]
    fn hosts_get_the_clients_own_auth_text() {
        let text = r#"{"sessionID":"s1", "price":1.50}"#;
        let request = AuthRequest {
            session_id: "s1".into(),
            user_id: "u".into(),
            auth: AuthPayload::new(Some(text)),
            headers: HeaderMap::from_iter([(
                hyper::header::ORIGIN,
                hyper::header::HeaderValue::from_static("http://a"),
            )]),
            remote_addr: SocketAddr::from(([127, 0, 0, 1], 9)),
        };
        let json = request.to_json();
        assert!(json.starts_with(&format!(r#"{{"auth":{text},"#)), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["headers"]["origin"], "http://a");
        assert_eq!(value["port"], 9);
        assert_eq!(request.auth["price"], 1.5);
    }

    fn identity(id: &str) -> Identity {
        Identity::new(id, None, None)
    }

    #[tokio::test]
    async fn maps_each_outcome_to_the_seed_error() {
        let gate = AuthGate::new(Duration::from_millis(100));
        let missing = gate
            .authenticate(request(serde_json::json!({ "userId": "u" })))
            .await;
        assert_eq!(missing.unwrap_err().message, MISSING_CREDENTIALS);
        let no_validator = gate
            .authenticate(request(
                serde_json::json!({ "sessionID": "s", "userId": "u" }),
            ))
            .await;
        assert_eq!(no_validator.unwrap_err().message, AUTHENTICATION_FAILED);

        gate.set_validator(Arc::new(|req: AuthRequest| {
            Box::pin(async move {
                match req.session_id.as_str() {
                    "good" => Ok(AuthDecision::Accept(identity("canonical"))),
                    "bad" => Ok(AuthDecision::Reject),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        Ok(AuthDecision::Reject)
                    }
                    "panic" => panic!("validator bug"),
                    _ => Err("store down".to_owned()),
                }
            })
        }));
        let auth = |sid: &str| request(serde_json::json!({ "sessionID": sid, "userId": "u" }));
        let ok = gate.authenticate(auth("good")).await.unwrap().unwrap();
        assert_eq!(&*ok.user_id, "canonical");
        assert_eq!(
            gate.authenticate(auth("bad")).await.unwrap_err().message,
            INVALID_SESSION
        );
        for failing in ["slow", "panic", "error"] {
            let err = gate.authenticate(auth(failing)).await.unwrap_err();
            assert_eq!(err.message, AUTHENTICATION_FAILED, "{failing}");
        }
        assert_eq!(gate.inflight(), 0);
    }

    #[tokio::test]
    async fn concurrent_handshakes_of_one_session_share_one_call() {
        let gate = Arc::new(AuthGate::new(Duration::from_secs(1)));
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        gate.set_validator(Arc::new(move |req: AuthRequest| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(AuthDecision::Accept(identity(&req.user_id)))
            })
        }));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let gate = gate.clone();
            tasks.push(tokio::spawn(async move {
                gate.authenticate(request(
                    serde_json::json!({ "sessionID": "s1", "userId": "u1" }),
                ))
                .await
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap().unwrap().is_some());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Another session is its own call.
        gate.authenticate(request(
            serde_json::json!({ "sessionID": "s2", "userId": "u1" }),
        ))
        .await
        .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(gate.inflight(), 0);
    }
}
