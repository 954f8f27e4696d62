//! The bridge from the engine's async validator to a JavaScript function. The JS function is
//! called through a weak threadsafe function (it never keeps Node alive) with `call_async_catch`,
//! so a throw becomes an error instead of a process exit; the engine adds the timeout.

use std::sync::Arc;

use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use roomcast::{AuthDecision, AuthRequest, Identity, SessionValidator};
use serde_json::Value;

pub type ValidatorFn =
    ThreadsafeFunction<String, Promise<Option<String>>, String, Status, false, true>;

pub fn bridge(tsfn: Arc<ValidatorFn>) -> SessionValidator {
    Arc::new(move |request: AuthRequest| {
        let tsfn = tsfn.clone();
        Box::pin(async move {
            let payload = request.to_json();
            let promise = tsfn
                .call_async_catch(payload)
                .await
                .map_err(|e| format!("validator threw: {}", e.reason))?;
            let answer = promise
                .await
                .map_err(|e| format!("validator rejected: {}", e.reason))?;
            match answer {
                None => Ok(AuthDecision::Reject),
                Some(identity) => parse_identity(&identity).map(AuthDecision::Accept),
            }
        })
    })
}

/// `{"userId": "...", "userName"?: "...", "userRole"?: "..."}`; anything else is a failure.
fn parse_identity(text: &str) -> Result<Identity, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|_| "validator returned invalid JSON".to_owned())?;
    let field = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let user_id = field("userId").ok_or("validator result has no userId")?;
    Ok(Identity::new(user_id, field("userName"), field("userRole")))
}
