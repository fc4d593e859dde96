//! The `connection` check: `GET /people/me` succeeds, the harness's "Test
//! Connection". It shows who the token belongs to, the org and the admin
//! roles, and hands the person to the checks after it.

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::webex::{Person, ids};

use super::session;

/// The token's owner, as `GET /people/me` showed it.
#[derive(Debug, Clone)]
pub struct Me(pub Person);

/// See the module documentation.
pub struct ConnectionCheck;

impl Check for ConnectionCheck {
    fn id(&self) -> &'static str {
        "connection"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["token"]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let api = session::rest(ctx)?;
    let (me, reply) = api
        .me()
        .await
        .map_err(|e| session::failed("GET /people/me", &e))?;
    let mut outcome = Outcome::new();
    outcome.evidence(
        "user",
        me.display_name
            .clone()
            .unwrap_or_else(|| "(no display name)".to_owned()),
    );
    outcome.evidence("email", me.emails.join(", "));
    if let Some(uuid) = ids::person_uuid(&me.id) {
        outcome.evidence("user uuid", uuid);
    }
    if let Some(org) = &me.org_id {
        let uuid = ids::decode(org).map_or_else(|| "not a webex id".to_owned(), |id| id.uuid);
        outcome.evidence("org", format!("{org} ({uuid})"));
    }
    outcome.evidence("roles", roles(&me));
    outcome.evidence(
        "answer",
        format!(
            "{} in {} ms, trackingid {}",
            reply.status.as_u16(),
            reply.elapsed.as_millis(),
            reply.tracking_id
        ),
    );
    ctx.facts.put(Me(me));
    Ok(outcome)
}

/// The roles by their decoded names (`id_full_admin`), or "none".
fn roles(me: &Person) -> String {
    if me.roles.is_empty() {
        return "none (not an administrator)".to_owned();
    }
    me.roles
        .iter()
        .map(|r| ids::decode(r).map_or_else(|| r.clone(), |id| id.uuid))
        .collect::<Vec<_>>()
        .join(", ")
}
