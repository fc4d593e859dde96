//! The TLS probe: trusted and untrusted chains, clock skew, silence, and
//! the same through a Digest Squid.

use std::time::{Duration, Instant};

use wxc_preflight::net::{
    Authority, ConnectFailure, Phase, ProxyAuthMode, Route, TlsFailure, TlsProbeFailure, probe_tls,
};

use super::rig::{
    DnsServer, PASSWORD, ScriptedPeer, SilentListener, Squid, SquidAuth, TestCa, TlsOrigin,
    closed_port, resolver,
};

const DEADLINE: Duration = Duration::from_secs(5);

#[tokio::test]
async fn tls_direct_to_a_trusted_origin() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let dns = DnsServer::start().await;
    let r = resolver(&[dns.addr], 500);

    let p = probe_tls(
        &Authority::new("origin.test", origin.port()),
        Route::Direct,
        &r,
        &ca.trust(),
        DEADLINE,
    )
    .await;

    assert_eq!(p.failure, None, "{p:#?}");
    assert!(p.trusted);
    assert_eq!(p.chain.len(), 1);
    assert_eq!(p.chain[0].subject, "CN=rig origin");
    assert_eq!(p.chain[0].issuer, ca.subject);
    assert!(p.chain[0].names.contains(&"origin.test".to_owned()));
    assert_eq!(p.tls_version.as_deref(), Some("TLSv1.3"));
    let resp = p.response.as_ref().unwrap();
    assert_eq!(resp.status_line, "HTTP/1.1 200 OK");
    assert_eq!(resp.server.as_deref(), Some("rig-origin"));
    assert!(p.clock_offset_secs.unwrap().abs() <= 2, "{p:#?}");
    assert_eq!(origin.hits(), 1);
    let phases: Vec<Phase> = p.timings.iter().map(|t| t.phase).collect();
    assert_eq!(
        phases,
        [
            Phase::Resolve,
            Phase::Connect,
            Phase::TlsHandshake,
            Phase::HttpRequest
        ]
    );
}

#[tokio::test]
async fn tls_untrusted_chain_names_the_issuer() {
    let trusted = TestCa::new("rig trusted CA");
    let inspecting = TestCa::new("Corp Inspection CA");
    let origin = TlsOrigin::start(&inspecting, 0).await;
    let dns = DnsServer::start().await;

    let p = probe_tls(
        &Authority::new("origin.test", origin.port()),
        Route::Direct,
        &resolver(&[dns.addr], 500),
        &trusted.trust(),
        DEADLINE,
    )
    .await;

    assert_eq!(
        p.failure,
        Some(TlsProbeFailure::Tls {
            failure: TlsFailure::Untrusted {
                issuer: "CN=Corp Inspection CA".into()
            }
        }),
        "{p:#?}"
    );
    assert!(!p.trusted);
    assert_eq!(p.chain[0].issuer, "CN=Corp Inspection CA");
    assert_eq!(origin.hits(), 0);
}

#[tokio::test]
async fn tls_name_mismatch_lists_the_names_covered() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let dns = DnsServer::start().await;

    let p = probe_tls(
        &Authority::new("webexapis.com", origin.port()),
        Route::Direct,
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        DEADLINE,
    )
    .await;

    match p.failure {
        Some(TlsProbeFailure::Tls {
            failure:
                TlsFailure::NameMismatch {
                    expected,
                    presented,
                },
        }) => {
            assert_eq!(expected, "webexapis.com");
            assert!(presented.contains(&"origin.test".to_owned()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tls_clock_skew_from_the_date_header() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 600).await;
    let dns = DnsServer::start().await;

    let p = probe_tls(
        &Authority::new("localhost", origin.port()),
        Route::Direct,
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        DEADLINE,
    )
    .await;

    assert_eq!(p.failure, None, "{p:#?}");
    let offset = p.clock_offset_secs.unwrap();
    assert!((598..=602).contains(&offset), "{offset}");
    assert!(p.server_time.is_some());
}

#[tokio::test]
async fn tls_handshake_that_never_completes_ends_at_the_deadline() {
    let silent = SilentListener::start().await;
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let started = Instant::now();

    let p = probe_tls(
        &Authority::new("127.0.0.1", silent.addr.port()),
        Route::Direct,
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        Duration::from_millis(700),
    )
    .await;

    let took = started.elapsed();
    assert_eq!(
        p.failure,
        Some(TlsProbeFailure::Timeout {
            phase: Phase::TlsHandshake
        })
    );
    assert!(
        took >= Duration::from_millis(690) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn tls_nothing_listening_is_refused() {
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let p = probe_tls(
        &Authority::new("127.0.0.1", closed_port()),
        Route::Direct,
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        DEADLINE,
    )
    .await;
    assert_eq!(
        p.failure,
        Some(TlsProbeFailure::Connect {
            failure: ConnectFailure::Refused
        })
    );
}

#[tokio::test]
async fn tls_to_a_plain_http_server() {
    let web = ScriptedPeer::web_server().await;
    let dns = DnsServer::start().await;
    let ca = TestCa::new("rig trusted CA");
    let p = probe_tls(
        &Authority::new("127.0.0.1", web.addr.port()),
        Route::Direct,
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        DEADLINE,
    )
    .await;
    assert_eq!(
        p.failure,
        Some(TlsProbeFailure::Tls {
            failure: TlsFailure::PlainHttp
        })
    );
}

#[tokio::test]
async fn tls_through_the_digest_squid() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let proxy = squid.settings(ProxyAuthMode::Digest, Some(PASSWORD));

    let p = probe_tls(
        &Authority::new("origin.test", origin.port()),
        Route::Proxy(&proxy),
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        DEADLINE,
    )
    .await;

    assert_eq!(p.failure, None, "{p:#?}");
    assert!(p.trusted && p.via_proxy);
    let tunnel = p.proxy.as_ref().unwrap();
    assert!(tunnel.tunnel_established);
    assert_eq!(tunnel.challenges[0].scheme, "Digest");
    assert_eq!(p.chain[0].issuer, ca.subject);
    assert_eq!(origin.hits(), 1);
}

#[tokio::test]
async fn tls_through_a_proxy_that_refuses_the_credentials() {
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let proxy = squid.settings(ProxyAuthMode::Digest, Some("wrong"));

    let p = probe_tls(
        &Authority::new("origin.test", 443),
        Route::Proxy(&proxy),
        &resolver(&[dns.addr], 500),
        &ca.trust(),
        DEADLINE,
    )
    .await;

    assert!(
        matches!(p.failure, Some(TlsProbeFailure::Proxy { .. })),
        "{p:#?}"
    );
    assert!(p.chain.is_empty());
}
