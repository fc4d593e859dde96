//! The `token` check: tokens exist, the access token is refreshed when less
//! than 5 minutes remain, a failed refresh is classified (expired, rejected,
//! client rejected, network), tokens expiring within `warn_token_expiry`
//! are flagged, and the API accepts the token (`GET /people/me`).
//!
//! A failed refresh reports its cause alone (`token.refresh-expired`,
//! `token.refresh-rejected`, `oauth.client-rejected`,
//! `token.refresh-unreachable`), not also `token.access-expired`: the
//! report leads with root causes. `token.access-expired` is for an access
//! token that a refresh did renew, already expired.
//!
//! On the warning window: an access token that a valid refresh token can
//! renew is refreshed automatically, so it only shows as evidence; the
//! refresh token (which needs a person to log in again) is what raises
//! `token.expiring`, as does an access token that cannot be renewed.

use crate::auth::diagnosis::{self, describe_expiry};
use crate::auth::identity::{self, Refusal};
use crate::auth::store::{self, RefreshError, RefreshPolicy, StoredTokens, TokenStore};
use crate::auth::{AccessToken, AuthSettings, Identity};
use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::{Finding, Severity};
use crate::secret::Secret;

/// See the module documentation.
pub struct TokenCheck;

impl Check for TokenCheck {
    fn id(&self) -> &'static str {
        "token"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["internet"]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let config = ctx.config()?;
    let http = ctx.services()?.client();
    let settings = AuthSettings::from_config(config).map_err(Outcome::skipped)?;
    let store = TokenStore::new(&settings.token_store);
    let host = settings.host();
    let mut outcome = Outcome::new();
    if let Some(preset) = ctx.facts.get::<AccessToken>() {
        return Ok(preset_token(ctx, http, &settings, &preset, outcome).await);
    }
    outcome.evidence("token store", store.path().display().to_string());

    let fresh = match store::fresh_tokens(&settings, http, &store, RefreshPolicy::WhenNeeded).await
    {
        Ok(fresh) => fresh,
        Err(RefreshError::Missing) => {
            outcome.finding(
                Finding::new(
                    "token.missing",
                    format!(
                        "no tokens are stored for interface {} in {}",
                        settings.name,
                        store.path().display()
                    ),
                )
                .with("store", store.path().display().to_string()),
            );
            return Ok(outcome);
        }
        Err(error) => {
            return Ok(refresh_failed(&error, &host, outcome));
        }
    };
    if fresh.refreshed_here {
        outcome.evidence(
            "refresh",
            "the access token had less than 5 minutes left and was refreshed",
        );
    } else if fresh.refreshed_elsewhere {
        outcome.evidence(
            "refresh",
            "another process refreshed the tokens while this one waited",
        );
    }
    let tokens = fresh.tokens;
    describe(&tokens, &mut outcome);

    let now = jiff::Timestamp::now();
    if tokens
        .access_left(now)
        .is_some_and(|left| !left.is_positive())
    {
        // Fresh from the token endpoint and already expired.
        outcome.finding(
            Finding::new(
                "token.access-expired",
                "the token endpoint issued an access token that has already expired",
            )
            .with(
                "access token",
                describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at),
            ),
        );
        return Ok(outcome);
    }
    expiring(&tokens, config.file.checks.warn_token_expiry, &mut outcome);

    if confirm(
        ctx,
        http,
        &settings,
        &tokens.access_token,
        "although it has not expired",
        &mut outcome,
    )
    .await
    {
        ctx.facts.put(tokens.access());
    }
    Ok(outcome)
}

/// A token the run was given (`--token-file`, a personal access token):
/// the store is not consulted; the API must accept the token.
async fn preset_token(
    ctx: &Context,
    http: &reqwest::Client,
    settings: &AuthSettings,
    preset: &AccessToken,
    mut outcome: Outcome,
) -> Outcome {
    outcome.evidence(
        "access token",
        format!(
            "{} given with --token-file, not from the token store",
            describe_expiry(&preset.token.hint(), preset.expires_at)
        ),
    );
    confirm(
        ctx,
        http,
        settings,
        &preset.token,
        "given with --token-file",
        &mut outcome,
    )
    .await;
    outcome
}

/// Asks the API whose token this is (`GET /people/me`): records who signed
/// in, or raises `token.rejected` when the API refuses a token that should
/// be valid (`why` says why it should). A failure that is not the token's
/// fault is evidence only: the connection check reports it. Returns false
/// only when the API refused the token.
async fn confirm(
    ctx: &Context,
    http: &reqwest::Client,
    settings: &AuthSettings,
    token: &Secret,
    why: &str,
    outcome: &mut Outcome,
) -> bool {
    match identity::whoami(http, settings, token).await {
        Ok(who) => {
            outcome.evidence(
                "signed in as",
                format!("{} ({}), org {}", who.email, who.display_name, who.org_id),
            );
            ctx.facts.put::<Identity>(who);
            true
        }
        Err(Refusal::Unauthorized {
            message,
            tracking_id,
        }) => {
            let mut finding = Finding::new(
                "token.rejected",
                format!(
                    "{} refuses the access token {} {why}: {message}",
                    settings.host(),
                    token.hint()
                ),
            )
            .with("request", "GET /people/me")
            .with("status", "401");
            if let Some(id) = tracking_id {
                finding = finding.with("TrackingID", id);
            }
            outcome.finding(finding);
            false
        }
        Err(other) => {
            outcome.evidence(
                "GET /people/me",
                format!("could not confirm the token: {other}"),
            );
            true
        }
    }
}

fn describe(tokens: &StoredTokens, outcome: &mut Outcome) {
    outcome.evidence(
        "access token",
        describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at),
    );
    match &tokens.refresh_token {
        Some(refresh) => outcome.evidence(
            "refresh token",
            describe_expiry(&refresh.hint(), tokens.refresh_expires_at),
        ),
        None => outcome.evidence("refresh token", "none stored"),
    }
}

/// A refresh that failed: the classified cause, which is the root cause
/// whether or not the access token is already gone (its evidence shows the
/// access token's expiry), plus `token.expiring` when the access token
/// still has its last minutes.
fn refresh_failed(error: &RefreshError, host: &str, mut outcome: Outcome) -> Outcome {
    let stored = match error {
        RefreshError::NoRefreshToken(t)
        | RefreshError::RefreshExpired(t)
        | RefreshError::Failed(t, _) => Some(t),
        _ => None,
    };
    if let Some(tokens) = stored {
        describe(tokens, &mut outcome);
        let left = tokens.access_left(jiff::Timestamp::now());
        if left.is_some_and(|l| l.is_positive()) {
            outcome.finding(
                Finding::new(
                    "token.expiring",
                    "the access token expires within 5 minutes and could not be refreshed",
                )
                .with(
                    "access token",
                    describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at),
                ),
            );
        }
    }
    if let Some(finding) = diagnosis::refresh_finding(error, host) {
        outcome.finding(finding);
    }
    outcome
}

/// `token.expiring` for what will need a person within the window.
fn expiring(tokens: &StoredTokens, window: std::time::Duration, outcome: &mut Outcome) {
    let now = jiff::Timestamp::now();
    let window = jiff::SignedDuration::try_from(window).unwrap_or(jiff::SignedDuration::MAX);
    let refresh_left = tokens.refresh_left(now);
    let renewable = tokens.refresh_token.is_some() && refresh_left.is_none_or(|l| l.is_positive());
    if let (Some(refresh), Some(left)) = (&tokens.refresh_token, refresh_left)
        && left < window
    {
        outcome.finding(
            Finding::new(
                "token.expiring",
                format!(
                    "the refresh token expires in {}, within the warning window",
                    diagnosis::human(left)
                ),
            )
            .with(
                "refresh token",
                describe_expiry(&refresh.hint(), tokens.refresh_expires_at),
            )
            .with("warn_token_expiry", diagnosis::human(window)),
        );
    }
    if let Some(left) = tokens.access_left(now)
        && left < window
        && !renewable
    {
        outcome.finding(
            Finding::new(
                "token.expiring",
                format!(
                    "the access token expires in {} and cannot be renewed by a refresh",
                    diagnosis::human(left)
                ),
            )
            .with(
                "access token",
                describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at),
            )
            .severity(Severity::Warning),
        );
    }
}
