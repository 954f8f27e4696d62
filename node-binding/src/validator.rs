//! The bridge from the engine's async validator to a JavaScript function. The JS function is
//! called through a weak threadsafe function (it never keeps Node alive) with `call_async_catch`,
//! so a throw becomes an error instead of a process exit; the engine adds the timeout.

use std::sync::Arc;

use napi::bindgen_prelude::Promise;
use roomcast::{AuthDecision, AuthRequest, Identity, SessionValidator};

pub type ValidatorFn = crate::hooks::JsCallback<String, Promise<Option<String>>>;

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
                Some(identity) => Identity::from_json(&identity)
                    .map(AuthDecision::Accept)
                    .map_err(|e| format!("validator result: {e}")),
            }
        })
    })
}
