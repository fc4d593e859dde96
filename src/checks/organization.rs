//! The `organization` check: the org exists, the user may read it, and it
//! reports XSI endpoints (`GET /organizations/{id}?callingData=true`,
//! webex-api.md 3.1).
//!
//! The org is `[organization] id`, else the token owner's. A 403 is
//! `api.forbidden` (no admin role, or no admin scope); an org without the
//! XSI fields is `xsi.not-enabled`, with the email that asks Cisco to
//! enable XSI, orgId filled in. `[organization] xsi_actions_url` overrides
//! what the org reports.

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::webex::Organization;

use super::connection::Me;
use super::session;

/// The org and the XSI-Actions endpoint the checks after this one use.
#[derive(Debug, Clone)]
pub struct OrgFacts {
    pub org: Organization,
    /// The org's `xsiActionsEndpoint`, or the configured override.
    pub xsi_actions: String,
    /// The org's `xsiDomain`, or the override's host.
    pub xsi_domain: Option<String>,
}

/// See the module documentation.
pub struct OrganizationCheck;

impl Check for OrganizationCheck {
    fn id(&self) -> &'static str {
        "organization"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["connection"]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let config = ctx.config()?;
    let me = ctx.need::<Me>("connection")?;
    let api = session::rest(ctx)?;
    let Some(org_id) = config
        .file
        .organization
        .id
        .clone()
        .or_else(|| me.0.org_id.clone())
    else {
        return Err(Outcome::skipped(
            "the token owner's person record names no org; set [organization] id",
        ));
    };
    let mut outcome = Outcome::new();
    outcome.evidence("org id", org_id.clone());
    let org = match api.organization(&org_id).await {
        Ok((org, _)) => org,
        Err(e) => {
            let mut failed = session::failed(&format!("reading org {org_id}"), &e);
            for f in &mut failed.findings {
                if f.code == "api.forbidden" {
                    f.summary = format!(
                        "{} may not read org {org_id}: webex answered 403",
                        me.0.label()
                    );
                    f.evidence.push(crate::finding::Evidence::new(
                        "admin roles of the user",
                        if me.0.roles.is_empty() {
                            "none".to_owned()
                        } else {
                            me.0.roles.join(", ")
                        },
                    ));
                }
            }
            return Err(failed);
        }
    };
    outcome.evidence(
        "org",
        org.display_name
            .clone()
            .unwrap_or_else(|| "(no name)".to_owned()),
    );
    for (label, value) in [
        ("xsiActionsEndpoint", &org.xsi_actions_endpoint),
        ("xsiEventsEndpoint", &org.xsi_events_endpoint),
        ("xsiEventsChannelEndpoint", &org.xsi_events_channel_endpoint),
        ("xsiDomain", &org.xsi_domain),
    ] {
        outcome.evidence(label, value.clone().unwrap_or_else(|| "absent".to_owned()));
    }
    let override_url = config.file.organization.xsi_actions_url.clone();
    let xsi_actions = match (&override_url, &org.xsi_actions_endpoint) {
        (Some(url), _) => {
            outcome.evidence("xsi_actions_url override", url.clone());
            url.clone()
        }
        (None, Some(url)) => url.clone(),
        (None, None) => {
            let name = org.display_name.clone().unwrap_or_default();
            outcome.finding(
                Finding::new(
                    "xsi.not-enabled",
                    format!("org {org_id} reports no xsi endpoints (callingData=true)"),
                )
                .with("org", name.clone())
                .with(
                    "email to send",
                    crate::xsi_request::email(
                        Some(&org.id),
                        Some(&name),
                        config.interface().map_or("", |i| i.client_id.get_ref()),
                    ),
                ),
            );
            return Ok(outcome);
        }
    };
    let xsi_domain = match &override_url {
        Some(url) => url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        None => org.xsi_domain.clone(),
    };
    ctx.facts.put(OrgFacts {
        org,
        xsi_actions,
        xsi_domain,
    });
    Ok(outcome)
}
