//! Auth failures as findings: the one place of `auth` that knows the
//! finding codes, shared by the `token` and `authorize` checks and by the
//! `auth` commands, so a failed refresh reads the same in a report and in a
//! terminal. (`finding` sits at the bottom of the layers, so this imports
//! nothing from above.)

use super::login::LoginError;
use super::oauth::{FailureKind, TokenFailure};
use super::store::{RefreshError, StoreError, StoredTokens};
use crate::finding::Finding;

/// Evidence lines every token finding may carry: the store and the tokens'
/// last characters and expiries.
fn with_tokens(mut finding: Finding, tokens: &StoredTokens) -> Finding {
    finding = finding.with(
        "access token",
        describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at),
    );
    if let Some(refresh) = &tokens.refresh_token {
        finding = finding.with(
            "refresh token",
            describe_expiry(&refresh.hint(), tokens.refresh_expires_at),
        );
    }
    finding
}

/// "…abcd, expires 2026-01-01T00:00:00Z (in 13d 23h)".
#[must_use]
pub fn describe_expiry(hint: &str, at: Option<jiff::Timestamp>) -> String {
    match at {
        None => format!("{hint}, expiry unknown"),
        Some(at) => {
            let left = at.duration_since(jiff::Timestamp::now());
            let when = if left.is_negative() {
                format!("expired {} ago", human(left.abs()))
            } else {
                format!("in {}", human(left))
            };
            format!(
                "{hint}, expires {} ({when})",
                at.round(jiff::Unit::Second).unwrap_or(at)
            )
        }
    }
}

/// A duration for people: "13d 23h", "4m 10s".
#[must_use]
pub fn human(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().max(0);
    let (days, hours, minutes, seconds) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

fn with_failure(mut finding: Finding, failure: &TokenFailure) -> Finding {
    let answer = match failure.status {
        Some(status) => format!("{status} {}", failure.error.as_deref().unwrap_or(""))
            .trim_end()
            .to_owned(),
        None => "no answer".to_owned(),
    };
    finding = finding.with("token endpoint answer", answer);
    if !failure.description.is_empty() {
        finding = finding.with("description", failure.description.clone());
    }
    if let Some(id) = &failure.tracking_id {
        finding = finding.with("TrackingID", id.clone());
    }
    finding
}

/// A store that cannot be used.
#[must_use]
pub fn store_finding(error: &StoreError) -> Finding {
    match error {
        StoreError::Corrupt { path, reason } => Finding::new(
            "token.store-corrupt",
            format!("token store {} cannot be used: {reason}", path.display()),
        )
        .with("store", path.display().to_string()),
        StoreError::Write { path, reason } => Finding::new(
            "token.store-corrupt",
            format!("token store {} cannot be written: {reason}", path.display()),
        )
        .with("store", path.display().to_string()),
    }
}

/// A token-endpoint failure of a code exchange or a refresh. `refresh`
/// says which; the stored tokens, when given, decide between an expired and
/// a rejected refresh token (the answer's text is ambiguous: Webex says
/// "expired, revoked, malformed, or invalid").
#[must_use]
pub fn token_failure_finding(
    failure: &TokenFailure,
    stored: Option<&StoredTokens>,
    host: &str,
) -> Finding {
    let now = jiff::Timestamp::now();
    let refresh_expired = stored
        .and_then(|t| t.refresh_left(now))
        .is_some_and(|left| !left.is_positive());
    let finding = match failure.kind {
        FailureKind::ClientRejected => Finding::new(
            "oauth.client-rejected",
            format!("the token endpoint of {host} rejected the client secret"),
        ),
        FailureKind::ClientUnknown => Finding::new(
            "oauth.client-unknown",
            format!("the token endpoint of {host} does not know the client id"),
        ),
        FailureKind::GrantRefused if refresh_expired || failure.says_expired() => Finding::new(
            "token.refresh-expired",
            "the refresh token has expired: a new login is needed",
        ),
        FailureKind::GrantRefused => Finding::new(
            "token.refresh-rejected",
            format!(
                "{host} refused the refresh token before its expiry (revoked, or already used)"
            ),
        ),
        FailureKind::Network => Finding::new(
            "token.refresh-unreachable",
            format!(
                "the token endpoint of {host} could not be reached: {}",
                failure.description
            ),
        ),
        FailureKind::Other => Finding::new(
            "token.refresh-unreachable",
            format!("the token endpoint of {host} gave an unexpected answer: {failure}"),
        ),
    };
    let finding = with_failure(finding, failure);
    match stored {
        Some(tokens) => with_tokens(finding, tokens),
        None => finding,
    }
}

/// A refresh that produced no tokens; `None` for a missing store (the
/// caller reports `token.missing` with its own evidence).
#[must_use]
pub fn refresh_finding(error: &RefreshError, host: &str) -> Option<Finding> {
    Some(match error {
        RefreshError::Missing => return None,
        RefreshError::Store(e) => store_finding(e),
        RefreshError::Settings(text) => Finding::new(
            "token.refresh-unreachable",
            format!("no refresh request could be made: {text}"),
        ),
        RefreshError::NoRefreshToken(tokens) => with_tokens(
            Finding::new(
                "token.refresh-expired",
                "no refresh token is stored, so the access token cannot be renewed",
            ),
            tokens,
        ),
        RefreshError::RefreshExpired(tokens) => with_tokens(
            Finding::new(
                "token.refresh-expired",
                "the stored refresh token has expired: a new login is needed",
            ),
            tokens,
        ),
        RefreshError::Failed(tokens, failure) => token_failure_finding(failure, Some(tokens), host),
    })
}

/// A login that failed in a way the catalog covers.
#[must_use]
pub fn login_finding(error: &LoginError, host: &str) -> Option<Finding> {
    match error {
        LoginError::Redirect { error, description } if error == "invalid_scope" => Some(
            Finding::new(
                "scopes.not-registered",
                format!(
                    "the login asks for scopes the integration does not register: {description}"
                ),
            )
            .with("error", error.clone())
            .with("description", description.clone()),
        ),
        LoginError::Redirect { error, description } if error == "access_denied" => Some(
            Finding::new(
                "oauth.access-denied",
                "the consent was denied in the browser",
            )
            .with("error", error.clone())
            .with("description", description.clone()),
        ),
        LoginError::Exchange(failure) => Some(token_failure_finding(failure, None, host)),
        LoginError::Store(e) => Some(store_finding(e)),
        _ => None,
    }
}
