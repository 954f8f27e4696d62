//! CORS headers for the endpoint's HTTP answers. With a `CorsPolicy` (socket.io's `cors`
//! option) they follow the `cors` package engine.io applies: its origin forms, methods, allowed
//! and exposed headers, credentials and max age, and a 204 preflight. Without one, an allowed
//! origin is echoed with credentials (the engine's permissive development default).

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::{CorsOrigin, CorsPolicy, EngineConfig};
use crate::transport::response::{plain, HttpResponse};

/// Adds the CORS headers of an answer (every answer but a 101).
pub(crate) fn add_headers(
    config: &EngineConfig,
    headers: &mut HeaderMap,
    origin: Option<&HeaderValue>,
) {
    if let Some(policy) = &config.cors {
        return policy.apply(headers, origin);
    }
    let Some(origin) = origin else { return };
    let allowed = match &config.allowed_origins {
        None => true,
        Some(list) => origin
            .to_str()
            .is_ok_and(|o| list.iter().any(|a| a == "*" || a == o)),
    };
    if allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        add_vary(headers, "Origin");
    }
}

/// The answer to an `OPTIONS` preflight.
pub(crate) fn preflight(config: &EngineConfig, request: &HeaderMap) -> HttpResponse {
    if let Some(policy) = &config.cors {
        return policy.preflight(request);
    }
    let mut response = plain(204, "text/plain", Bytes::new());
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    if let Some(requested) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

// The headers a policy gives an answer (an inherent impl beside the header code: the type is
// plain data in `config`).
impl CorsPolicy {
    /// Adds the headers of an answer to an actual (non-preflight) request.
    pub(crate) fn apply(&self, headers: &mut HeaderMap, origin: Option<&HeaderValue>) {
        self.allow_origin(headers, origin);
        if self.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        set_text(
            headers,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            self.exposed_headers.as_deref(),
        );
    }

    /// The 204 answer to an `OPTIONS` preflight.
    pub(crate) fn preflight(&self, request: &HeaderMap) -> HttpResponse {
        let mut response = plain(204, "text/plain", Bytes::new());
        let headers = response.headers_mut();
        self.apply(headers, request.get(header::ORIGIN));
        set_text(
            headers,
            header::ACCESS_CONTROL_ALLOW_METHODS,
            Some(&self.methods),
        );
        match &self.allowed_headers {
            Some(allowed) => set_text(headers, header::ACCESS_CONTROL_ALLOW_HEADERS, Some(allowed)),
            None => {
                if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
                    add_vary(headers, "Access-Control-Request-Headers");
                }
            }
        }
        if let Some(seconds) = self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(seconds));
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        response
    }

    fn allow_origin(&self, headers: &mut HeaderMap, origin: Option<&HeaderValue>) {
        match &self.origin {
            CorsOrigin::Any => {
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
            }
            CorsOrigin::Reflect => {
                if let Some(origin) = origin {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
                add_vary(headers, "Origin");
            }
            // One fixed origin is sent as it is, as the `cors` package does: the browser compares.
            CorsOrigin::List(list) if list.len() == 1 => {
                set_text(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, Some(&list[0]));
                add_vary(headers, "Origin");
            }
            CorsOrigin::List(list) => {
                let listed =
                    origin.filter(|o| o.to_str().is_ok_and(|o| list.iter().any(|a| a == o)));
                if let Some(origin) = listed {
                    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
                add_vary(headers, "Origin");
            }
        }
    }
}

fn set_text(headers: &mut HeaderMap, name: HeaderName, value: Option<&str>) {
    if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(name, value);
    }
}

fn add_vary(headers: &mut HeaderMap, field: &'static str) {
    let vary = match headers.get(header::VARY).and_then(|v| v.to_str().ok()) {
        Some(existing)
            if existing
                .split(',')
                .any(|f| f.trim().eq_ignore_ascii_case(field)) =>
        {
            return
        }
        Some(existing) => format!("{existing}, {field}"),
        None => field.to_owned(),
    };
    set_text(headers, header::VARY, Some(&vary));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: &str, asked: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        if let Some(asked) = asked {
            h.insert(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                HeaderValue::from_str(asked).unwrap(),
            );
        }
        h
    }

    fn get(h: &HeaderMap, name: HeaderName) -> Option<&str> {
        h.get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn preflight_answers_the_configured_policy() {
        let policy = CorsPolicy {
            origin: CorsOrigin::List(vec!["http://localhost:54023".into()]),
            methods: "GET,POST".into(),
            allowed_headers: Some("content-type".into()),
            credentials: true,
            ..CorsPolicy::default()
        };
        let response = policy.preflight(&request("http://localhost:54023", None));
        let h = response.headers();
        assert_eq!(response.status(), 204);
        assert_eq!(
            get(h, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("http://localhost:54023")
        );
        assert_eq!(
            get(h, header::ACCESS_CONTROL_ALLOW_METHODS),
            Some("GET,POST")
        );
        assert_eq!(
            get(h, header::ACCESS_CONTROL_ALLOW_HEADERS),
            Some("content-type")
        );
        assert_eq!(
            get(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
            Some("true")
        );
    }

    #[test]
    fn an_unlisted_origin_gets_no_allow_origin() {
        let policy = CorsPolicy {
            origin: CorsOrigin::List(vec!["https://a.example".into(), "https://b.example".into()]),
            ..CorsPolicy::default()
        };
        let mut h = HeaderMap::new();
        policy.apply(
            &mut h,
            request("https://evil.example", None).get(header::ORIGIN),
        );
        assert_eq!(get(&h, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
        assert_eq!(get(&h, header::VARY), Some("Origin"));
        policy.apply(
            &mut h,
            request("https://b.example", None).get(header::ORIGIN),
        );
        assert_eq!(
            get(&h, header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some("https://b.example")
        );
    }

    #[test]
    fn defaults_allow_any_origin_and_echo_asked_headers() {
        let policy = CorsPolicy {
            exposed_headers: Some("x-trace".into()),
            max_age: Some(600),
            ..CorsPolicy::default()
        };
        let response = policy.preflight(&request("https://x.example", Some("x-token")));
        let h = response.headers();
        assert_eq!(get(h, header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
        assert_eq!(
            get(h, header::ACCESS_CONTROL_ALLOW_HEADERS),
            Some("x-token")
        );
        assert_eq!(
            get(h, header::ACCESS_CONTROL_EXPOSE_HEADERS),
            Some("x-trace")
        );
        assert_eq!(get(h, header::ACCESS_CONTROL_MAX_AGE), Some("600"));
        assert_eq!(get(h, header::ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
    }
}
