//! Dynamic namespaces (socket.io's `io.of(RegExp | fn)`): a connect to a namespace that does
//! not exist asks the host's matcher, and a namespace it accepts is created on the spot, set up
//! by the host's hook, and then connected to as any other.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::namespace::Namespace;
use crate::auth::AuthPayload;

/// Whether a namespace that does not exist yet may be created for a connect with this auth.
pub type NamespaceMatcher =
    Arc<dyn Fn(&str, &AuthPayload) -> BoxFuture<'static, bool> + Send + Sync>;

/// Sets up a namespace the matcher accepted (handlers, middleware) before its first connect.
pub type NamespaceSetup = Arc<dyn Fn(&Namespace) + Send + Sync>;

#[derive(Clone)]
pub struct DynamicNamespaces {
    pub matcher: NamespaceMatcher,
    pub setup: NamespaceSetup,
}
