//! Timings of the dns lookup, the proxy probe and the TLS probe on a
//! healthy rig and with a silent DNS server, with bounds asserted. Run with
//! `cargo test --test it net::figures -- --nocapture` to read them.

use std::time::{Duration, Instant};

use url::Url;
use wxc_preflight::net::{
    Authority, DnsFailure, DnsSettings, Phase, ProxyAuthMode, ProxyFailure, Resolver, Route,
    TlsProbeFailure, probe_proxy, probe_tls,
};

use super::checks::{config_text, context, parsed, proxy_table};
use super::rig::{
    DnsServer, PASSWORD, Squid, SquidAuth, TestCa, TlsOrigin, proxy_settings, resolver,
};

#[expect(clippy::print_stderr, reason = "the figures are this test's output")]
fn report(what: &str, took: Duration) {
    eprintln!("figure: {what}: {:.1} ms", took.as_secs_f64() * 1000.0);
}

#[tokio::test]
async fn figures_on_a_healthy_rig() {
    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let r = resolver(&[dns.addr], 1000);
    let trust = ca.trust();
    let target = Authority::new("origin.test", origin.port());
    let proxy = squid.settings(ProxyAuthMode::Digest, Some(PASSWORD));

    let t = Instant::now();
    let lookup = r.lookup_host("webexapis.com").await;
    report("dns lookup A+AAAA, healthy server", t.elapsed());
    assert_eq!(lookup.failure, None);

    let t = Instant::now();
    let p = probe_proxy(&proxy, &r, &trust, &target, Duration::from_secs(5)).await;
    report("proxy probe, digest squid (407 + 200)", t.elapsed());
    assert_eq!(p.failure, None);

    let t = Instant::now();
    let direct = probe_tls(&target, Route::Direct, &r, &trust, Duration::from_secs(5)).await;
    report("tls probe direct (tcp + tls + HEAD)", t.elapsed());
    assert_eq!(direct.failure, None);

    let t = Instant::now();
    let tunnelled = probe_tls(
        &target,
        Route::Proxy(&proxy),
        &r,
        &trust,
        Duration::from_secs(5),
    )
    .await;
    report("tls probe through digest squid", t.elapsed());
    assert_eq!(tunnelled.failure, None);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn figures_with_the_dns_server_silent() {
    let silent = DnsServer::silent().await;
    // The configured default shape: 1 s per query, 2 tries.
    let r = Resolver::new(&DnsSettings {
        servers: vec![silent.addr],
        timeout: Duration::from_secs(1),
        attempts: 2,
    })
    .unwrap();
    let ca = TestCa::new("rig trusted CA");
    let trust = ca.trust();

    let t = Instant::now();
    let lookup = r.lookup_host("webexapis.com").await;
    let took = t.elapsed();
    report("dns lookup, silent server (deadline 2.25 s)", took);
    assert_eq!(lookup.failure, Some(DnsFailure::Timeout));
    assert!(
        took >= Duration::from_secs(2) && took <= r.deadline() + Duration::from_secs(1),
        "{took:?}"
    );

    let t = Instant::now();
    let proxy = proxy_settings(
        Url::parse("http://proxy.test:3128").unwrap(),
        ProxyAuthMode::None,
        None,
    );
    let p = probe_proxy(
        &proxy,
        &r,
        &trust,
        &Authority::https("webexapis.com"),
        Duration::from_secs(5),
    )
    .await;
    let took = t.elapsed();
    report("proxy probe, proxy name behind silent dns", took);
    assert!(
        matches!(
            p.failure,
            Some(
                ProxyFailure::Resolve {
                    failure: DnsFailure::Timeout
                } | ProxyFailure::Timeout {
                    phase: Phase::Resolve
                }
            )
        ),
        "{p:#?}"
    );
    assert!(took <= r.deadline() + Duration::from_secs(1), "{took:?}");

    let t = Instant::now();
    let tls = probe_tls(
        &Authority::https("webexapis.com"),
        Route::Direct,
        &r,
        &trust,
        Duration::from_secs(5),
    )
    .await;
    let took = t.elapsed();
    report("tls probe direct, host behind silent dns", took);
    assert!(
        matches!(
            tls.failure,
            Some(TlsProbeFailure::Resolve {
                failure: DnsFailure::Timeout
            })
        ),
        "{tls:#?}"
    );
    assert!(took <= r.deadline() + Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn figures_of_the_checks() {
    use wxc_preflight::check::{Check, Status};
    use wxc_preflight::checks::{DnsCheck, InternetCheck, ProxyCheck};

    let ca = TestCa::new("rig trusted CA");
    let origin = TlsOrigin::start(&ca, 0).await;
    let squid = Squid::start(SquidAuth::Digest, None).await;
    let dns = DnsServer::start().await;
    let text = config_text(
        &format!("origin.localhost:{}", origin.port()),
        &dns,
        &ca,
        Some(proxy_table(&squid, "digest")),
        "1s",
    );
    // api.example.test and idbroker.webex.com, both asked of the server.
    let named = config_text("api.example.test:443", &dns, &ca, None, "1s");
    let named = context(parsed(&named, "")).await;
    let t = Instant::now();
    let o = DnsCheck::without_system_resolver().run(&named).await;
    report("dns check, healthy (2 names, A+AAAA each)", t.elapsed());
    assert_eq!(o.status(), Status::Pass, "{o:#?}");

    let ctx = context(parsed(&text, PASSWORD)).await;
    let checks: [(&str, Box<dyn Check>); 3] = [
        (
            "dns check, loopback api host",
            Box::new(DnsCheck::without_system_resolver()),
        ),
        ("proxy check, digest squid", Box::new(ProxyCheck)),
        (
            "internet check through digest squid",
            Box::new(InternetCheck),
        ),
    ];
    for (what, check) in checks {
        let t = Instant::now();
        let o = check.run(&ctx).await;
        report(what, t.elapsed());
        assert_eq!(o.status(), Status::Pass, "{what}: {o:#?}");
    }

    // The same resolver settings with the server silent: 1 s x 2 tries.
    let silent = DnsServer::silent().await;
    let text = config_text("api.example.test:443", &silent, &ca, None, "1s");
    let ctx = context(parsed(&text, "")).await;
    let t = Instant::now();
    let o = DnsCheck::without_system_resolver().run(&ctx).await;
    let took = t.elapsed();
    report("dns check, silent server (1 s x 2 tries)", took);
    assert_eq!(o.status(), Status::Fail);
    assert!(took < Duration::from_millis(3500), "{took:?}");
}
