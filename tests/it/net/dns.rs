//! The resolver against the in-process DNS server: answers, NXDOMAIN, no
//! data, SERVFAIL, REFUSED, silence, SRV, and the getaddrinfo comparison.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use wxc_preflight::net::{Agreement, DnsFailure, QueryOutcome, compare_with_system, system_lookup};

use super::rig::{DnsServer, resolver};

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test]
async fn dns_answers_a_and_aaaa_and_names_the_server() {
    let dns = DnsServer::start().await;
    let r = resolver(&[dns.addr], 500);

    let got = r.lookup_host("webexapis.com").await;

    assert_eq!(got.failure, None);
    assert_eq!(got.addresses, ips(&["127.0.0.1", "::1"]));
    assert_eq!(got.servers_asked(), [dns.addr]);
    assert_eq!(got.servers_answered(), [dns.addr]);
    assert_eq!(got.exchanges.len(), 2);
    assert!(
        got.exchanges
            .iter()
            .all(|e| e.outcome == QueryOutcome::Answer)
    );
    assert!(dns.queries() >= 2);
}

#[tokio::test]
async fn dns_nxdomain_is_classified() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_host("nx.example.test")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::NxDomain));
    assert!(got.addresses.is_empty());
    assert_eq!(got.servers_answered(), [dns.addr]);
}

#[tokio::test]
async fn dns_no_data_is_classified() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_host("nodata.example.test")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::NoData));
}

#[tokio::test]
async fn dns_an_a_record_alone_resolves() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_host("v4only.example.test")
        .await;
    assert_eq!(got.failure, None);
    assert_eq!(got.addresses, ips(&["127.0.0.1"]));
    let aaaa = got
        .exchanges
        .iter()
        .find(|e| e.record_type == "AAAA")
        .unwrap();
    assert_eq!(aaaa.outcome, QueryOutcome::NoData);
}

#[tokio::test]
async fn dns_servfail_is_classified() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_host("servfail.example.test")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::ServFail));
    assert_eq!(got.servers_answered(), [dns.addr]);
}

#[tokio::test]
async fn dns_refused_is_classified() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_host("refused.example.test")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::Refused));
}

#[tokio::test]
async fn dns_silent_server_times_out_at_the_deadline() {
    let dns = DnsServer::silent().await;
    let r = resolver(&[dns.addr], 300);
    let started = Instant::now();

    let got = r.lookup_host("webexapis.com").await;

    let took = started.elapsed();
    assert_eq!(got.failure, Some(DnsFailure::Timeout));
    assert_eq!(got.servers_asked(), [dns.addr]);
    assert!(got.servers_answered().is_empty());
    assert!(dns.queries() >= 1, "the silent server was never asked");
    assert!(took >= Duration::from_millis(290), "{took:?}");
    assert!(took <= r.deadline() + Duration::from_secs(1), "{took:?}");
}

#[tokio::test]
async fn dns_silent_name_times_out() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 300)
        .lookup_host("silent.example.test")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::Timeout));
}

#[tokio::test]
async fn dns_one_silent_server_does_not_hide_a_healthy_one() {
    let silent = DnsServer::silent().await;
    let healthy = DnsServer::start().await;
    let r = resolver(&[silent.addr, healthy.addr], 300);

    let got = r.lookup_host("webexapis.com").await;

    assert_eq!(got.failure, None);
    assert_eq!(got.servers_asked(), [silent.addr, healthy.addr]);
    assert_eq!(got.servers_answered(), [healthy.addr]);
    let silent_outcomes: Vec<_> = got
        .exchanges
        .iter()
        .filter(|e| e.server == silent.addr)
        .map(|e| e.outcome.clone())
        .collect();
    assert_eq!(
        silent_outcomes,
        [QueryOutcome::Timeout, QueryOutcome::Timeout]
    );
}

#[tokio::test]
async fn dns_srv_records_for_xsi() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_srv("_xsi-client._tcp.example.test")
        .await;
    assert_eq!(got.failure, None);
    let targets: Vec<_> = got
        .targets
        .iter()
        .map(|t| (t.priority, t.target.as_str(), t.port))
        .collect();
    assert_eq!(
        targets,
        [
            (10, "xsp1.example.test", 443),
            (20, "xsp2.example.test", 443)
        ]
    );
}

#[tokio::test]
async fn dns_srv_missing_is_nxdomain() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_srv("nx._tcp.example.test")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::NxDomain));
    assert!(got.targets.is_empty());
}

#[tokio::test]
async fn dns_traffic_resolution_classifies_failures() {
    let dns = DnsServer::start().await;
    let r = resolver(&[dns.addr], 300);

    assert_eq!(
        r.resolve("api.webexapis.com").await.unwrap(),
        ips(&["127.0.0.1", "::1"])
    );
    assert_eq!(r.resolve("127.0.0.7").await.unwrap(), ips(&["127.0.0.7"]));
    let cases = [
        ("nx.example.test", DnsFailure::NxDomain),
        ("servfail.example.test", DnsFailure::ServFail),
        ("refused.example.test", DnsFailure::Refused),
        ("silent.example.test", DnsFailure::Timeout),
    ];
    for (name, want) in cases {
        let err = r.resolve(name).await.unwrap_err();
        assert_eq!(err.failure, want, "{name}");
    }
}

#[tokio::test]
async fn dns_system_lookup_reads_etc_hosts_and_compares() {
    // getaddrinfo sees /etc/hosts; hickory answers localhost itself (RFC 6761)
    // and never asks a server about it. Other names would reach the
    // machine's own DNS server, which tests must not ask.
    let system = system_lookup("localhost", Duration::from_secs(2)).await;
    assert_eq!(system.error, None);
    assert!(!system.timed_out);
    assert!(
        system.addresses.contains(&"127.0.0.1".parse().unwrap()),
        "{system:?}"
    );

    let dns = DnsServer::start().await;
    let ours = resolver(&[dns.addr], 500)
        .lookup_host("nx.example.test")
        .await;
    assert_eq!(compare_with_system(&ours, &system), Agreement::OnlySystem);
}

#[tokio::test]
async fn dns_facts_serialise_for_evidence() {
    let dns = DnsServer::start().await;
    let got = resolver(&[dns.addr], 500)
        .lookup_host("nx.example.test")
        .await;
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["failure"]["kind"], "nx-domain");
    assert_eq!(json["exchanges"][0]["server"], dns.addr.to_string());
    assert!(json["ms"].is_number());
}

#[tokio::test]
async fn dns_no_reachable_server_when_no_query_can_be_sent() {
    // Port 0 cannot be sent to: the query fails on this machine at once,
    // which is how a server without a route shows itself.
    let unroutable = "127.0.0.1:0".parse().unwrap();
    let started = Instant::now();
    let got = resolver(&[unroutable], 300)
        .lookup_host("webexapis.com")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::NoReachableServer));
    assert!(got.servers_answered().is_empty());
    assert!(matches!(
        got.exchanges[0].outcome,
        QueryOutcome::Unreachable(_)
    ));
    assert!(started.elapsed() < Duration::from_secs(1));

    // Beside a silent server, silence is what the user must hear about.
    let silent = DnsServer::silent().await;
    let got = resolver(&[unroutable, silent.addr], 300)
        .lookup_host("webexapis.com")
        .await;
    assert_eq!(got.failure, Some(DnsFailure::Timeout));
}
