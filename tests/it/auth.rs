//! OAuth login, the token store and the authorize, token and scopes checks,
//! against the emulator: a real browser (headless Chromium through
//! chromedriver) for the login page, the binary for the commands and
//! checks, and several processes at once for the store's lock.
//!
//! Every output of the binary is searched for the tokens and the client
//! secret; none may appear. Timings are printed as `figure:` lines
//! (`cargo test --test it auth:: -- --nocapture`).

#![allow(clippy::print_stderr, reason = "the tests print their timing figures")]

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wxc_preflight::auth::store::{StoredTokens, TokenStore};
use wxc_preflight::auth::{AuthSettings, login};
use wxc_preflight::config::{self, ConfigSource};
use wxc_preflight::emulator::{self, Emulator, EmulatorOptions};
use wxc_preflight::secret::Secret;
use wxc_preflight::services::Services;

/// A running emulator in its own directory (removed at the end).
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

async fn rig(faults: &[&str]) -> Rig {
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

/// The config the emulator wrote, loaded as the tool loads it.
fn settings(emu: &Emulator) -> (config::Config, AuthSettings) {
    let loaded = config::load(
        &ConfigSource::Explicit(emu.config_path()),
        wxc_preflight::checks::SCOPE_PROFILES,
        &|_| None,
    );
    let config = loaded.config.expect("the emulator's config loads");
    let settings = AuthSettings::from_config(&config).unwrap();
    (config, settings)
}

/// Logs the administrator in without a browser; returns the stored tokens
/// and the time it took. `secret` overrides the client secret (the
/// `client-secret-wrong` fault writes a wrong one).
async fn headless_login(emu: &Emulator, secret: Option<&str>) -> (StoredTokens, Duration) {
    let (config, mut settings) = settings(emu);
    if let Some(secret) = secret {
        settings.client_secret = Some(Secret::new(secret));
    }
    let services = Services::build(&config).await.unwrap();
    let store = TokenStore::new(&settings.token_store);
    let started = Instant::now();
    let tokens = login::headless_consent(&settings, services.client(), &store, emu.admin_email())
        .await
        .unwrap_or_else(|e| panic!("headless login failed: {e}"));
    (tokens, started.elapsed())
}

fn store_of(emu: &Emulator) -> TokenStore {
    TokenStore::new(settings(emu).1.token_store)
}

/// The binary, with no WXC_ variable from the outside.
fn tool(emu: &Emulator, args: &[&str]) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("wxc-preflight"));
    for (key, _) in std::env::vars() {
        if key.starts_with("WXC_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .arg("--config")
        .arg(emu.config_path())
        .env("NO_COLOR", "1");
    command
}

/// Runs the binary off the runtime's threads (the emulator serves on them).
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

/// Fails when any output shows a token of `tokens` or the client secret.
fn assert_no_secrets(emu: &Emulator, output: &Output, tokens: &[&Secret]) {
    let secret = emu.client_secret();
    let mut secrets: Vec<&str> = tokens.iter().map(|t| t.expose()).collect();
    secrets.push(secret.expose());
    for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        for secret in &secrets {
            assert!(
                !text.contains(&secret[..16]),
                "{stream} shows a secret:\n{text}"
            );
        }
    }
}

fn every_secret(tokens: &StoredTokens) -> Vec<&Secret> {
    let mut all = vec![&tokens.access_token];
    all.extend(tokens.refresh_token.as_ref());
    all
}

/// `check --only IDS --format json -vvv`: the exit code and the report.
async fn check(emu: &Emulator, only: &str, tokens: &[&Secret]) -> (i32, Value) {
    let output = run(tool(
        emu,
        &[
            "check",
            "--only",
            only,
            "--format",
            "json",
            "-vvv",
            "--no-plan",
        ],
    ))
    .await;
    assert_no_secrets(emu, &output, tokens);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

fn codes(report: &Value, check: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

fn status(report: &Value, id: &str) -> String {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["status"].as_str().unwrap().to_owned())
        .unwrap()
}

/// Makes the stored access token look as if it had `left` to live, so the
/// next run must refresh it (the emulator still honours it until its real
/// expiry).
fn expire_locally(store: &TokenStore, left: i64) -> StoredTokens {
    let mut tokens = store.load().unwrap().unwrap();
    tokens.access_expires_at = Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(left));
    store.save(&tokens).unwrap();
    tokens
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_consent_stores_tokens_that_pass_the_token_and_scopes_checks() {
    let emu = rig(&[]).await;
    let (tokens, took) = headless_login(&emu, None).await;
    eprintln!("figure: headless consent login in {} ms", took.as_millis());
    assert_eq!(tokens.identity.as_ref().unwrap().email, emu.admin_email());
    assert!(
        tokens
            .scope
            .as_ref()
            .unwrap()
            .contains(&"spark-admin:xsi".to_owned())
    );
    let stored = store_of(&emu).load().unwrap().unwrap();
    assert_eq!(stored.access_token.expose(), tokens.access_token.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(store_of(&emu).path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (code, report) = check(&emu, "token,scopes,authorize", &every_secret(&tokens)).await;
    assert_eq!(status(&report, "token"), "pass", "{report:#}");
    assert_eq!(status(&report, "scopes"), "pass", "{report:#}");
    assert_eq!(status(&report, "authorize"), "pass", "{report:#}");
    assert!(code <= 1, "{report:#}");

    let output = run(tool(&emu, &["auth", "status"])).await;
    assert_no_secrets(&emu, &output, &every_secret(&tokens));
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("Logged in as {}", emu.admin_email())),
        "{text}"
    );
    assert!(text.contains("Covers the profile wbc-mt-minimal"), "{text}");
    assert!(text.contains(&tokens.access_token.hint()), "{text}");

    let output = run(tool(&emu, &["xsi-request"])).await;
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("To: webex_calling_xsi_access@cisco.com"),
        "{text}"
    );
    assert!(text.contains(&emu.org_id()), "{text}");
    assert!(text.contains(emu.client_id()), "{text}");

    let output = run(tool(&emu, &["auth", "logout"])).await;
    assert_eq!(output.status.code(), Some(0));
    assert!(store_of(&emu).load().unwrap().is_none());
    let (_, report) = check(&emu, "token", &every_secret(&tokens)).await;
    assert_eq!(codes(&report, "token"), ["token.missing"]);
}

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: std::process::Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    /// Stops chromedriver and the Chromium it started (its own process
    /// group), also when the test failed before closing the session.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver; scripts/test installs it)");
        let driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        for _ in 0..100 {
            if driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let value: Value = request.send().await.unwrap().json().await.unwrap();
        value["value"].clone()
    }
}

/// Opens `url` in headless Chromium, clicks Accept on the consent page and
/// waits for the login process `child` to end; returns the page Chromium
/// shows at the end and the time from page load.
async fn accept_in_chromium(url: &str, mut child: std::process::Child) -> (Value, Duration) {
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    // The emulator's CA is not in Chromium's trust store; this test tells
    // Chromium to accept it rather than touching the system's NSS database.
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--ignore-certificate-errors",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let session = driver
        .call(
            reqwest::Method::POST,
            "/session",
            Some(serde_json::json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
            }}})),
        )
        .await;
    let id = session["sessionId"].as_str().expect("a session").to_owned();
    let started = Instant::now();
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{id}/url"),
            Some(serde_json::json!({"url": url})),
        )
        .await;
    let accept = driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{id}/element"),
            Some(serde_json::json!({"using": "css selector", "value": "#accept"})),
        )
        .await;
    let page = driver
        .call(reqwest::Method::GET, &format!("/session/{id}/source"), None)
        .await;
    let element = accept["element-6066-11e4-a52e-4f735466cecf"]
        .as_str()
        .unwrap_or_else(|| panic!("no Accept button: {accept}\nsession: {session}\npage: {page}"))
        .to_owned();
    driver
        .call(
            reqwest::Method::POST,
            &format!("/session/{id}/element/{element}/click"),
            Some(serde_json::json!({})),
        )
        .await;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the login process failed");
    let took = started.elapsed();
    let source = driver
        .call(reqwest::Method::GET, &format!("/session/{id}/source"), None)
        .await;
    driver
        .call(reqwest::Method::DELETE, &format!("/session/{id}"), None)
        .await;
    (source, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_login_through_the_real_consent_page_in_headless_chromium() {
    let emu = rig(&[]).await;
    let mut child = tool(&emu, &["auth", "login", "--no-browser", "--timeout", "60s"])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut url_tx = Some(url_tx);
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(url) = line
                .strip_prefix("wxc-preflight: ")
                .filter(|l| l.starts_with("https://"))
                && let Some(tx) = url_tx.take()
            {
                let _ = tx.send(url.to_owned());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    let url = tokio::time::timeout(Duration::from_secs(30), url_rx)
        .await
        .unwrap()
        .unwrap();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains("state="), "{url}");

    let (source, took) = accept_in_chromium(&url, child).await;
    let log = reader.join().unwrap();
    eprintln!(
        "figure: browser login from page load to stored token in {} ms",
        took.as_millis()
    );
    assert!(
        source.as_str().unwrap().contains("return to the terminal"),
        "{source}"
    );

    let tokens = store_of(&emu).load().unwrap().unwrap();
    assert!(log.contains(&format!("as {}", emu.admin_email())), "{log}");
    for secret in every_secret(&tokens) {
        assert!(!log.contains(secret.expose()), "{log}");
    }
    assert!(!log.contains(emu.client_secret().expose()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_grant_polls_until_approved() {
    let emu = rig(&[]).await;
    let (config, settings) = settings(&emu);
    let services = Services::build(&config).await.unwrap();
    let store = TokenStore::new(&settings.token_store);
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let browser = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .build()
        .unwrap();
    let verify = format!(
        "{}/device/verify",
        emu.api_base().as_str().trim_end_matches('/')
    );
    let email = emu.admin_email().to_owned();
    let said = std::sync::Mutex::new(Vec::new());
    let say = |text: &str| said.lock().unwrap().push(text.to_owned());
    let approve = |prompt: &wxc_preflight::auth::device::Prompt| {
        let (browser, verify, email, code) = (
            browser.clone(),
            verify.clone(),
            email.clone(),
            prompt.user_code.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let form = [
                ("user_code", code.as_str()),
                ("user", email.as_str()),
                ("decision", "accept"),
            ];
            browser.post(&verify).form(&form).send().await.unwrap();
        });
    };
    let started = Instant::now();
    let tokens =
        wxc_preflight::auth::device::login(&settings, services.client(), &store, &say, &approve)
            .await
            .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3), "polled before approval");
    assert_eq!(tokens.identity.unwrap().email, emu.admin_email());
    let said = said.lock().unwrap().join("\n");
    assert!(said.contains("enter the code"), "{said}");
    assert!(store.load().unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_stores_the_new_refresh_token_first() {
    let emu = rig(&[]).await;
    let (before, _) = headless_login(&emu, None).await;
    let hits = emu.inspect().token_endpoint_hits();
    let started = Instant::now();
    let output = run(tool(&emu, &["auth", "refresh", "-vvv"])).await;
    eprintln!(
        "figure: `auth refresh` process in {} ms",
        started.elapsed().as_millis()
    );
    assert_no_secrets(&emu, &output, &every_secret(&before));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(emu.inspect().token_endpoint_hits(), hits + 1);
    let after = store_of(&emu).load().unwrap().unwrap();
    assert_ne!(after.access_token.expose(), before.access_token.expose());
    let (old, new) = (
        before.refresh_token.unwrap(),
        after.refresh_token.clone().unwrap(),
    );
    assert_ne!(old.expose(), new.expose(), "the refresh token rotated");
    assert_no_secrets(&emu, &output, &every_secret(&after));

    // The old refresh token is spent: a copy of the old store is refused.
    let store = store_of(&emu);
    let mut stale = after.clone();
    stale.refresh_token = Some(old);
    stale.access_expires_at = Some(jiff::Timestamp::now());
    store.save(&stale).unwrap();
    let (_, report) = check(&emu, "token", &every_secret(&after)).await;
    let found = codes(&report, "token");
    assert_eq!(found, ["token.refresh-rejected"], "the cause alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_at_once_reach_the_token_endpoint_once() {
    let emu = rig(&[]).await;
    let (tokens, _) = headless_login(&emu, None).await;
    expire_locally(&store_of(&emu), 60);
    let hits = emu.inspect().token_endpoint_hits();
    let a = tokio::spawn(run(tool(
        &emu,
        &["check", "--only", "token", "--format", "json"],
    )));
    let b = tokio::spawn(run(tool(
        &emu,
        &["check", "--only", "token", "--format", "json"],
    )));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    for output in [&a, &b] {
        assert_no_secrets(&emu, output, &every_secret(&tokens));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(status(&report, "token"), "pass", "{report:#}");
    }
    assert_eq!(
        emu.inspect().token_endpoint_hits(),
        hits + 1,
        "exactly one refresh"
    );
    let after = store_of(&emu).load().unwrap().unwrap();
    assert_ne!(after.access_token.expose(), tokens.access_token.expose());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_at_any_step_of_a_refresh_leaves_a_usable_store() {
    let emu = rig(&[]).await;
    let (config, settings) = settings(&emu);
    let services = Services::build(&config).await.unwrap();
    headless_login(&emu, None).await;
    let store = store_of(&emu);
    for step in ["locked", "answered", "temp-written", "renamed"] {
        let before = expire_locally(&store, 60);
        let mut command = tool(&emu, &["auth", "refresh"]);
        command.env("WXC_PREFLIGHT_CRASH_AT", step);
        let output = run(command).await;
        assert!(
            !output.status.success(),
            "{step}: the process should have died"
        );
        assert_no_secrets(&emu, &output, &every_secret(&before));
        let tokens = store
            .load()
            .unwrap_or_else(|e| panic!("{step}: {e}"))
            .unwrap_or_else(|| panic!("{step}: the store is gone"));
        let who = wxc_preflight::auth::identity::whoami(
            services.client(),
            &settings,
            &tokens.access_token,
        )
        .await;
        assert!(
            who.is_ok(),
            "{step}: the stored access token is not usable: {who:?}"
        );
        // A normal run afterwards still ends with a working token, except
        // after a death between the answer and the rename: the server
        // rotated the refresh token the store never saw, so only the
        // (still valid) access token is left, and a new login is needed.
        let (_, report) = check(&emu, "token", &every_secret(&tokens)).await;
        if step == "answered" || step == "temp-written" {
            assert!(
                codes(&report, "token").contains(&"token.refresh-rejected".to_owned()),
                "{report:#}"
            );
            headless_login(&emu, None).await;
        } else {
            assert_eq!(status(&report, "token"), "pass", "{step}: {report:#}");
        }
    }
    // The temporary file a writer killed after `temp-written` left (it
    // holds tokens) is gone once a later write held the lock.
    let dir = store.path().parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Runs the token check on a fresh login under `fault`; returns its codes.
async fn token_codes_under(fault: &str) -> Vec<String> {
    let emu = rig(&[fault]).await;
    let secret = emu.client_secret();
    let (tokens, _) = headless_login(&emu, Some(secret.expose())).await;
    let (_, report) = check(&emu, "token", &every_secret(&tokens)).await;
    let mut found = codes(&report, "token");
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_refreshes_are_classified() {
    let cases = [
        ("token-expired", vec!["token.access-expired"]),
        ("refresh-expired", vec!["token.refresh-expired"]),
        ("refresh-revoked", vec!["token.refresh-rejected"]),
        ("client-secret-wrong", vec!["oauth.client-rejected"]),
        ("token-revoked", vec!["token.rejected"]),
    ];
    for (fault, want) in cases {
        assert_eq!(token_codes_under(fault).await, want, "fault {fault}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_token_endpoint_is_network_trouble() {
    let emu = rig(&[]).await;
    let (tokens, _) = headless_login(&emu, None).await;
    expire_locally(&store_of(&emu), -10);
    let config = emu.config_path();
    let dir = emu.dir().to_owned();
    // Keep the files, stop the servers.
    let emulator = emu.emulator;
    emulator.shutdown().await;
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("wxc-preflight"));
    // The network checks would (rightly) block the token check here; skip
    // them to see how the token check itself classifies the silence.
    command
        .args(["check", "--only", "token", "--skip", "dns,proxy,internet"])
        .args(["--format", "json", "--config"])
        .arg(&config);
    let output = run(command).await;
    let text = String::from_utf8_lossy(&output.stdout);
    for secret in every_secret(&tokens) {
        assert!(!text.contains(secret.expose()));
    }
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut found = codes(&report, "token");
    found.sort();
    assert_eq!(found, ["token.refresh-unreachable"], "{report:#}");
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_store_is_a_finding_never_a_panic() {
    let emu = rig(&[]).await;
    let (tokens, _) = headless_login(&emu, None).await;
    let path = store_of(&emu).path().to_owned();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 3]).unwrap();
    let (code, report) = check(&emu, "token", &every_secret(&tokens)).await;
    assert_eq!(code, 2);
    assert_eq!(codes(&report, "token"), ["token.store-corrupt"]);
    let output = run(tool(&emu, &["auth", "status"])).await;
    assert_eq!(output.status.code(), Some(2));
    assert_no_secrets(&emu, &output, &every_secret(&tokens));
    assert!(String::from_utf8_lossy(&output.stdout).contains("cannot be used"));
}

/// Rewrites the stored scope string and runs the scopes check.
async fn scopes_with(emu: &Emulator, scope: Option<&str>) -> Value {
    let store = store_of(emu);
    let mut tokens = store.load().unwrap().unwrap();
    tokens.scope = scope.map(wxc_preflight::auth::profile::split);
    store.save(&tokens).unwrap();
    check(emu, "scopes", &every_secret(&tokens)).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_diffs_are_classified() {
    let emu = rig(&["scope-missing-xsi"]).await;
    headless_login(&emu, None).await;
    let (_, report) = check(&emu, "scopes", &[]).await;
    assert_eq!(
        codes(&report, "scopes"),
        ["scopes.xsi-missing"],
        "{report:#}"
    );
    let finding = &report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "scopes.xsi-missing")
        .unwrap();
    let evidence = finding["evidence"].to_string();
    assert!(
        evidence.contains("webex_calling_xsi_access@cisco.com"),
        "{evidence}"
    );
    assert!(evidence.contains(&emu.org_id()), "{evidence}");

    let all = "spark:people_read spark-admin:people_read spark-admin:organizations_read spark-admin:licenses_read spark-admin:xsi";
    let report = scopes_with(
        &emu,
        Some(&all.replace("spark-admin:licenses_read", "Spark-admin:Licenses_read")),
    )
    .await;
    assert_eq!(
        codes(&report, "scopes"),
        ["scopes.case-mismatch"],
        "{report:#}"
    );
    let report = scopes_with(&emu, Some(&all.replace(" spark-admin:people_read", ""))).await;
    assert_eq!(codes(&report, "scopes"), ["scopes.missing"], "{report:#}");
    let report = scopes_with(&emu, Some(&format!("{all} spark:all"))).await;
    assert_eq!(codes(&report, "scopes"), ["scopes.excess"], "{report:#}");
    assert_eq!(status(&report, "scopes"), "warn");
    let report = scopes_with(&emu, None).await;
    assert_eq!(
        codes(&report, "scopes"),
        ["scopes.unverifiable"],
        "{report:#}"
    );
    assert_eq!(
        status(&report, "scopes"),
        "warn",
        "unverifiable is never a pass"
    );
    let report = scopes_with(&emu, Some(all)).await;
    assert_eq!(status(&report, "scopes"), "pass", "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorize_probe_reads_conclusive_answers() {
    let cases = [
        ("client-unknown", "oauth.client-unknown"),
        ("redirect-mismatch", "redirect-url.mismatch"),
        ("scope-not-registered", "scopes.not-registered"),
    ];
    for (fault, code) in cases {
        let emu = rig(&[fault]).await;
        let (_, report) = check(&emu, "authorize", &[]).await;
        assert_eq!(codes(&report, "authorize"), [code], "{fault}: {report:#}");
    }
}

/// Drives the consent page like a browser that clicks `decision`, then
/// delivers the redirect to the tool's loopback listener.
async fn decide_in_browser(emu: &Emulator, url: &str, decision: &str) {
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let browser = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(url).send().await.unwrap();
    let location = if page.status().is_redirection() {
        page.headers()["location"].to_str().unwrap().to_owned()
    } else {
        let html = page.text().await.unwrap();
        let request = html
            .split("name=\"request\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let form = [
            ("request", request.as_str()),
            ("user", emu.admin_email()),
            ("decision", decision),
        ];
        let answer = browser
            .post(url.split('?').next().unwrap())
            .form(&form)
            .send()
            .await
            .unwrap();
        answer.headers()["location"].to_str().unwrap().to_owned()
    };
    browser.get(location).send().await.unwrap();
}

/// `auth login --no-browser` with a browser stand-in choosing `decision`.
async fn login_with(emu: &Emulator, decision: &'static str) -> (Output, Duration) {
    let mut child = tool(
        emu,
        &["auth", "login", "--no-browser", "--timeout", "30s", "-vvv"],
    )
    .stderr(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(url) = line
                .strip_prefix("wxc-preflight: ")
                .filter(|l| l.starts_with("https://"))
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.to_owned());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let url = rx.await.unwrap();
    let started = Instant::now();
    decide_in_browser(emu, &url, decision).await;
    let mut output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let took = started.elapsed();
    output.stderr = reader.join().unwrap().into_bytes();
    (output, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_errors_on_the_redirect_become_findings() {
    let emu = rig(&[]).await;
    let (output, took) = login_with(&emu, "accept").await;
    eprintln!(
        "figure: `auth login` from consent to stored token in {} ms",
        took.as_millis()
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tokens = store_of(&emu).load().unwrap().unwrap();
    assert_no_secrets(&emu, &output, &every_secret(&tokens));

    let (output, _) = login_with(&emu, "deny").await;
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("oauth.access-denied"), "{text}");
    assert!(text.contains("Fix: wxc-preflight auth login"), "{text}");

    let emu = rig(&["scope-not-registered"]).await;
    let (output, _) = login_with(&emu, "accept").await;
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("scopes.not-registered"), "{text}");
    assert!(text.contains("spark-admin:licenses_read"), "{text}");
    assert!(!Path::new(store_of(&emu).path()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_inside_the_warning_window_warns() {
    let emu = rig(&[]).await;
    let (tokens, _) = headless_login(&emu, None).await;
    // The emulator's refresh tokens live 90 days: a 100-day window catches them.
    let path = emu.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text + "\n[checks]\nwarn_token_expiry = \"100d\"\n").unwrap();
    let (code, report) = check(&emu, "token", &every_secret(&tokens)).await;
    assert_eq!(codes(&report, "token"), ["token.expiring"], "{report:#}");
    assert_eq!(status(&report, "token"), "warn");
    assert_eq!(code, 1);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "token.expiring")
        .unwrap();
    assert_eq!(finding["fix_command"], "wxc-preflight auth refresh");
}
