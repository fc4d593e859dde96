//! The `proxy` check: the proxy resolves, its port accepts, it speaks the
//! configured protocol, it offers the configured scheme and accepts the
//! credentials, and it allows CONNECT to each required host.
//!
//! One CONNECT handshake per required host, all at once, each done by
//! hand (`net::probe_proxy`) so the report can show the status lines, every
//! `Proxy-Authenticate` challenge, and the time of each phase. A problem of
//! the proxy itself (unreachable, wrong protocol, authentication) is one
//! finding; a refusal for some hosts names those hosts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::net::{Phase, ProtocolMismatch, ProxyFailure, ProxyProbe, TlsFailure, probe_proxy};

use super::network::{Network, ms, network};

/// See the module documentation.
pub struct ProxyCheck;

const DEADLINE: Duration = Duration::from_secs(20);

impl Check for ProxyCheck {
    fn id(&self) -> &'static str {
        "proxy"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["dns"]
    }

    fn deadline(&self) -> Duration {
        DEADLINE
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async move {
            let net = match network(ctx) {
                Ok(net) => net,
                Err(outcome) => return outcome,
            };
            let Some(proxy) = net.proxy.clone() else {
                let mut outcome = Outcome::new();
                outcome.evidence("proxy", "none configured: connections go direct");
                return outcome;
            };
            let deadline = Network::probe_deadline(DEADLINE);
            let tasks: Vec<_> = net
                .required
                .iter()
                .map(|h| {
                    let (proxy, net, target) = (proxy.clone(), net.clone(), h.authority.clone());
                    tokio::spawn(async move {
                        probe_proxy(&proxy, &net.resolver, &net.trust, &target, deadline).await
                    })
                })
                .collect();
            let mut probes = Vec::new();
            for t in tasks {
                if let Ok(p) = t.await {
                    probes.push(p);
                }
            }
            let outcome = assess(&probes);
            ctx.facts.put(ProxyFacts { probes });
            outcome
        })
    }
}

/// The handshakes of the check, for the checks after it.
#[derive(Debug, Clone)]
pub struct ProxyFacts {
    /// One per required host.
    pub probes: Vec<ProxyProbe>,
}

/// The finding code and a summary for a failed handshake. Shared with the
/// internet check, which meets the same failures through its tunnels.
pub(crate) fn classify(f: &ProxyFailure, probe: &ProxyProbe) -> (&'static str, String) {
    let proxy = &probe.proxy_url;
    match f {
        ProxyFailure::InvalidUrl { .. } | ProxyFailure::Io { .. } => {
            ("proxy.unreachable", format!("{proxy}: {f}"))
        }
        ProxyFailure::Resolve { failure } => (
            "proxy.unreachable",
            format!("the proxy's name in {proxy} does not resolve: {failure}"),
        ),
        ProxyFailure::Refused => (
            "proxy.wrong-port",
            format!("{} refused the connection", addresses(probe)),
        ),
        ProxyFailure::Unreachable { reason } => (
            "proxy.unreachable",
            format!("{} is unreachable: {reason}", addresses(probe)),
        ),
        ProxyFailure::Timeout { phase } => ("proxy.unreachable", timeout_words(*phase, probe)),
        ProxyFailure::ProxyTls {
            failure: TlsFailure::Untrusted { issuer },
        } => (
            "tls.untrusted",
            format!("the proxy's own certificate is issued by {issuer}, which is not trusted"),
        ),
        ProxyFailure::ProxyTls { failure } => (
            "proxy.wrong-protocol",
            format!("the tls handshake with {proxy} failed: {failure:?}"),
        ),
        ProxyFailure::WrongProtocol { mismatch } => {
            ("proxy.wrong-protocol", mismatch_words(mismatch, proxy))
        }
        ProxyFailure::ClosedWithoutResponse => (
            "proxy.wrong-protocol",
            format!("{proxy} closed the connection without answering CONNECT"),
        ),
        ProxyFailure::InvalidResponse { reason } => (
            "proxy.wrong-protocol",
            format!("{proxy} answered CONNECT with an invalid response: {reason}"),
        ),
        ProxyFailure::UnexpectedStatus { status } => (
            "proxy.wrong-protocol",
            format!("{proxy} answered CONNECT with an unexpected {status}"),
        ),
        ProxyFailure::AuthRequired { offered } => (
            "proxy.auth-required",
            format!(
                "{proxy} requires authentication ({}) and [proxy] auth is \"none\"",
                offered.join(", ")
            ),
        ),
        ProxyFailure::CredentialsMissing => (
            "proxy.auth-required",
            format!("{proxy} requires authentication and the user name or password is not set"),
        ),
        ProxyFailure::AuthSchemeMismatch {
            configured,
            offered,
        } => (
            "proxy.auth-scheme-mismatch",
            format!(
                "[proxy] auth is \"{configured}\" but {proxy} offers {}",
                offered.join(", ")
            ),
        ),
        ProxyFailure::ChallengeUnusable { reason } => (
            "proxy.auth-scheme-mismatch",
            format!("{proxy} offers a challenge the tool cannot answer: {reason}"),
        ),
        ProxyFailure::AuthRejected { status } => (
            "proxy.auth-rejected",
            format!("{proxy} rejected the credentials ({status} after answering its challenge)"),
        ),
        ProxyFailure::DomainBlocked { status } => (
            "proxy.domain-blocked",
            format!("{proxy} refused CONNECT to {} ({status})", probe.target),
        ),
        ProxyFailure::UpstreamFailure { status } => (
            "proxy.upstream-failure",
            format!("{proxy} could not reach {} ({status})", probe.target),
        ),
    }
}

fn timeout_words(phase: Phase, probe: &ProxyProbe) -> String {
    match phase {
        Phase::Connect => format!(
            "{} did not accept the connection within {}",
            addresses(probe),
            ms(probe.elapsed)
        ),
        Phase::Resolve => format!(
            "the proxy's name did not resolve within {}",
            ms(probe.elapsed)
        ),
        _ => format!(
            "{} accepted the connection but did not answer CONNECT within {}",
            probe.proxy_url,
            ms(probe.elapsed)
        ),
    }
}

fn mismatch_words(mismatch: &ProtocolMismatch, proxy: &str) -> String {
    match mismatch {
        ProtocolMismatch::TlsProxy => {
            format!("{proxy} speaks tls: the url should start with https://")
        }
        ProtocolMismatch::PlainHttpProxy => {
            format!("{proxy} answers plain http to tls: the url should start with http://")
        }
        ProtocolMismatch::Socks { version } => {
            format!("{proxy} is a socks{version} proxy, not an http proxy")
        }
        ProtocolMismatch::NotAProxy { status_line } => {
            format!("{proxy} is a web server, not a proxy: it answers CONNECT with {status_line}")
        }
        ProtocolMismatch::Unknown { first_bytes } => {
            format!("{proxy} answers with something that is not http: {first_bytes}")
        }
    }
}

/// Whether a failure belongs to one destination rather than the proxy.
fn per_host(f: &ProxyFailure) -> bool {
    matches!(
        f,
        ProxyFailure::DomainBlocked { .. } | ProxyFailure::UpstreamFailure { .. }
    )
}

fn addresses(p: &ProxyProbe) -> String {
    if p.addresses.is_empty() {
        return p.proxy_url.clone();
    }
    p.addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The evidence of one handshake: `407 Proxy Authentication Required,
/// then 200 Connection established (connect 0.3 ms, ...)`.
pub(crate) fn exchange_line(p: &ProxyProbe) -> String {
    let mut out = p
        .exchanges
        .iter()
        .map(|e| match e.sent_credentials {
            Some(mode) => format!("{} (with {mode})", e.status_line),
            None => e.status_line.clone(),
        })
        .collect::<Vec<_>>()
        .join(", then ");
    if out.is_empty() {
        out = p
            .failure
            .as_ref()
            .map_or_else(|| "no answer".to_owned(), ToString::to_string);
    }
    let timings = p
        .timings
        .iter()
        .map(|t| format!("{} {}", t.phase, ms(t.elapsed)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(out, " ({timings})");
    out
}

/// Turns the handshakes into evidence and findings.
pub(crate) fn assess(probes: &[ProxyProbe]) -> Outcome {
    let mut outcome = Outcome::new();
    let Some(first) = probes.first() else {
        return Outcome::skipped("no required host to open a tunnel to");
    };
    outcome.evidence("proxy", first.proxy_url.clone());
    outcome.evidence("auth", first.auth_mode.to_string());
    if !first.addresses.is_empty() {
        outcome.evidence("addresses", addresses(first));
    }
    if let Some(c) = probes.iter().find_map(|p| p.connected_to) {
        outcome.evidence("connected to", c.to_string());
    }
    if let Some(p) = probes.iter().find(|p| !p.challenges.is_empty()) {
        let offered = p
            .challenges
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        outcome.evidence("offered", offered);
    }
    if let Some(server) = probes.iter().find_map(|p| p.server.clone()) {
        outcome.evidence("server", server);
    }
    let via: Vec<String> = probes.iter().flat_map(|p| p.via.clone()).collect();
    if !via.is_empty() {
        outcome.evidence("via", via.join(", "));
    }
    for p in probes {
        outcome.evidence(format!("CONNECT {}", p.target), exchange_line(p));
    }

    // A problem of the proxy itself shows on every handshake: report it once.
    let mut reported_proxy_problem = false;
    let mut per_code: BTreeMap<&'static str, Vec<(&ProxyProbe, String)>> = BTreeMap::new();
    for p in probes {
        let Some(f) = &p.failure else { continue };
        let (code, summary) = classify(f, p);
        if per_host(f) {
            per_code.entry(code).or_default().push((p, summary));
        } else if !reported_proxy_problem {
            reported_proxy_problem = true;
            outcome.finding(proxy_finding(code, summary, p));
        }
    }
    for (code, hosts) in per_code {
        let targets: Vec<String> = hosts.iter().map(|(p, _)| p.target.to_string()).collect();
        let summary = if hosts.len() == 1 {
            hosts[0].1.clone()
        } else if code == "proxy.domain-blocked" {
            format!(
                "{} refused CONNECT to {}",
                first.proxy_url,
                targets.join(", ")
            )
        } else {
            format!("{} could not reach {}", first.proxy_url, targets.join(", "))
        };
        let mut finding = Finding::new(code, summary).with("hosts", targets.join(", "));
        for (p, _) in &hosts {
            let last = p.exchanges.last();
            finding = finding.with(
                format!("{} answer", p.target),
                last.map_or_else(String::new, |e| e.status_line.clone()),
            );
            if let Some(err) = last.and_then(|e| e.proxy_error.clone()) {
                finding = finding.with(format!("{} proxy error", p.target), err);
            }
        }
        outcome.finding(finding);
    }

    if probes.iter().any(|p| p.basic_cleartext) {
        let mut finding = Finding::new(
            "proxy.basic-cleartext",
            format!(
                "Basic credentials are sent to {} over plain http",
                first.proxy_url
            ),
        );
        if first
            .challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("digest"))
        {
            finding = finding.with("the proxy also offers", "Digest");
        }
        outcome.finding(finding);
    }
    outcome
}

fn proxy_finding(code: &'static str, summary: String, p: &ProxyProbe) -> Finding {
    let mut finding = Finding::new(code, summary).with("proxy", p.proxy_url.clone());
    if !p.challenges.is_empty() {
        finding = finding.with(
            "offered",
            p.challenges
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    finding.with("exchange", exchange_line(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proxy_probe::ConnectExchange;
    use crate::net::{Authority, Challenge, ProxyAuthMode};

    fn probe(target: &str, failure: Option<ProxyFailure>, statuses: &[u16]) -> ProxyProbe {
        ProxyProbe {
            proxy_url: "http://proxy.corp:3128/".into(),
            transport: None,
            target: Authority::https(target),
            auth_mode: ProxyAuthMode::Basic,
            addresses: vec!["10.0.0.9:3128".parse().unwrap()],
            connected_to: Some("10.0.0.9:3128".parse().unwrap()),
            exchanges: statuses
                .iter()
                .map(|s| ConnectExchange {
                    sent_credentials: None,
                    status_line: format!("HTTP/1.1 {s} x"),
                    status: *s,
                    challenges: vec![],
                    proxy_error: (*s == 403).then(|| "ERR_ACCESS_DENIED 0".to_owned()),
                    body_excerpt: None,
                    elapsed: Duration::from_millis(2),
                })
                .collect(),
            challenges: vec![Challenge {
                scheme: "Digest".into(),
                realm: Some("corp".into()),
                algorithm: None,
                qop: Some("auth".into()),
                stale: Some(false),
            }],
            auth_required: true,
            basic_cleartext: false,
            via: vec![],
            server: Some("squid/5.7".into()),
            tunnel_established: failure.is_none(),
            failure,
            timings: vec![],
            elapsed: Duration::from_millis(5),
        }
    }

    fn codes(o: &Outcome) -> Vec<&'static str> {
        o.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_proxy_problem_is_reported_once() {
        let f = ProxyFailure::AuthRejected { status: 407 };
        let o = assess(&[
            probe("webexapis.com", Some(f.clone()), &[407, 407]),
            probe("idbroker.webex.com", Some(f), &[407, 407]),
        ]);
        assert_eq!(codes(&o), ["proxy.auth-rejected"]);
    }

    #[test]
    fn blocked_hosts_are_named_together() {
        let f = ProxyFailure::DomainBlocked { status: 403 };
        let o = assess(&[
            probe("webexapis.com", Some(f.clone()), &[403]),
            probe("idbroker.webex.com", Some(f), &[403]),
        ]);
        assert_eq!(codes(&o), ["proxy.domain-blocked"]);
        let hosts = &o.findings[0].evidence[0];
        assert_eq!(hosts.value, "webexapis.com:443, idbroker.webex.com:443");
        assert!(
            o.findings[0]
                .evidence
                .iter()
                .any(|e| e.value == "ERR_ACCESS_DENIED 0")
        );
    }

    #[test]
    fn every_failure_has_a_design_code() {
        let failures = [
            (ProxyFailure::Refused, "proxy.wrong-port"),
            (
                ProxyFailure::Timeout {
                    phase: Phase::Connect,
                },
                "proxy.unreachable",
            ),
            (
                ProxyFailure::Timeout {
                    phase: Phase::ProxyConnect,
                },
                "proxy.unreachable",
            ),
            (
                ProxyFailure::WrongProtocol {
                    mismatch: ProtocolMismatch::Socks { version: 5 },
                },
                "proxy.wrong-protocol",
            ),
            (
                ProxyFailure::AuthRequired {
                    offered: vec!["Basic".into()],
                },
                "proxy.auth-required",
            ),
            (
                ProxyFailure::AuthSchemeMismatch {
                    configured: ProxyAuthMode::Basic,
                    offered: vec!["Digest".into()],
                },
                "proxy.auth-scheme-mismatch",
            ),
            (
                ProxyFailure::UpstreamFailure { status: 503 },
                "proxy.upstream-failure",
            ),
            (
                ProxyFailure::ProxyTls {
                    failure: TlsFailure::Untrusted {
                        issuer: "CN=Corp".into(),
                    },
                },
                "tls.untrusted",
            ),
        ];
        for (f, code) in failures {
            let o = assess(&[probe("webexapis.com", Some(f.clone()), &[])]);
            assert_eq!(codes(&o), [code], "{f:?}");
        }
    }

    #[test]
    fn basic_in_cleartext_is_a_warning_naming_digest() {
        let mut p = probe("webexapis.com", None, &[407, 200]);
        p.basic_cleartext = true;
        let o = assess(&[p]);
        assert_eq!(codes(&o), ["proxy.basic-cleartext"]);
        assert_eq!(o.status(), crate::check::Status::Warn);
        assert!(o.findings[0].evidence.iter().any(|e| e.value == "Digest"));
    }
}
