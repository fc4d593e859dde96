//! The `internet` check: TCP and TLS reach each required host (through the
//! proxy when one is set), the certificate chains to a trusted root, and
//! the server's clock is within 5 minutes of ours. Then one real request
//! with the tool's own HTTP client, so the path every later request takes
//! (resolver, relay, trust store) is proven too.
//!
//! The TLS handshake is the probe's own (`net::probe_tls`), because reqwest
//! cannot show the chain of a tunnelled connection: a chain issued by a
//! company CA instead of a public one is how a TLS-inspecting proxy shows
//! itself, and its issuer is what the user needs to set `ca_file`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::net::tls::TrustFacts;
use crate::net::tls_probe::HttpFailure;
use crate::net::{Route, TlsFailure, TlsProbe, TlsProbeFailure, probe_tls};

use super::network::{Network, ms, network};
use super::proxy;

/// See the module documentation.
pub struct InternetCheck;

const DEADLINE: Duration = Duration::from_secs(25);

/// The largest clock difference tolerated (DESIGN section 4).
pub const MAX_SKEW_SECS: i64 = 300;

impl Check for InternetCheck {
    fn id(&self) -> &'static str {
        "internet"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["proxy"]
    }

    fn deadline(&self) -> Duration {
        DEADLINE
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let net = match network(ctx) {
                Ok(net) => net,
                Err(outcome) => return outcome,
            };
            let deadline = Network::probe_deadline(DEADLINE);
            let tasks: Vec<_> = net
                .required
                .iter()
                .map(|h| {
                    let (net, target) = (net.clone(), h.authority.clone());
                    tokio::spawn(async move {
                        let route = net.proxy.as_ref().map_or(Route::Direct, Route::Proxy);
                        probe_tls(&target, route, &net.resolver, &net.trust, deadline).await
                    })
                })
                .collect();
            let mut probes = Vec::new();
            for t in tasks {
                if let Ok(p) = t.await {
                    probes.push(p);
                }
            }

            let client = if probes.iter().all(|p| p.failure.is_none()) {
                let left = DEADLINE
                    .saturating_sub(started.elapsed())
                    .saturating_sub(Duration::from_secs(1));
                Some(client_request(&net, left).await)
            } else {
                None
            };
            let outcome = assess(&Setup::of(&net), &probes, client.as_ref());
            ctx.facts.put(InternetFacts { probes, client });
            outcome
        })
    }
}

/// What the check measured, for the checks after it.
#[derive(Debug, Clone)]
pub struct InternetFacts {
    /// One TLS probe per required host.
    pub probes: Vec<TlsProbe>,
    /// The request with the tool's client, when the probes passed.
    pub client: Option<ClientResult>,
}

/// One request through the tool's HTTP client.
#[derive(Debug, Clone)]
pub struct ClientResult {
    /// `GET https://webexapis.com/v1`.
    pub request: String,
    /// The status line, or why there is none.
    pub result: Result<String, String>,
    /// How long it took.
    pub elapsed: Duration,
    /// The relay's address, when a proxy is configured.
    pub relay: Option<std::net::SocketAddr>,
}

async fn client_request(net: &Network, budget: Duration) -> ClientResult {
    let request = format!("GET {}", net.api_base);
    let started = Instant::now();
    let client = &net.http;
    let relay = client.relay().map(crate::net::Relay::addr);
    let send = client.client().get(net.api_base.clone()).send();
    let result = match tokio::time::timeout(budget, send).await {
        Err(_) => Err(format!("no response within {}", ms(budget))),
        Ok(Err(e)) => Err(error_chain(&e)),
        Ok(Ok(resp)) => Ok(format!(
            "{} {}",
            resp.status().as_u16(),
            resp.status().canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_owned()),
    };
    let mut result = result;
    if let (Err(text), Some(r)) = (&mut result, client.relay())
        && let Some(failure) = r.last_failure().and_then(|p| p.failure)
    {
        let _ = write!(text, "; the proxy: {failure}");
    }
    ClientResult {
        request,
        result,
        elapsed: started.elapsed(),
        relay,
    }
}

/// An error and its causes, lowercase, joined.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ").to_lowercase()
}

/// What the evidence says about the path, apart from the probes.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// `direct` or `through the proxy ...`.
    pub route: String,
    /// The trust store's make-up.
    pub trust: TrustFacts,
}

impl Setup {
    fn of(net: &Network) -> Self {
        Self {
            route: match &net.proxy {
                None => "direct".to_owned(),
                Some(p) => format!("through the proxy {}", redacted(&p.url)),
            },
            trust: net.trust.facts().clone(),
        }
    }
}

/// Turns the probes into evidence and findings.
pub(crate) fn assess(setup: &Setup, probes: &[TlsProbe], client: Option<&ClientResult>) -> Outcome {
    let mut outcome = Outcome::new();
    outcome.evidence("route", setup.route.clone());
    let trust = &setup.trust;
    let mut roots = format!("{} system roots", trust.system_roots);
    if let Some(file) = &trust.ca_file {
        let _ = write!(
            roots,
            ", {} from {} ({})",
            trust.ca_file_roots,
            file.display(),
            trust.ca_file_subjects.join("; ")
        );
    }
    outcome.evidence("trusted roots", roots);
    for p in probes {
        outcome.evidence(p.target.to_string(), describe(p));
    }
    if let Some(c) = client {
        let via = c
            .relay
            .map_or_else(String::new, |r| format!(" through the relay {r}"));
        let result = match &c.result {
            Ok(status) => status.clone(),
            Err(e) => e.clone(),
        };
        outcome.evidence(
            "http client",
            format!("{} -> {result} in {}{via}", c.request, ms(c.elapsed)),
        );
    }

    let mut grouped: BTreeMap<&'static str, Vec<(&TlsProbe, String)>> = BTreeMap::new();
    for p in probes {
        if let Some(f) = &p.failure {
            let (code, summary) = classify(f, p);
            grouped.entry(code).or_default().push((p, summary));
        }
    }
    for (code, hosts) in grouped {
        let targets: Vec<String> = hosts.iter().map(|(p, _)| p.target.to_string()).collect();
        let mut finding = Finding::new(code, hosts[0].1.clone()).with("hosts", targets.join(", "));
        for (p, _) in &hosts {
            if !p.chain.is_empty() {
                finding = finding.with(format!("{} chain", p.target), chain(p));
            }
        }
        outcome.finding(finding);
    }
    if let Some(c) = client
        && let Err(e) = &c.result
    {
        outcome.finding(
            Finding::new(
                "internet.unavailable",
                format!(
                    "the tool's http client could not complete {}: {e}",
                    c.request
                ),
            )
            .with("request", c.request.clone()),
        );
    }

    if let Some(p) = probes
        .iter()
        .filter(|p| p.clock_offset_secs.is_some())
        .max_by_key(|p| p.clock_offset_secs.unwrap_or(0).abs())
    {
        let offset = p.clock_offset_secs.unwrap_or(0);
        let server = p.server_time.clone().unwrap_or_default();
        outcome.evidence(
            "clock",
            format!("{server} at {} ({offset:+} s from ours)", p.target),
        );
        if offset.abs() > MAX_SKEW_SECS {
            let direction = if offset > 0 { "behind" } else { "ahead of" };
            outcome.finding(
                Finding::new(
                    "clock.skew",
                    format!(
                        "the local clock is {} s {direction} {}'s",
                        offset.abs(),
                        p.target.host
                    ),
                )
                .with("server time", server)
                .with("local time", jiff::Timestamp::now().to_string())
                .with("offset", format!("{offset:+} s")),
            );
        }
    }
    outcome
}

fn classify(f: &TlsProbeFailure, p: &TlsProbe) -> (&'static str, String) {
    let host = &p.target;
    match f {
        TlsProbeFailure::Tls { failure } => match failure {
            TlsFailure::Untrusted { issuer } => (
                "tls.untrusted",
                format!("the certificate of {host} is issued by {issuer}, which is not trusted"),
            ),
            TlsFailure::NameMismatch {
                expected,
                presented,
            } => (
                "tls.untrusted",
                format!(
                    "the certificate presented for {expected} is for {}",
                    presented.join(", ")
                ),
            ),
            TlsFailure::Expired => (
                "tls.untrusted",
                format!("the certificate of {host} has expired"),
            ),
            TlsFailure::NotYetValid => (
                "tls.untrusted",
                format!("the certificate of {host} is not valid yet (check the local clock)"),
            ),
            TlsFailure::BadCertificate { reason } => (
                "tls.untrusted",
                format!("the certificate of {host} is refused: {reason}"),
            ),
            other => (
                "internet.unavailable",
                format!("the tls handshake with {host} failed: {}", tls_words(other)),
            ),
        },
        TlsProbeFailure::Proxy { failure } => p.proxy.as_ref().map_or_else(
            || {
                (
                    "internet.unavailable",
                    format!("no tunnel to {host}: {failure}"),
                )
            },
            |probe| proxy::classify(failure, probe),
        ),
        TlsProbeFailure::Resolve { failure } => (
            "internet.unavailable",
            format!("{} does not resolve: {failure}", host.host),
        ),
        TlsProbeFailure::Connect { failure } => (
            "internet.unavailable",
            format!("cannot connect to {host}: {failure:?}").to_lowercase(),
        ),
        TlsProbeFailure::Timeout { phase } => (
            "internet.unavailable",
            format!(
                "{host} did not complete the {phase} within {}",
                ms(p.elapsed)
            ),
        ),
    }
}

fn tls_words(f: &TlsFailure) -> String {
    match f {
        TlsFailure::PlainHttp => "the server answered in plain http".to_owned(),
        TlsFailure::NotTls { first_bytes } => {
            format!("the server does not speak tls ({first_bytes})")
        }
        TlsFailure::Closed => "the server closed the connection".to_owned(),
        TlsFailure::Alert { alert } => format!("the server sent the alert {alert}"),
        TlsFailure::Handshake { reason } => reason.clone(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// `CN=leaf <- CN=issuer`.
fn chain(p: &TlsProbe) -> String {
    let mut parts: Vec<String> = p.chain.iter().map(|c| c.subject.clone()).collect();
    if let Some(last) = p.chain.last()
        && last.issuer != last.subject
    {
        parts.push(format!("issued by {}", last.issuer));
    }
    parts.join(" <- ")
}

fn describe(p: &TlsProbe) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &p.tls_version {
        parts.push(v.clone());
    }
    if !p.chain.is_empty() {
        parts.push(format!(
            "{} ({})",
            chain(p),
            if p.trusted { "trusted" } else { "not trusted" }
        ));
    }
    if let Some(r) = &p.response {
        parts.push(format!("HEAD / -> {}", r.status_line));
    }
    if let Some(h) = &p.http_failure {
        parts.push(match h {
            HttpFailure::Timeout => "HEAD / -> no answer".to_owned(),
            HttpFailure::Closed => "HEAD / -> closed".to_owned(),
            HttpFailure::Invalid { reason } => format!("HEAD / -> {reason}"),
        });
    }
    if let Some(f) = &p.failure {
        parts.push(classify(f, p).1);
    }
    let timings = p
        .timings
        .iter()
        .map(|t| format!("{} {}", t.phase, ms(t.elapsed)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{}; {timings}", parts.join("; "))
}

fn redacted(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::tls_probe::OriginResponse;
    use crate::net::{Authority, CertificateSummary};

    fn setup() -> Setup {
        Setup {
            route: "direct".into(),
            trust: TrustFacts {
                system_roots: 140,
                system_errors: vec![],
                ca_file: None,
                ca_file_roots: 0,
                ca_file_subjects: vec![],
            },
        }
    }

    fn probe(host: &str, failure: Option<TlsProbeFailure>, offset: Option<i64>) -> TlsProbe {
        TlsProbe {
            target: Authority::https(host),
            via_proxy: false,
            addresses: vec![],
            connected_to: None,
            proxy: None,
            tls_version: Some("TLSv1.3".into()),
            cipher_suite: None,
            chain: vec![CertificateSummary {
                subject: format!("CN={host}"),
                issuer: "CN=Corp Inspection CA".into(),
                not_before: String::new(),
                not_after: String::new(),
                names: vec![host.into()],
            }],
            trusted: failure.is_none(),
            response: offset.map(|_| OriginResponse {
                status_line: "HTTP/1.1 404 Not Found".into(),
                server: None,
                date: None,
            }),
            server_time: offset.map(|_| "2026-12-03T17:00:00Z".into()),
            clock_offset_secs: offset,
            failure,
            http_failure: None,
            timings: vec![],
            elapsed: Duration::from_millis(40),
        }
    }

    fn codes(o: &Outcome) -> Vec<&'static str> {
        o.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn an_inspecting_proxy_is_named_once_for_every_host() {
        let untrusted = TlsProbeFailure::Tls {
            failure: TlsFailure::Untrusted {
                issuer: "CN=Corp Inspection CA".into(),
            },
        };
        let o = assess(
            &setup(),
            &[
                probe("webexapis.com", Some(untrusted.clone()), None),
                probe("idbroker.webex.com", Some(untrusted), None),
            ],
            None,
        );
        assert_eq!(codes(&o), ["tls.untrusted"]);
        assert!(o.findings[0].summary.contains("CN=Corp Inspection CA"));
        assert_eq!(
            o.findings[0].evidence[0].value,
            "webexapis.com:443, idbroker.webex.com:443"
        );
    }

    #[test]
    fn clock_skew_beyond_five_minutes() {
        let o = assess(&setup(), &[probe("webexapis.com", None, Some(299))], None);
        assert!(o.findings.is_empty());
        let o = assess(&setup(), &[probe("webexapis.com", None, Some(-420))], None);
        assert_eq!(codes(&o), ["clock.skew"]);
        assert!(
            o.findings[0].summary.contains("420 s ahead of"),
            "{}",
            o.findings[0].summary
        );
    }

    #[test]
    fn refused_or_silent_hosts_are_internet_unavailable() {
        let o = assess(
            &setup(),
            &[probe(
                "webexapis.com",
                Some(TlsProbeFailure::Timeout {
                    phase: crate::net::Phase::Connect,
                }),
                None,
            )],
            None,
        );
        assert_eq!(codes(&o), ["internet.unavailable"]);
    }

    #[test]
    fn a_failed_client_request_is_reported() {
        let client = ClientResult {
            request: "GET https://webexapis.com/v1".into(),
            result: Err("connection refused".into()),
            elapsed: Duration::from_millis(3),
            relay: None,
        };
        let o = assess(
            &setup(),
            &[probe("webexapis.com", None, Some(0))],
            Some(&client),
        );
        assert_eq!(codes(&o), ["internet.unavailable"]);
    }
}
