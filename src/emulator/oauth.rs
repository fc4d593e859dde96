//! The emulated identity service: authorize page, token endpoint, device
//! grant, and the bearer-token check every API route uses.
//!
//! Error shapes (webex-api.md 1.6 leaves the exact bodies open; the
//! emulator uses both so clients must parse both):
//! - an unknown client id: 400, Webex shape, "Client Id is invalid" (as the
//!   documented device-authorize example);
//! - a wrong client secret: 401, RFC 6749 shape, `invalid_client`;
//! - a bad, used or expired code, a PKCE or redirect URI mismatch: 400, RFC
//!   shape, `invalid_grant` (`invalid_request` for missing parameters);
//! - an expired, rotated or unknown refresh token: 400, RFC shape,
//!   `invalid_request` with the text the JS SDK's tests show; a revoked one
//!   (by fault): `invalid_grant`.
//!
//! Nothing here logs a token, secret or code.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;

use super::state::{
    AccessGrant, AuthCode, Challenge, Consent, Counters, DeviceGrant, DeviceStatus, RefreshGrant,
    Shared, User, World, hex, random_alnum, random_bytes,
};
use super::wire::Failure;
use super::xsi_doc::escape;

/// How long an authorization code lives.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// How long a device code lives.
const DEVICE_LIFETIME: Duration = Duration::from_secs(300);
/// The device-token polling interval the emulator asks for.
const DEVICE_INTERVAL: u64 = 2;
/// The grant type of device-token polls.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// What Webex says about a dead refresh token (JS SDK unit test, webex-api.md 1.6).
const REFRESH_DEAD: &str = "The refresh token provided is expired, revoked, malformed, or invalid.";

/// A successful token response (webex-api.md 1.5). Its `Debug` hides the tokens.
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_token_expires_in: u64,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Granted scopes, space-separated.
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"(redacted)")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"(redacted)")
            .field("refresh_token_expires_in", &self.refresh_token_expires_in)
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Who is calling the API, after the bearer token was checked.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token owner.
    pub user: User,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the token expires.
    pub expires_at: SystemTime,
}

impl Caller {
    /// Whether the token carries `scope`.
    #[must_use]
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token the emulator issued.
    Unknown,
    /// Expired.
    Expired,
    /// Revoked.
    Revoked,
}

impl AuthError {
    /// What the API says about it.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            AuthError::Missing => {
                "The request requires a valid access token set in the Authorization request header."
            }
            AuthError::Unknown => "Invalid access token.",
            AuthError::Expired => "The access token has expired.",
            AuthError::Revoked => "The access token has been revoked.",
        }
    }
}

/// Checks the bearer token of a request.
pub fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, AuthError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)?;
    let grant = shared
        .world()
        .access
        .get(token)
        .cloned()
        .ok_or(AuthError::Unknown)?;
    if grant.revoked || shared.behaviour.tokens_rejected {
        return Err(AuthError::Revoked);
    }
    if SystemTime::now() >= grant.expires_at {
        return Err(AuthError::Expired);
    }
    let user = shared
        .directory
        .by_uuid(&grant.user_uuid)
        .cloned()
        .ok_or(AuthError::Revoked)?;
    Ok(Caller {
        user,
        scopes: grant.scopes,
        expires_at: grant.expires_at,
    })
}

/// A token as Webex formats them: 64 characters, `_PF84_`, the org UUID.
fn new_token(shared: &Shared) -> String {
    format!("{}_PF84_{}", random_alnum(64), shared.directory.org_uuid)
}

/// Issues an access and refresh token pair and records both.
pub fn issue(
    shared: &Shared,
    world: &mut World,
    client_id: &str,
    user_uuid: &str,
    scopes: &[String],
) -> TokenResponse {
    let now = SystemTime::now();
    let b = &shared.behaviour;
    let access_token = new_token(shared);
    let refresh_token = new_token(shared);
    world.access.insert(
        access_token.clone(),
        AccessGrant {
            user_uuid: user_uuid.to_owned(),
            scopes: scopes.to_vec(),
            expires_at: now + b.access_lifetime,
            revoked: false,
        },
    );
    world.refresh.insert(
        refresh_token.clone(),
        RefreshGrant {
            client_id: client_id.to_owned(),
            user_uuid: user_uuid.to_owned(),
            scopes: scopes.to_vec(),
            expires_at: now + b.refresh_lifetime,
            used: false,
        },
    );
    TokenResponse {
        access_token,
        expires_in: b.access_lifetime.as_secs(),
        refresh_token,
        refresh_token_expires_in: b.refresh_lifetime.as_secs(),
        token_type: "Bearer",
        scope: scopes.join(" "),
    }
}

/// Issues the personal access token of `user`: the integration's scopes, 12 hours.
pub fn issue_personal(shared: &Shared, user_uuid: &str) -> String {
    let token = new_token(shared);
    shared.world().access.insert(
        token.clone(),
        AccessGrant {
            user_uuid: user_uuid.to_owned(),
            scopes: granted(shared, &shared.integration.scopes),
            expires_at: SystemTime::now() + shared.behaviour.pat_lifetime,
            revoked: false,
        },
    );
    token
}

/// The scopes actually granted for a request: those the org has not been denied.
pub fn granted(shared: &Shared, requested: &[String]) -> Vec<String> {
    requested
        .iter()
        .filter(|s| !shared.behaviour.dropped_scopes.contains(&s.as_str()))
        .cloned()
        .collect()
}

fn split_scopes(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// Adds `pairs` to the query of `uri`.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (k, v) in pairs {
                    query.append_pair(k, v);
                }
            }
            url.into()
        }
        Err(_) => uri.to_owned(),
    }
}

/// A `302 Found` to `location`, as OAuth servers redirect (RFC 6749 4.1.2).
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// The redirect back to the client with an error.
fn error_location(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> String {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    with_query(redirect_uri, &pairs)
}

/// An HTML page the browser shows when the client cannot be redirected to.
fn error_page(status: StatusCode, error: &str, text: &str) -> Response {
    let body = page(
        "Sign-in error",
        &format!(
            "<p class=\"error\" data-error=\"{e}\"><strong>{e}</strong>: {t}</p>",
            e = escape(error),
            t = escape(text)
        ),
    );
    (status, Html(body)).into_response()
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title} - Webex (emulated)</title>\
         <style>body{{font-family:sans-serif;max-width:32em;margin:3em auto;color:#222}}\
         .error{{color:#a00}}li{{font-family:monospace}}button{{margin-right:1em;padding:.4em 1.2em}}\
         label{{display:block;margin:1em 0}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>\n",
        title = escape(title)
    )
}

fn user_options(shared: &Shared) -> String {
    shared
        .directory
        .users
        .iter()
        .fold(String::new(), |mut html, u| {
            let _ = write!(
                html,
                "<option value=\"{e}\">{n} &lt;{e}&gt;</option>",
                e = escape(&u.email),
                n = escape(&u.display_name())
            );
            html
        })
}

/// Why an authorization request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Shown to the user: the client cannot be trusted with a redirect.
    Page {
        /// The OAuth error code.
        error: &'static str,
        /// Human text.
        text: String,
    },
    /// Sent back to the client: the redirect URL carrying `error=`.
    Redirect(String),
}

impl Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page { error, text } => error_page(StatusCode::BAD_REQUEST, error, &text),
            Refusal::Redirect(location) => found(&location),
        }
    }
}

fn refuse_page(error: &'static str, text: &str) -> Refusal {
    Refusal::Page {
        error,
        text: text.to_owned(),
    }
}

/// Checks an authorization request (webex-api.md 1.2). Errors that cannot be
/// sent back to the client (unknown client, unregistered redirect URI) are an
/// HTML page; the others redirect with `error=`.
fn validate_authorize(
    shared: &Shared,
    params: &HashMap<String, String>,
) -> Result<Consent, Refusal> {
    let integration = &shared.integration;
    let get = |k: &str| params.get(k).map(String::as_str);

    let Some(client_id) = get("client_id") else {
        return Err(refuse_page("invalid_request", "client_id is missing"));
    };
    if client_id != integration.client_id {
        return Err(refuse_page("invalid_client", "Client Id is invalid"));
    }
    let redirect_uri = match get("redirect_uri") {
        Some(uri) if uri == integration.redirect_uri => uri.to_owned(),
        Some(_) => {
            return Err(refuse_page(
                "redirect_uri_mismatch",
                "The redirect_uri does not match any redirect URI registered for this integration.",
            ));
        }
        None => integration.redirect_uri.clone(),
    };
    let state = get("state");
    let fail = |error: &str, text: &str| {
        Err(Refusal::Redirect(error_location(
            &redirect_uri,
            error,
            text,
            state,
        )))
    };
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    let scopes = split_scopes(get("scope").unwrap_or_default());
    if scopes.is_empty() {
        return fail("invalid_scope", "scope is missing");
    }
    let unregistered: Vec<&str> = scopes
        .iter()
        .filter(|s| !integration.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !unregistered.is_empty() {
        let text = format!("The requested scope is invalid: {}", unregistered.join(" "));
        return fail("invalid_scope", &text);
    }
    let challenge = match get("code_challenge") {
        None => None,
        Some(value) => {
            let method = get("code_challenge_method").unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return fail(
                    "invalid_request",
                    "code_challenge_method must be S256 or plain",
                );
            }
            Some(Challenge {
                value: value.to_owned(),
                method: method.to_owned(),
            })
        }
    };
    Ok(Consent {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.map(str::to_owned),
        challenge,
        created: SystemTime::now(),
    })
}

/// `GET /v1/authorize`: validates the request, then shows the login and consent page.
pub async fn authorize_page(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let consent = match validate_authorize(&shared, &params) {
        Ok(consent) => consent,
        Err(refusal) => return refusal.into_response(),
    };
    let scope_list = consent.scopes.iter().fold(String::new(), |mut html, s| {
        let _ = write!(html, "<li>{}</li>", escape(s));
        html
    });
    let request_id = random_alnum(32);
    {
        let mut world = shared.world();
        let now = SystemTime::now();
        world
            .consents
            .retain(|_, c| now.duration_since(c.created).unwrap_or_default() < CODE_LIFETIME);
        world.consents.insert(request_id.clone(), consent);
    }
    let body = format!(
        "<form method=\"post\" action=\"/v1/authorize\">\
         <input type=\"hidden\" name=\"request\" value=\"{request_id}\">\
         <label>Sign in as <select name=\"user\" id=\"user\">{users}</select></label>\
         <p><strong>Emulated harness integration</strong> would like to:</p><ul id=\"scopes\">{scope_list}</ul>\
         <button type=\"submit\" name=\"decision\" value=\"accept\" id=\"accept\">Accept</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button>\
         </form>",
        users = user_options(&shared)
    );
    Html(page("Sign in to Webex", &body)).into_response()
}

/// `POST /v1/authorize`: the login and consent form's answer.
pub async fn authorize_decision(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let get = |k: &str| form.get(k).map(String::as_str);
    let Some(consent) = get("request").and_then(|id| shared.world().consents.remove(id)) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in request is unknown or has expired; start again from the application.",
        );
    };
    let state = consent.state.as_deref();
    if get("decision") != Some("accept") {
        return found(&error_location(
            &consent.redirect_uri,
            "access_denied",
            "The user denied the request",
            state,
        ));
    }
    let Some(user) = get("user")
        .and_then(|e| shared.directory.by_email(e))
        .cloned()
    else {
        return error_page(StatusCode::BAD_REQUEST, "invalid_request", "unknown user");
    };
    found(&grant_code(&shared, &consent, &user))
}

/// Records an authorization code for an accepted consent and returns the
/// redirect that carries it (and `state`) back to the client.
fn grant_code(shared: &Shared, consent: &Consent, user: &User) -> String {
    let code = random_alnum(64);
    shared.world().codes.insert(
        code.clone(),
        AuthCode {
            client_id: consent.client_id.clone(),
            redirect_uri: consent.redirect_uri.clone(),
            user_uuid: user.uuid.clone(),
            scopes: granted(shared, &consent.scopes),
            challenge: consent.challenge.clone(),
            expires_at: SystemTime::now() + CODE_LIFETIME,
            used: false,
            issued: Vec::new(),
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &consent.state {
        pairs.push(("state", state));
    }
    with_query(&consent.redirect_uri, &pairs)
}

/// What a user's browser would do with `authorize_url`: open the login page,
/// sign in as `email` and press Accept. Returns the URL the browser would be
/// redirected to (with `code` and `state`, or with `error`).
pub fn sign_in(shared: &Shared, authorize_url: &str, email: &str) -> Result<String, Refusal> {
    let params: HashMap<String, String> = url::Url::parse(authorize_url)
        .map_err(|e| refuse_page("invalid_request", &format!("not a URL: {e}")))?
        .query_pairs()
        .into_owned()
        .collect();
    let consent = validate_authorize(shared, &params)?;
    let user = shared
        .directory
        .by_email(email)
        .ok_or_else(|| refuse_page("invalid_request", "unknown user"))?;
    Ok(grant_code(shared, &consent, user))
}

fn parse_form(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The client credentials of a token request: Basic first, then the body.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(i, p)| (i.to_owned(), p.to_owned())));
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

/// Authenticates the client of a token request.
fn check_client(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, Failure> {
    let (id, secret) = client_credentials(headers, form);
    let integration = &shared.integration;
    match id {
        Some(id) if id == integration.client_id => {}
        Some(_) => {
            return Err(Failure::webex(
                StatusCode::BAD_REQUEST,
                "Client Id is invalid",
            ));
        }
        None => {
            return Err(Failure::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication is required",
            ));
        }
    }
    if secret.as_deref() != Some(integration.client_secret.as_str()) {
        return Err(Failure::oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        ));
    }
    Ok(integration.client_id.clone())
}

fn token_answer(tokens: &TokenResponse) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json;charset=UTF-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        serde_json::to_string(tokens).unwrap_or_default(),
    )
        .into_response()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// `POST /v1/access_token`: the `authorization_code` and `refresh_token` grants.
pub async fn access_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Counters::bump(&shared.counters.token_endpoint_hits);
    if !is_form(&headers) {
        return Failure::webex(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-www-form-urlencoded",
        )
        .into_response();
    }
    let form = parse_form(&body);
    let client_id = match check_client(&shared, &headers, &form) {
        Ok(id) => id,
        Err(failure) => return failure.into_response(),
    };
    let result = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&shared, &client_id, &form),
        Some("refresh_token") => refresh_grant(&shared, &client_id, &form),
        Some(_) => Err(Failure::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
        None => Err(Failure::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is missing",
        )),
    };
    match result {
        Ok(tokens) => token_answer(&tokens),
        Err(failure) => failure.into_response(),
    }
}

fn invalid_grant(text: &str) -> Failure {
    Failure::oauth(StatusCode::BAD_REQUEST, "invalid_grant", text)
}

fn code_grant(
    shared: &Shared,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, Failure> {
    let missing = |name: &str| {
        Failure::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("{name} is missing"),
        )
    };
    let code = form.get("code").ok_or_else(|| missing("code"))?;
    let redirect_uri = form
        .get("redirect_uri")
        .ok_or_else(|| missing("redirect_uri"))?;
    let mut world = shared.world();
    let Some(grant) = world.codes.get_mut(code) else {
        return Err(invalid_grant("The authorization code is invalid"));
    };
    if grant.used {
        // A replayed code revokes what it bought (RFC 6749 4.1.2).
        let issued = std::mem::take(&mut grant.issued);
        for token in issued {
            if let Some(access) = world.access.get_mut(&token) {
                access.revoked = true;
            }
            world.refresh.remove(&token);
        }
        return Err(invalid_grant(
            "The authorization code has already been used",
        ));
    }
    if SystemTime::now() >= grant.expires_at {
        return Err(invalid_grant("The authorization code has expired"));
    }
    if grant.client_id != client_id {
        return Err(invalid_grant(
            "The authorization code was issued to another client",
        ));
    }
    if &grant.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri does not match the one of the authorization request",
        ));
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| missing("code_verifier"))?;
        verify_pkce(challenge, verifier)?;
    }
    grant.used = true;
    let (user_uuid, scopes) = (grant.user_uuid.clone(), grant.scopes.clone());
    let tokens = issue(shared, &mut world, client_id, &user_uuid, &scopes);
    if let Some(grant) = world.codes.get_mut(code) {
        grant.issued = vec![tokens.access_token.clone(), tokens.refresh_token.clone()];
    }
    Ok(tokens)
}

/// Checks a PKCE verifier against the challenge (RFC 7636 4.6).
fn verify_pkce(challenge: &Challenge, verifier: &str) -> Result<(), Failure> {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(Failure::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code_verifier must be 43 to 128 unreserved characters",
        ));
    }
    let computed = if challenge.method == "S256" {
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    } else {
        verifier.to_owned()
    };
    if computed == challenge.value {
        Ok(())
    } else {
        Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
    }
}

fn refresh_grant(
    shared: &Shared,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<TokenResponse, Failure> {
    let dead = || Failure::oauth(StatusCode::BAD_REQUEST, "invalid_request", REFRESH_DEAD);
    let token = form.get("refresh_token").ok_or_else(dead)?;
    let mut world = shared.world();
    let grant = world.refresh.get_mut(token).ok_or_else(dead)?;
    if grant.used || SystemTime::now() >= grant.expires_at {
        return Err(dead());
    }
    if grant.client_id != client_id {
        return Err(invalid_grant(
            "The refresh token was issued to another client",
        ));
    }
    if shared.behaviour.refresh_revoked {
        return Err(invalid_grant("The refresh token has been revoked"));
    }
    grant.used = true;
    let (user_uuid, scopes) = (grant.user_uuid.clone(), grant.scopes.clone());
    Ok(issue(shared, &mut world, client_id, &user_uuid, &scopes))
}

/// `POST /v1/device/authorize`: starts a device grant.
pub async fn device_authorize(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return Failure::webex(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-www-form-urlencoded",
        )
        .into_response();
    }
    let form = parse_form(&body);
    if form.get("client_id") != Some(&shared.integration.client_id) {
        return Failure::webex(StatusCode::BAD_REQUEST, "Client Id is invalid").into_response();
    }
    let scopes = split_scopes(form.get("scope").map_or("", String::as_str));
    let unregistered: Vec<&str> = scopes
        .iter()
        .filter(|s| !shared.integration.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if scopes.is_empty() || !unregistered.is_empty() {
        return Failure::webex(
            StatusCode::BAD_REQUEST,
            format!("Invalid scope: {}", unregistered.join(" ")),
        )
        .into_response();
    }
    let device_code = random_alnum(48);
    let digits = random_bytes(6);
    let user_code: String = digits.iter().map(|b| char::from(b'0' + b % 10)).collect();
    let verification_uri = format!("{}/v1/device/verify", shared.urls.origin);
    let complete = format!("{verification_uri}?userCode={}", user_code_hash(&user_code));
    shared.world().devices.insert(
        device_code.clone(),
        DeviceGrant {
            client_id: shared.integration.client_id.clone(),
            user_code: user_code.clone(),
            scopes,
            expires_at: SystemTime::now() + DEVICE_LIFETIME,
            status: DeviceStatus::Pending,
        },
    );
    axum::Json(serde_json::json!({
        "device_code": device_code,
        "expires_in": DEVICE_LIFETIME.as_secs(),
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "interval": DEVICE_INTERVAL,
    }))
    .into_response()
}

/// The opaque form of a user code used in `verification_uri_complete`.
fn user_code_hash(user_code: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, user_code.as_bytes());
    hex(&digest.as_ref()[..16])
}

/// `POST /v1/device/token`: polls a device grant (428 until approved).
pub async fn device_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    Counters::bump(&shared.counters.token_endpoint_hits);
    let form = parse_form(&body);
    let client_id = match check_client(&shared, &headers, &form) {
        Ok(id) => id,
        Err(failure) => return failure.into_response(),
    };
    if form.get("grant_type").map(String::as_str) != Some(DEVICE_GRANT) {
        return Failure::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type must be {DEVICE_GRANT}"),
        )
        .into_response();
    }
    let mut world = shared.world();
    let Some(grant) = form
        .get("device_code")
        .and_then(|c| world.devices.get_mut(c))
    else {
        return invalid_grant("The device code is invalid").into_response();
    };
    if grant.client_id != client_id {
        return invalid_grant("The device code was issued to another client").into_response();
    }
    if SystemTime::now() >= grant.expires_at && grant.status == DeviceStatus::Pending {
        return invalid_grant("The device code has expired").into_response();
    }
    match grant.status.clone() {
        DeviceStatus::Pending => Failure::oauth(
            StatusCode::PRECONDITION_REQUIRED,
            "authorization_pending",
            "The user has not yet approved this device",
        )
        .into_response(),
        DeviceStatus::Denied => Failure::oauth(
            StatusCode::BAD_REQUEST,
            "access_denied",
            "The user denied the request",
        )
        .into_response(),
        DeviceStatus::Redeemed => {
            invalid_grant("The device code has already been used").into_response()
        }
        DeviceStatus::Approved(user_uuid) => {
            grant.status = DeviceStatus::Redeemed;
            let scopes = granted(&shared, &grant.scopes);
            let tokens = issue(&shared, &mut world, &client_id, &user_uuid, &scopes);
            token_answer(&tokens)
        }
    }
}

/// `GET /v1/device/verify`: the page where a user approves a device.
pub async fn device_page(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let prefill = params
        .get("userCode")
        .and_then(|hash| {
            shared
                .world()
                .devices
                .values()
                .find(|g| &user_code_hash(&g.user_code) == hash)
                .map(|g| g.user_code.clone())
        })
        .unwrap_or_default();
    let body = format!(
        "<form method=\"post\" action=\"/v1/device/verify\">\
         <label>Code shown on the device <input name=\"user_code\" id=\"user_code\" value=\"{prefill}\" \
         inputmode=\"numeric\" autocomplete=\"off\"></label>\
         <label>Sign in as <select name=\"user\" id=\"user\">{users}</select></label>\
         <button type=\"submit\" name=\"decision\" value=\"accept\" id=\"accept\">Approve</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form>",
        prefill = escape(&prefill),
        users = user_options(&shared)
    );
    Html(page("Activate a device", &body)).into_response()
}

/// `POST /v1/device/verify`: approves or denies a device grant.
pub async fn device_decision(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let code = form
        .get("user_code")
        .map(|c| c.trim().to_owned())
        .unwrap_or_default();
    let user = form
        .get("user")
        .and_then(|e| shared.directory.by_email(e))
        .cloned();
    let approve = form.get("decision").map(String::as_str) == Some("accept");
    let mut world = shared.world();
    let now = SystemTime::now();
    let Some(grant) = world
        .devices
        .values_mut()
        .find(|g| g.user_code == code && g.status == DeviceStatus::Pending && now < g.expires_at)
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "That code is unknown or has expired.",
        );
    };
    let text = match (approve, user) {
        (true, Some(user)) => {
            grant.status = DeviceStatus::Approved(user.uuid);
            "Device approved. You can close this window."
        }
        (true, None) => {
            return error_page(StatusCode::BAD_REQUEST, "invalid_request", "unknown user");
        }
        (false, _) => {
            grant.status = DeviceStatus::Denied;
            "Device denied. You can close this window."
        }
    };
    Html(page(
        "Activate a device",
        &format!("<p id=\"result\">{text}</p>"),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let challenge = Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            method: "S256".to_owned(),
        };
        assert!(verify_pkce(&challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").is_ok());
        assert!(verify_pkce(&challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx").is_err());
        assert!(verify_pkce(&challenge, "short").is_err());
    }

    #[test]
    fn pkce_plain_compares_verbatim() {
        let v = "a".repeat(43);
        let challenge = Challenge {
            value: v.clone(),
            method: "plain".to_owned(),
        };
        assert!(verify_pkce(&challenge, &v).is_ok());
        assert!(verify_pkce(&challenge, &"b".repeat(43)).is_err());
    }

    #[test]
    fn redirect_keeps_existing_query_and_encodes() {
        assert_eq!(
            with_query(
                "http://127.0.0.1:6001/redirect?x=1",
                &[("code", "a b"), ("state", "s&t")]
            ),
            "http://127.0.0.1:6001/redirect?x=1&code=a+b&state=s%26t"
        );
    }
}
