//! The `endpoints` check: each `[plan] endpoints` entry, by email or person
//! id, exists in the org, is a Webex Calling user (a calling licence and a
//! location, webex-api.md 2.1 and 5.2), has an extension or number to dial,
//! has a readable XSI profile, and has no active calls.
//!
//! Leftover calls are a warning (`endpoint.stale-calls`): the evidence
//! lists them with the XSI request that releases each one.

use std::time::Duration;

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::plan::Endpoint;
use crate::webex::{License, Person, RestApi, WebexError, XsiClient, ids};

use super::session;
use super::xsi::XsiReady;

/// The plan endpoints, resolved: what the `plan` check calls.
#[derive(Debug, Clone)]
pub struct PlanEndpoints(pub Vec<Endpoint>);

/// See the module documentation.
pub struct EndpointsCheck;

impl Check for EndpointsCheck {
    fn id(&self) -> &'static str {
        "endpoints"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["xsi"]
    }

    fn deadline(&self) -> Duration {
        Duration::from_secs(45)
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let config = ctx.config()?;
    let Some(plan) = &config.file.plan else {
        return Err(Outcome::skipped("the configuration has no [plan] table"));
    };
    let ready = ctx.need::<XsiReady>("xsi")?;
    let api = session::rest(ctx)?;
    let xsi = XsiClient::new(session::client(ctx)?, &ready.actions);
    let mut outcome = Outcome::new();

    let licences = match api.licenses().await {
        Ok(list) => Some(list),
        Err(WebexError::Cancelled) => return Err(Outcome::skipped("cancelled")),
        Err(e) => {
            outcome.evidence(
                "licences",
                format!("could not be listed ({e}); judging by location only"),
            );
            None
        }
    };
    let mut resolved = Vec::new();
    for label in &plan.endpoints {
        if let Some(endpoint) =
            inspect(label, &api, &xsi, licences.as_deref(), &mut outcome).await?
        {
            resolved.push(endpoint);
        }
    }
    if resolved.len() == plan.endpoints.len() {
        ctx.facts.put(PlanEndpoints(resolved));
    }
    Ok(outcome)
}

/// Checks one endpoint; returns it resolved when it can take part.
async fn inspect(
    label: &str,
    api: &RestApi,
    xsi: &XsiClient,
    licences: Option<&[License]>,
    outcome: &mut Outcome,
) -> Result<Option<Endpoint>, Outcome> {
    let Some(person) = lookup(label, api, outcome).await? else {
        return Ok(None);
    };
    let Some(uuid) = ids::person_uuid(&person.id) else {
        outcome.finding(
            Finding::new(
                "api.unexpected-response",
                format!("the person id of {label} is not a webex people id"),
            )
            .with("id", person.id.clone()),
        );
        return Ok(None);
    };
    let calling = calling_licences(&person, licences);
    if let Some(finding) = calling_problem(label, &person, licences, &calling) {
        outcome.finding(finding);
        return Ok(None);
    }
    let Some(address) = person.dial_address() else {
        outcome.finding(
            Finding::new(
                "endpoint.no-number",
                format!("plan endpoint {label} has neither an extension nor a number"),
            )
            .with("endpoint", label),
        );
        return Ok(None);
    };
    if let Err(e) = xsi.profile(&uuid).await {
        outcome.finding(profile_finding(label, &e)?);
        return Ok(None);
    }
    if !no_calls(label, &uuid, xsi, outcome).await? {
        return Ok(None);
    }
    outcome.evidence(
        label.to_owned(),
        format!(
            "{}, dial {address}, licence {}, xsi profile ok",
            person.display_name.as_deref().unwrap_or("(no name)"),
            if calling.is_empty() {
                "not checked".to_owned()
            } else {
                calling.join(", ")
            }
        ),
    );
    Ok(Some(Endpoint {
        label: label.to_owned(),
        uuid,
        address,
    }))
}

/// The person behind a plan entry (email or person id); `None` with a
/// finding when there is none.
async fn lookup(
    label: &str,
    api: &RestApi,
    outcome: &mut Outcome,
) -> Result<Option<Person>, Outcome> {
    let found = if ids::looks_like_person_id(label) {
        api.person(label).await
    } else {
        api.person_by_email(label).await
    };
    match found {
        Ok(Some(person)) => Ok(Some(person)),
        Ok(None) => {
            outcome.finding(
                Finding::new(
                    "endpoint.not-found",
                    format!("plan endpoint {label} matches no user in the org"),
                )
                .with("endpoint", label),
            );
            Ok(None)
        }
        Err(e) => {
            let finding = session::request_finding(&format!("looking up {label}"), &e)
                .ok_or_else(|| Outcome::skipped("cancelled"))?;
            outcome.finding(finding);
            Ok(None)
        }
    }
}

/// `endpoint.not-calling` when the person lacks a calling licence or a
/// location (the licence is not judged when licences cannot be listed).
fn calling_problem(
    label: &str,
    person: &Person,
    licences: Option<&[License]>,
    calling: &[String],
) -> Option<Finding> {
    let has_licence = licences.is_none() || !calling.is_empty();
    if has_licence && person.location_id.is_some() {
        return None;
    }
    let mut missing = Vec::new();
    if !has_licence {
        missing.push("no webex calling licence");
    }
    if person.location_id.is_none() {
        missing.push("no calling location");
    }
    Some(
        Finding::new(
            "endpoint.not-calling",
            format!("plan endpoint {label} has {}", missing.join(" and ")),
        )
        .with("endpoint", label)
        .with("licences", licence_names(person, licences))
        .with(
            "location",
            person
                .location_id
                .clone()
                .unwrap_or_else(|| "none".to_owned()),
        ),
    )
}

/// The finding for a profile request that failed.
fn profile_finding(label: &str, e: &WebexError) -> Result<Finding, Outcome> {
    Ok(match e {
        WebexError::Status { status: 404, .. } => session::with_error_evidence(
            Finding::new(
                "endpoint.not-calling",
                format!("plan endpoint {label} has no xsi profile"),
            )
            .with("endpoint", label),
            e,
        ),
        WebexError::Status {
            status: 401 | 403, ..
        } => session::with_error_evidence(
            Finding::new(
                "xsi.rejected",
                format!("xsi refused the profile of plan endpoint {label}"),
            )
            .with("endpoint", label),
            e,
        ),
        _ => session::request_finding(&format!("xsi profile of {label}"), e)
            .ok_or_else(|| Outcome::skipped("cancelled"))?,
    })
}

/// Whether the endpoint may take part: `false` when its calls cannot be
/// read. Leftover calls are a warning with the request that releases each.
async fn no_calls(
    label: &str,
    uuid: &str,
    xsi: &XsiClient,
    outcome: &mut Outcome,
) -> Result<bool, Outcome> {
    let calls = match xsi.calls(uuid).await {
        Ok(calls) => calls,
        Err(e) => {
            let finding = session::request_finding(&format!("xsi calls of {label}"), &e)
                .ok_or_else(|| Outcome::skipped("cancelled"))?;
            outcome.finding(finding);
            return Ok(false);
        }
    };
    if calls.is_empty() {
        return Ok(true);
    }
    let mut finding = Finding::new(
        "endpoint.stale-calls",
        format!(
            "plan endpoint {label} already has {} active call(s)",
            calls.len()
        ),
    )
    .with("endpoint", label);
    for call in &calls {
        finding = finding
            .with(
                "call",
                format!(
                    "{} ({}, {})",
                    call.call_id,
                    call.state.as_deref().unwrap_or("state unknown"),
                    call.remote_address.as_deref().unwrap_or("remote unknown")
                ),
            )
            .with(
                "release it with",
                format!(
                    "curl -X DELETE -H \"Authorization: Bearer $WEBEX_TOKEN\" '{}'",
                    xsi.user_url(uuid, &format!("calls/{}", call.call_id))
                ),
            );
    }
    outcome.finding(finding);
    Ok(true)
}

/// The names of the person's Webex Calling licences.
fn calling_licences(person: &Person, licences: Option<&[License]>) -> Vec<String> {
    licences
        .unwrap_or_default()
        .iter()
        .filter(|l| l.is_calling() && person.licenses.contains(&l.id))
        .filter_map(|l| l.name.clone())
        .collect()
}

/// Every licence of the person, by name where known.
fn licence_names(person: &Person, licences: Option<&[License]>) -> String {
    if person.licenses.is_empty() {
        return "none".to_owned();
    }
    person
        .licenses
        .iter()
        .map(|id| {
            licences
                .and_then(|all| all.iter().find(|l| &l.id == id))
                .and_then(|l| l.name.clone())
                .unwrap_or_else(|| id.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}
