//! The `xsi` check: the org's XSI host resolves (with the
//! `_xsi-client._tcp` SRV record of `xsiDomain`), is reachable with TLS
//! (through the proxy when one is set), and answers an authenticated
//! profile request with `X-BroadWorks-Protocol-Version`.
//!
//! The profile asked for is the first plan endpoint's (a calling user),
//! else the token owner's. Whether XSI answers 401 or 403 for an org
//! without XSI is not documented (webex-api.md 11.5): both are
//! `xsi.rejected`, with ErrorInfo's summary and errorCode. The SRV record
//! serves XSI-Events only (webex-api.md 3.5), so its absence is evidence,
//! not a finding.

use std::time::Duration;

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::net::{self, Authority, Route};
use crate::webex::{WebexError, XsiClient, ids};

use super::connection::Me;
use super::organization::OrgFacts;
use super::session;

/// XSI-Actions answered for the org: the checks after this one use it.
#[derive(Debug, Clone)]
pub struct XsiReady {
    pub actions: String,
}

/// See the module documentation.
pub struct XsiCheck;

impl Check for XsiCheck {
    fn id(&self) -> &'static str {
        "xsi"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["organization", "scopes"]
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let org = ctx.need::<OrgFacts>("organization")?;
    let services = ctx.services()?;
    let mut outcome = Outcome::new();
    outcome.evidence("xsi-actions", org.xsi_actions.clone());
    let Some((host, port)) = host_port(&org.xsi_actions) else {
        outcome.finding(Finding::new(
            "xsi.unreachable",
            format!(
                "the xsi-actions endpoint {:?} is not an https url",
                org.xsi_actions
            ),
        ));
        return Ok(outcome);
    };

    let literal = host.parse::<std::net::IpAddr>().is_ok();
    let mut resolved = literal;
    if !literal {
        let lookup = services.resolver.lookup_host(&host).await;
        match &lookup.failure {
            None => {
                resolved = true;
                let list: Vec<String> = lookup.addresses.iter().map(ToString::to_string).collect();
                outcome.evidence("xsi host", format!("{host} -> {}", list.join(", ")));
            }
            Some(failure) => outcome.evidence("xsi host", format!("{host}: {failure}")),
        }
    }
    srv_evidence(ctx, org.xsi_domain.as_deref(), &mut outcome).await;
    if !resolved && services.proxy.is_none() {
        outcome.finding(
            Finding::new(
                "xsi.unreachable",
                format!("the xsi host {host} does not resolve"),
            )
            .with("host", host.clone()),
        );
        return Ok(outcome);
    }

    let route = services.proxy.as_ref().map_or(Route::Direct, Route::Proxy);
    let target = Authority::new(host.clone(), port);
    let probe = net::probe_tls(
        &target,
        route,
        &services.resolver,
        &services.trust,
        Duration::from_secs(10),
    )
    .await;
    let via = if probe.via_proxy {
        " through the proxy"
    } else {
        ""
    };
    if let Some(failure) = &probe.failure {
        let reason = serde_json::to_string(failure).unwrap_or_else(|_| format!("{failure:?}"));
        outcome.finding(
            Finding::new(
                "xsi.unreachable",
                format!("tls to the xsi host {target}{via} failed"),
            )
            .with("host", target.to_string())
            .with("failure", reason)
            .with("time", format!("{} ms", probe.elapsed.as_millis())),
        );
        return Ok(outcome);
    }
    outcome.evidence(
        "tls",
        format!(
            "{target}{via}: {} {}, {} ms",
            probe.tls_version.as_deref().unwrap_or("?"),
            probe.cipher_suite.as_deref().unwrap_or(""),
            probe.elapsed.as_millis()
        ),
    );

    profile(ctx, &org, &mut outcome).await?;
    Ok(outcome)
}

/// Asks for a profile and records what XSI said.
async fn profile(ctx: &Context, org: &OrgFacts, outcome: &mut Outcome) -> Result<(), Outcome> {
    let client = session::client(ctx)?;
    let api = session::rest(ctx)?;
    let xsi = XsiClient::new(client, &org.xsi_actions);
    let (who, uuid) = profile_target(ctx, &api).await?;
    let Some(uuid) = uuid else {
        outcome.evidence("profile", format!("skipped: no xsi user id for {who}"));
        return Ok(());
    };
    match xsi.profile(&uuid).await {
        Ok((profile, reply)) => {
            outcome.evidence(
                "profile",
                format!(
                    "{who}: {} in {} ms, userId {}, trackingid {}",
                    reply.status.as_u16(),
                    reply.elapsed.as_millis(),
                    profile.user_id.as_deref().unwrap_or("?"),
                    reply.tracking_id
                ),
            );
            ctx.facts.put(XsiReady {
                actions: org.xsi_actions.clone(),
            });
        }
        Err(WebexError::Status { status: 404, .. }) => {
            // Authenticated and authorised; the user just has no profile.
            outcome.evidence(
                "profile",
                format!("{who}: 404, not a calling user, but xsi accepted the token"),
            );
            ctx.facts.put(XsiReady {
                actions: org.xsi_actions.clone(),
            });
        }
        Err(
            e @ WebexError::Status {
                status: 401 | 403, ..
            },
        ) => {
            let status = e.status().unwrap_or_default();
            outcome.finding(session::with_error_evidence(
                Finding::new(
                    "xsi.rejected",
                    format!("xsi answered {status} to the profile request for {who}"),
                )
                .with("user", who.clone()),
                &e,
            ));
        }
        Err(e) => {
            if let Some(f) = session::request_finding(&format!("xsi profile of {who}"), &e) {
                outcome.finding(f);
            }
        }
    }
    Ok(())
}

/// The first plan endpoint (resolved by email or person id), else the
/// token's owner: a label and the XSI user id.
async fn profile_target(
    ctx: &Context,
    api: &crate::webex::RestApi,
) -> Result<(String, Option<String>), Outcome> {
    let config = ctx.config()?;
    if let Some(first) = config.file.plan.as_ref().and_then(|p| p.endpoints.first()) {
        if ids::looks_like_person_id(first) {
            return Ok((first.clone(), ids::person_uuid(first)));
        }
        if let Ok(Some(person)) = api.person_by_email(first).await {
            return Ok((first.clone(), ids::person_uuid(&person.id)));
        }
    }
    let me = ctx.need::<Me>("connection")?;
    Ok((me.0.label(), ids::person_uuid(&me.0.id)))
}

/// Looks up `_xsi-client._tcp.<xsiDomain>` and records the targets.
async fn srv_evidence(ctx: &Context, domain: Option<&str>, outcome: &mut Outcome) {
    let Ok(services) = ctx.services() else { return };
    let Some(domain) =
        domain.filter(|d| d.parse::<std::net::IpAddr>().is_err() && !net::is_loopback(d))
    else {
        outcome.evidence("srv", "not looked up (no dns name for xsiDomain)");
        return;
    };
    let name = format!("_xsi-client._tcp.{domain}");
    let lookup = services.resolver.lookup_srv(&name).await;
    let text = match &lookup.failure {
        None => lookup
            .targets
            .iter()
            .map(|t| {
                format!(
                    "{}:{} (priority {}, weight {})",
                    t.target, t.port, t.priority, t.weight
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(failure) => format!("{failure} (only xsi-events uses it)"),
    };
    outcome.evidence(name, text);
}

/// Host and port of an https URL.
fn host_port(url: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return None;
    }
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some((host, url.port_or_known_default()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_of_the_actions_url() {
        assert_eq!(
            host_port("https://api-us.bcld.webex.com/com.broadsoft.xsi-actions"),
            Some(("api-us.bcld.webex.com".into(), 443))
        );
        assert_eq!(
            host_port("https://[::1]:8443/x"),
            Some(("::1".into(), 8443))
        );
        assert_eq!(host_port("not a url"), None);
    }
}
