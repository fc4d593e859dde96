//! The Webex REST resources the tool reads: people, organizations (with
//! calling data and the XSI endpoints), licenses and token expiry.
//!
//! Shapes follow webex-api.md 2.1, 2.3, 3.1 and 5.2. 401 is for a missing,
//! unknown, expired or revoked token; 403 for a missing scope or admin role.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::faults::XsiMode;
use super::ids::{self, IdKind};
use super::oauth::{self, Caller};
use super::state::{Directory, FULL_ADMIN_ROLE, ROUTING_PREFIX, Shared, User, epoch_secs};
use super::wire::Failure;

/// What Webex says when a scope or role is missing.
const FORBIDDEN: &str = "The server understood the request, but refused to fulfill it because \
                         the access token is missing required scopes or the user is missing \
                         required roles or licenses.";
const NOT_FOUND: &str = "The requested resource could not be found.";

type Answer = Result<Json<Value>, Failure>;

fn caller(shared: &Shared, headers: &HeaderMap) -> Result<Caller, Failure> {
    oauth::authenticate(shared, headers)
        .map_err(|e| Failure::webex(StatusCode::UNAUTHORIZED, e.message()))
}

fn require(ok: bool) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::webex(StatusCode::FORBIDDEN, FORBIDDEN))
    }
}

fn calling_data(params: &HashMap<String, String>) -> bool {
    params.get("callingData").is_some_and(|v| v == "true")
}

/// A person as `GET /people/{id}` shows it.
fn person(directory: &Directory, user: &User, with_calling: bool) -> Value {
    let mut p = json!({
        "id": user.person_id(),
        "emails": [user.email],
        "sipAddresses": [],
        "displayName": user.display_name(),
        "nickName": user.first_name,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "orgId": directory.org_id(),
        "roles": if user.admin { vec![ids::encode(IdKind::Role, FULL_ADMIN_ROLE)] } else { Vec::new() },
        "licenses": directory.licences_of(user),
        "created": "2024-05-02T09:14:27.123Z",
        "lastModified": "2025-11-20T16:02:11.456Z",
        "timezone": "America/New_York",
        "status": "active",
        "invitePending": false,
        "loginEnabled": true,
        "type": "person",
    });
    if let (Some(number), Some(extension)) = (&user.number, &user.extension) {
        p["phoneNumbers"] = json!([
            {"type": "work", "value": number, "primary": true},
            {"type": "work_extension", "value": format!("{ROUTING_PREFIX}{extension}"), "primary": false},
        ]);
        p["sipAddresses"] = json!([{
            "type": "cloud-calling",
            "value": format!("{}@emulated.calls.webex.com", user.email.split('@').next().unwrap_or("user")),
            "primary": true,
        }]);
        if with_calling {
            p["extension"] = json!(extension);
            p["locationId"] = json!(ids::encode(IdKind::Location, &directory.location_uuid));
        }
    }
    p
}

/// Whether the caller may see calling data of people (admins with the admin scope).
fn sees_calling(c: &Caller) -> bool {
    c.user.admin && c.has("spark-admin:people_read")
}

fn may_read_people(c: &Caller) -> bool {
    c.has("spark:people_read") || c.has("spark-admin:people_read")
}

/// `GET /v1/people/me`.
pub async fn people_me(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let c = caller(&shared, &headers)?;
    Ok(Json(person(
        &shared.directory,
        &c.user,
        calling_data(&params),
    )))
}

/// `GET /v1/people?email=`.
pub async fn people_list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let c = caller(&shared, &headers)?;
    require(may_read_people(&c))?;
    let with_calling = calling_data(&params) && sees_calling(&c);
    let d = &shared.directory;
    let items: Vec<Value> = match params.get("email") {
        Some(email) => d
            .by_email(email)
            .map(|u| person(d, u, with_calling))
            .into_iter()
            .collect(),
        None if c.user.admin => d.users.iter().map(|u| person(d, u, with_calling)).collect(),
        None => {
            return Err(Failure::webex(
                StatusCode::BAD_REQUEST,
                "Email, displayName, or id list should be specified.",
            ));
        }
    };
    Ok(Json(json!({ "items": items })))
}

/// `GET /v1/people/{id}`.
pub async fn people_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let c = caller(&shared, &headers)?;
    require(may_read_people(&c))?;
    let d = &shared.directory;
    let user = ids::decode_kind(&id, IdKind::People)
        .and_then(|uuid| d.by_uuid(&uuid))
        .ok_or_else(|| Failure::webex(StatusCode::NOT_FOUND, NOT_FOUND))?;
    let with_calling = calling_data(&params) && (sees_calling(&c) || c.user.uuid == user.uuid);
    Ok(Json(person(d, user, with_calling)))
}

/// `GET /v1/organizations/{id}` (with `callingData=true`, the XSI endpoints).
pub async fn organization(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Answer {
    let c = caller(&shared, &headers)?;
    require(c.user.admin && c.has("spark-admin:organizations_read"))?;
    let d = &shared.directory;
    if ids::decode_kind(&id, IdKind::Organization).as_deref() != Some(d.org_uuid.as_str()) {
        return Err(Failure::webex(StatusCode::NOT_FOUND, NOT_FOUND));
    }
    let mut org = json!({
        "id": d.org_id(),
        "displayName": d.org_name,
        "created": "2019-10-18T14:26:16.000Z",
    });
    if calling_data(&params) {
        let host = match shared.behaviour.xsi {
            XsiMode::Disabled => None,
            XsiMode::Unreachable => Some(unreachable_origin(&shared)),
            XsiMode::Enabled | XsiMode::Forbidden => Some(shared.urls.origin.clone()),
        };
        if let Some(origin) = host {
            let domain = url::Url::parse(&origin)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            org["xsiActionsEndpoint"] = json!(format!("{origin}/com.broadsoft.xsi-actions"));
            org["xsiEventsEndpoint"] = json!(format!("{origin}/com.broadsoft.xsi-events"));
            org["xsiEventsChannelEndpoint"] = json!(format!(
                "{origin}/com.broadsoft.async/com.broadsoft.xsi-events"
            ));
            org["xsiDomain"] = json!(domain);
        }
    }
    Ok(Json(org))
}

/// An XSI origin on a host that never resolves (RFC 6761 `.invalid`).
fn unreachable_origin(shared: &Shared) -> String {
    let port = url::Url::parse(&shared.urls.origin)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(443);
    format!("https://api-xsi.emulator.invalid:{port}")
}

/// `GET /v1/licenses`.
pub async fn licenses(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Answer {
    let c = caller(&shared, &headers)?;
    require(c.user.admin && c.has("spark-admin:licenses_read"))?;
    let d = &shared.directory;
    let items: Vec<Value> = d
        .licences
        .iter()
        .map(|l| {
            let consumed = d
                .users
                .iter()
                .filter(|u| d.licences_of(u).contains(&l.id))
                .count();
            json!({
                "id": l.id,
                "name": l.name,
                "totalUnits": l.total_units,
                "consumedUnits": consumed,
                "consumedByUsers": consumed,
                "consumedByWorkspaces": 0,
                "subscriptionId": "Sub-EMULATED-0001",
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `GET /v1/authorizations/tokenExpiry`: `{"exp": <epoch seconds>}`.
pub async fn token_expiry(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Answer {
    let c = caller(&shared, &headers)?;
    Ok(Json(json!({ "exp": epoch_secs(c.expires_at) })))
}

/// Any other path: 404 in the Webex shape.
pub fn not_found() -> Failure {
    Failure::webex(StatusCode::NOT_FOUND, NOT_FOUND)
}
