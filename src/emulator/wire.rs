//! What every HTTPS response goes through: `TrackingID`, `Date`, error bodies,
//! the transport faults (slow, rate limits, server errors) and the request log.
//!
//! Handlers answer errors with a [`Failure`] value; this layer renders it in
//! the shape of its route (Webex JSON, RFC 6749 JSON or XSI `ErrorInfo`) with
//! the request's tracking id, so the shapes live in one place.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::faults::RateLimit;
use super::state::{Counters, Shared, new_uuid};
use super::xsi_doc;

/// An error answer, rendered by [`layer`].
#[derive(Debug, Clone)]
pub enum Failure {
    /// `{message, errors[{description}], trackingId}` (webex-api.md 6.1).
    Webex {
        /// Status.
        status: StatusCode,
        /// The message, also the one error's description.
        message: String,
    },
    /// `{error, error_description, trackingId}` (RFC 6749 5.2).
    OAuth {
        /// Status.
        status: StatusCode,
        /// The RFC error code.
        error: &'static str,
        /// Human text.
        description: String,
    },
    /// XSI `ErrorInfo` (webex-api.md 3.4).
    Xsi {
        /// Status.
        status: StatusCode,
        /// `summary`.
        summary: String,
        /// `errorCode`.
        code: u32,
    },
}

impl Failure {
    /// A Webex-shaped error.
    pub fn webex(status: StatusCode, message: impl Into<String>) -> Self {
        Failure::Webex {
            status,
            message: message.into(),
        }
    }

    /// An RFC 6749-shaped error.
    pub fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Failure::OAuth {
            status,
            error,
            description: description.into(),
        }
    }

    /// An XSI `ErrorInfo`.
    pub fn xsi(status: StatusCode, code: u32, summary: impl Into<String>) -> Self {
        Failure::Xsi {
            status,
            summary: summary.into(),
            code,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Failure::Webex { status, .. }
            | Failure::OAuth { status, .. }
            | Failure::Xsi { status, .. } => *status,
        }
    }

    /// Renders the body for `tracking_id`, XSI as JSON when `xsi_json`.
    fn render(&self, tracking_id: &str, xsi_json: bool) -> Response {
        match self {
            Failure::Webex { status, message } => (
                *status,
                json_headers(),
                json!({
                    "message": message,
                    "errors": [{"description": message}],
                    "trackingId": tracking_id,
                })
                .to_string(),
            )
                .into_response(),
            Failure::OAuth {
                status,
                error,
                description,
            } => (
                *status,
                json_headers(),
                json!({
                    "error": error,
                    "error_description": description,
                    "trackingId": tracking_id,
                })
                .to_string(),
            )
                .into_response(),
            Failure::Xsi {
                status,
                summary,
                code,
            } => super::xsi::document(*status, &xsi_doc::error_info(summary, *code), xsi_json),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

fn json_headers() -> [(header::HeaderName, &'static str); 1] {
    [(header::CONTENT_TYPE, "application/json;charset=UTF-8")]
}

/// Whether a path is a REST or XSI resource (subject to rate limits and
/// server-error faults), as opposed to the OAuth endpoints and pages.
fn is_limited_route(path: &str) -> bool {
    path.starts_with(super::XSI_ACTIONS_PATH)
        || [
            "/v1/people",
            "/v1/organizations",
            "/v1/licenses",
            "/v1/authorizations",
        ]
        .iter()
        .any(|p| path.starts_with(p))
}

/// Whether an XSI client asked for JSON (`format=json` or `Accept: application/json`).
#[must_use]
pub fn wants_xsi_json(query: Option<&str>, headers: &HeaderMap) -> bool {
    let by_query = query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.eq_ignore_ascii_case("format=json"))
    });
    let by_accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    by_query || by_accept
}

/// The middleware: faults before the handler, headers and error bodies after it.
pub async fn layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    Counters::bump(&shared.counters.requests);
    let began = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let xsi = path.starts_with(super::XSI_ACTIONS_PATH);
    let xsi_json = wants_xsi_json(request.uri().query(), request.headers());
    let tracking_id = request
        .headers()
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map_or_else(|| format!("ROUTER_{}", new_uuid()), str::to_owned);

    let behaviour = &shared.behaviour;
    if behaviour.slow > Duration::ZERO {
        tokio::time::sleep(behaviour.slow).await;
    }
    let injected = if is_limited_route(&path) {
        injected_failure(&shared, xsi)
    } else {
        None
    };
    let mut response = if let Some(failure) = injected {
        let retry = matches!(failure.status(), StatusCode::TOO_MANY_REQUESTS);
        let mut response = failure.render(&tracking_id, xsi_json);
        if retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    } else {
        let response = next.run(request).await;
        let failure = response.extensions().get::<Failure>().cloned().or_else(|| {
            // The router's own refusal carries no body: give it the route's shape.
            (response.status() == StatusCode::METHOD_NOT_ALLOWED).then(|| {
                let text = "The requested method is not allowed on this resource.";
                if xsi {
                    Failure::xsi(StatusCode::METHOD_NOT_ALLOWED, 4105, text)
                } else {
                    Failure::webex(StatusCode::METHOD_NOT_ALLOWED, text)
                }
            })
        });
        if let Some(failure) = failure {
            let mut rendered = failure.render(&tracking_id, xsi_json);
            for (name, value) in response.headers() {
                rendered.headers_mut().insert(name, value.clone());
            }
            rendered
        } else {
            response
        }
    };

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&tracking_id) {
        headers.insert("TrackingID", value);
    }
    if let Ok(value) = HeaderValue::from_str(&http_date(behaviour.clock_skew_secs)) {
        headers.insert(header::DATE, value);
    }
    tracing::debug!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        tracking_id = %tracking_id,
        elapsed_ms = began.elapsed().as_millis(),
        "emulator request"
    );
    response
}

/// The failure a transport fault puts in place of the answer, if any.
fn injected_failure(shared: &Shared, xsi: bool) -> Option<Failure> {
    let behaviour = &shared.behaviour;
    let n = Counters::bump(&shared.counters.limited_route_requests);
    let limited = match behaviour.rate_limit {
        RateLimit::Off => false,
        RateLimit::Storm => true,
        RateLimit::Transient => n % 4 == 1,
    };
    let (status, text) = if limited {
        (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests, retry after 1 second.",
        )
    } else if behaviour.server_errors {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable, please try again later.",
        )
    } else {
        return None;
    };
    Some(if xsi {
        Failure::xsi(status, 5000 + u32::from(status.as_u16()), text)
    } else {
        Failure::webex(status, text)
    })
}

/// An IMF-fixdate for now plus `skew_secs`.
fn http_date(skew_secs: i64) -> String {
    let now = jiff::Timestamp::try_from(SystemTime::now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let shifted = now
        .checked_add(jiff::SignedDuration::from_secs(skew_secs))
        .unwrap_or(now);
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&shifted)
        .unwrap_or_default()
}

/// An empty answer with `status`.
#[must_use]
pub fn empty(status: StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_is_imf_fixdate() {
        let date = http_date(0);
        assert!(date.ends_with(" GMT"), "{date}");
        assert_eq!(date.len(), "Sun, 06 Nov 1994 08:49:37 GMT".len());
    }

    #[test]
    fn xsi_json_is_asked_by_query_or_accept() {
        let mut headers = HeaderMap::new();
        assert!(!wants_xsi_json(Some("address=1002"), &headers));
        assert!(wants_xsi_json(Some("address=1002&format=json"), &headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(wants_xsi_json(None, &headers));
    }

    #[test]
    fn oauth_routes_are_never_limited() {
        assert!(is_limited_route("/v1/people/me"));
        assert!(is_limited_route(
            "/com.broadsoft.xsi-actions/v2.0/user/x/calls"
        ));
        assert!(!is_limited_route("/v1/access_token"));
        assert!(!is_limited_route("/v1/authorize"));
    }
}
