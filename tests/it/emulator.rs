//! The emulator against the shapes of `reference/webex-api.md`, driven from
//! outside by independent clients: reqwest for HTTP, curl for the proxy.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use reqwest::Method;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use wxc_preflight::emulator::{
    self, Emulator, EmulatorArgs, EmulatorOptions, ProxyAuthMode, Started, decode_id,
};

const XSI_NS: &str = "http://schema.broadsoft.com/xsi";

/// A running emulator and the directory it writes to (removed at the end).
struct Rig {
    emulator: Emulator,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Rig {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

async fn rig_with(options: EmulatorOptions, faults: &[&str]) -> Rig {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut options = EmulatorOptions {
        dir: Some(dir.path().to_owned()),
        ..options
    };
    for fault in faults {
        options = options.fault(fault).unwrap();
    }
    Rig {
        emulator: emulator::start(options).await.unwrap(),
        _dir: dir,
    }
}

async fn rig(faults: &[&str]) -> Rig {
    rig_with(EmulatorOptions::default(), faults).await
}

/// A client that trusts only the emulator's CA, follows no redirects and uses no proxy.
fn client(emu: &Emulator) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

fn url(emu: &Emulator, path_and_query: &str) -> String {
    format!(
        "{}{path_and_query}",
        emu.api_base().as_str().trim_end_matches('/')
    )
}

fn xsi_url(emu: &Emulator, uuid: &str, rest: &str) -> String {
    format!("{}/v2.0/user/{uuid}/{rest}", emu.xsi_actions_base())
}

fn uuid_of(emu: &Emulator, email: &str) -> String {
    let id = emu.person_id(email).unwrap();
    decode_id(&id).unwrap().1
}

async fn get_json(
    emu: &Emulator,
    token: &str,
    path: &str,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client(emu)
        .get(url(emu, path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn pat(emu: &Emulator) -> String {
    emu.admin_token().expose().to_owned()
}

/// Asserts the Webex error shape and that `trackingId` equals the header.
fn assert_webex_error(headers: &reqwest::header::HeaderMap, body: &Value) {
    let tracking = headers["trackingid"].to_str().unwrap();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["errors"][0]["description"].is_string(), "{body}");
    assert_eq!(body["trackingId"], tracking);
}

// ---------------------------------------------------------------- files

#[tokio::test]
async fn start_writes_ca_config_and_private_secrets() {
    let emu = rig(&[]).await;
    let dir = emu.dir();
    assert_eq!(
        std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
        emu.ca_pem()
    );
    assert!(emu.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        std::fs::read_to_string(dir.join("access_token")).unwrap(),
        pat(&emu)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("client_secret")).unwrap(),
        emu.client_secret().expose()
    );
    #[cfg(unix)]
    for secret in ["client_secret", "access_token", "proxy_password"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(secret))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }

    let config: toml::Table = std::fs::read_to_string(emu.config_path())
        .unwrap()
        .parse()
        .unwrap();
    let client_id = config["interface"]["client_id"].as_str().unwrap();
    assert_eq!(client_id, emu.client_id());
    assert_eq!(client_id.len(), 65);
    assert!(client_id.starts_with('C') && client_id[1..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        config["interface"]["client_secret_file"].as_str(),
        Some("client_secret")
    );
    assert_eq!(
        config["interface"]["scope_profile"].as_str(),
        Some("wbc-mt-minimal")
    );
    let redirect = config["interface"]["redirect_url"].as_str().unwrap();
    assert_eq!(redirect, emu.registered_redirect_uri());
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/redirect"));
    assert_eq!(
        config["webex"]["api_base"].as_str(),
        Some(emu.api_base().as_str())
    );
    assert_eq!(config["webex"]["ca_file"].as_str(), Some("ca.pem"));
    assert_eq!(
        config["proxy"]["url"].as_str(),
        Some(emu.proxy_url().as_str())
    );
    assert_eq!(config["proxy"]["auth"].as_str(), Some("none"));
    let plan = &config["plan"];
    assert_eq!(plan["endpoints"].as_array().unwrap().len(), 3);
    assert_eq!(plan["talk_time"].as_str(), Some("1s"));
    assert_eq!(plan["pause_after_error"].as_str(), Some("1s"));
    assert_eq!(plan["retries_after_error"].as_integer(), Some(3));
    assert!(plan["ring_timeout"].is_str());
}

#[tokio::test]
async fn secrets_stay_out_of_debug_and_the_banner() {
    let emu = rig(&[]).await;
    let token = pat(&emu);
    assert_eq!(format!("{:?}", emu.admin_token()), "(redacted)");
    assert!(!format!("{:?}", *emu).contains(&token));
    let dir = tempfile::tempdir().unwrap();
    let args = EmulatorArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        faults: Vec::new(),
        list_faults: false,
        dir: Some(dir.path().to_owned()),
        proxy_auth: ProxyAuthMode::Digest,
        no_proxy_in_config: false,
    };
    let started = emulator::run_command(args, CancellationToken::new())
        .await
        .unwrap();
    let Started::Running(running) = &started else {
        panic!("not running")
    };
    let banner = started.to_string();
    assert!(banner.contains(&dir.path().display().to_string()));
    assert!(banner.contains(running.api_base().as_str()));
    assert!(banner.contains(&running.proxy_url()));
    assert!(banner.contains(running.admin_token().last4()));
    for secret in [
        running.admin_token().expose().to_owned(),
        running.client_secret().expose().to_owned(),
        running.proxy_credentials().1.expose().to_owned(),
    ] {
        assert!(!banner.contains(&secret), "banner leaks a secret");
    }
}

#[tokio::test]
async fn faults_change_what_is_written() {
    let emu = rig(&[
        "client-secret-wrong",
        "client-unknown",
        "proxy-wrong-password",
    ])
    .await;
    let dir = emu.dir();
    assert_ne!(
        std::fs::read_to_string(dir.join("client_secret")).unwrap(),
        emu.client_secret().expose()
    );
    let config: toml::Table = std::fs::read_to_string(emu.config_path())
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(
        config["interface"]["client_id"].as_str(),
        Some(emu.client_id())
    );
    assert_eq!(config["proxy"]["auth"].as_str(), Some("digest"));
    assert_eq!(
        config["proxy"]["password_file"].as_str(),
        Some("proxy_password")
    );
    assert_ne!(
        std::fs::read_to_string(dir.join("proxy_password")).unwrap(),
        emu.proxy_credentials().1.expose()
    );

    let emu = rig(&["proxy-digest-only", "redirect-mismatch"]).await;
    let config: toml::Table = std::fs::read_to_string(emu.config_path())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(config["proxy"]["auth"].as_str(), Some("basic"));
    assert_ne!(
        config["interface"]["redirect_url"].as_str(),
        Some(emu.registered_redirect_uri())
    );
}

#[tokio::test]
async fn run_command_lists_faults_and_rejects_unknown_ones() {
    let args = |faults: Vec<String>, list: bool| EmulatorArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        faults,
        list_faults: list,
        dir: None,
        proxy_auth: ProxyAuthMode::None,
        no_proxy_in_config: false,
    };
    let listed = emulator::run_command(args(Vec::new(), true), CancellationToken::new())
        .await
        .unwrap();
    assert!(!listed.is_running());
    let text = listed.to_string();
    for info in emulator::fault_catalog() {
        assert!(text.contains(info.name));
        if let Some(code) = info.code {
            assert!(text.contains(code));
        }
    }
    let err = emulator::run_command(args(vec!["nope".into()], false), CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("unknown fault \"nope\""), "{err}");
}

#[tokio::test]
async fn cancel_drop_and_shutdown_stop_the_servers() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let args = EmulatorArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        faults: Vec::new(),
        list_faults: false,
        dir: Some(dir.path().to_owned()),
        proxy_auth: ProxyAuthMode::None,
        no_proxy_in_config: false,
    };
    let started = emulator::run_command(args, cancel.clone()).await.unwrap();
    let Started::Running(emu) = started else {
        panic!("not running")
    };
    let addr = emu.proxy_addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    cancel.cancel();
    assert!(
        eventually_refused(addr).await,
        "cancel did not stop the proxy"
    );
    drop(emu);

    let emu = rig(&[]).await;
    let addr = emu.proxy_addr();
    let https = emu.api_base().socket_addrs(|| None).unwrap()[0];
    drop(emu);
    assert!(
        eventually_refused(addr).await,
        "drop did not stop the proxy"
    );
    assert!(
        eventually_refused(https).await,
        "drop did not stop the HTTPS server"
    );

    let emu = rig(&[]).await;
    let https = emu.api_base().socket_addrs(|| None).unwrap()[0];
    let Rig { emulator, _dir } = emu;
    emulator.shutdown().await;
    assert!(tokio::net::TcpStream::connect(https).await.is_err());
}

async fn eventually_refused(addr: std::net::SocketAddr) -> bool {
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn listen_must_be_loopback() {
    let options = EmulatorOptions {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..EmulatorOptions::default()
    };
    let err = emulator::start(options).await.unwrap_err().to_string();
    assert!(
        err.starts_with("the emulator listens on loopback only"),
        "{err}"
    );
}

// ---------------------------------------------------------------- REST

#[tokio::test]
async fn people_me_has_webex_shape_and_headers() {
    let emu = rig(&[]).await;
    let (status, headers, me) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(status, 200);
    assert!(
        headers["trackingid"]
            .to_str()
            .unwrap()
            .starts_with("ROUTER_")
    );
    assert!(headers["date"].to_str().unwrap().ends_with(" GMT"));
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );

    let id = me["id"].as_str().unwrap();
    assert!(!id.contains('='), "ids are unpadded");
    let (kind, uuid) = decode_id(id).unwrap();
    assert_eq!(kind, "PEOPLE");
    assert_eq!(uuid.len(), 36);
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(id)
        .unwrap();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        format!("ciscospark://us/PEOPLE/{uuid}")
    );
    assert_eq!(me["emails"][0], emu.admin_email());
    assert_eq!(
        decode_id(me["orgId"].as_str().unwrap()).unwrap().0,
        "ORGANIZATION"
    );
    assert_eq!(me["orgId"], emu.org_id());
    let role = me["roles"][0].as_str().unwrap();
    assert_eq!(
        decode_id(role).unwrap(),
        ("ROLE".to_owned(), "id_full_admin".to_owned())
    );
    for field in [
        "displayName",
        "firstName",
        "lastName",
        "created",
        "type",
        "licenses",
    ] {
        assert!(!me[field].is_null(), "{field} missing");
    }
}

#[tokio::test]
async fn rest_errors_are_webex_shaped_with_tracking_id() {
    let emu = rig(&[]).await;
    let http = client(&emu);

    let response = http.get(url(&emu, "/people/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let headers = response.headers().clone();
    assert_webex_error(&headers, &response.json().await.unwrap());

    let (status, headers, body) = get_json(&emu, "not-a-token", "/people/me").await;
    assert_eq!(status, 401);
    assert_webex_error(&headers, &body);

    let response = http
        .get(url(&emu, "/people/me"))
        .bearer_auth(pat(&emu))
        .header("TrackingID", "TEST_1234")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["trackingid"], "TEST_1234");

    let (status, headers, body) = get_json(&emu, &pat(&emu), "/no/such/thing").await;
    assert_eq!(status, 404);
    assert_webex_error(&headers, &body);

    let response = http
        .delete(url(&emu, "/people/me"))
        .bearer_auth(pat(&emu))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let headers = response.headers().clone();
    assert_webex_error(&headers, &response.json().await.unwrap());
}

#[tokio::test]
async fn people_by_email_and_id_with_calling_data() {
    let emu = rig(&[]).await;
    let token = pat(&emu);
    let alice = &emu.endpoints()[0];
    let (status, _, list) = get_json(
        &emu,
        &token,
        &format!("/people?email={alice}&callingData=true"),
    )
    .await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["emails"][0], alice.as_str());
    assert_eq!(items[0]["extension"], "1001");

    let id = emu.person_id(alice).unwrap();
    let (status, _, person) =
        get_json(&emu, &token, &format!("/people/{id}?callingData=true")).await;
    assert_eq!(status, 200);
    assert_eq!(person["id"], id.as_str());
    assert_eq!(
        decode_id(person["locationId"].as_str().unwrap()).unwrap().0,
        "LOCATION"
    );
    assert_eq!(person["phoneNumbers"][0]["type"], "work");
    assert!(
        person["phoneNumbers"][0]["value"]
            .as_str()
            .unwrap()
            .starts_with('+')
    );
    let calling_licence = person["licenses"].as_array().unwrap().iter().any(|l| {
        decode_id(l.as_str().unwrap())
            .unwrap()
            .1
            .contains(":BCSTD_")
    });
    assert!(calling_licence);

    let (_, _, plain) = get_json(&emu, &token, &format!("/people/{id}")).await;
    assert!(plain.get("extension").is_none() && plain.get("locationId").is_none());

    let (status, _, empty) = get_json(&emu, &token, "/people?email=nobody@example.com").await;
    assert_eq!(status, 200);
    assert_eq!(empty["items"].as_array().unwrap().len(), 0);

    let unknown = emulator::encode_id(
        emulator::IdKind::People,
        "00000000-0000-0000-0000-000000000000",
    );
    let (status, headers, body) = get_json(&emu, &token, &format!("/people/{unknown}")).await;
    assert_eq!(status, 404);
    assert_webex_error(&headers, &body);
}

#[tokio::test]
async fn organization_reports_the_four_xsi_fields() {
    let emu = rig(&[]).await;
    let org_id = emu.org_id();
    let (status, _, org) = get_json(
        &emu,
        &pat(&emu),
        &format!("/organizations/{org_id}?callingData=true"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(org["id"], org_id.as_str());
    assert!(org["displayName"].is_string());
    let actions = org["xsiActionsEndpoint"].as_str().unwrap();
    assert_eq!(actions, emu.xsi_actions_base().as_str());
    assert!(actions.ends_with("/com.broadsoft.xsi-actions"));
    assert!(
        org["xsiEventsEndpoint"]
            .as_str()
            .unwrap()
            .ends_with("/com.broadsoft.xsi-events")
    );
    assert!(
        org["xsiEventsChannelEndpoint"]
            .as_str()
            .unwrap()
            .ends_with("/com.broadsoft.async/com.broadsoft.xsi-events")
    );
    assert_eq!(org["xsiDomain"], "127.0.0.1");

    let (_, _, bare) = get_json(&emu, &pat(&emu), &format!("/organizations/{org_id}")).await;
    assert!(bare.get("xsiActionsEndpoint").is_none());

    let other = emulator::encode_id(
        emulator::IdKind::Organization,
        "00000000-0000-0000-0000-000000000000",
    );
    let (status, _, _) = get_json(&emu, &pat(&emu), &format!("/organizations/{other}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn organization_xsi_faults() {
    let emu = rig(&["xsi-disabled"]).await;
    let org_id = emu.org_id();
    let (_, _, org) = get_json(
        &emu,
        &pat(&emu),
        &format!("/organizations/{org_id}?callingData=true"),
    )
    .await;
    assert!(org.get("xsiActionsEndpoint").is_none() && org.get("xsiDomain").is_none());

    let emu = rig(&["xsi-unreachable"]).await;
    let org_id = emu.org_id();
    let (_, _, org) = get_json(
        &emu,
        &pat(&emu),
        &format!("/organizations/{org_id}?callingData=true"),
    )
    .await;
    assert!(org["xsiDomain"].as_str().unwrap().ends_with(".invalid"));
}

#[tokio::test]
async fn licenses_and_token_expiry() {
    let emu = rig(&[]).await;
    let (status, _, licences) = get_json(&emu, &pat(&emu), "/licenses").await;
    assert_eq!(status, 200);
    let items = licences["items"].as_array().unwrap();
    let calling = items
        .iter()
        .find(|l| l["name"] == "Webex Calling - Professional")
        .unwrap();
    let (kind, tail) = decode_id(calling["id"].as_str().unwrap()).unwrap();
    assert_eq!(kind, "LICENSE");
    assert!(tail.contains(":BCSTD_"));
    assert_eq!(calling["consumedUnits"], 3);
    assert!(calling["totalUnits"].is_u64());

    let (status, _, expiry) = get_json(&emu, &pat(&emu), "/authorizations/tokenExpiry").await;
    assert_eq!(status, 200);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = expiry["exp"].as_u64().unwrap();
    assert!(
        (now + 12 * 3600 - 60..=now + 12 * 3600 + 60).contains(&exp),
        "PAT lives 12 hours"
    );
}

#[tokio::test]
async fn not_admin_is_403_on_admin_resources() {
    let emu = rig(&["not-admin"]).await;
    let org_id = emu.org_id();
    for path in [
        format!("/organizations/{org_id}?callingData=true"),
        "/licenses".to_owned(),
    ] {
        let (status, headers, body) = get_json(&emu, &pat(&emu), &path).await;
        assert_eq!(status, 403, "{path}");
        assert_webex_error(&headers, &body);
    }
    let (status, _, me) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["roles"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_401() {
    let emu = rig(&["token-expired"]).await;
    let tokens = emu.issue_tokens(emu.admin_email()).unwrap();
    assert_eq!(tokens.expires_in, 0);
    let (status, headers, body) = get_json(&emu, &tokens.access_token, "/people/me").await;
    assert_eq!(status, 401);
    assert_webex_error(&headers, &body);
    assert!(body["message"].as_str().unwrap().contains("expired"));

    let emu = rig(&["token-revoked"]).await;
    let (status, _, body) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("revoked"));
}

// ---------------------------------------------------------------- OAuth

struct Login {
    scope: String,
    redirect_uri: String,
    state: String,
    challenge: Option<(String, &'static str)>,
}

impl Login {
    fn new(emu: &Emulator, scope: &str) -> Self {
        Login {
            scope: scope.to_owned(),
            redirect_uri: emu.registered_redirect_uri().to_owned(),
            state: "st-8d1f".to_owned(),
            challenge: None,
        }
    }

    fn authorize_url(&self, emu: &Emulator, client_id: &str) -> String {
        let mut u = url::Url::parse(&url(emu, "/authorize")).unwrap();
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("client_id", client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("scope", &self.scope)
                .append_pair("state", &self.state);
            if let Some((challenge, method)) = &self.challenge {
                q.append_pair("code_challenge", challenge)
                    .append_pair("code_challenge_method", method);
            }
        }
        u.into()
    }
}

fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn query_of(location: &str) -> HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Goes through the login page as `email` and returns the redirect's query.
async fn consent(
    emu: &Emulator,
    login: &Login,
    email: &str,
    decision: &str,
) -> HashMap<String, String> {
    let http = client(emu);
    let page = http
        .get(login.authorize_url(emu, emu.client_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let request = &html[start..start + html[start..].find('"').unwrap()];
    let answer = http
        .post(url(emu, "/authorize"))
        .form(&[
            ("request", request),
            ("user", email),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302, "the consent form redirects");
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&login.redirect_uri));
    query_of(&location)
}

async fn exchange(emu: &Emulator, form: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
    let response = client(emu)
        .post(url(emu, "/access_token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

const MINIMAL: &str = "spark:people_read spark-admin:xsi spark-admin:organizations_read";

#[tokio::test]
async fn authorize_page_shows_users_scopes_and_buttons() {
    let emu = rig(&[]).await;
    let login = Login::new(&emu, MINIMAL);
    let page = client(&emu)
        .get(login.authorize_url(&emu, emu.client_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for email in emu.users() {
        assert!(html.contains(&email), "{email} not offered");
    }
    for scope in MINIMAL.split(' ') {
        assert!(html.contains(&format!("<li>{scope}</li>")));
    }
    assert!(html.contains("id=\"accept\"") && html.contains("id=\"deny\""));
}

#[tokio::test]
async fn authorize_refuses_unknown_client_and_unregistered_redirect() {
    let emu = rig(&[]).await;
    let http = client(&emu);
    let login = Login::new(&emu, MINIMAL);
    let page = http
        .get(login.authorize_url(&emu, &format!("C{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("data-error=\"invalid_client\"")
    );

    for redirect in [
        format!("{} ", emu.registered_redirect_uri()),
        format!("{}/", emu.registered_redirect_uri()),
    ] {
        let login = Login {
            redirect_uri: redirect,
            ..Login::new(&emu, MINIMAL)
        };
        let page = http
            .get(login.authorize_url(&emu, emu.client_id()))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "redirect_uri must match byte for byte");
        assert!(page.text().await.unwrap().contains("redirect_uri_mismatch"));
    }
}

#[tokio::test]
async fn unregistered_scope_redirects_invalid_scope_with_state() {
    let emu = rig(&["scope-not-registered"]).await;
    let login = Login::new(&emu, "spark:people_read spark-admin:licenses_read");
    let answer = client(&emu)
        .get(login.authorize_url(&emu, emu.client_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302);
    let q = query_of(answer.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "invalid_scope");
    assert_eq!(q["state"], "st-8d1f");
    assert!(q["error_description"].contains("spark-admin:licenses_read"));
}

#[tokio::test]
async fn code_flow_with_pkce_s256_yields_tokens() {
    let emu = rig(&[]).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let login = Login {
        challenge: Some((s256(verifier), "S256")),
        ..Login::new(&emu, MINIMAL)
    };
    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    assert_eq!(q["state"], "st-8d1f");
    let code = &q["code"];
    let hits = emu.inspect().token_endpoint_hits();
    let secret = emu.client_secret();
    let (status, tokens) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", code),
            ("redirect_uri", &login.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(emu.inspect().token_endpoint_hits(), hits + 1);
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    assert_eq!(tokens["expires_in"], 1_209_599);
    assert_eq!(tokens["refresh_token_expires_in"], 7_775_999);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], MINIMAL);
    let (status, _, me) =
        get_json(&emu, tokens["access_token"].as_str().unwrap(), "/people/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["emails"][0], emu.admin_email());
}

#[tokio::test]
async fn code_is_single_use_and_replay_revokes_its_tokens() {
    let emu = rig(&[]).await;
    let login = Login::new(&emu, MINIMAL);
    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    let secret = emu.client_secret();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", emu.client_id()),
        ("client_secret", secret.expose()),
        ("code", q["code"].as_str()),
        ("redirect_uri", login.redirect_uri.as_str()),
    ];
    let (status, tokens) = exchange(&emu, &form).await;
    assert_eq!(status, 200);
    let (status, error) = exchange(&emu, &form).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_grant");
    assert!(error["error_description"].is_string() && error["trackingId"].is_string());
    let (status, _, _) =
        get_json(&emu, tokens["access_token"].as_str().unwrap(), "/people/me").await;
    assert_eq!(status, 401, "a replayed code revokes the tokens it bought");
}

#[tokio::test]
async fn pkce_mismatch_and_redirect_mismatch_are_invalid_grant() {
    let emu = rig(&[]).await;
    let secret = emu.client_secret();
    let verifier = "a".repeat(64);
    let login = Login {
        challenge: Some((s256(&verifier), "S256")),
        ..Login::new(&emu, MINIMAL)
    };
    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    let wrong = "b".repeat(64);
    let (status, error) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", &q["code"]),
            ("redirect_uri", &login.redirect_uri),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(
        (status.as_u16(), error["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    let (status, error) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", &q["code"]),
            ("redirect_uri", &format!("{}/", login.redirect_uri)),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status.as_u16(), error["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn plain_pkce_with_basic_client_authentication() {
    let emu = rig(&[]).await;
    let verifier = "plain-verifier-plain-verifier-plain-verifier";
    let login = Login {
        challenge: Some((verifier.to_owned(), "plain")),
        ..Login::new(&emu, MINIMAL)
    };
    let q = consent(&emu, &login, emu.endpoints()[0].as_str(), "accept").await;
    let secret = emu.client_secret();
    let response = client(&emu)
        .post(url(&emu, "/access_token"))
        .basic_auth(emu.client_id(), Some(secret.expose()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", login.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_use_both_error_shapes() {
    let emu = rig(&[]).await;
    let (status, error) = exchange(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", emu.client_id()),
            ("client_secret", "0000"),
            ("refresh_token", "whatever"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(error["error"], "invalid_client");
    assert!(error["error_description"].is_string());

    let (status, error) = exchange(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "Cunknown"),
            ("client_secret", "0000"),
            ("refresh_token", "whatever"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["message"], "Client Id is invalid");
    assert_eq!(error["errors"][0]["description"], "Client Id is invalid");
    assert!(error["trackingId"].is_string());
}

#[tokio::test]
async fn refresh_rotates_and_the_used_token_dies() {
    let emu = rig(&[]).await;
    let first = emu.issue_tokens(emu.admin_email()).unwrap();
    let secret = emu.client_secret();
    let refresh = |token: String| {
        let emu = &emu;
        let secret = secret.expose().to_owned();
        async move {
            exchange(
                emu,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", emu.client_id()),
                    ("client_secret", &secret),
                    ("refresh_token", &token),
                ],
            )
            .await
        }
    };
    let (status, second) = refresh(first.refresh_token.clone()).await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first.refresh_token.as_str());
    assert_ne!(second["access_token"], first.access_token.as_str());
    assert!(
        second["scope"]
            .as_str()
            .unwrap()
            .contains("spark-admin:xsi")
    );

    let (status, error) = refresh(first.refresh_token.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"], "invalid_request");
    assert_eq!(
        error["error_description"],
        "The refresh token provided is expired, revoked, malformed, or invalid."
    );
    let (status, _) = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refresh_faults_expire_and_revoke() {
    let emu = rig(&["refresh-expired"]).await;
    let tokens = emu.issue_tokens(emu.admin_email()).unwrap();
    assert_eq!((tokens.expires_in, tokens.refresh_token_expires_in), (0, 0));
    let secret = emu.client_secret();
    let (status, error) = exchange(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("refresh_token", &tokens.refresh_token),
        ],
    )
    .await;
    assert_eq!(
        (status.as_u16(), error["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let emu = rig(&["refresh-revoked"]).await;
    let tokens = emu.issue_tokens(emu.admin_email()).unwrap();
    let secret = emu.client_secret();
    let (status, error) = exchange(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("refresh_token", &tokens.refresh_token),
        ],
    )
    .await;
    assert_eq!(
        (status.as_u16(), error["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let emu = rig(&[]).await;
    let login = Login::new(&emu, MINIMAL);
    let q = consent(&emu, &login, emu.admin_email(), "deny").await;
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-8d1f");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn scope_missing_xsi_drops_the_scope_silently() {
    let emu = rig(&["scope-missing-xsi"]).await;
    let login = Login::new(&emu, MINIMAL);
    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    let secret = emu.client_secret();
    let (status, tokens) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", &q["code"]),
            ("redirect_uri", &login.redirect_uri),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        tokens["scope"],
        "spark:people_read spark-admin:organizations_read"
    );
    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    let response = client(&emu)
        .get(xsi_url(&emu, &alice, "profile"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn device_grant_is_pending_until_approved_on_the_page() {
    let emu = rig(&[]).await;
    let http = client(&emu);
    let started: Value = http
        .post(url(&emu, "/device/authorize"))
        .form(&[("client_id", emu.client_id()), ("scope", MINIMAL)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 6);
    assert_eq!(started["expires_in"], 300);
    assert!(started["interval"].is_u64());
    let secret = emu.client_secret();
    let poll = || {
        http.post(url(&emu, "/device/token"))
            .basic_auth(emu.client_id(), Some(secret.expose()))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", device_code),
                ("client_id", emu.client_id()),
            ])
            .send()
    };
    let pending = poll().await.unwrap();
    assert_eq!(pending.status(), 428);
    assert_eq!(
        pending.json::<Value>().await.unwrap()["error"],
        "authorization_pending"
    );

    let page = http
        .get(started["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("value=\"{user_code}\"")),
        "the complete URI prefills the code"
    );
    let approved = http
        .post(url(&emu, "/device/verify"))
        .form(&[
            ("user_code", user_code),
            ("user", emu.admin_email()),
            ("decision", "accept"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);

    let done = poll().await.unwrap();
    assert_eq!(done.status(), 200);
    let tokens: Value = done.json().await.unwrap();
    assert_eq!(tokens["scope"], MINIMAL);
    for field in [
        "access_token",
        "refresh_token",
        "expires_in",
        "refresh_token_expires_in",
        "token_type",
    ] {
        assert!(!tokens[field].is_null(), "{field}");
    }
    assert_eq!(
        poll().await.unwrap().status(),
        400,
        "a device code is redeemed once"
    );

    let bad = http
        .post(url(&emu, "/device/authorize"))
        .form(&[("client_id", "Cnope"), ("scope", MINIMAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["errors"][0]["description"],
        "Client Id is invalid"
    );
}

// ---------------------------------------------------------------- XSI

async fn xsi(emu: &Emulator, method: reqwest::Method, uuid: &str, rest: &str) -> (u16, String) {
    let response = client(emu)
        .request(method, xsi_url(emu, uuid, rest))
        .bearer_auth(pat(emu))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn xsi_json(emu: &Emulator, method: reqwest::Method, uuid: &str, rest: &str) -> (u16, Value) {
    let sep = if rest.contains('?') { '&' } else { '?' };
    let (status, text) = xsi(emu, method, uuid, &format!("{rest}{sep}format=json")).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn leaf<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut v = v;
    for key in path {
        v = &v[*key];
    }
    v["$"]
        .as_str()
        .unwrap_or_else(|| panic!("no leaf at {path:?}"))
}

/// The call ids of a `Calls` document, whether one call (object) or several (array).
fn call_ids(calls: &Value) -> Vec<String> {
    match &calls["Calls"]["call"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|c| leaf(c, &["callId"]).to_owned())
            .collect(),
        one => vec![leaf(one, &["callId"]).to_owned()],
    }
}

#[tokio::test]
async fn xsi_profile_in_xml_and_badgerfish_json() {
    let emu = rig(&[]).await;
    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    let response = client(&emu)
        .get(xsi_url(&emu, &alice, "profile"))
        .bearer_auth(pat(&emu))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(response.headers().contains_key("trackingid"));
    let xml = response.text().await.unwrap();
    assert!(
        xml.contains(&format!("<Profile xmlns=\"{XSI_NS}\">")),
        "{xml}"
    );
    assert!(xml.contains("<extension>1001</extension>"));

    let (status, json) = xsi_json(&emu, Method::GET, &alice, "profile").await;
    assert_eq!(status, 200);
    assert_eq!(json["Profile"]["@xmlns"]["$"], XSI_NS);
    assert_eq!(leaf(&json, &["Profile", "details", "extension"]), "1001");
    assert!(!leaf(&json, &["Profile", "details", "userId"]).is_empty());

    let by_accept: Value = client(&emu)
        .get(xsi_url(&emu, &alice, "profile"))
        .bearer_auth(pat(&emu))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(leaf(&by_accept, &["Profile", "countryCode"]), "1");
}

#[tokio::test]
async fn xsi_errors_are_error_info() {
    let emu = rig(&[]).await;
    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    let unauthenticated = client(&emu)
        .get(xsi_url(&emu, &alice, "profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let xml = unauthenticated.text().await.unwrap();
    assert!(
        xml.contains(&format!("<ErrorInfo xmlns=\"{XSI_NS}\">")),
        "{xml}"
    );
    assert!(xml.contains("<summary>") && xml.contains("<errorCode>"));

    let (status, json) = xsi_json(
        &emu,
        Method::GET,
        "00000000-0000-0000-0000-000000000000",
        "profile",
    )
    .await;
    assert_eq!(status, 404);
    assert!(leaf(&json, &["ErrorInfo", "summary"]).contains("User not found"));
    assert!(
        leaf(&json, &["ErrorInfo", "errorCode"])
            .parse::<u32>()
            .is_ok()
    );

    let admin = uuid_of(&emu, emu.admin_email());
    let (status, _) = xsi(&emu, Method::GET, &admin, "profile").await;
    assert_eq!(status, 404, "a user without calling has no XSI profile");

    let (status, json) = xsi_json(&emu, Method::GET, &alice, "calls/callhalf-1:0").await;
    assert_eq!(status, 404);
    assert!(leaf(&json, &["ErrorInfo", "summary"]).contains("Call not found"));
}

#[tokio::test]
async fn xsi_faults_answer_403() {
    for fault in ["xsi-forbidden", "xsi-disabled"] {
        let emu = rig(&[fault]).await;
        let alice = uuid_of(&emu, &emu.endpoints()[0]);
        let (status, json) = xsi_json(&emu, Method::GET, &alice, "profile").await;
        assert_eq!(status, 403, "{fault}");
        assert!(!leaf(&json, &["ErrorInfo", "summary"]).is_empty());
    }
    let emu = rig(&["endpoint-no-licence"]).await;
    let carol = uuid_of(&emu, &emu.endpoints()[2]);
    let (status, _) = xsi(&emu, Method::GET, &carol, "profile").await;
    assert_eq!(status, 404);
    let emu = rig(&["endpoint-missing"]).await;
    assert!(emu.person_id(&emu.endpoints()[2]).is_none());
}

#[tokio::test]
async fn click_to_dial_call_goes_alerting_active_released() {
    let emu = rig(&[]).await;
    let (bob_email, carol_email) = (&emu.endpoints()[1], &emu.endpoints()[2]);
    let (bob, carol) = (uuid_of(&emu, bob_email), uuid_of(&emu, carol_email));

    let (status, json) = xsi_json(&emu, Method::POST, &bob, "calls/new?address=1003").await;
    assert_eq!(status, 201);
    let call_id = leaf(&json, &["CallStartInfo", "callId"]).to_owned();
    assert!(call_id.starts_with("callhalf-"));
    assert!(!leaf(&json, &["CallStartInfo", "externalTrackingId"]).is_empty());

    // Bob's desk phone does not auto-answer: his own leg alerts first.
    let (_, details) = xsi_json(&emu, Method::GET, &bob, &format!("calls/{call_id}")).await;
    assert_eq!(leaf(&details, &["Call", "personality"]), "Click-to-Dial");
    assert_eq!(leaf(&details, &["Call", "state"]), "Alerting");
    let (_, carol_calls) = xsi_json(&emu, Method::GET, &carol, "calls").await;
    assert!(call_ids(&carol_calls).is_empty());

    let (status, _) = xsi(&emu, Method::PUT, &bob, &format!("calls/{call_id}/Talk")).await;
    assert_eq!(status, 200);
    let (_, details) = xsi_json(&emu, Method::GET, &bob, &format!("calls/{call_id}")).await;
    assert_eq!(leaf(&details, &["Call", "personality"]), "Originator");
    assert_eq!(leaf(&details, &["Call", "state"]), "Alerting");
    let (_, carol_calls) = xsi_json(&emu, Method::GET, &carol, "calls").await;
    let carol_ids = call_ids(&carol_calls);
    assert_eq!(carol_ids.len(), 1);
    let (_, carol_call) = xsi_json(
        &emu,
        Method::GET,
        &carol,
        &format!("calls/{}", carol_ids[0]),
    )
    .await;
    assert_eq!(leaf(&carol_call, &["Call", "personality"]), "Terminator");
    assert_eq!(leaf(&carol_call, &["Call", "state"]), "Alerting");
    assert!(leaf(&carol_call, &["Call", "remoteParty", "address"]).starts_with("tel:+"));

    let (status, _) = xsi(
        &emu,
        Method::PUT,
        &carol,
        &format!("calls/{}/Talk", carol_ids[0]),
    )
    .await;
    assert_eq!(status, 200);
    for (user, id) in [(&bob, &call_id), (&carol, &carol_ids[0])] {
        let (_, d) = xsi_json(&emu, Method::GET, user, &format!("calls/{id}")).await;
        assert_eq!(leaf(&d, &["Call", "state"]), "Active");
        assert!(!leaf(&d, &["Call", "answerTime"]).is_empty());
    }
    assert_eq!(emu.inspect().active_calls(bob_email), 1);

    let (status, xml) = xsi(&emu, Method::GET, &bob, &format!("calls/{call_id}")).await;
    assert_eq!(status, 200);
    assert!(xml.contains("xsi1:type=\"xsi:AccessEndpoint\""));

    let (status, _) = xsi(&emu, Method::DELETE, &bob, &format!("calls/{call_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(emu.inspect().active_calls(bob_email), 0);
    assert_eq!(emu.inspect().active_calls(carol_email), 0);
    let (status, _) = xsi(&emu, Method::DELETE, &bob, &format!("calls/{call_id}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn auto_answer_rings_at_once_and_the_originator_cannot_talk() {
    let emu = rig(&[]).await;
    let (alice, bob) = (
        uuid_of(&emu, &emu.endpoints()[0]),
        uuid_of(&emu, &emu.endpoints()[1]),
    );
    let (_, json) = xsi_json(
        &emu,
        Method::POST,
        &alice,
        "calls/new?address=%2B15550101002",
    )
    .await;
    let call_id = leaf(&json, &["CallStartInfo", "callId"]).to_owned();
    let (_, d) = xsi_json(&emu, Method::GET, &alice, &format!("calls/{call_id}")).await;
    assert_eq!(leaf(&d, &["Call", "personality"]), "Originator");
    let (_, bob_calls) = xsi_json(&emu, Method::GET, &bob, "calls").await;
    assert_eq!(call_ids(&bob_calls).len(), 1);
    let (status, json) =
        xsi_json(&emu, Method::PUT, &alice, &format!("calls/{call_id}/Talk")).await;
    assert_eq!(status, 400);
    assert!(leaf(&json, &["ErrorInfo", "summary"]).contains("not alerting"));

    // Release from the callee clears the caller's leg too.
    let bob_id = call_ids(&bob_calls).remove(0);
    assert_eq!(
        xsi(&emu, Method::DELETE, &bob, &format!("calls/{bob_id}"))
            .await
            .0,
        200
    );
    assert_eq!(emu.inspect().active_calls(&emu.endpoints()[0]), 0);

    let (status, _) = xsi(&emu, Method::POST, &alice, "calls/new").await;
    assert_eq!(status, 400, "address is required");
}

#[tokio::test]
async fn callee_no_answer_never_alerts_and_the_ring_timeout_clears() {
    let options = EmulatorOptions {
        ring_timeout: Duration::from_millis(300),
        ..EmulatorOptions::default()
    };
    let emu = rig_with(options, &["callee-no-answer"]).await;
    let (alice_email, bob_email) = (&emu.endpoints()[0], &emu.endpoints()[1]);
    let alice = uuid_of(&emu, alice_email);
    let (status, _) = xsi(&emu, Method::POST, &alice, "calls/new?address=1002").await;
    assert_eq!(status, 201);
    assert_eq!(emu.inspect().active_calls(alice_email), 1);
    assert_eq!(emu.inspect().active_calls(bob_email), 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(emu.inspect().active_calls(alice_email), 0);
}

#[tokio::test]
async fn stale_calls_and_call_rejected_faults() {
    let emu = rig(&["stale-calls"]).await;
    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    let (_, calls) = xsi_json(&emu, Method::GET, &alice, "calls").await;
    let ids = call_ids(&calls);
    assert_eq!(ids.len(), 1);
    let (_, d) = xsi_json(&emu, Method::GET, &alice, &format!("calls/{}", ids[0])).await;
    assert_eq!(leaf(&d, &["Call", "state"]), "Active");

    let emu = rig(&["call-rejected"]).await;
    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    let (status, json) = xsi_json(&emu, Method::POST, &alice, "calls/new?address=1002").await;
    assert_eq!(status, 400);
    assert!(
        leaf(&json, &["ErrorInfo", "errorCode"])
            .parse::<u32>()
            .is_ok()
    );
}

// ---------------------------------------------------------------- transport faults

#[tokio::test]
async fn rate_limit_storm_answers_429_with_retry_after_but_not_on_oauth() {
    let emu = rig(&["rate-limit-storm"]).await;
    let response = client(&emu)
        .get(url(&emu, "/people/me"))
        .bearer_auth(pat(&emu))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let headers = response.headers().clone();
    assert_webex_error(&headers, &response.json().await.unwrap());

    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    let (status, json) = xsi_json(&emu, Method::GET, &alice, "profile").await;
    assert_eq!(status, 429);
    assert!(!leaf(&json, &["ErrorInfo", "summary"]).is_empty());

    let login = Login::new(&emu, MINIMAL);
    let page = client(&emu)
        .get(login.authorize_url(&emu, emu.client_id()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn transient_rate_limit_gives_way_to_a_retry() {
    let emu = rig(&["rate-limit-transient"]).await;
    let (first, _, _) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(first, 429);
    let (second, _, _) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(second, 200);
}

#[tokio::test]
async fn server_errors_slow_and_clock_skew() {
    let emu = rig(&["server-errors"]).await;
    let (status, headers, body) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(status, 503);
    assert_webex_error(&headers, &body);

    let emu = rig(&["slow=300ms", "clock-skew=2h"]).await;
    let began = std::time::Instant::now();
    let response = client(&emu)
        .get(url(&emu, "/people/me"))
        .bearer_auth(pat(&emu))
        .send()
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(300));
    let date = response.headers()["date"].to_str().unwrap();
    let served = jiff::fmt::rfc2822::parse(date).unwrap().timestamp();
    let skew = served.duration_since(jiff::Timestamp::now()).as_secs();
    assert!((7100..=7300).contains(&skew), "skew {skew}s");
}

// ---------------------------------------------------------------- proxy, with curl

fn curl(dir: &Path, args: &[&str]) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["-H", &format!("@{}", dir.join("auth-header").display())])
        .args(["-o", "/dev/null", "-w", "%{http_code} %{http_connect}"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs curl on a blocking thread (the emulator lives on the test's runtime).
async fn curl_async(emu: &Emulator, args: Vec<String>) -> (String, String) {
    let dir = emu.dir().to_owned();
    std::fs::write(
        dir.join("auth-header"),
        format!("Authorization: Bearer {}", pat(emu)),
    )
    .unwrap();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        curl(&dir, &args)
    })
    .await
    .unwrap()
}

fn me_url(emu: &Emulator) -> String {
    url(emu, "/people/me")
}

#[tokio::test]
async fn curl_through_the_proxy_without_auth() {
    let emu = rig(&[]).await;
    let (out, err) = curl_async(
        &emu,
        vec![
            "--proxytunnel".into(),
            "-x".into(),
            emu.proxy_url(),
            me_url(&emu),
        ],
    )
    .await;
    assert_eq!(out, "200 200", "{err}");
    assert_eq!(emu.inspect().proxy_tunnels(), 1);
}

#[tokio::test]
async fn curl_proxy_basic() {
    let emu = rig_with(
        EmulatorOptions {
            proxy_auth: ProxyAuthMode::Basic,
            ..EmulatorOptions::default()
        },
        &[],
    )
    .await;
    let (user, password) = emu.proxy_credentials();
    let creds = format!("{user}:{}", password.expose());
    let (out, _) = curl_async(
        &emu,
        vec![
            "--proxytunnel".into(),
            "-x".into(),
            emu.proxy_url(),
            me_url(&emu),
        ],
    )
    .await;
    assert!(out.ends_with(" 407"), "no credentials: {out}");
    let args = |creds: &str| {
        vec![
            "--proxytunnel".into(),
            "--proxy-basic".into(),
            "-U".into(),
            creds.to_owned(),
            "-x".into(),
            emu.proxy_url(),
            me_url(&emu),
        ]
    };
    let (out, _) = curl_async(&emu, args(&format!("{user}:wrong"))).await;
    assert!(out.ends_with(" 407"), "wrong password: {out}");
    let (out, err) = curl_async(&emu, args(&creds)).await;
    assert_eq!(out, "200 200", "{err}");
}

#[tokio::test]
async fn curl_proxy_digest() {
    let emu = rig_with(
        EmulatorOptions {
            proxy_auth: ProxyAuthMode::Digest,
            ..EmulatorOptions::default()
        },
        &[],
    )
    .await;
    let (user, password) = emu.proxy_credentials();
    let args = |creds: String, scheme: &str| {
        vec![
            "--proxytunnel".into(),
            scheme.to_owned(),
            "-U".into(),
            creds,
            "-x".into(),
            emu.proxy_url(),
            me_url(&emu),
        ]
    };
    let (out, err) = curl_async(
        &emu,
        args(format!("{user}:{}", password.expose()), "--proxy-digest"),
    )
    .await;
    assert_eq!(out, "200 200", "{err}");
    assert!(
        emu.inspect().proxy_challenges() >= 1,
        "curl answered a challenge"
    );
    let (out, _) = curl_async(&emu, args(format!("{user}:wrong"), "--proxy-digest")).await;
    assert!(out.ends_with(" 407"), "wrong password: {out}");
    let (out, _) = curl_async(
        &emu,
        args(format!("{user}:{}", password.expose()), "--proxy-basic"),
    )
    .await;
    assert!(
        out.ends_with(" 407"),
        "Basic against a Digest-only proxy: {out}"
    );
}

#[tokio::test]
async fn curl_proxy_refuses_hosts_off_the_allow_list() {
    let emu = rig(&["proxy-block-api"]).await;
    let (out, _) = curl_async(
        &emu,
        vec![
            "--proxytunnel".into(),
            "-x".into(),
            emu.proxy_url(),
            me_url(&emu),
        ],
    )
    .await;
    assert!(out.ends_with(" 403"), "{out}");

    let emu = rig(&[]).await;
    let (out, _) = curl_async(
        &emu,
        vec![
            "--proxytunnel".into(),
            "-x".into(),
            emu.proxy_url(),
            "https://example.org/".into(),
        ],
    )
    .await;
    assert!(out.ends_with(" 403"), "{out}");
}

#[tokio::test]
async fn reqwest_through_the_basic_proxy() {
    let emu = rig_with(
        EmulatorOptions {
            proxy_auth: ProxyAuthMode::Basic,
            ..EmulatorOptions::default()
        },
        &[],
    )
    .await;
    let (user, password) = emu.proxy_credentials();
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let proxied = reqwest::Client::builder()
        .tls_certs_only([ca])
        .proxy(
            reqwest::Proxy::all(emu.proxy_url())
                .unwrap()
                .basic_auth(user, password.expose()),
        )
        .build()
        .unwrap();
    let response = proxied
        .get(me_url(&emu))
        .bearer_auth(pat(&emu))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

// ---------------------------------------------------------------- secrets in logs

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

/// The process-wide log capture, at TRACE. A thread-local subscriber
/// (`set_default`) proved flaky here: tracing caches each callsite's interest
/// globally, and tests running in parallel race with it.
fn global_capture() -> &'static Capture {
    static CAPTURE: std::sync::OnceLock<Capture> = std::sync::OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(capture.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test installs a global subscriber");
        capture
    })
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let capture = global_capture();

    let emu = rig_with(
        EmulatorOptions {
            proxy_auth: ProxyAuthMode::Digest,
            ..EmulatorOptions::default()
        },
        &[],
    )
    .await;
    let verifier = "x".repeat(50);
    let login = Login {
        challenge: Some((s256(&verifier), "S256")),
        ..Login::new(&emu, MINIMAL)
    };
    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    let secret = emu.client_secret();
    let (_, tokens) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", &q["code"]),
            ("redirect_uri", &login.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let (_, refreshed) = exchange(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    let access = refreshed["access_token"].as_str().unwrap();
    let (status, _, _) = get_json(&emu, access, "/people/me").await;
    assert_eq!(status, 200);
    let alice = uuid_of(&emu, &emu.endpoints()[0]);
    xsi(&emu, Method::POST, &alice, "calls/new?address=1002").await;
    let (user, password) = emu.proxy_credentials();
    let (out, _) = curl_async(
        &emu,
        vec![
            "--proxytunnel".into(),
            "--proxy-digest".into(),
            "-U".into(),
            format!("{user}:{}", password.expose()),
            "-x".into(),
            emu.proxy_url(),
            me_url(&emu),
        ],
    )
    .await;
    assert_eq!(out, "200 200");

    let log = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("emulator request"), "the log was captured");
    assert!(log.contains("emulator proxy"));
    for (what, secret) in [
        ("code", q["code"].as_str()),
        ("code verifier", verifier.as_str()),
        ("client secret", secret.expose()),
        ("access token", tokens["access_token"].as_str().unwrap()),
        ("refresh token", tokens["refresh_token"].as_str().unwrap()),
        ("rotated access token", access),
        (
            "rotated refresh token",
            refreshed["refresh_token"].as_str().unwrap(),
        ),
        ("personal access token", emu.admin_token().expose()),
        ("proxy password", password.expose()),
    ] {
        assert!(!log.contains(secret), "the log holds the {what}");
    }
}

// ---------------------------------------------------------------- more edges

#[tokio::test]
async fn a_token_without_the_admin_scope_gets_403() {
    let emu = rig(&[]).await;
    let login = Login::new(&emu, "spark:people_read");
    let q = consent(&emu, &login, emu.admin_email(), "accept").await;
    let secret = emu.client_secret();
    let (_, tokens) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", &q["code"]),
            ("redirect_uri", &login.redirect_uri),
        ],
    )
    .await;
    let token = tokens["access_token"].as_str().unwrap();
    let (status, _, _) = get_json(&emu, token, "/people/me").await;
    assert_eq!(status, 200);
    for path in [
        format!("/organizations/{}?callingData=true", emu.org_id()),
        "/licenses".to_owned(),
    ] {
        let (status, headers, body) = get_json(&emu, token, &path).await;
        assert_eq!(status, 403, "{path}");
        assert_webex_error(&headers, &body);
    }
}

/// Sends one raw request on `stream` and returns the response head.
async fn raw_exchange(stream: &mut tokio::net::TcpStream, request: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed"
        );
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    text
}

fn md5_hex(text: &str) -> String {
    use md5::Digest as _;
    use std::fmt::Write as _;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

fn challenge_param(head: &str, name: &str) -> String {
    let line = head
        .lines()
        .find(|l| l.starts_with("Proxy-Authenticate: Digest"))
        .unwrap();
    let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
    line[start..]
        .trim_start_matches('"')
        .split(['"', ','])
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn digest_nonces_count_up_and_go_stale() {
    let emu = rig_with(
        EmulatorOptions {
            proxy_auth: ProxyAuthMode::Digest,
            ..EmulatorOptions::default()
        },
        &[],
    )
    .await;
    let (user, password) = emu.proxy_credentials();
    let target = emu.api_base().socket_addrs(|| None).unwrap()[0].to_string();
    let connect =
        |extra: &str| format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n");
    let authorization = |nonce: &str, nc: &str, pw: &str| {
        let ha1 = md5_hex(&format!("{user}:wxc-emulator:{pw}"));
        let ha2 = md5_hex(&format!("CONNECT:{target}"));
        let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
        format!(
            "Proxy-Authorization: Digest username=\"{user}\", realm=\"wxc-emulator\", nonce=\"{nonce}\", \
             uri=\"{target}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"c0ffee\", response=\"{response}\"\r\n"
        )
    };

    let mut s = tokio::net::TcpStream::connect(emu.proxy_addr())
        .await
        .unwrap();
    let head = raw_exchange(&mut s, &connect("")).await;
    assert!(head.starts_with("HTTP/1.1 407"), "{head}");
    assert_eq!(challenge_param(&head, "qop"), "auth");
    assert_eq!(challenge_param(&head, "stale"), "false");
    let nonce = challenge_param(&head, "nonce");

    // Wrong password: a fresh challenge, not stale.
    let head = raw_exchange(
        &mut s,
        &connect(&authorization(&nonce, "00000001", "wrong")),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 407"));
    assert_eq!(challenge_param(&head, "stale"), "false");

    // The right answer opens the tunnel.
    let head = raw_exchange(
        &mut s,
        &connect(&authorization(&nonce, "00000001", password.expose())),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // The same nonce with a higher count works on a new connection; a replayed count is stale.
    let mut s = tokio::net::TcpStream::connect(emu.proxy_addr())
        .await
        .unwrap();
    let head = raw_exchange(
        &mut s,
        &connect(&authorization(&nonce, "00000001", password.expose())),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 407"));
    assert_eq!(challenge_param(&head, "stale"), "true");
    let head = raw_exchange(
        &mut s,
        &connect(&authorization(&nonce, "00000002", password.expose())),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // A nonce the proxy never issued is stale when the rest is right.
    let mut s = tokio::net::TcpStream::connect(emu.proxy_addr())
        .await
        .unwrap();
    let head = raw_exchange(
        &mut s,
        &connect(&authorization("0badc0de", "00000001", password.expose())),
    )
    .await;
    assert_eq!(challenge_param(&head, "stale"), "true");

    // A plain-HTTP request is refused once authenticated: the proxy only tunnels.
    let open = rig(&[]).await;
    let mut s = tokio::net::TcpStream::connect(open.proxy_addr())
        .await
        .unwrap();
    let head = raw_exchange(
        &mut s,
        &format!("GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 501"), "{head}");
}

#[tokio::test]
async fn listens_on_ipv6_loopback_too() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return; // no IPv6 loopback on this machine
    }
    let emu = rig_with(
        EmulatorOptions {
            listen: "[::1]:0".parse().unwrap(),
            ..EmulatorOptions::default()
        },
        &[],
    )
    .await;
    assert!(emu.api_base().as_str().starts_with("https://[::1]:"));
    assert!(emu.registered_redirect_uri().starts_with("http://[::1]:"));
    let (status, _, _) = get_json(&emu, &pat(&emu), "/people/me").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sign_in_plays_the_browser_for_the_tools_own_authorize_url() {
    let emu = rig(&[]).await;
    let verifier = "v".repeat(60);
    let login = Login {
        challenge: Some((s256(&verifier), "S256")),
        ..Login::new(&emu, MINIMAL)
    };
    let redirect = emu
        .sign_in(
            &login.authorize_url(&emu, emu.client_id()),
            emu.admin_email(),
        )
        .unwrap();
    assert!(redirect.as_str().starts_with(emu.registered_redirect_uri()));
    let q: HashMap<String, String> = redirect.query_pairs().into_owned().collect();
    assert_eq!(q["state"], login.state);
    let secret = emu.client_secret();
    let (status, tokens) = exchange(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", emu.client_id()),
            ("client_secret", secret.expose()),
            ("code", &q["code"]),
            ("redirect_uri", &login.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tokens["scope"], MINIMAL);

    let err = emu
        .sign_in(&login.authorize_url(&emu, "Cunknown"), emu.admin_email())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid_client"), "{err}");

    let emu = rig(&["scope-not-registered"]).await;
    let login = Login::new(&emu, "spark-admin:licenses_read");
    let redirect = emu
        .sign_in(
            &login.authorize_url(&emu, emu.client_id()),
            emu.admin_email(),
        )
        .unwrap();
    let q: HashMap<String, String> = redirect.query_pairs().into_owned().collect();
    assert_eq!(q["error"], "invalid_scope");
    assert!(
        emu.issue_tokens_with_scopes(emu.admin_email(), &["spark-admin:licenses_read"])
            .is_err()
    );
    let tokens = emu
        .issue_tokens_with_scopes(emu.admin_email(), &["spark:people_read"])
        .unwrap();
    assert_eq!(tokens.scope, "spark:people_read");
    let debug = format!("{tokens:?}");
    assert!(!debug.contains(&tokens.access_token) && !debug.contains(&tokens.refresh_token));
}
