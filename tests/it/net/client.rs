//! The tool's one HTTP client: real reqwest requests through the loopback
//! relay and Squid (Digest, Basic, none), directly through the tool's
//! resolver, and the relay's own guards.

use std::error::Error as _;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wxc_preflight::net::resolver::ResolveError;
use wxc_preflight::net::{
    ClientSettings, DnsFailure, HttpClient, ProxyAuthMode, ProxyFailure, build_client,
};

use super::rig::{DnsServer, PASSWORD, Squid, SquidAuth, TestCa, TlsOrigin, resolver};

async fn client_via(
    squid: Option<(&Squid, ProxyAuthMode, &str)>,
    dns: &DnsServer,
    ca: &TestCa,
) -> HttpClient {
    let proxy = squid.map(|(s, mode, pw)| s.settings(mode, Some(pw)));
    build_client(
        &resolver(&[dns.addr], 500),
        proxy.as_ref(),
        &ca.trust(),
        &ClientSettings::default(),
    )
    .await
    .unwrap()
}

/// Waits for Squid to write its access log lines (it writes at the end of
/// each transaction).
async fn access_log_with(squid: &Squid, needle: &str) -> String {
    for _ in 0..100 {
        let log = squid.access_log();
        if log.contains(needle) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    squid.access_log()
}

#[tokio::test]
async fn client_through_the_digest_squid_reaches_an_https_origin() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let http = client_via(Some((&squid, ProxyAuthMode::Digest, PASSWORD)), &dns, &ca).await;

    // The origin closes after each response: every request is a new tunnel,
    // so each answers a fresh Digest challenge.
    for i in 0..3 {
        let url = format!("https://origin.test:{}/hello/{i}", origin.port());
        let resp = http.client().get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.text().await.unwrap(),
            format!("hello from origin, path /hello/{i}\n")
        );
    }
    assert_eq!(origin.hits(), 3);
    assert!(http.relay().unwrap().last_failure().is_none());

    drop(http);
    let needle = format!("CONNECT origin.test:{}", origin.port());
    let log = access_log_with(&squid, &needle).await;
    assert!(log.contains("TCP_TUNNEL/200"), "{log}");
    assert!(log.contains(&format!("{needle} alice")), "{log}");
}

#[tokio::test]
async fn client_concurrent_tunnels_through_the_digest_squid() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let http = client_via(Some((&squid, ProxyAuthMode::Digest, PASSWORD)), &dns, &ca).await;

    let url = format!("https://origin.test:{}/parallel", origin.port());
    let handles: Vec<_> = (0..4)
        .map(|_| tokio::spawn(http.client().get(&url).send()))
        .collect();
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(origin.hits(), 4);
}

#[tokio::test]
async fn client_through_basic_and_unauthenticated_squid() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let dns = DnsServer::start().await;
    for (auth, mode) in [
        (SquidAuth::Basic, ProxyAuthMode::Basic),
        (SquidAuth::None, ProxyAuthMode::None),
        (SquidAuth::Both, ProxyAuthMode::Digest),
    ] {
        let squid = Squid::start(auth, None).await;
        let http = client_via(Some((&squid, mode, PASSWORD)), &dns, &ca).await;
        let url = format!("https://origin.test:{}/{mode}", origin.port());
        let resp = http.client().get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{mode}");
    }
    assert_eq!(origin.hits(), 3);
}

#[tokio::test]
async fn client_with_a_wrong_proxy_password_fails_and_the_relay_says_why() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let http = client_via(Some((&squid, ProxyAuthMode::Digest, "wrong")), &dns, &ca).await;

    let url = format!("https://origin.test:{}/", origin.port());
    let err = http.client().get(&url).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");

    let why = http.relay().unwrap().last_failure().unwrap();
    assert_eq!(
        why.failure,
        Some(ProxyFailure::AuthRejected { status: 407 })
    );
    assert_eq!(origin.hits(), 0);
}

#[tokio::test]
async fn client_direct_resolves_through_the_tools_dns() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let dns = DnsServer::start().await;
    let http = client_via(None, &dns, &ca).await;
    assert!(http.relay().is_none());

    let url = format!("https://origin.test:{}/direct", origin.port());
    let resp = http.client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        dns.queries() >= 1,
        "the name was not asked of our dns server"
    );

    let err = http
        .client()
        .get("https://nx.example.test/")
        .send()
        .await
        .unwrap_err();
    let mut source = err.source();
    let mut found = None;
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<ResolveError>() {
            found = Some(r.failure.clone());
        }
        source = e.source();
    }
    assert_eq!(found, Some(DnsFailure::NxDomain), "{err:?}");
}

#[tokio::test]
async fn client_refuses_an_untrusted_origin() {
    let trusted = TestCa::new("rig trusted CA");
    let other = TestCa::new("Corp Inspection CA");
    let origin = TlsOrigin::start(&other, 0).await;
    let dns = DnsServer::start().await;
    let http = client_via(None, &dns, &trusted).await;
    let url = format!("https://origin.test:{}/", origin.port());
    let err = http.client().get(&url).send().await.unwrap_err();
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
    assert_eq!(origin.hits(), 0);
}

#[tokio::test]
async fn relay_refuses_a_connect_without_the_runs_token() {
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::None, None).await;
    let dns = DnsServer::start().await;
    let http = client_via(Some((&squid, ProxyAuthMode::None, PASSWORD)), &dns, &ca).await;
    let addr = http.relay().unwrap().addr();
    assert!(addr.ip().is_loopback());

    for auth in [
        "",
        "Proxy-Authorization: Basic d3hjLXByZWZsaWdodDpndWVzcw==\r\n",
    ] {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req =
            format!("CONNECT origin.test:443 HTTP/1.1\r\nHost: origin.test:443\r\n{auth}\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).await.unwrap();
        assert!(resp.starts_with("HTTP/1.1 407 "), "{resp}");
    }
    assert!(!squid.access_log().contains("CONNECT origin.test:443"));
}

#[tokio::test]
async fn relay_stops_when_the_client_drops() {
    let ca = TestCa::new("rig trusted CA");
    let squid = Squid::start(SquidAuth::None, None).await;
    let dns = DnsServer::start().await;
    let http = client_via(Some((&squid, ProxyAuthMode::None, PASSWORD)), &dns, &ca).await;
    let addr = http.relay().unwrap().addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());

    drop(http);
    let mut closed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the relay still listens on {addr}");
}
