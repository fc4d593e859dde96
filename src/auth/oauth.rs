//! The OAuth client: the oauth2 crate over the run's own reqwest client, so
//! the resolver, the proxy relay and `ca_file` apply to OAuth as to every
//! other request.
//!
//! oauth2 5 ships an adapter for reqwest 0.12 only; [`Http`] implements its
//! `AsyncHttpClient` over our reqwest 0.13 client and notes the status and
//! TrackingID of the last answer, which oauth2's errors drop. Token-endpoint
//! errors come in two shapes (webex-api.md 1.6 leaves the exact one open):
//! Webex's `{message, errors[].description, trackingId}` and RFC 6749's
//! `{error, error_description}`; [`TokenFailure`] reads both and classifies
//! by HTTP status and error code together.

use std::sync::Mutex;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields,
    HttpRequest, HttpResponse, RedirectUrl, RequestTokenError, StandardRevocableToken,
    StandardTokenResponse, TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::AuthSettings;
use crate::secret::Secret;

/// What Webex adds to a token response: the refresh token's lifetime.
/// (`scope` is kept by oauth2's standard response itself.)
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WebexExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<u64>,
}

impl ExtraTokenFields for WebexExtra {}

/// A Webex token response.
pub type WebexTokenResponse = StandardTokenResponse<WebexExtra, BasicTokenType>;

/// The oauth2 client with an authorize and a token URL.
pub type WebexClient<Auth = EndpointSet, Device = EndpointNotSet, Token = EndpointSet> =
    oauth2::Client<
        BasicErrorResponse,
        WebexTokenResponse,
        BasicTokenIntrospectionResponse,
        StandardRevocableToken,
        BasicRevocationErrorResponse,
        Auth,
        Device,
        EndpointNotSet,
        EndpointNotSet,
        Token,
    >;

/// Tokens as a token endpoint returned them, with instants computed on
/// receipt (lifetimes are read, never assumed: DESIGN section 6).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: Secret,
    pub access_expires_at: Option<jiff::Timestamp>,
    /// `None` when the response carried none (a refresh may omit it: then
    /// the previous one is kept).
    pub refresh_token: Option<Secret>,
    pub refresh_expires_at: Option<jiff::Timestamp>,
    /// The granted scopes; `None` when the response had no scope string.
    pub scope: Option<Vec<String>>,
    pub obtained_at: jiff::Timestamp,
}

impl Tokens {
    /// Reads a token response received at `now`.
    #[must_use]
    pub fn from_response(response: &WebexTokenResponse, now: jiff::Timestamp) -> Self {
        let after = |seconds: u64| {
            i64::try_from(seconds)
                .ok()
                .and_then(|s| now.checked_add(jiff::SignedDuration::from_secs(s)).ok())
        };
        Self {
            access_token: Secret::new(response.access_token().secret().clone()),
            access_expires_at: response.expires_in().and_then(|d| after(d.as_secs())),
            refresh_token: response
                .refresh_token()
                .map(|t| Secret::new(t.secret().clone())),
            refresh_expires_at: response
                .extra_fields()
                .refresh_token_expires_in
                .and_then(after),
            scope: response
                .scopes()
                .map(|scopes| scopes.iter().map(|s| s.to_string()).collect()),
            obtained_at: now,
        }
    }
}

/// The answer the adapter saw last: oauth2's errors keep the body but not
/// the status or the TrackingID.
#[derive(Debug, Clone, Default)]
pub struct LastAnswer {
    pub status: Option<u16>,
    pub tracking_id: Option<String>,
}

/// oauth2's HTTP client trait over our reqwest client.
#[derive(Debug)]
pub struct Http<'a> {
    client: &'a reqwest::Client,
    last: Mutex<LastAnswer>,
    /// Device-grant polling: an answer of 428 (Webex's "pending") that is
    /// not in RFC shape is read as `authorization_pending`.
    device_polling: bool,
}

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl<'a> Http<'a> {
    /// An adapter over the run's client (redirects are off in it).
    #[must_use]
    pub fn new(client: &'a reqwest::Client) -> Self {
        Self {
            client,
            last: Mutex::new(LastAnswer::default()),
            device_polling: false,
        }
    }

    /// An adapter for device-grant polling.
    #[must_use]
    pub fn for_device_polling(client: &'a reqwest::Client) -> Self {
        Self {
            device_polling: true,
            ..Self::new(client)
        }
    }

    /// The status and TrackingID of the last answer.
    #[must_use]
    pub fn last(&self) -> LastAnswer {
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| HttpError(format!("cannot build the request: {e}")))?;
        let (method, url) = (request.method().clone(), request.url().clone());
        let started = std::time::Instant::now();
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| HttpError(describe_reqwest(&e)))?;
        let status = response.status();
        let tracking_id = response
            .headers()
            .get("trackingid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        tracing::debug!(
            %method,
            url = %url_without_query(&url),
            status = status.as_u16(),
            tracking_id = tracking_id.as_deref().unwrap_or("-"),
            ms = started.elapsed().as_millis(),
            "oauth request"
        );
        if let Ok(mut last) = self.last.lock() {
            *last = LastAnswer {
                status: Some(status.as_u16()),
                tracking_id: tracking_id.clone(),
            };
        }
        let mut builder = oauth2::http::Response::builder().status(status.as_u16());
        for (name, value) in response.headers() {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
        let mut body = response
            .bytes()
            .await
            .map_err(|e| HttpError(describe_reqwest(&e)))?
            .to_vec();
        if self.device_polling && status.as_u16() == 428 && rfc_error(&body).is_none() {
            body = br#"{"error":"authorization_pending"}"#.to_vec();
        }
        builder
            .body(body)
            .map_err(|e| HttpError(format!("cannot read the answer: {e}")))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http<'_> {
    type Error = HttpError;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// A URL for the log: query strings may carry codes and states.
#[must_use]
pub fn url_without_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// A reqwest error in words, with its cause chain (never a URL query).
#[must_use]
pub fn describe_reqwest(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The oauth2 client for these settings: authorize and token URL, client
/// credentials in the request body (as the Webex SDKs send them).
pub fn client(settings: &AuthSettings) -> Result<WebexClient, String> {
    let auth_url = AuthUrl::new(settings.endpoint("authorize"))
        .map_err(|e| format!("the authorize URL is not valid: {e}"))?;
    let token_url = TokenUrl::new(settings.endpoint("access_token"))
        .map_err(|e| format!("the token URL is not valid: {e}"))?;
    let mut client = oauth2::Client::new(ClientId::new(settings.client_id.clone()))
        .set_auth_uri(auth_url)
        .set_token_uri(token_url)
        .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = &settings.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    Ok(client)
}

/// The redirect URL as written (oauth2's `RedirectUrl` sends the raw
/// string, so a stray space reaches Webex as it would from the harness).
pub fn redirect_url(settings: &AuthSettings) -> Result<RedirectUrl, String> {
    RedirectUrl::new(settings.redirect_url.clone()).map_err(|e| {
        format!(
            "interface.redirect_url {:?} is not a URL: {e}\n\
             run `wxc-preflight check --only redirect-url` for details",
            settings.redirect_url
        )
    })
}

/// How a token request failed, classified for findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The grant (code, refresh token) was refused; the text decides
    /// between expired and rejected.
    GrantRefused,
    /// The client secret is wrong (401, `invalid_client`).
    ClientRejected,
    /// The client id is unknown (Webex's "Client Id is invalid").
    ClientUnknown,
    /// No answer: DNS, connect, TLS, timeout.
    Network,
    /// An answer that fits nothing above.
    Other,
}

/// A failed token request, with what the answer said.
#[derive(Debug, Clone)]
pub struct TokenFailure {
    pub kind: FailureKind,
    pub status: Option<u16>,
    /// The `error` code (RFC shape), when given.
    pub error: Option<String>,
    /// The description (either shape); never holds a token.
    pub description: String,
    pub tracking_id: Option<String>,
}

impl std::fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status, &self.error) {
            (Some(status), Some(error)) => write!(f, "{status} {error}: {}", self.description),
            (Some(status), None) => write!(f, "{status}: {}", self.description),
            (None, _) => f.write_str(&self.description),
        }
    }
}

#[derive(Deserialize)]
struct RfcError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct WebexError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<WebexErrorItem>,
    #[serde(default, alias = "trackingID")]
    #[serde(rename = "trackingId")]
    tracking_id: Option<String>,
}

#[derive(Deserialize)]
struct WebexErrorItem {
    #[serde(default)]
    description: Option<String>,
}

fn rfc_error(body: &[u8]) -> Option<RfcError> {
    serde_json::from_slice::<RfcError>(body).ok()
}

impl TokenFailure {
    /// Classifies an oauth2 error, with the status the adapter saw.
    pub fn from_oauth<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + Serialize>(
        error: &RequestTokenError<RE, T>,
        last: &LastAnswer,
    ) -> Self {
        match error {
            RequestTokenError::Request(e) => Self {
                kind: FailureKind::Network,
                status: None,
                error: None,
                description: e.to_string(),
                tracking_id: None,
            },
            RequestTokenError::ServerResponse(response) => {
                let body = serde_json::to_vec(response).unwrap_or_default();
                Self::from_body(last.status, &body, last.tracking_id.clone())
            }
            RequestTokenError::Parse(_, body) => {
                Self::from_body(last.status, body, last.tracking_id.clone())
            }
            RequestTokenError::Other(text) => Self {
                kind: FailureKind::Other,
                status: last.status,
                error: None,
                description: text.clone(),
                tracking_id: last.tracking_id.clone(),
            },
        }
    }

    /// Classifies an error answer from its status and body, in either shape.
    #[must_use]
    pub fn from_body(status: Option<u16>, body: &[u8], tracking_id: Option<String>) -> Self {
        let (error, description, body_tracking) = if let Some(rfc) = rfc_error(body) {
            (
                Some(rfc.error),
                rfc.error_description.unwrap_or_default(),
                None,
            )
        } else if let Ok(webex) = serde_json::from_slice::<WebexError>(body) {
            let details: Vec<String> = webex
                .errors
                .into_iter()
                .filter_map(|e| e.description)
                .collect();
            let text = if details.is_empty() {
                webex.message.unwrap_or_default()
            } else {
                details.join("; ")
            };
            (None, text, webex.tracking_id)
        } else {
            let text = String::from_utf8_lossy(body);
            (None, text.chars().take(200).collect(), None)
        };
        let lower = description.to_ascii_lowercase();
        let kind = match (status, error.as_deref()) {
            (_, Some("invalid_client")) | (Some(401), _) => FailureKind::ClientRejected,
            _ if lower.contains("client id is invalid") => FailureKind::ClientUnknown,
            (_, Some("invalid_grant" | "invalid_request")) => FailureKind::GrantRefused,
            (Some(400), None) if lower.contains("refresh token") => FailureKind::GrantRefused,
            _ => FailureKind::Other,
        };
        Self {
            kind,
            status,
            error,
            description,
            tracking_id: tracking_id.or(body_tracking),
        }
    }

    /// Whether the answer's text says the grant has expired.
    #[must_use]
    pub fn says_expired(&self) -> bool {
        let lower = self.description.to_ascii_lowercase();
        lower.contains("expired") && !lower.contains("revoked")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_read() {
        let rfc = TokenFailure::from_body(
            Some(400),
            br#"{"error":"invalid_request","error_description":"The refresh token provided is expired, revoked, malformed, or invalid."}"#,
            None,
        );
        assert_eq!(rfc.kind, FailureKind::GrantRefused);
        assert!(!rfc.says_expired());
        let webex = TokenFailure::from_body(
            Some(400),
            br#"{"message":"bad","errors":[{"description":"Client Id is invalid"}],"trackingId":"ROUTER_1"}"#,
            None,
        );
        assert_eq!(webex.kind, FailureKind::ClientUnknown);
        assert_eq!(webex.tracking_id.as_deref(), Some("ROUTER_1"));
        let client = TokenFailure::from_body(
            Some(401),
            br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
            None,
        );
        assert_eq!(client.kind, FailureKind::ClientRejected);
        let expired = TokenFailure::from_body(
            Some(400),
            br#"{"error":"invalid_grant","error_description":"The refresh token has expired"}"#,
            None,
        );
        assert!(expired.says_expired());
        let html = TokenFailure::from_body(Some(502), b"<html>bad gateway</html>", None);
        assert_eq!(html.kind, FailureKind::Other);
    }

    #[test]
    fn the_log_url_drops_the_query() {
        let url = url::Url::parse("https://h/v1/authorize?code=abc&state=s").unwrap();
        assert_eq!(url_without_query(&url), "https://h/v1/authorize");
    }
}
