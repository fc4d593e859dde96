//! XSI-Actions: the user profile and call control, over the call switch.
//!
//! Paths are under `/com.broadsoft.xsi-actions/v2.0/user/{uuid}` (webex-api.md
//! 3.3); the user id is the CI UUID. Answers are XML in the XSI namespace, or
//! `BadgerFish` JSON when asked; errors are `ErrorInfo`. The bearer token must
//! carry `spark-admin:xsi` (any user of the org, administrators only) or
//! `spark:xsi` (the token owner only).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::calls::{CallLeg, SwitchError, Target};
use super::faults::XsiMode;
use super::oauth::{self, AuthError};
use super::state::{Shared, User};
use super::wire::{Failure, empty};
use super::xsi_doc::{Element, XML_SCHEMA_INSTANCE};

/// XSI error codes the emulator uses in `ErrorInfo.errorCode`.
mod code {
    pub const UNAUTHENTICATED: u32 = 4401;
    pub const FORBIDDEN: u32 = 4410;
    pub const USER_NOT_FOUND: u32 = 4008;
    pub const CALL_NOT_FOUND: u32 = 4200;
    pub const BAD_REQUEST: u32 = 4100;
    pub const ORIGINATION_DENIED: u32 = 4102;
}

/// Renders an XSI document as XML or `BadgerFish` JSON.
#[must_use]
pub fn document(status: StatusCode, doc: &Element, json: bool) -> Response {
    if json {
        (
            status,
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
            doc.to_badgerfish().to_string(),
        )
            .into_response()
    } else {
        (
            status,
            [(header::CONTENT_TYPE, "application/xml;charset=UTF-8")],
            Body::from(doc.to_xml()),
        )
            .into_response()
    }
}

/// Checks token, scope, XSI enablement and the target user; returns the target.
fn authorize(shared: &Shared, headers: &HeaderMap, uuid: &str) -> Result<User, Failure> {
    let caller = oauth::authenticate(shared, headers).map_err(|e| {
        let text = match e {
            AuthError::Missing => "Authentication required",
            AuthError::Unknown | AuthError::Expired | AuthError::Revoked => {
                "Invalid or expired access token"
            }
        };
        Failure::xsi(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            format!("[Error {}] {text}", code::UNAUTHENTICATED),
        )
    })?;
    let forbidden = |why: &str| {
        Failure::xsi(
            StatusCode::FORBIDDEN,
            code::FORBIDDEN,
            format!("[Error {}] {why}", code::FORBIDDEN),
        )
    };
    match shared.behaviour.xsi {
        XsiMode::Disabled => return Err(forbidden("Xsi is not enabled for this organization")),
        XsiMode::Forbidden => return Err(forbidden("Access to Xsi is not authorized")),
        XsiMode::Enabled | XsiMode::Unreachable => {}
    }
    let as_admin = caller.has("spark-admin:xsi") && caller.user.admin;
    let as_self = caller.has("spark:xsi") && caller.user.uuid == uuid;
    if !(as_admin || as_self || (caller.has("spark-admin:xsi") && caller.user.uuid == uuid)) {
        return Err(forbidden(
            "The access token lacks the scope spark-admin:xsi",
        ));
    }
    shared
        .directory
        .by_uuid(uuid)
        .filter(|u| u.calling)
        .cloned()
        .ok_or_else(|| {
            Failure::xsi(
                StatusCode::NOT_FOUND,
                code::USER_NOT_FOUND,
                format!("[Error {}] User not found: {uuid}", code::USER_NOT_FOUND),
            )
        })
}

fn wants_json(params: &HashMap<String, String>, headers: &HeaderMap) -> bool {
    let query = params.get("format").map(|f| format!("format={f}"));
    super::wire::wants_xsi_json(query.as_deref(), headers)
}

/// `GET .../user/{uuid}/profile`.
pub async fn profile(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let user = authorize(&shared, &headers, &uuid)?;
    let d = &shared.directory;
    let base = format!("/v2.0/user/{}/profile", user.uuid);
    let mut details = Element::new("details")
        .with_leaf(
            "userId",
            format!("{}@bcld.emulated", user.uuid.replace('-', "")),
        )
        .with_leaf("firstName", &user.first_name)
        .with_leaf("lastName", &user.last_name)
        .with_leaf("groupId", format!("EMULATED_{}", &d.location_uuid[..8]))
        .with_leaf(
            "serviceProvider",
            format!("EMULATED_SP_{}", &d.org_uuid[..8]),
        );
    if let Some(number) = &user.number {
        details = details.with_leaf("number", number.trim_start_matches("+1"));
    }
    if let Some(extension) = &user.extension {
        details = details.with_leaf("extension", extension);
    }
    let doc = Element::new("Profile")
        .child(details)
        .with_leaf("passwordExpiresDays", "-1")
        .with_leaf("fac", format!("{base}/Fac"))
        .with_leaf("registrations", format!("{base}/Registrations"))
        .with_leaf("scheduleList", format!("{base}/Schedule"))
        .with_leaf("countryCode", "1");
    Ok(document(
        StatusCode::OK,
        &doc,
        wants_json(&params, &headers),
    ))
}

/// `GET .../user/{uuid}/calls`.
pub async fn calls(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let user = authorize(&shared, &headers, &uuid)?;
    let legs = shared.world().switch.calls_of(&user.uuid);
    let doc = legs.iter().fold(Element::new("Calls"), |doc, leg| {
        doc.child(
            Element::new("call")
                .with_leaf("callId", &leg.id)
                .with_leaf("extTrackingId", &leg.ext_tracking_id),
        )
    });
    Ok(document(
        StatusCode::OK,
        &doc,
        wants_json(&params, &headers),
    ))
}

/// `POST .../user/{uuid}/calls/new?address=`.
pub async fn originate(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let user = authorize(&shared, &headers, &uuid)?;
    let address = params
        .get("address")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Failure::xsi(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                format!(
                    "[Error {}] The address parameter is required",
                    code::BAD_REQUEST
                ),
            )
        })?;
    if shared.behaviour.originate_refused {
        return Err(Failure::xsi(
            StatusCode::BAD_REQUEST,
            code::ORIGINATION_DENIED,
            format!(
                "[Error {}] Call origination is not permitted for this user",
                code::ORIGINATION_DENIED
            ),
        ));
    }
    let target = match shared.directory.by_address(address) {
        Some(callee) if callee.uuid == user.uuid => {
            return Err(Failure::xsi(
                StatusCode::BAD_REQUEST,
                code::BAD_REQUEST,
                format!("[Error {}] A user cannot call itself", code::BAD_REQUEST),
            ));
        }
        Some(callee) => Target::User(callee.party()),
        None => Target::Nowhere(address.to_owned()),
    };
    let (call_id, tracking) = shared.world().switch.originate(&user.party(), target);
    let doc = Element::new("CallStartInfo")
        .with_leaf("callId", call_id)
        .with_leaf("externalTrackingId", tracking);
    Ok(document(
        StatusCode::CREATED,
        &doc,
        wants_json(&params, &headers),
    ))
}

fn call_not_found(call_id: &str) -> Failure {
    Failure::xsi(
        StatusCode::NOT_FOUND,
        code::CALL_NOT_FOUND,
        format!("[Error {}] Call not found: {call_id}", code::CALL_NOT_FOUND),
    )
}

fn epoch_millis(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string()
}

fn call_document(user: &User, leg: &CallLeg) -> Element {
    let mut remote = Element::new("remoteParty");
    if let Some(name) = &leg.remote.name {
        remote = remote.with_leaf("name", name);
    }
    remote = remote.with_leaf("address", &leg.remote.address);
    if let Some(id) = &leg.remote.user_id {
        remote = remote.with_leaf("userId", format!("{}@bcld.emulated", id.replace('-', "")));
    }
    remote = remote.with_leaf(
        "callType",
        if leg.remote.user_id.is_some() {
            "Group"
        } else {
            "Network"
        },
    );
    let mut doc = Element::new("Call")
        .attribute("xmlns:xsi1", XML_SCHEMA_INSTANCE)
        .with_leaf("callId", &leg.id)
        .with_leaf("extTrackingId", &leg.ext_tracking_id)
        .with_leaf("networkCallId", &leg.network_call_id)
        .with_leaf("personality", leg.personality.as_xsi())
        .with_leaf("state", leg.state.as_xsi())
        .child(remote)
        .child(
            Element::new("endpoint")
                .attribute("xsi1:type", "xsi:AccessEndpoint")
                .with_leaf(
                    "addressOfRecord",
                    format!("{}@emulated.calls.webex.com", user.uuid),
                ),
        )
        .with_leaf("appearance", "1")
        .with_leaf("startTime", epoch_millis(leg.started));
    if let Some(answered) = leg.answered {
        doc = doc.with_leaf("answerTime", epoch_millis(answered));
    }
    doc
}

/// `GET .../user/{uuid}/calls/{call_id}`.
pub async fn call(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((uuid, call_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let user = authorize(&shared, &headers, &uuid)?;
    let leg = shared
        .world()
        .switch
        .call_of(&user.uuid, &call_id)
        .ok_or_else(|| call_not_found(&call_id))?;
    Ok(document(
        StatusCode::OK,
        &call_document(&user, &leg),
        wants_json(&params, &headers),
    ))
}

/// `PUT .../user/{uuid}/calls/{call_id}/Talk`: answers an alerting leg.
pub async fn talk(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((uuid, call_id)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let user = authorize(&shared, &headers, &uuid)?;
    let outcome = shared.world().switch.talk(&user.party(), &call_id);
    match outcome {
        Ok(()) => Ok(empty(StatusCode::OK)),
        Err(SwitchError::NoSuchCall) => Err(call_not_found(&call_id)),
        Err(SwitchError::NotAlertingHere) => Err(Failure::xsi(
            StatusCode::BAD_REQUEST,
            code::BAD_REQUEST,
            format!(
                "[Error {}] The call is not alerting at this user's device and cannot be answered",
                code::BAD_REQUEST
            ),
        )),
    }
}

/// `DELETE .../user/{uuid}/calls/{call_id}`: releases the call (both legs).
pub async fn release(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((uuid, call_id)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let user = authorize(&shared, &headers, &uuid)?;
    let outcome = shared.world().switch.release(&user.uuid, &call_id);
    match outcome {
        Ok(()) => Ok(empty(StatusCode::OK)),
        Err(_) => Err(call_not_found(&call_id)),
    }
}

/// Any other XSI path: 404 `ErrorInfo`.
pub fn not_found() -> Failure {
    Failure::xsi(
        StatusCode::NOT_FOUND,
        code::BAD_REQUEST,
        format!("[Error {}] Resource not found", code::BAD_REQUEST),
    )
}
