//! socket.io's `cors` option as plain data; `engineio::cors` turns it into headers.

/// Which origins a browser is told it may read answers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// `Access-Control-Allow-Origin: *` (the `cors` package's default, `origin: "*"`).
    Any,
    /// The request's own origin, whatever it is (`origin: true`).
    Reflect,
    /// The request's origin when it is one of these (`origin: "https://a"` or a list).
    List(Vec<String>),
}

/// socket.io's `cors` option, by the `cors` package's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    pub origin: CorsOrigin,
    /// `Access-Control-Allow-Methods` of a preflight (the `cors` package's default list).
    pub methods: String,
    /// `Access-Control-Allow-Headers` of a preflight; `None` echoes what the browser asked for.
    pub allowed_headers: Option<String>,
    /// `Access-Control-Expose-Headers`, when set.
    pub exposed_headers: Option<String>,
    /// `Access-Control-Allow-Credentials: true` when set.
    pub credentials: bool,
    /// `Access-Control-Max-Age` of a preflight, in seconds, when set.
    pub max_age: Option<u64>,
}

impl Default for CorsPolicy {
    fn default() -> Self {
        Self {
            origin: CorsOrigin::Any,
            methods: "GET,HEAD,PUT,PATCH,POST,DELETE".to_owned(),
            allowed_headers: None,
            exposed_headers: None,
            credentials: false,
            max_age: None,
        }
    }
}
