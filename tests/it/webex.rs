//! The Webex checks (`connection`, `organization`, `xsi`, `endpoints`)
//! and the Webex client against the emulator over TLS, through its proxy:
//! each fault of this area gives its code as the first root cause, and
//! malformed bodies give findings, never panics or hangs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wxc_preflight::auth::AccessToken;
use wxc_preflight::check::{Context, Facts, Status};
use wxc_preflight::config::{self, ConfigSource};
use wxc_preflight::emulator::{self, Emulator, EmulatorOptions};
use wxc_preflight::pipeline::{self, RunResult};
use wxc_preflight::report::{BuildInfo, FailOn, PlanEntry, Report};
use wxc_preflight::secret::Secret;
use wxc_preflight::services::Services;
use wxc_preflight::webex::{RetryPolicy, WebexClient, WebexError, XsiClient};
use wxc_preflight::{checks, webex};

/// A running emulator and its directory (removed at the end).
pub struct Rig {
    pub emulator: Emulator,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Rig {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

/// Starts the emulator with `faults`.
pub async fn rig(faults: &[&str]) -> Rig {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut options = EmulatorOptions {
        dir: Some(dir.path().to_owned()),
        ..EmulatorOptions::default()
    };
    for fault in faults {
        options = options.fault(fault).unwrap();
    }
    Rig {
        emulator: emulator::start(options).await.unwrap(),
        _dir: dir,
    }
}

/// What a pipeline run against the emulator gave.
pub struct Ran {
    pub run: RunResult,
    pub facts: Arc<Facts>,
    pub report: Report,
}

impl Ran {
    /// The status of a check.
    pub fn status(&self, id: &str) -> Status {
        self.run.checks.iter().find(|c| c.id == id).unwrap().status
    }

    /// Every finding code, in check order.
    pub fn codes(&self) -> Vec<&'static str> {
        self.run
            .checks
            .iter()
            .flat_map(|c| c.findings.iter().map(|f| f.code))
            .collect()
    }

    /// The plan results the `plan` check put.
    pub fn plan(&self) -> Option<Arc<PlanEntry>> {
        self.facts.get::<PlanEntry>()
    }

    /// The evidence of a check, as `label: value` lines.
    pub fn evidence(&self, id: &str) -> String {
        let check = self.run.checks.iter().find(|c| c.id == id).unwrap();
        let mut lines: Vec<String> = check
            .evidence
            .iter()
            .map(|e| format!("{}: {}", e.label, e.value))
            .collect();
        for f in &check.findings {
            lines.push(format!("[{}] {}", f.code, f.summary));
            lines.extend(
                f.evidence
                    .iter()
                    .map(|e| format!("  {}: {}", e.label, e.value)),
            );
        }
        lines.join("\n")
    }
}

/// Runs the pipeline in process against the emulator's written config, with
/// the administrator's token as the `token` check would provide it.
pub async fn run_pipeline(emu: &Emulator, only: &[&str]) -> Ran {
    let loaded = config::load(
        &ConfigSource::Explicit(emu.config_path()),
        checks::SCOPE_PROFILES,
        &|_| None,
    );
    let config = loaded.config.expect("the emulator's config loads");
    let services = Services::build(&config).await.expect("services build");
    let mut ctx = Context::new(Some(config), loaded.problems);
    ctx.services = Some(Arc::new(services));
    ctx.facts.put(admin_token(emu));
    let options = pipeline::Options {
        only: only.iter().map(|s| (*s).to_owned()).collect(),
        ..pipeline::Options::default()
    };
    let run = pipeline::run(&checks::all(), &ctx, &options, std::future::pending()).await;
    let report = Report::build(
        &run,
        BuildInfo {
            started_at: jiff::Timestamp::now(),
            config_file: None,
            fail_on: FailOn::Default,
            plan: ctx.facts.get::<PlanEntry>().map(|p| (*p).clone()),
        },
    );
    Ran {
        run,
        facts: Arc::clone(&ctx.facts),
        report,
    }
}

/// The administrator's personal access token as an `AccessToken` fact.
pub fn admin_token(emu: &Emulator) -> AccessToken {
    AccessToken {
        token: Secret::new(emu.admin_token().expose()),
        expires_at: None,
        granted_scopes: None,
    }
}

/// A Webex client straight to the emulator (no proxy), trusting its CA.
pub fn direct_client(emu: &Emulator, retry: RetryPolicy) -> WebexClient {
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    WebexClient::new(
        http,
        Secret::new(emu.admin_token().expose()),
        retry,
        tokio_util::sync::CancellationToken::new(),
    )
}

const THROUGH_ENDPOINTS: &[&str] = &["endpoints"];

#[tokio::test]
async fn healthy_org_passes_connection_organization_xsi_and_endpoints() {
    let emu = rig(&[]).await;
    let ran = run_pipeline(&emu, THROUGH_ENDPOINTS).await;
    for id in ["connection", "organization", "xsi", "endpoints"] {
        assert_eq!(ran.status(id), Status::Pass, "{id}:\n{}", ran.evidence(id));
    }
    let connection = ran.evidence("connection");
    assert!(connection.contains("admin@example.com"), "{connection}");
    assert!(connection.contains("id_full_admin"), "{connection}");
    assert!(
        ran.evidence("organization")
            .contains("xsiActionsEndpoint: https://")
    );
    let xsi = ran.evidence("xsi");
    assert!(xsi.contains("through the proxy"), "{xsi}");
    assert!(xsi.contains("profile: alice@example.com: 200"), "{xsi}");
    let endpoints = ran.facts.get::<checks::PlanEndpoints>().unwrap();
    assert_eq!(endpoints.0.len(), 3);
    assert_eq!(endpoints.0[0].address, "1001");
    assert!(
        !ran.evidence("endpoints")
            .contains(emu.admin_token().expose())
    );
}

/// Each fault of this area, with the code it must give as the first root
/// cause.
#[tokio::test]
async fn each_fault_gives_its_code_as_the_first_root_cause() {
    let cases: &[(&str, &str)] = &[
        ("not-admin", "api.forbidden"),
        ("xsi-disabled", "xsi.not-enabled"),
        ("xsi-forbidden", "xsi.rejected"),
        ("xsi-unreachable", "xsi.unreachable"),
        ("endpoint-missing", "endpoint.not-found"),
        ("endpoint-no-licence", "endpoint.not-calling"),
        ("stale-calls", "endpoint.stale-calls"),
        ("server-errors", "api.server-error"),
        ("token-revoked", "token.rejected"),
    ];
    for (fault, code) in cases {
        let emu = rig(&[fault]).await;
        let ran = run_pipeline(&emu, THROUGH_ENDPOINTS).await;
        assert_eq!(
            ran.report.root_causes.first().map(String::as_str),
            Some(*code),
            "fault {fault}: root causes {:?}, codes {:?}",
            ran.report.root_causes,
            ran.codes()
        );
    }
}

#[tokio::test]
async fn xsi_not_enabled_carries_the_request_email_with_the_org_id() {
    let emu = rig(&["xsi-disabled"]).await;
    let ran = run_pipeline(&emu, &["organization"]).await;
    let text = ran.evidence("organization");
    assert!(
        text.contains("webex_calling_xsi_access@cisco.com"),
        "{text}"
    );
    assert!(
        text.contains(&format!("(orgId): {}", emu.org_id())),
        "{text}"
    );
    assert_eq!(ran.status("xsi"), Status::Skipped);
}

#[tokio::test]
async fn xsi_rejected_names_the_error_info() {
    let emu = rig(&["xsi-forbidden"]).await;
    let ran = run_pipeline(&emu, &["xsi"]).await;
    let text = ran.evidence("xsi");
    assert!(text.contains("errorinfo errorcode: 4410"), "{text}");
    assert!(text.contains("errorinfo summary: [Error 4410]"), "{text}");
    assert!(text.contains("trackingid: WXCPREFLIGHT_"), "{text}");
}

#[tokio::test]
async fn stale_calls_offer_the_request_that_clears_them() {
    let emu = rig(&["stale-calls"]).await;
    let ran = run_pipeline(&emu, &["plan"]).await;
    assert_eq!(ran.status("endpoints"), Status::Fail);
    assert_eq!(ran.status("plan"), Status::Blocked);
    let text = ran.evidence("endpoints");
    assert!(text.contains("curl -X DELETE"), "{text}");
    assert!(text.contains("/calls/callhalf-"), "{text}");
}

#[tokio::test]
async fn a_rate_limit_storm_is_retried_exactly_retries_after_error_times() {
    let emu = rig(&["rate-limit-storm"]).await;
    let retry = RetryPolicy {
        pause_after_error: Duration::from_millis(50),
        retries_after_error: 2,
        retry_after_cap: Duration::from_secs(5),
    };
    let client = direct_client(&emu, retry);
    let api = webex::RestApi::new(client.clone(), emu.api_base().clone());
    let before = emu.inspect().requests();
    let began = Instant::now();
    let error = api.me().await.unwrap_err();
    let elapsed = began.elapsed();
    assert!(
        matches!(error, WebexError::RateLimited { attempts: 3, .. }),
        "{error:?}"
    );
    assert_eq!(
        emu.inspect().requests() - before,
        3,
        "1 attempt + 2 retries"
    );
    assert_eq!(client.counts(), (1, 3));
    // Retry-After: 1 is honoured (over the 50 ms pause) before each retry.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");

    // A lower cap shortens the wait.
    let capped = direct_client(
        &emu,
        RetryPolicy {
            retry_after_cap: Duration::from_millis(100),
            ..retry
        },
    );
    let began = Instant::now();
    let _ = webex::RestApi::new(capped, emu.api_base().clone())
        .me()
        .await;
    assert!(began.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn the_pipeline_reports_a_storm_as_rate_limited() {
    let emu = rig(&["rate-limit-storm"]).await;
    let ran = run_pipeline(&emu, &["connection"]).await;
    assert_eq!(
        ran.report.root_causes.first().map(String::as_str),
        Some("api.rate-limited")
    );
    // The emulator's config: 3 retries with Retry-After: 1.
    let connection = ran
        .run
        .checks
        .iter()
        .find(|c| c.id == "connection")
        .unwrap();
    assert!(connection.duration >= Duration::from_secs(3));
}

#[tokio::test]
async fn transient_rate_limits_are_absorbed() {
    let emu = rig(&["rate-limit-transient"]).await;
    let ran = run_pipeline(&emu, THROUGH_ENDPOINTS).await;
    assert!(ran.report.root_causes.is_empty(), "{:?}", ran.codes());
}

#[tokio::test]
async fn tracking_ids_are_sent_and_recorded() {
    let emu = rig(&[]).await;
    let client = direct_client(&emu, RetryPolicy::default());
    let reply = client
        .send(
            reqwest::Method::GET,
            &format!("{}/people/me", emu.api_base()),
            webex::Flavour::Rest,
        )
        .await
        .unwrap();
    // The emulator echoes the TrackingID it was sent.
    assert!(
        reply.tracking_id.starts_with("WXCPREFLIGHT_"),
        "{}",
        reply.tracking_id
    );
    assert_eq!(reply.attempts, 1);
}

#[tokio::test]
async fn xsi_answers_read_in_xml_for_every_call_operation() {
    let emu = rig(&[]).await;
    let client = direct_client(&emu, RetryPolicy::default());
    let xsi = XsiClient::new(client, emu.xsi_actions_base().as_str());
    let alice = webex::ids::person_uuid(&emu.person_id("alice@example.com").unwrap()).unwrap();
    let carol = webex::ids::person_uuid(&emu.person_id("carol@example.com").unwrap()).unwrap();
    let (profile, _) = xsi.profile(&alice).await.unwrap();
    assert_eq!(profile.extension.as_deref(), Some("1001"));
    let call = xsi.originate(&alice, "1003").await.unwrap();
    let legs = xsi.calls(&carol).await.unwrap();
    assert_eq!(legs.len(), 1);
    let leg = xsi.call(&carol, &legs[0].call_id).await.unwrap().unwrap();
    assert!(leg.is_alerting() && leg.is_terminator(), "{leg:?}");
    xsi.talk(&carol, &leg.call_id).await.unwrap();
    assert!(xsi.call(&alice, &call).await.unwrap().unwrap().is_active());
    xsi.release(&alice, &call).await.unwrap();
    assert_eq!(xsi.call(&carol, &leg.call_id).await.unwrap(), None);
    let gone = xsi.release(&alice, &call).await.unwrap_err();
    assert!(
        matches!(&gone, WebexError::Status { status: 404, xsi: Some(info), .. } if info.error_code.as_deref() == Some("4200")),
        "{gone:?}"
    );
}

/// A loopback HTTP server answering every path from a table of canned
/// answers (status, content type, body); 404 otherwise. It stops with the
/// test's runtime.
async fn canned(answers: Vec<(&'static str, u16, &'static str, String)>) -> String {
    use axum::http::{StatusCode, Uri, header};
    use axum::response::IntoResponse;
    let answers = Arc::new(answers);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let answers = Arc::clone(&answers);
        async move {
            match answers.iter().find(|(path, ..)| *path == uri.path()) {
                Some((_, status, kind, body)) => (
                    StatusCode::from_u16(*status).unwrap(),
                    [(header::CONTENT_TYPE, *kind)],
                    body.clone(),
                )
                    .into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn billion_laughs() -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml + "]>\n<Profile xmlns=\"http://schema.broadsoft.com/xsi\">&lol9;</Profile>"
}

/// Runs the connection check against `api_base` with a minimal config.
async fn connection_against(api_base: &str) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxc-preflight.toml");
    std::fs::write(
        &path,
        format!(
            "[interface]\nclient_id = \"C{}\"\nclient_secret_env = \"S\"\n\
             redirect_url = \"http://localhost:6001/redirect\"\nscope_profile = \"wbc-mt-minimal\"\n\
             [webex]\napi_base = \"{api_base}\"\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let loaded = config::load(
        &ConfigSource::Explicit(path),
        checks::SCOPE_PROFILES,
        &|_| Some("secret-value-for-tests".to_owned()),
    );
    let config = loaded.config.unwrap();
    let services = Services::build(&config).await.unwrap();
    let mut ctx = Context::new(Some(config), loaded.problems);
    ctx.services = Some(Arc::new(services));
    ctx.facts.put(AccessToken {
        token: Secret::new("token-for-tests-0000"),
        expires_at: None,
        granted_scopes: None,
    });
    // The canned server speaks plain http: the network checks' TLS probe
    // would (rightly) fail it and block the connection check.
    let options = pipeline::Options {
        only: vec!["connection".to_owned()],
        skip: ["dns", "proxy", "internet"].map(str::to_owned).to_vec(),
        ..pipeline::Options::default()
    };
    let run = pipeline::run(&checks::all(), &ctx, &options, std::future::pending()).await;
    let report = Report::build(
        &run,
        BuildInfo {
            started_at: jiff::Timestamp::now(),
            config_file: None,
            fail_on: FailOn::Default,
            plan: None,
        },
    );
    Ran {
        run,
        facts: Arc::clone(&ctx.facts),
        report,
    }
}

#[tokio::test]
async fn malformed_rest_bodies_give_findings() {
    let html = "<!DOCTYPE html><html><head><title>Access denied</title></head><body>proxy says no</body></html>";
    let base = canned(vec![
        ("/html/people/me", 200, "text/html", html.to_owned()),
        (
            "/truncated/people/me",
            200,
            "application/json",
            "{\"id\": \"Y2lz\", \"emails\": [\"a@".to_owned(),
        ),
        ("/error-page/people/me", 500, "text/html", html.to_owned()),
        (
            "/odd-error/people/me",
            400,
            "application/json",
            "{\"message\": \"bad\", \"errors\": \"not a list\", \"trackingId\": 7}".to_owned(),
        ),
    ])
    .await;
    for (prefix, code, evidence) in [
        ("html", "api.unexpected-response", "expected json"),
        ("truncated", "api.unexpected-response", "does not parse"),
        (
            "error-page",
            "api.unexpected-response",
            "body starts: <!DOCTYPE html>",
        ),
        ("odd-error", "api.unexpected-response", "message: bad"),
    ] {
        let began = Instant::now();
        let ran = connection_against(&format!("{base}/{prefix}")).await;
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "{prefix} took too long"
        );
        assert_eq!(
            ran.codes(),
            [code],
            "{prefix}: {}",
            ran.evidence("connection")
        );
        assert!(
            ran.evidence("connection").contains(evidence),
            "{prefix}: {}",
            ran.evidence("connection")
        );
    }
}

#[tokio::test]
async fn malformed_xsi_bodies_give_findings() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let odd_json = r#"{"ErrorInfo":{"@xmlns":{"$":"http://schema.broadsoft.com/xsi"},
        "summary":{"$":"[Error 4410] no"},"errorCode":{"$":4410},
        "details":{"more":[{"$":"x"},{"$":"y"}]},"summaryEnglish":{}}}"#;
    let odd_xml = "<ErrorInfo xmlns=\"http://schema.broadsoft.com/xsi\"><summary>no</summary>\
                   <errorCode>4410</errorCode><vendorExtra><a>1</a></vendorExtra></ErrorInfo>";
    let base = canned(vec![
        (
            "/a/v2.0/user/u1/profile",
            403,
            "application/json",
            odd_json.to_owned(),
        ),
        (
            "/b/v2.0/user/u1/profile",
            403,
            "application/xml",
            odd_xml.to_owned(),
        ),
        (
            "/c/v2.0/user/u1/profile",
            200,
            "application/xml",
            billion_laughs(),
        ),
        (
            "/d/v2.0/user/u1/profile",
            200,
            "application/xml",
            "<Profile xmlns=\"http://schema.broadsoft.com/xsi\"><details><userId>u".to_owned(),
        ),
    ])
    .await;
    let client = WebexClient::new(
        reqwest::Client::new(),
        Secret::new("token-for-tests-0000"),
        RetryPolicy::default(),
        tokio_util::sync::CancellationToken::new(),
    );
    for (prefix, code, evidence) in [
        ("a", "api.forbidden", "errorinfo errorcode: 4410"),
        ("b", "api.forbidden", "errorinfo errorcode: 4410"),
        ("c", "api.unexpected-response", "document type"),
        ("d", "api.unexpected-response", "truncated"),
    ] {
        let xsi = XsiClient::new(client.clone(), &format!("{base}/{prefix}"));
        let began = Instant::now();
        let error = xsi.profile("u1").await.unwrap_err();
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "{prefix} took too long"
        );
        let finding = checks::session::request_finding("xsi profile", &error).unwrap();
        assert_eq!(finding.code, code, "{prefix}: {error:?}");
        let text: Vec<String> = finding
            .evidence
            .iter()
            .map(|e| format!("{}: {}", e.label, e.value))
            .collect();
        assert!(text.join("\n").contains(evidence), "{prefix}: {text:?}");
    }
}
