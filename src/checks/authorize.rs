//! The `authorize` check: asks `{api_base}/authorize` for a login with this
//! client id, redirect URL (as written) and scope set, without following
//! redirects and without logging in, and reads what the answer proves.
//!
//! Conclusive answers: an error page naming an unknown client
//! (`invalid_client`, "Client Id is invalid"), a redirect URI mismatch, or
//! a redirect back carrying `error=invalid_scope` (the blank page after
//! submitting credentials). A sign-in page served directly (200, no error)
//! passes. Anything else, notably Webex's redirect on to its identity
//! broker, is `authorize.inconclusive` showing the status and Location:
//! webex-api.md 1.2 leaves the error shapes of the real service open, so
//! the check does not guess.

use crate::auth::oauth::url_without_query;
use crate::auth::{AuthSettings, login};
use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;

/// See the module documentation.
pub struct AuthorizeCheck;

impl Check for AuthorizeCheck {
    fn id(&self) -> &'static str {
        "authorize"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["internet", "redirect-url"]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let config = ctx.config()?;
    let http = ctx.services()?.client();
    let settings = AuthSettings::from_config(config).map_err(Outcome::skipped)?;
    let probe = login::begin(&settings).map_err(|e| Outcome::skipped(e.to_string()))?;
    let mut outcome = Outcome::new();
    outcome.evidence(
        "probe",
        format!(
            "GET {} ({} scopes)",
            url_without_query(&probe.url),
            settings.scopes.len()
        ),
    );

    let started = std::time::Instant::now();
    let response = match http.get(probe.url.clone()).send().await {
        Ok(response) => response,
        Err(e) => {
            outcome.finding(Finding::new(
                "authorize.inconclusive",
                format!(
                    "the authorize endpoint could not be reached: {}",
                    crate::auth::oauth::describe_reqwest(&e)
                ),
            ));
            return Ok(outcome);
        }
    };
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    outcome.evidence(
        "status",
        format!("{status} in {} ms", started.elapsed().as_millis()),
    );
    if let Some(location) = &location {
        outcome.evidence("location", shorten(location));
    }
    classify(&settings, status, location.as_deref(), &body, &mut outcome);
    Ok(outcome)
}

/// A Location for evidence: without its query (state, challenge), which
/// says nothing to a reader and makes reports differ run to run.
fn shorten(location: &str) -> String {
    url::Url::parse(location).map_or_else(
        |_| location.chars().take(120).collect(),
        |u| url_without_query(&u),
    )
}

fn classify(
    settings: &AuthSettings,
    status: u16,
    location: Option<&str>,
    body: &str,
    outcome: &mut Outcome,
) {
    let lower = body.to_ascii_lowercase();
    if let Some(location) = location
        && let Ok(url) = url::Url::parse(location)
    {
        let error = url
            .query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned());
        let description = url
            .query_pairs()
            .find(|(k, _)| k == "error_description")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if error.as_deref() == Some("invalid_scope") {
            outcome.finding(
                Finding::new(
                    "scopes.not-registered",
                    format!("the authorize endpoint refused the scope set: {description}"),
                )
                .with("error", "invalid_scope")
                .with("requested", settings.scopes.join(" ")),
            );
            return;
        }
        let inconclusive = match error {
            Some(error) => {
                format!("the authorize endpoint redirected with error={error}: {description}")
            }
            None => format!(
                "the authorize endpoint answered {status} with a redirect the probe does not follow"
            ),
        };
        outcome.finding(
            Finding::new("authorize.inconclusive", inconclusive)
                .with("status", status.to_string())
                .with("location", shorten(location)),
        );
        return;
    }
    if lower.contains("invalid_client") || lower.contains("client id is invalid") {
        outcome.finding(
            Finding::new(
                "oauth.client-unknown",
                format!(
                    "the authorize endpoint does not know client id {}",
                    settings.client_id
                ),
            )
            .with("status", status.to_string())
            .with("client_id", settings.client_id.clone()),
        );
    } else if lower.contains("redirect_uri_mismatch")
        || lower.contains("redirect_uri does not match")
    {
        outcome.finding(
            Finding::new(
                "redirect-url.mismatch",
                format!("the authorize endpoint says redirect URL {:?} is not registered for the integration", settings.redirect_url),
            )
            .with("status", status.to_string())
            .with("redirect_url", format!("{:?}", settings.redirect_url)),
        );
    } else if lower.contains("invalid_scope") {
        outcome.finding(
            Finding::new(
                "scopes.not-registered",
                "the authorize endpoint refused the scope set",
            )
            .with("status", status.to_string())
            .with("requested", settings.scopes.join(" ")),
        );
    } else if status == 200 && lower.contains("<form") {
        outcome.evidence(
            "answer",
            "a sign-in page, with no error: client id, redirect URL and scopes accepted",
        );
    } else {
        outcome.finding(
            Finding::new(
                "authorize.inconclusive",
                format!(
                    "the authorize endpoint answered {status}, which the probe cannot classify"
                ),
            )
            .with("status", status.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings {
            name: "lab".into(),
            client_id: "C1".into(),
            client_secret: None,
            redirect_url: "http://localhost:6001/redirect".into(),
            scopes: vec!["spark:people_read".into()],
            profile: None,
            token_store: "tokens.json".into(),
            api_base: url::Url::parse("https://webexapis.com/v1").unwrap(),
        }
    }

    fn codes(status: u16, location: Option<&str>, body: &str) -> Vec<&'static str> {
        let mut outcome = Outcome::new();
        classify(&settings(), status, location, body, &mut outcome);
        outcome.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn conclusive_answers_and_the_rest() {
        let scope =
            "http://localhost:6001/redirect?error=invalid_scope&error_description=x&state=s";
        assert_eq!(codes(302, Some(scope), ""), ["scopes.not-registered"]);
        assert_eq!(
            codes(400, None, "<p>Client Id is invalid</p>"),
            ["oauth.client-unknown"]
        );
        assert_eq!(
            codes(400, None, "redirect_uri_mismatch"),
            ["redirect-url.mismatch"]
        );
        assert!(codes(200, None, "<form method=post>").is_empty());
        // Webex hands the browser on to its identity broker: not conclusive.
        let broker = "https://idbroker.webex.com/idb/oauth2/v1/authorize?client_id=C1";
        assert_eq!(codes(302, Some(broker), ""), ["authorize.inconclusive"]);
        assert_eq!(
            codes(403, None, "<h1>Blocked by policy</h1>"),
            ["authorize.inconclusive"]
        );
        let denied = "http://localhost:6001/redirect?error=server_error";
        assert_eq!(codes(302, Some(denied), ""), ["authorize.inconclusive"]);
    }
}
