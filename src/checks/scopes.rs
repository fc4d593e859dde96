//! The `scopes` check: the granted scopes (the token response's scope
//! string, kept in the store) against the profile's required set.
//!
//! Exact comparison, since Webex scope names are case-sensitive; a near
//! miss in letter case is its own finding. A missing `spark-admin:xsi`
//! carries the email of `wxc-preflight xsi-request`, because only Cisco can
//! grant it. No scope string means the diff is unverifiable: a warning,
//! never a pass.

use crate::auth::profile::{self, ScopeDiff};
use crate::auth::{AccessToken, AuthSettings, Identity};
use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;

/// See the module documentation.
pub struct ScopesCheck;

impl Check for ScopesCheck {
    fn id(&self) -> &'static str {
        "scopes"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["token"]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async move {
            match run(ctx) {
                Ok(outcome) | Err(outcome) => outcome,
            }
        })
    }
}

fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let config = ctx.config()?;
    let settings = AuthSettings::from_config(config).map_err(Outcome::skipped)?;
    let token = ctx.need::<AccessToken>("token")?;
    let mut outcome = Outcome::new();
    let against = settings.profile.as_deref().map_or_else(
        || "[interface] scopes".to_owned(),
        |p| format!("profile {p}"),
    );
    outcome.evidence(
        "required",
        format!("{} scopes of the {against}", settings.scopes.len()),
    );

    let Some(granted) = &token.granted_scopes else {
        outcome.finding(
            Finding::new("scopes.unverifiable", "the token response stated no scopes, so the grant cannot be compared with the profile")
                .with("required", settings.scopes.join(" ")),
        );
        return Ok(outcome);
    };
    outcome.evidence("granted", granted.join(" "));
    let diff = ScopeDiff::new(granted, &settings.scopes);

    if !diff.missing.is_empty() {
        outcome.finding(
            Finding::new(
                "scopes.missing",
                format!(
                    "{} required scope(s) of the {against} are not granted: {}",
                    diff.missing.len(),
                    diff.missing.join(", ")
                ),
            )
            .with("missing", diff.missing.join(" ")),
        );
    }
    if diff.xsi_missing {
        let identity = ctx.facts.get::<Identity>();
        let email = crate::xsi_request::email(
            identity.as_ref().map(|i| i.org_id.as_str()),
            None,
            &settings.client_id,
        );
        let mut finding = Finding::new(
            "scopes.xsi-missing",
            format!(
                "{} is required by the {against} and not granted",
                profile::XSI_SCOPE
            ),
        );
        if let Some(identity) = &identity {
            finding = finding.with("orgId", identity.org_id.clone());
        }
        outcome.finding(finding.with("email", email));
    }
    for (want, got) in &diff.case_mismatch {
        outcome.finding(
            Finding::new(
                "scopes.case-mismatch",
                format!("granted {got} differs from required {want} in letter case only"),
            )
            .with("required", want.clone())
            .with("granted", got.clone()),
        );
    }
    if !diff.excess.is_empty() {
        let broad = diff.broad_excess();
        let summary = if broad.is_empty() {
            format!(
                "{} scope(s) granted beyond the {against}: {}",
                diff.excess.len(),
                diff.excess.join(", ")
            )
        } else {
            format!(
                "broad scope(s) {} granted beyond the {against}",
                broad.join(", ")
            )
        };
        outcome.finding(
            Finding::new("scopes.excess", summary)
                .with("beyond the profile", diff.excess.join(" ")),
        );
    }
    Ok(outcome)
}
