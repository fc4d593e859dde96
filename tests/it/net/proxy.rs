//! The proxy probe against Squid with each authentication setup, and
//! against peers that are no proxy at all.

use std::time::{Duration, Instant};

use url::Url;
use wxc_preflight::net::{
    Authority, DnsFailure, Phase, ProtocolMismatch, ProxyAuthMode, ProxyFailure, ProxyProbe,
    ProxySettings, probe_proxy,
};

use super::rig::{
    DnsServer, PASSWORD, ScriptedPeer, SilentListener, Squid, SquidAuth, TestCa, TlsOrigin,
    closed_port, proxy_settings, resolver,
};

const DEADLINE: Duration = Duration::from_secs(5);

/// Probes CONNECT through `proxy` to `origin.test` on a port where a
/// listener accepts (Squid connects before it answers 200).
async fn probe(proxy: &ProxySettings) -> ProxyProbe {
    let target = SilentListener::start().await;
    probe_to(proxy, &Authority::new("origin.test", target.addr.port())).await
}

async fn probe_to(proxy: &ProxySettings, target: &Authority) -> ProxyProbe {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig proxy CA");
    probe_proxy(
        proxy,
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        target,
        DEADLINE,
    )
    .await
}

fn statuses(p: &ProxyProbe) -> Vec<u16> {
    p.exchanges.iter().map(|e| e.status).collect()
}

#[tokio::test]
async fn proxy_without_auth_opens_the_tunnel() {
    let squid = Squid::start(SquidAuth::None, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::None, None)).await;

    assert_eq!(p.failure, None, "{p:#?}");
    assert!(p.tunnel_established);
    assert!(!p.auth_required);
    assert_eq!(statuses(&p), [200]);
    assert_eq!(
        p.exchanges[0].status_line,
        "HTTP/1.1 200 Connection established"
    );
    assert_eq!(
        p.connected_to,
        Some(format!("127.0.0.1:{}", squid.port).parse().unwrap())
    );
    let phases: Vec<Phase> = p.timings.iter().map(|t| t.phase).collect();
    assert_eq!(
        phases,
        [Phase::Resolve, Phase::Connect, Phase::ProxyConnect]
    );
}

#[tokio::test]
async fn proxy_basic_reads_the_challenge_then_authenticates() {
    let squid = Squid::start(SquidAuth::Basic, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::Basic, Some(PASSWORD))).await;

    assert_eq!(p.failure, None, "{p:#?}");
    assert_eq!(statuses(&p), [407, 200]);
    assert!(p.auth_required);
    assert_eq!(p.challenges.len(), 1);
    assert_eq!(p.challenges[0].scheme, "Basic");
    assert_eq!(p.challenges[0].realm.as_deref(), Some("rig-basic"));
    assert_eq!(p.exchanges[1].sent_credentials, Some(ProxyAuthMode::Basic));
    assert!(
        p.basic_cleartext,
        "basic over plain http is a cleartext fact"
    );
    assert!(
        p.server.as_deref().is_some_and(|s| s.starts_with("squid/")),
        "{p:#?}"
    );
    assert_eq!(
        p.exchanges[0].proxy_error.as_deref(),
        Some("ERR_CACHE_ACCESS_DENIED 0")
    );
}

#[tokio::test]
async fn proxy_digest_answers_the_challenge() {
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::Digest, Some(PASSWORD))).await;

    assert_eq!(p.failure, None, "{p:#?}");
    assert_eq!(statuses(&p), [407, 200]);
    let c = &p.challenges[0];
    assert_eq!(c.scheme, "Digest");
    assert_eq!(c.realm.as_deref(), Some("rig-digest"));
    assert_eq!(c.qop.as_deref(), Some("auth"));
    assert_eq!(c.stale, Some(false));
    assert!(!p.basic_cleartext);
    let phases: Vec<Phase> = p.timings.iter().map(|t| t.phase).collect();
    assert!(phases.contains(&Phase::ProxyAuthenticate), "{phases:?}");
}

#[tokio::test]
async fn proxy_offering_both_schemes_lists_both_and_each_mode_works() {
    let squid = Squid::start(SquidAuth::Both, None).await;
    for mode in [ProxyAuthMode::Digest, ProxyAuthMode::Basic] {
        let p = probe(&squid.settings(mode, Some(PASSWORD))).await;
        assert_eq!(p.failure, None, "{mode}: {p:#?}");
        assert_eq!(p.offered_schemes(), ["Digest", "Basic"]);
        assert_eq!(p.exchanges[1].sent_credentials, Some(mode));
        assert_eq!(p.basic_cleartext, mode == ProxyAuthMode::Basic);
    }
}

#[tokio::test]
async fn proxy_wrong_password_is_rejected_basic_and_digest() {
    for (auth, mode) in [
        (SquidAuth::Basic, ProxyAuthMode::Basic),
        (SquidAuth::Digest, ProxyAuthMode::Digest),
    ] {
        let squid = Squid::start(auth, None).await;
        let p = probe(&squid.settings(mode, Some("wrong"))).await;
        assert_eq!(
            p.failure,
            Some(ProxyFailure::AuthRejected { status: 407 }),
            "{mode}: {p:#?}"
        );
        assert_eq!(statuses(&p), [407, 407]);
    }
}

#[tokio::test]
async fn proxy_demanding_credentials_when_none_are_configured() {
    let squid = Squid::start(SquidAuth::Basic, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::None, None)).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::AuthRequired {
            offered: vec!["Basic".into()]
        })
    );
}

#[tokio::test]
async fn proxy_scheme_mismatch_names_what_is_offered() {
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::Basic, Some(PASSWORD))).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::AuthSchemeMismatch {
            configured: ProxyAuthMode::Basic,
            offered: vec!["Digest".into()],
        })
    );
    assert_eq!(statuses(&p), [407], "no credentials were sent");
}

#[tokio::test]
async fn proxy_credentials_missing_for_a_mode_that_needs_them() {
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::Digest, None)).await;
    assert_eq!(p.failure, Some(ProxyFailure::CredentialsMissing));
}

#[tokio::test]
async fn proxy_acl_blocks_one_domain_and_allows_another() {
    let squid = Squid::start(SquidAuth::None, Some("blocked.test")).await;
    let settings = squid.settings(ProxyAuthMode::None, None);

    let blocked = probe_to(&settings, &Authority::new("blocked.test", 443)).await;
    assert_eq!(
        blocked.failure,
        Some(ProxyFailure::DomainBlocked { status: 403 })
    );
    assert_eq!(
        blocked.exchanges[0].proxy_error.as_deref(),
        Some("ERR_ACCESS_DENIED 0")
    );
    assert!(blocked.exchanges[0].body_excerpt.is_some());

    let allowed = probe(&settings).await;
    assert_eq!(allowed.failure, None);
}

#[tokio::test]
async fn proxy_upstream_failure_when_the_target_refuses() {
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let target = Authority::new("127.0.0.1", closed_port());
    let p = probe_to(
        &squid.settings(ProxyAuthMode::Digest, Some(PASSWORD)),
        &target,
    )
    .await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::UpstreamFailure { status: 503 }),
        "{p:#?}"
    );
    assert_eq!(
        p.exchanges.last().unwrap().proxy_error.as_deref(),
        Some("ERR_CONNECT_FAIL 111")
    );
}

#[tokio::test]
async fn proxy_port_with_nothing_listening_is_refused() {
    let url = Url::parse(&format!("http://127.0.0.1:{}", closed_port())).unwrap();
    let p = probe(&ProxySettings::without_auth(url)).await;
    assert_eq!(p.failure, Some(ProxyFailure::Refused));
}

#[tokio::test]
async fn proxy_that_accepts_and_stays_silent_ends_at_the_deadline() {
    let silent = SilentListener::start().await;
    let url = Url::parse(&format!("http://{}", silent.addr)).unwrap();
    let dns = DnsServer::start().await;
    let ca = TestCa::new("unused");
    let started = Instant::now();

    let p = probe_proxy(
        &ProxySettings::without_auth(url),
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        &Authority::https("webexapis.com"),
        Duration::from_millis(800),
    )
    .await;

    let took = started.elapsed();
    assert_eq!(
        p.failure,
        Some(ProxyFailure::Timeout {
            phase: Phase::ProxyConnect
        })
    );
    assert!(took >= Duration::from_millis(790), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn proxy_host_that_does_not_resolve() {
    let url = Url::parse("http://nx.example.test:3128").unwrap();
    let p = probe(&ProxySettings::without_auth(url)).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::Resolve {
            failure: DnsFailure::NxDomain
        })
    );
}

#[tokio::test]
async fn proxy_plain_squid_reached_with_tls_is_the_wrong_protocol() {
    let squid = Squid::start(SquidAuth::None, None).await;
    let url = Url::parse(&format!("https://127.0.0.1:{}", squid.port)).unwrap();
    let p = probe(&ProxySettings::without_auth(url)).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::WrongProtocol {
            mismatch: ProtocolMismatch::PlainHttpProxy
        }),
        "{p:#?}"
    );
}

#[tokio::test]
async fn proxy_tls_endpoint_reached_with_plain_http_is_the_wrong_protocol() {
    let ca = TestCa::new("rig tls proxy CA");
    let tls_peer = TlsOrigin::start(&ca, 0).await;
    let url = Url::parse(&format!("http://127.0.0.1:{}", tls_peer.port())).unwrap();
    let p = probe(&ProxySettings::without_auth(url)).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::WrongProtocol {
            mismatch: ProtocolMismatch::TlsProxy
        }),
        "{p:#?}"
    );
}

#[tokio::test]
async fn proxy_socks_server_is_recognised() {
    let socks = ScriptedPeer::socks5().await;
    let url = Url::parse(&format!("http://{}", socks.addr)).unwrap();
    let p = probe(&ProxySettings::without_auth(url)).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::WrongProtocol {
            mismatch: ProtocolMismatch::Socks { version: 5 }
        }),
        "{p:#?}"
    );
}

#[tokio::test]
async fn proxy_web_server_is_not_a_proxy() {
    let web = ScriptedPeer::web_server().await;
    let url = Url::parse(&format!("http://{}", web.addr)).unwrap();
    let p = probe(&ProxySettings::without_auth(url)).await;
    assert_eq!(
        p.failure,
        Some(ProxyFailure::WrongProtocol {
            mismatch: ProtocolMismatch::NotAProxy {
                status_line: "HTTP/1.1 405 Method Not Allowed".into()
            }
        })
    );
    assert_eq!(p.server.as_deref(), Some("rig-web"));
}

#[tokio::test]
async fn proxy_stale_digest_nonce_is_answered_again() {
    let peer = ScriptedPeer::stale_digest_proxy().await;
    let url = Url::parse(&format!("http://{}", peer.addr)).unwrap();
    let p = probe(&proxy_settings(url, ProxyAuthMode::Digest, Some(PASSWORD))).await;
    assert_eq!(p.failure, None, "{p:#?}");
    assert_eq!(statuses(&p), [407, 407, 200]);
    assert_eq!(p.exchanges[1].challenges[0].stale, Some(true));
}

#[tokio::test]
async fn proxy_facts_never_hold_the_password() {
    let squid = Squid::start(SquidAuth::Basic, None).await;
    let p = probe(&squid.settings(ProxyAuthMode::Basic, Some(PASSWORD))).await;
    let json = serde_json::to_string(&p).unwrap();
    let debug = format!("{p:?}");
    for text in [&json, &debug] {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(
            !text.contains("YWxpY2U6czNjcmV0"),
            "basic header leaked: {text}"
        );
    }
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["challenges"][0]["scheme"], "Basic");
    assert_eq!(v["basic_cleartext"], true);
}
