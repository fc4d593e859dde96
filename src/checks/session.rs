//! What the Webex checks (`connection`, `organization`, `xsi`, `endpoints`,
//! `plan`) share: building the Webex client of the run from the services,
//! the `token` check's access token and the plan's retry settings, and
//! mapping a failed request to a finding with its evidence.

use crate::auth::AccessToken;
use crate::check::{Context, Outcome};
use crate::config::Config;
use crate::finding::Finding;
use crate::webex::{RestApi, RetryPolicy, WebexClient, WebexError};

/// The retry settings of `[plan]` (the harness's "Webex Request Pause After
/// Error" and "Retries After Error"), or the defaults without a plan.
#[must_use]
pub fn retry_policy(config: &Config) -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    if let Some(plan) = &config.file.plan {
        policy.pause_after_error = plan.pause_after_error;
        policy.retries_after_error = plan.retries_after_error;
    }
    policy
}

/// The Webex client of a check: the run's HTTP client, the bearer token,
/// the plan's retries, cancelled with the check.
pub fn client(ctx: &Context) -> Result<WebexClient, Outcome> {
    let config = ctx.config()?;
    let services = ctx.services()?;
    let token = ctx.need::<AccessToken>("token")?;
    Ok(WebexClient::new(
        services.client().clone(),
        token.token.clone(),
        retry_policy(config),
        ctx.cancel.clone(),
    ))
}

/// The REST API of a check.
pub fn rest(ctx: &Context) -> Result<RestApi, Outcome> {
    let client = client(ctx)?;
    let base = ctx.services()?.api_base.clone();
    Ok(RestApi::new(client, base))
}

/// The finding for a request that failed where `what` was asked for, with
/// the status, TrackingID and what the body said as evidence. `None` when
/// the check was cancelled (the pipeline reports that).
#[must_use]
pub fn request_finding(what: &str, error: &WebexError) -> Option<Finding> {
    let finding = match error {
        WebexError::Cancelled => return None,
        WebexError::RateLimited {
            attempts,
            retry_after,
            ..
        } => {
            let finding = Finding::new(
                "api.rate-limited",
                format!("{what}: webex answered 429 to all {attempts} attempts"),
            );
            match retry_after {
                Some(pause) => finding.with("retry-after", format!("{} s", pause.as_secs())),
                None => finding,
            }
        }
        WebexError::ServerError {
            status, attempts, ..
        } => Finding::new(
            "api.server-error",
            format!("{what}: webex answered {status} to all {attempts} attempts"),
        ),
        WebexError::Status { status: 401, .. } => Finding::new(
            "token.rejected",
            format!("{what}: webex refused the access token (401)"),
        ),
        WebexError::Status { status: 403, .. } => Finding::new(
            "api.forbidden",
            format!("{what}: webex answered 403 forbidden"),
        ),
        WebexError::Status { status, .. } => Finding::new(
            "api.unexpected-response",
            format!("{what}: webex answered {status}"),
        ),
        WebexError::Malformed { status, .. } => Finding::new(
            "api.unexpected-response",
            format!("{what}: webex answered {status} with a body that cannot be read"),
        ),
        WebexError::Transport { .. } => Finding::new(
            "internet.unavailable",
            format!("{what}: the request got no answer"),
        ),
    };
    Some(with_error_evidence(finding, error))
}

/// Adds what a failed request showed: URL, status, TrackingID, the error
/// body's message or ErrorInfo, the reason.
#[must_use]
pub fn with_error_evidence(mut finding: Finding, error: &WebexError) -> Finding {
    if let Some(url) = error.url() {
        finding = finding.with("request", url);
    }
    if let Some(status) = error.status() {
        finding = finding.with("status", status.to_string());
    }
    if let Some(id) = error.tracking_id() {
        finding = finding.with("trackingid", id);
    }
    match error {
        WebexError::Status {
            api, xsi, excerpt, ..
        } => {
            if let Some(info) = xsi {
                if let Some(summary) = info.summary_english.as_ref().or(info.summary.as_ref()) {
                    finding = finding.with("errorinfo summary", summary.clone());
                }
                if let Some(code) = &info.error_code {
                    finding = finding.with("errorinfo errorcode", code.clone());
                }
            }
            if let Some(api) = api {
                finding = finding.with("message", api.describe());
            }
            if let Some(text) = excerpt {
                finding = finding.with("body starts", text.clone());
            }
        }
        WebexError::Malformed { reason, .. } | WebexError::Transport { reason, .. } => {
            finding = finding.with("reason", reason.clone());
        }
        WebexError::RateLimited { .. } | WebexError::ServerError { .. } | WebexError::Cancelled => {
        }
    }
    finding
}

/// An outcome holding only the finding for a failed request.
#[must_use]
pub fn failed(what: &str, error: &WebexError) -> Outcome {
    let mut outcome = Outcome::new();
    if let Some(finding) = request_finding(what, error) {
        outcome.finding(finding);
    } else {
        outcome.evidence("cancelled", what.to_owned());
    }
    outcome
}
