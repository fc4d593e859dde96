//! The `dns`, `proxy` and `internet` checks against the loopback rig: in
//! process for the DNS failures (the operating system's resolver would
//! send made-up names to the machine's DNS servers), and through the
//! binary for the whole tool behind Squid.
//!
//! An API host under `localhost` (`origin.localhost`) is a loopback host:
//! the run then needs no identity broker, which the rig cannot serve.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use wxc_preflight::check::{Check, Context, Outcome, Status};
use wxc_preflight::checks::{DnsCheck, InternetCheck, ProxyCheck, SCOPE_PROFILES};
use wxc_preflight::config::{self, Config};
use wxc_preflight::services::Services;

use super::rig::{
    DnsServer, PASSWORD, ScriptedPeer, Squid, SquidAuth, TestCa, TlsOrigin, closed_port,
};

const CLIENT_ID: &str = "C0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CLIENT_SECRET: &str = "S3cr3t-Client-Value-0042";

/// A config for an API at `api_host:port`, with our DNS server, the CA and
/// an optional `[proxy]` table.
pub(super) fn config_text(
    api: &str,
    dns: &DnsServer,
    ca: &TestCa,
    proxy: Option<String>,
    timeout: &str,
) -> String {
    let mut text = format!(
        "[interface]\nclient_id = \"{CLIENT_ID}\"\nclient_secret_env = \"WXC_CLIENT_SECRET\"\n\
         redirect_url = \"http://localhost:6001/redirect\"\nscope_profile = \"wbc-mt-minimal\"\n\n\
         [webex]\napi_base = \"https://{api}/v1\"\nca_file = \"{}\"\n\n\
         [dns]\nservers = [\"{}\"]\ntimeout = \"{timeout}\"\n",
        ca.pem_path().display(),
        dns.addr
    );
    if let Some(p) = proxy {
        text.push_str(&p);
    }
    text
}

pub(super) fn proxy_table(squid: &Squid, auth: &str) -> String {
    format!(
        "\n[proxy]\nurl = \"{}\"\nauth = \"{auth}\"\nusername = \"alice\"\n\
         password_env = \"WXC_PROXY_PASSWORD\"\n",
        squid.url()
    )
}

pub(super) fn parsed(text: &str, proxy_password: &str) -> Config {
    let env = |k: &str| match k {
        "WXC_CLIENT_SECRET" => Some(CLIENT_SECRET.to_owned()),
        "WXC_PROXY_PASSWORD" => Some(proxy_password.to_owned()),
        _ => None,
    };
    let loaded = config::parse(
        PathBuf::from("/rig/wxc-preflight.toml"),
        text.to_owned(),
        SCOPE_PROFILES,
        &env,
    );
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    loaded.config.unwrap()
}

/// A check context with the run's services built from the config.
pub(super) async fn context(config: Config) -> Context {
    let services = Services::build(&config).await.unwrap();
    let mut ctx = Context::new(Some(config), vec![]);
    ctx.services = Some(std::sync::Arc::new(services));
    ctx
}

fn codes(o: &Outcome) -> Vec<&'static str> {
    o.findings.iter().map(|f| f.code).collect()
}

fn evidence<'a>(o: &'a Outcome, label: &str) -> &'a str {
    o.evidence
        .iter()
        .find(|e| e.label == label)
        .map_or("", |e| e.value.as_str())
}

// ------------------------------------------------------------ in process

#[tokio::test]
async fn check_dns_names_what_each_server_said() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    for (host, code) in [
        ("nx.example.test", "dns.name-not-found"),
        ("nodata.example.test", "dns.name-not-found"),
        ("servfail.example.test", "dns.server-failure"),
        ("refused.example.test", "dns.server-failure"),
    ] {
        let text = config_text(&format!("{host}:443"), &dns, &ca, None, "500ms");
        let ctx = context(parsed(&text, "")).await;
        let o = DnsCheck::without_system_resolver().run(&ctx).await;
        assert_eq!(codes(&o), [code], "{host}: {o:#?}");
        let f = &o.findings[0];
        let asked = f
            .evidence
            .iter()
            .find(|e| e.label == "servers asked")
            .unwrap();
        assert_eq!(asked.value, dns.addr.to_string());
    }
}

#[tokio::test]
async fn check_dns_with_a_silent_server_is_unavailable_at_its_deadline() {
    let silent = DnsServer::silent().await;
    let ca = TestCa::new("rig trusted CA");
    let text = config_text("api.example.test:443", &silent, &ca, None, "1s");
    let ctx = context(parsed(&text, "")).await;
    let started = Instant::now();

    let o = DnsCheck::without_system_resolver().run(&ctx).await;

    let took = started.elapsed();
    assert_eq!(codes(&o), ["dns.unavailable"], "{o:#?}");
    assert_eq!(o.status(), Status::Fail);
    // 1 s per query, 2 tries: the check ends at 2 s, not at its own 20 s.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(3500),
        "{took:?}"
    );
}

#[tokio::test]
async fn check_dns_resolves_and_shows_the_servers() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let text = config_text("api.example.test:443", &dns, &ca, None, "500ms");
    let ctx = context(parsed(&text, "")).await;
    let o = DnsCheck::without_system_resolver().run(&ctx).await;
    assert!(o.findings.is_empty(), "{o:#?}");
    assert_eq!(
        evidence(&o, "api.example.test (api)")
            .split(" (")
            .next()
            .unwrap(),
        format!("127.0.0.1, ::1 from {}", dns.addr)
    );
    assert_eq!(
        evidence(&o, "resolver"),
        format!("[dns] servers: {}", dns.addr)
    );
}

#[tokio::test]
async fn check_dns_behind_a_proxy_warns_only_when_the_proxy_resolves_the_name() {
    // Our DNS server says NXDOMAIN to both names; Squid's hosts file knows
    // nx.origin.test, but not nx.example.test.
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let origin = TlsOrigin::start(&ca, 0).await;

    let text = config_text(
        &format!("nx.origin.test:{}", origin.port()),
        &dns,
        &ca,
        Some(proxy_table(&squid, "digest")),
        "500ms",
    );
    let ctx = context(parsed(&text, PASSWORD)).await;
    let o = DnsCheck::without_system_resolver().run(&ctx).await;
    assert_eq!(codes(&o), ["dns.local-only-failure"], "{o:#?}");
    assert_eq!(o.status(), Status::Warn);

    let text = config_text(
        &format!("nx.example.test:{}", origin.port()),
        &dns,
        &ca,
        Some(proxy_table(&squid, "digest")),
        "500ms",
    );
    let ctx = context(parsed(&text, PASSWORD)).await;
    let o = DnsCheck::without_system_resolver().run(&ctx).await;
    assert_eq!(codes(&o), ["dns.name-not-found"], "{o:#?}");
    assert!(evidence(&o, "nx.example.test through the proxy").contains("cannot reach it either"));
}

#[tokio::test]
async fn check_proxy_and_internet_through_the_digest_squid() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let origin = TlsOrigin::start(&ca, 0).await;
    let text = config_text(
        &format!("origin.localhost:{}", origin.port()),
        &dns,
        &ca,
        Some(proxy_table(&squid, "digest")),
        "500ms",
    );
    let ctx = context(parsed(&text, PASSWORD)).await;

    let o = DnsCheck::without_system_resolver().run(&ctx).await;
    assert!(o.findings.is_empty(), "{o:#?}");
    let o = ProxyCheck.run(&ctx).await;
    assert!(o.findings.is_empty(), "{o:#?}");
    assert!(evidence(&o, "offered").starts_with("Digest realm=\"rig-digest\""));
    let o = InternetCheck.run(&ctx).await;
    assert!(o.findings.is_empty(), "{o:#?}");
    let client = evidence(&o, "http client");
    assert!(client.contains("-> 200 OK"), "{client}");
    assert!(client.contains("through the relay 127.0.0.1:"), "{client}");
    assert_eq!(
        origin.hits(),
        2,
        "the TLS probe's HEAD and the client's GET"
    );
}

#[tokio::test]
async fn check_proxy_findings_for_each_squid_setup() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let api = format!("origin.localhost:{}", origin.port());
    let cases = [
        (
            SquidAuth::Basic,
            "none",
            PASSWORD,
            vec!["proxy.auth-required"],
        ),
        (
            SquidAuth::Basic,
            "basic",
            "wrong",
            vec!["proxy.auth-rejected", "proxy.basic-cleartext"],
        ),
        (
            SquidAuth::Digest,
            "digest",
            "wrong",
            vec!["proxy.auth-rejected"],
        ),
        (
            SquidAuth::Digest,
            "basic",
            PASSWORD,
            vec!["proxy.auth-scheme-mismatch"],
        ),
        (
            SquidAuth::Both,
            "basic",
            PASSWORD,
            vec!["proxy.basic-cleartext"],
        ),
    ];
    for (auth, mode, password, want) in cases {
        let squid = Squid::start(auth, None).await;
        let text = config_text(&api, &dns, &ca, Some(proxy_table(&squid, mode)), "500ms");
        let ctx = context(parsed(&text, password)).await;
        let o = ProxyCheck.run(&ctx).await;
        assert_eq!(codes(&o), want, "{auth:?} {mode}: {o:#?}");
    }
}

#[tokio::test]
async fn check_proxy_blocked_domain_and_upstream_failure() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::None, Some("blocked.localhost")).await;
    let table = "\n[proxy]\nurl = \"URL\"\n".replace("URL", squid.url().as_str());

    let text = config_text(
        "blocked.localhost:443",
        &dns,
        &ca,
        Some(table.clone()),
        "500ms",
    );
    let ctx = context(parsed(&text, "")).await;
    let o = ProxyCheck.run(&ctx).await;
    assert_eq!(codes(&o), ["proxy.domain-blocked"], "{o:#?}");

    let text = config_text(
        &format!("127.0.0.1:{}", closed_port()),
        &dns,
        &ca,
        Some(table),
        "500ms",
    );
    let ctx = context(parsed(&text, "")).await;
    let o = ProxyCheck.run(&ctx).await;
    assert_eq!(codes(&o), ["proxy.upstream-failure"], "{o:#?}");
}

#[tokio::test]
async fn check_proxy_that_is_not_there_or_not_a_proxy() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let web = ScriptedPeer::web_server().await;
    for (url, code) in [
        (
            format!("http://127.0.0.1:{}", closed_port()),
            "proxy.wrong-port",
        ),
        (format!("http://{}", web.addr), "proxy.wrong-protocol"),
    ] {
        let table = format!("\n[proxy]\nurl = \"{url}\"\n");
        let text = config_text("origin.localhost:443", &dns, &ca, Some(table), "500ms");
        let ctx = context(parsed(&text, "")).await;
        let o = ProxyCheck.run(&ctx).await;
        assert_eq!(codes(&o), [code], "{url}: {o:#?}");
    }
}

#[tokio::test]
async fn check_internet_untrusted_chain_and_clock_skew() {
    let dns = DnsServer::start().await;
    let trusted = TestCa::new("rig trusted CA");
    let inspecting = TestCa::new("Corp Inspection CA");

    let origin = TlsOrigin::start(&inspecting, 0).await;
    let text = config_text(
        &format!("origin.localhost:{}", origin.port()),
        &dns,
        &trusted,
        None,
        "500ms",
    );
    let ctx = context(parsed(&text, "")).await;
    let o = InternetCheck.run(&ctx).await;
    assert_eq!(codes(&o), ["tls.untrusted"], "{o:#?}");
    assert!(o.findings[0].summary.contains("CN=Corp Inspection CA"));

    let skewed = TlsOrigin::start(&trusted, -900).await;
    let text = config_text(
        &format!("origin.localhost:{}", skewed.port()),
        &dns,
        &trusted,
        None,
        "500ms",
    );
    let ctx = context(parsed(&text, "")).await;
    let o = InternetCheck.run(&ctx).await;
    assert_eq!(codes(&o), ["clock.skew"], "{o:#?}");
    assert!(o.findings[0].summary.contains("ahead of"));
}

#[tokio::test]
async fn check_internet_direct_with_nothing_listening() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let text = config_text(
        &format!("origin.localhost:{}", closed_port()),
        &dns,
        &ca,
        None,
        "500ms",
    );
    let ctx = context(parsed(&text, "")).await;
    let o = InternetCheck.run(&ctx).await;
    assert_eq!(codes(&o), ["internet.unavailable"], "{o:#?}");
}

// ------------------------------------------------------------ the binary

/// Runs `wxc-preflight check --only internet --format json` in a temp dir
/// with this config and proxy password.
fn run_binary(text: &str, proxy_password: &str, extra: &[&str]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wxc-preflight.toml"), text).unwrap();
    let mut cmd = Command::cargo_bin("wxc-preflight").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("WXC_") {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .current_dir(dir.path())
        .env("WXC_CLIENT_SECRET", CLIENT_SECRET)
        .env("WXC_PROXY_PASSWORD", proxy_password)
        .args(["check", "--only", "internet", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), report, stderr)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_reaches_the_origin_through_the_digest_squid() {
    // `localhost` resolves without asking any server (hickory knows it,
    // getaddrinfo reads /etc/hosts, Squid its own hosts file).
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let origin = TlsOrigin::start(&ca, 0).await;
    let text = config_text(
        &format!("localhost:{}", origin.port()),
        &dns,
        &ca,
        Some(proxy_table(&squid, "digest")),
        "500ms",
    );

    let (code, report, stderr) =
        tokio::task::spawn_blocking(move || run_binary(&text, PASSWORD, &[]))
            .await
            .unwrap();

    assert_eq!(code, 0, "{report:#}\n{stderr}");
    for id in ["dns", "proxy", "internet"] {
        assert_eq!(status(&report, id), "pass", "{id}: {report:#}");
    }
    assert!(origin.hits() >= 2, "{}", origin.hits());
    assert!(
        squid
            .access_log()
            .contains(&format!("CONNECT localhost:{}", origin.port()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_wrong_proxy_password_is_a_root_cause_and_never_printed() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::Basic, None).await;
    let origin = TlsOrigin::start(&ca, 0).await;
    let text = config_text(
        &format!("localhost:{}", origin.port()),
        &dns,
        &ca,
        Some(proxy_table(&squid, "basic")),
        "500ms",
    );
    let wrong = "Wr0ng-Pr0xy-Passw0rd-77";

    let text2 = text.clone();
    let (code, report, _) = tokio::task::spawn_blocking(move || run_binary(&text2, wrong, &[]))
        .await
        .unwrap();
    assert_eq!(code, 2, "{report:#}");
    assert_eq!(status(&report, "proxy"), "fail");
    assert_eq!(status(&report, "internet"), "blocked");
    assert_eq!(
        report["root_causes"][0], "proxy.auth-rejected",
        "{report:#}"
    );

    // No renderer, at the highest verbosity, shows the password or the
    // Basic header made from it.
    let basic = "YWxpY2U6V3IwbmctUHIweHktUGFzc3cwcmQtNzc";
    for format in ["human", "json", "markdown", "junit", "nagios", "prometheus"] {
        let text = text.clone();
        let output = tokio::task::spawn_blocking(move || {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("wxc-preflight.toml"), text).unwrap();
            Command::cargo_bin("wxc-preflight")
                .unwrap()
                .current_dir(dir.path())
                .env("WXC_CLIENT_SECRET", CLIENT_SECRET)
                .env("WXC_PROXY_PASSWORD", wrong)
                .env("WXC_PREFLIGHT_LOG", "trace")
                .args(["check", "--only", "internet", "-vvv", "--format", format])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        for bytes in [&output.stdout, &output.stderr] {
            let shown = String::from_utf8_lossy(bytes);
            assert!(!shown.contains(wrong), "{format} shows the password");
            assert!(!shown.contains(basic), "{format} shows the basic header");
            assert!(
                !shown.contains(CLIENT_SECRET),
                "{format} shows the client secret"
            );
        }
    }
}
