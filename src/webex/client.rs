//! The one Webex client of a run, for REST and XSI alike: it sends the
//! bearer token and a fresh `TrackingID` with every request, records the
//! `TrackingID` of every response, logs each request at debug level
//! (method, URL, status, TrackingID, time; never the token), and retries
//! 429 and 502/503/504, and nothing else, as the plan settings say.
//!
//! A 429 waits for `Retry-After` (seconds; capped) when the answer gives
//! one, else `pause_after_error`, as every other retried status does
//! (webex-api.md 6.3, 6.4). When the retries run out the caller gets
//! [`WebexError::RateLimited`] or [`WebexError::ServerError`]; every other
//! answer comes back as a [`Reply`] for the caller to read.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio_util::sync::CancellationToken;

use super::xsi_doc::{self, ErrorInfo};
use crate::secret::Secret;

/// The most of a body the client reads; Webex and XSI answers are small.
const MAX_READ: usize = 4 * 1024 * 1024;

/// How failed requests are retried: the plan's "Webex Request Pause After
/// Error" and "Webex Request Retries After Error".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The pause before a retry when the answer names none.
    pub pause_after_error: Duration,
    /// How many times a request is retried after the first attempt.
    pub retries_after_error: u32,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    /// DESIGN section 3's defaults: 5 s, 3 retries; `Retry-After` capped at 60 s.
    fn default() -> Self {
        Self {
            pause_after_error: Duration::from_secs(5),
            retries_after_error: 3,
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

/// An answer that was not retried away.
#[derive(Debug, Clone)]
pub struct Reply {
    pub method: Method,
    /// The URL as sent (it never holds a secret: the token is a header).
    pub url: String,
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The `TrackingID` the server answered with, else the one sent.
    pub tracking_id: String,
    /// Attempts made, 1 when the first one was answered.
    pub attempts: u32,
    /// Time of the last attempt.
    pub elapsed: Duration,
    /// The `Retry-After` header, verbatim.
    pub retry_after: Option<String>,
}

impl Reply {
    /// The body as text, lossily.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Webex's JSON error body: `{message, errors[].description, trackingId}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    pub message: Option<String>,
    pub descriptions: Vec<String>,
    pub tracking_id: Option<String>,
}

impl ApiErrorBody {
    /// Reads an error body; `None` when it is not Webex-shaped JSON.
    #[must_use]
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let object = value.as_object()?;
        let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let descriptions = object
            .get("errors")
            .and_then(|e| e.as_array())
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e.get("description").and_then(|d| d.as_str()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let parsed = ApiErrorBody {
            message: text("message").or_else(|| text("error_description")),
            descriptions,
            tracking_id: text("trackingId").or_else(|| text("trackingID")),
        };
        (parsed.message.is_some() || !parsed.descriptions.is_empty()).then_some(parsed)
    }

    /// The message, with the descriptions that add to it.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut parts: Vec<&str> = self.message.iter().map(String::as_str).collect();
        for d in &self.descriptions {
            if !parts.contains(&d.as_str()) {
                parts.push(d);
            }
        }
        parts.join("; ")
    }
}

/// Why a request gave no usable answer.
#[derive(Debug, Clone)]
pub enum WebexError {
    /// No HTTP answer: DNS, connection, proxy, TLS or a timeout.
    Transport { url: String, reason: String },
    /// 429 through every retry.
    RateLimited {
        url: String,
        attempts: u32,
        tracking_id: String,
        retry_after: Option<Duration>,
    },
    /// 502, 503 or 504 through every retry.
    ServerError {
        url: String,
        status: u16,
        attempts: u32,
        tracking_id: String,
    },
    /// Another error status, with what the body said.
    Status {
        url: String,
        status: u16,
        tracking_id: String,
        /// The Webex error body, when there is one.
        api: Option<ApiErrorBody>,
        /// XSI's `ErrorInfo`, when there is one.
        xsi: Option<ErrorInfo>,
        /// The start of a body that is neither.
        excerpt: Option<String>,
    },
    /// A success status whose body is not what the resource returns.
    Malformed {
        url: String,
        status: u16,
        tracking_id: String,
        reason: String,
    },
    /// The run was cancelled (deadline, timeout, Ctrl-C).
    Cancelled,
}

impl WebexError {
    /// The HTTP status, when the server answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            WebexError::RateLimited { .. } => Some(429),
            WebexError::ServerError { status, .. }
            | WebexError::Status { status, .. }
            | WebexError::Malformed { status, .. } => Some(*status),
            WebexError::Transport { .. } | WebexError::Cancelled => None,
        }
    }

    /// The TrackingID of the last answer, when there was one.
    #[must_use]
    pub fn tracking_id(&self) -> Option<&str> {
        match self {
            WebexError::RateLimited { tracking_id, .. }
            | WebexError::ServerError { tracking_id, .. }
            | WebexError::Status { tracking_id, .. }
            | WebexError::Malformed { tracking_id, .. } => Some(tracking_id),
            WebexError::Transport { .. } | WebexError::Cancelled => None,
        }
    }

    /// The URL requested.
    #[must_use]
    pub fn url(&self) -> Option<&str> {
        match self {
            WebexError::Transport { url, .. }
            | WebexError::RateLimited { url, .. }
            | WebexError::ServerError { url, .. }
            | WebexError::Status { url, .. }
            | WebexError::Malformed { url, .. } => Some(url),
            WebexError::Cancelled => None,
        }
    }

    /// An error status built from a reply.
    #[must_use]
    pub fn from_reply(reply: &Reply) -> Self {
        let api = ApiErrorBody::parse(&reply.body);
        let xsi = xsi_doc::parse(&reply.body)
            .ok()
            .and_then(|doc| ErrorInfo::from_element(&doc));
        let excerpt = (api.is_none() && xsi.is_none() && !reply.body.is_empty())
            .then(|| xsi_doc::excerpt(&reply.text()));
        WebexError::Status {
            url: reply.url.clone(),
            status: reply.status.as_u16(),
            tracking_id: reply.tracking_id.clone(),
            api,
            xsi,
            excerpt,
        }
    }

    /// A malformed success body.
    #[must_use]
    pub fn malformed(reply: &Reply, reason: impl Into<String>) -> Self {
        WebexError::Malformed {
            url: reply.url.clone(),
            status: reply.status.as_u16(),
            tracking_id: reply.tracking_id.clone(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for WebexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebexError::Transport { url, reason } => {
                write!(f, "{url} could not be reached: {reason}")
            }
            WebexError::RateLimited { url, attempts, .. } => {
                write!(f, "{url} answered 429 to all {attempts} attempts")
            }
            WebexError::ServerError {
                url,
                status,
                attempts,
                ..
            } => write!(f, "{url} answered {status} to all {attempts} attempts"),
            WebexError::Status {
                url,
                status,
                api,
                xsi,
                excerpt,
                ..
            } => {
                write!(f, "{url} answered {status}")?;
                if let Some(info) = xsi {
                    write!(f, ": {}", info.describe())
                } else if let Some(api) = api {
                    write!(f, ": {}", api.describe())
                } else if let Some(text) = excerpt {
                    write!(f, " with a body that is not a webex error: {text:?}")
                } else {
                    Ok(())
                }
            }
            WebexError::Malformed {
                url,
                status,
                reason,
                ..
            } => write!(f, "{url} answered {status} with an unusable body: {reason}"),
            WebexError::Cancelled => f.write_str("the request was cancelled"),
        }
    }
}

impl std::error::Error for WebexError {}

/// Headers a request adds beyond the token and the TrackingID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// REST: `Accept: application/json`.
    Rest,
    /// XSI-Actions: `X-BroadWorks-Protocol-Version: 25.0` and XML.
    Xsi,
}

/// The Webex client. Cheap to clone; clones share the counters.
#[derive(Clone)]
pub struct WebexClient {
    http: reqwest::Client,
    token: Secret,
    retry: RetryPolicy,
    cancel: CancellationToken,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    attempts: AtomicU64,
}

impl fmt::Debug for WebexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebexClient")
            .field("token", &self.token)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl WebexClient {
    /// A client sending `token` through `http` (the run's client), retrying
    /// as `retry` says and giving up when `cancel` fires.
    #[must_use]
    pub fn new(
        http: reqwest::Client,
        token: Secret,
        retry: RetryPolicy,
        cancel: CancellationToken,
    ) -> Self {
        Self {
            http,
            token,
            retry,
            cancel,
            counters: Arc::default(),
        }
    }

    /// The same client watching another cancellation signal.
    #[must_use]
    pub fn with_cancel(&self, cancel: CancellationToken) -> Self {
        Self {
            cancel,
            ..self.clone()
        }
    }

    /// The retry settings.
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Requests sent so far and attempts made for them (retries included).
    #[must_use]
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counters.requests.load(Ordering::Relaxed),
            self.counters.attempts.load(Ordering::Relaxed),
        )
    }

    /// Sends a request, retrying 429 and 502/503/504 as the policy says.
    /// Any other answer, success or not, is returned as a [`Reply`].
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        flavour: Flavour,
    ) -> Result<Reply, WebexError> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.counters.attempts.fetch_add(1, Ordering::Relaxed);
            let mut reply = self.attempt(method.clone(), url, flavour).await?;
            reply.attempts = attempt;
            let retryable = matches!(reply.status.as_u16(), 429 | 502 | 503 | 504);
            if !retryable {
                return Ok(reply);
            }
            let retry_after = retry_after(&reply);
            if attempt > self.retry.retries_after_error {
                return Err(if reply.status == StatusCode::TOO_MANY_REQUESTS {
                    WebexError::RateLimited {
                        url: url.to_owned(),
                        attempts: attempt,
                        tracking_id: reply.tracking_id,
                        retry_after,
                    }
                } else {
                    WebexError::ServerError {
                        url: url.to_owned(),
                        status: reply.status.as_u16(),
                        attempts: attempt,
                        tracking_id: reply.tracking_id,
                    }
                });
            }
            let pause = match (reply.status, retry_after) {
                (StatusCode::TOO_MANY_REQUESTS, Some(asked)) => {
                    asked.min(self.retry.retry_after_cap)
                }
                _ => self.retry.pause_after_error,
            };
            tracing::debug!(
                status = reply.status.as_u16(),
                tracking_id = %reply.tracking_id,
                pause_ms = pause.as_millis(),
                attempt,
                "retrying after a pause"
            );
            tokio::select! {
                () = self.cancel.cancelled() => return Err(WebexError::Cancelled),
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One attempt: the request and its whole body.
    async fn attempt(
        &self,
        method: Method,
        url: &str,
        flavour: Flavour,
    ) -> Result<Reply, WebexError> {
        let sent_id = format!("WXCPREFLIGHT_{}", uuid::Uuid::new_v4());
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.token.expose())
            .header("TrackingID", &sent_id);
        request = match flavour {
            Flavour::Rest => request.header(reqwest::header::ACCEPT, "application/json"),
            Flavour::Xsi => request
                .header("X-BroadWorks-Protocol-Version", "25.0")
                .header(reqwest::header::ACCEPT, "application/xml"),
        };
        if method == Method::POST || method == Method::PUT {
            request = request.header(reqwest::header::CONTENT_LENGTH, "0");
        }
        let began = Instant::now();
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                let room = MAX_READ.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if room <= chunk.len() {
                    break;
                }
            }
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        let result = tokio::select! {
            () = self.cancel.cancelled() => return Err(WebexError::Cancelled),
            result = exchange => result,
        };
        let elapsed = began.elapsed();
        let (status, headers, body) = match result {
            Ok(parts) => parts,
            Err(e) => {
                let reason = transport_reason(&e);
                tracing::debug!(
                    method = %method,
                    url,
                    tracking_id = %sent_id,
                    elapsed_ms = elapsed.as_millis(),
                    error = %reason,
                    "webex request failed"
                );
                return Err(WebexError::Transport {
                    url: url.to_owned(),
                    reason,
                });
            }
        };
        let tracking_id = headers
            .get("trackingid")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| sent_id.clone(), str::to_owned);
        tracing::debug!(
            method = %method,
            url,
            status = status.as_u16(),
            tracking_id = %tracking_id,
            elapsed_ms = elapsed.as_millis(),
            "webex request"
        );
        Ok(Reply {
            method,
            url: url.to_owned(),
            status,
            content_type: headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body,
            tracking_id,
            attempts: 1,
            elapsed,
            retry_after: headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        })
    }
}

/// `Retry-After` in seconds, when the answer gives a usable one.
fn retry_after(reply: &Reply) -> Option<Duration> {
    reply.retry_after.as_deref().and_then(parse_retry_after)
}

/// Parses `Retry-After` as delay-seconds; an HTTP date or junk gives `None`.
#[must_use]
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The reason of a transport error, lowercase, with its causes.
fn transport_reason(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    if error.is_timeout() {
        return "no answer before the request timeout".to_owned();
    }
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    parts.join(": ").to_lowercase()
}
