//! The `dns` check: each required host (and the proxy's name) resolves
//! through the configured resolver; NXDOMAIN, no data, SERVFAIL, REFUSED,
//! timeouts and unreachable servers are told apart, with the servers asked
//! and the operating system's own answer beside ours.
//!
//! Behind a proxy the proxy resolves the Webex hosts itself, so a host that
//! fails only locally is a warning (`dns.local-only-failure`) once the
//! proxy has shown it can open a tunnel to it; when the proxy cannot
//! resolve it either, it is the critical finding it would be without a
//! proxy.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::net::resolver::ResolverSource;
use crate::net::{
    Agreement, Authority, DnsFailure, HostLookup, ProxyFailure, QueryOutcome, SystemLookup,
    compare_with_system, probe_proxy, system_lookup,
};

use super::network::{Network, ms, network};

/// See the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct DnsCheck {
    compare_with_system: bool,
}

impl Default for DnsCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl DnsCheck {
    /// The check as the tool runs it: the configured resolver, compared
    /// with the operating system's.
    #[must_use]
    pub fn new() -> Self {
        Self {
            compare_with_system: true,
        }
    }

    /// The check without the operating system's resolver, for tests on
    /// loopback: getaddrinfo would send their made-up names to the
    /// machine's own DNS servers.
    #[must_use]
    pub fn without_system_resolver() -> Self {
        Self {
            compare_with_system: false,
        }
    }
}

/// How long the check may take: two tries of the longest usual timeout,
/// the system lookups beside them, and a proxy probe.
const DEADLINE: Duration = Duration::from_secs(20);

impl Check for DnsCheck {
    fn id(&self) -> &'static str {
        "dns"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["config"]
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
            let facts = gather(&net, self.compare_with_system).await;
            let outcome = assess(&facts);
            ctx.facts.put(facts);
            outcome
        })
    }
}

/// What the check measured, for the checks after it.
#[derive(Debug, Clone)]
pub struct DnsFacts {
    /// Configured servers or the system's.
    pub source: ResolverSource,
    /// The servers asked.
    pub servers: Vec<std::net::SocketAddr>,
    /// Per query timeout and tries.
    pub timeout: Duration,
    /// Tries per query.
    pub attempts: usize,
    /// Whether a proxy is configured.
    pub behind_proxy: bool,
    /// One entry per host looked up.
    pub hosts: Vec<HostDns>,
}

/// One host's lookups.
#[derive(Debug, Clone)]
pub struct HostDns {
    /// `api`, `identity broker` or `proxy`.
    pub role: &'static str,
    /// Whether traffic goes to it through the proxy (all but the proxy).
    pub target: bool,
    /// The tool's resolver, server by server.
    pub lookup: HostLookup,
    /// An address or `localhost`: nothing was asked of a server.
    pub literal: bool,
    /// The operating system's resolver, when asked.
    pub system: Option<SystemLookup>,
    /// For a target that failed locally behind a proxy: what the proxy made
    /// of it.
    pub via_proxy: Option<ProxyVerdict>,
}

/// What the proxy made of a name that failed locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyVerdict {
    /// The proxy opened a tunnel to it: it resolves the name.
    Resolves,
    /// The proxy could not reach it either (its own DNS or upstream).
    CannotResolve {
        /// The proxy's status.
        status: u16,
    },
    /// The proxy could not be asked; the proxy check tells why.
    Unknown(String),
}

async fn gather(net: &Arc<Network>, compare_with_system: bool) -> DnsFacts {
    let mut names: Vec<(String, &'static str, bool)> = net
        .required
        .iter()
        .map(|h| (h.authority.host.clone(), h.role.as_str(), true))
        .collect();
    if let Some(proxy) = &net.proxy
        && let Ok((authority, _)) = proxy.endpoint()
        && authority.host.parse::<IpAddr>().is_err()
    {
        names.push((authority.host, "proxy", false));
    }

    let deadline = net.resolver.deadline();
    let tasks: Vec<_> = names
        .into_iter()
        .map(|(host, role, target)| {
            let resolver = net.resolver.clone();
            tokio::spawn(async move {
                if let Some(lookup) = literal(&host) {
                    return HostDns {
                        role,
                        target,
                        lookup,
                        literal: true,
                        system: None,
                        via_proxy: None,
                    };
                }
                let system = async {
                    if compare_with_system {
                        Some(system_lookup(&host, deadline).await)
                    } else {
                        None
                    }
                };
                let (lookup, system) = tokio::join!(resolver.lookup_host(&host), system);
                HostDns {
                    role,
                    target,
                    lookup,
                    literal: false,
                    system,
                    via_proxy: None,
                }
            })
        })
        .collect();
    let mut hosts = Vec::new();
    for t in tasks {
        if let Ok(h) = t.await {
            hosts.push(h);
        }
    }

    if let Some(proxy) = &net.proxy {
        let probe_deadline = Network::probe_deadline(DEADLINE).saturating_sub(deadline);
        for h in hosts
            .iter_mut()
            .filter(|h| h.target && h.lookup.failure.is_some())
        {
            let port = net
                .required
                .iter()
                .find(|r| r.authority.host == h.lookup.host)
                .map_or(443, |r| r.authority.port);
            let target = Authority::new(h.lookup.host.clone(), port);
            let p = probe_proxy(proxy, &net.resolver, &net.trust, &target, probe_deadline).await;
            h.via_proxy = Some(match p.failure {
                None => ProxyVerdict::Resolves,
                Some(ProxyFailure::UpstreamFailure { status }) => {
                    ProxyVerdict::CannotResolve { status }
                }
                Some(other) => ProxyVerdict::Unknown(other.to_string()),
            });
        }
    }

    DnsFacts {
        source: net.resolver.source(),
        servers: net.resolver.servers().to_vec(),
        timeout: net.dns.timeout,
        attempts: net.dns.attempts,
        behind_proxy: net.proxy.is_some(),
        hosts,
    }
}

/// An IP address or a `localhost` name needs no server: the lookup as it
/// stands.
fn literal(host: &str) -> Option<HostLookup> {
    let addresses = if let Ok(ip) = host.parse::<IpAddr>() {
        vec![ip]
    } else if crate::net::resolver::is_localhost_name(host) {
        vec![
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ]
    } else {
        return None;
    };
    Some(HostLookup {
        host: host.to_owned(),
        addresses,
        exchanges: Vec::new(),
        failure: None,
        elapsed: Duration::ZERO,
    })
}

/// Turns the lookups into evidence and findings.
pub(crate) fn assess(facts: &DnsFacts) -> Outcome {
    let mut outcome = Outcome::new();
    let servers = join(&facts.servers);
    outcome.evidence(
        "resolver",
        match facts.source {
            ResolverSource::Configured => format!("[dns] servers: {servers}"),
            ResolverSource::System => format!("system configuration: {servers}"),
        },
    );
    outcome.evidence(
        "timeout",
        format!(
            "{} per query, {} tries",
            crate::duration::format(facts.timeout),
            facts.attempts
        ),
    );
    for h in &facts.hosts {
        let label = format!("{} ({})", h.lookup.host, h.role);
        if h.literal {
            outcome.evidence(
                label,
                format!("{} (nothing to ask a server)", join(&h.lookup.addresses)),
            );
            continue;
        }
        outcome.evidence(label, describe(&h.lookup));
        if let Some(system) = &h.system {
            outcome.evidence(
                format!("{} (system resolver)", h.lookup.host),
                describe_system(&h.lookup, system),
            );
        }
    }

    // Hosts the proxy vouches for (or whose fate the proxy check tells)
    // are dealt with first; what remains failed for good.
    let mut remaining: Vec<(&HostDns, &DnsFailure)> = Vec::new();
    for h in facts.hosts.iter().filter(|h| !h.literal) {
        let Some(failure) = &h.lookup.failure else {
            continue;
        };
        if let Some(verdict) = &h.via_proxy
            && behind_proxy(&mut outcome, h, verdict, failure)
        {
            continue;
        }
        remaining.push((h, failure));
    }

    // Nothing resolved and every server stayed silent: one root cause.
    let unavailable = |f: &DnsFailure| {
        matches!(
            f,
            DnsFailure::Timeout | DnsFailure::NoReachableServer | DnsFailure::NoServers
        )
    };
    let none_resolved = facts
        .hosts
        .iter()
        .all(|h| h.literal || h.lookup.failure.is_some());
    if none_resolved && !remaining.is_empty() && remaining.iter().all(|(_, f)| unavailable(f)) {
        outcome.finding(unavailable_finding(facts, remaining[0].0, &servers));
        return outcome;
    }
    for (h, failure) in remaining {
        outcome.finding(host_finding(h, failure));
    }
    outcome
}

fn unavailable_finding(facts: &DnsFacts, host: &HostDns, servers: &str) -> Finding {
    let first = &host.lookup;
    let mut finding = Finding::new(
        "dns.unavailable",
        format!(
            "no dns server answered: {servers} asked, none replied ({})",
            first
                .failure
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
    )
    .with("servers asked", servers.to_owned())
    .with("waited", ms(first.elapsed));
    if facts.behind_proxy {
        finding = finding.with(
            "behind a proxy",
            "only the proxy's own name must resolve locally; an IP address in [proxy] url \
             removes even that",
        );
    }
    finding
}

/// Handles a host that failed locally behind a proxy; true when nothing
/// more is to be said about it.
fn behind_proxy(
    outcome: &mut Outcome,
    h: &HostDns,
    verdict: &ProxyVerdict,
    failure: &DnsFailure,
) -> bool {
    match verdict {
        ProxyVerdict::Resolves => {
            outcome.finding(
                Finding::new(
                    "dns.local-only-failure",
                    format!(
                        "{} does not resolve locally ({failure}), but the proxy opens a \
                         tunnel to it",
                        h.lookup.host
                    ),
                )
                .with("host", h.lookup.host.clone())
                .with("local answer", describe(&h.lookup)),
            );
            true
        }
        ProxyVerdict::Unknown(why) => {
            outcome.evidence(
                format!("{} through the proxy", h.lookup.host),
                format!("not confirmed, the proxy check tells why: {why}"),
            );
            true
        }
        ProxyVerdict::CannotResolve { status } => {
            outcome.evidence(
                format!("{} through the proxy", h.lookup.host),
                format!("the proxy cannot reach it either ({status})"),
            );
            false
        }
    }
}

fn host_finding(h: &HostDns, failure: &DnsFailure) -> Finding {
    let host = &h.lookup.host;
    let (code, summary) = match failure {
        DnsFailure::NxDomain | DnsFailure::NoData | DnsFailure::InvalidName(_) => (
            "dns.name-not-found",
            format!("{host} does not resolve: {failure}"),
        ),
        DnsFailure::Timeout | DnsFailure::NoReachableServer | DnsFailure::NoServers => (
            "dns.server-failure",
            format!(
                "no server answered for {host} within {}, though other names resolve",
                ms(h.lookup.elapsed)
            ),
        ),
        DnsFailure::ServFail
        | DnsFailure::Refused
        | DnsFailure::OtherCode(_)
        | DnsFailure::Other(_) => (
            "dns.server-failure",
            format!("the dns server failed for {host}: {failure}"),
        ),
    };
    let mut finding = Finding::new(code, summary)
        .with("host", format!("{host} ({})", h.role))
        .with("servers asked", join(&h.lookup.servers_asked()))
        .with("servers answered", {
            let answered = h.lookup.servers_answered();
            if answered.is_empty() {
                "none".to_owned()
            } else {
                join(&answered)
            }
        })
        .with("answers", per_server(&h.lookup));
    let Some(system) = &h.system else {
        return finding;
    };
    finding = finding.with("system resolver", describe_system(&h.lookup, system));
    if compare_with_system(&h.lookup, system) == Agreement::OnlySystem {
        finding = finding.with(
            "note",
            "the operating system resolves it (an /etc/hosts entry or another resolver), \
             the configured dns does not",
        );
    }
    finding
}

/// `127.0.0.1, ::1 from 10.0.0.2:53 (1.2 ms)` or `nxdomain ...`.
fn describe(l: &HostLookup) -> String {
    match &l.failure {
        None => format!(
            "{} from {} ({})",
            join(&l.addresses),
            join(&l.servers_answered()),
            ms(l.elapsed)
        ),
        Some(f) => format!("{f} ({})", ms(l.elapsed)),
    }
}

/// `10.0.0.2:53 A timeout, AAAA timeout; 10.0.0.3:53 A nxdomain, ...`.
fn per_server(l: &HostLookup) -> String {
    let mut out = String::new();
    for server in l.servers_asked() {
        if !out.is_empty() {
            out.push_str("; ");
        }
        let _ = write!(out, "{server}");
        for e in l.exchanges.iter().filter(|e| e.server == server) {
            let _ = write!(out, " {} {}", e.record_type, outcome_word(&e.outcome));
        }
    }
    out
}

fn outcome_word(o: &QueryOutcome) -> String {
    match o {
        QueryOutcome::Answer => "answer".into(),
        QueryOutcome::NxDomain => "nxdomain".into(),
        QueryOutcome::NoData => "no data".into(),
        QueryOutcome::ServFail => "servfail".into(),
        QueryOutcome::Refused => "refused".into(),
        QueryOutcome::OtherCode(c) => c.to_lowercase(),
        QueryOutcome::Timeout => "timeout".into(),
        QueryOutcome::Unreachable(why) => format!("unreachable ({why})"),
        QueryOutcome::Error(why) => format!("error ({why})"),
    }
}

fn describe_system(ours: &HostLookup, system: &SystemLookup) -> String {
    let answer = match (&system.error, system.addresses.is_empty()) {
        (Some(e), _) => e.clone(),
        (None, true) => "no addresses".to_owned(),
        (None, false) => join(&system.addresses),
    };
    let verdict = match compare_with_system(ours, system) {
        Agreement::Same => "agrees".to_owned(),
        Agreement::Neither => "neither resolves it".to_owned(),
        Agreement::OnlyOurs => "only the configured dns resolves it".to_owned(),
        Agreement::OnlySystem => "only the system resolves it".to_owned(),
        Agreement::Different {
            only_ours,
            only_system,
        } => format!(
            "differs: only ours {}, only the system's {}",
            join(&only_ours),
            join(&only_system)
        ),
    };
    format!("{answer} ({verdict})")
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::resolver::ServerExchange;

    fn lookup(host: &str, outcomes: &[QueryOutcome], addresses: &[&str]) -> HostLookup {
        let failure = if addresses.is_empty() {
            Some(match outcomes.first() {
                Some(QueryOutcome::NxDomain) => DnsFailure::NxDomain,
                Some(QueryOutcome::ServFail) => DnsFailure::ServFail,
                Some(QueryOutcome::Refused) => DnsFailure::Refused,
                Some(QueryOutcome::NoData) => DnsFailure::NoData,
                _ => DnsFailure::Timeout,
            })
        } else {
            None
        };
        HostLookup {
            host: host.into(),
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            exchanges: outcomes
                .iter()
                .map(|o| ServerExchange {
                    server: "10.0.0.2:53".parse().unwrap(),
                    record_type: "A",
                    outcome: o.clone(),
                    records: vec![],
                    elapsed: Duration::from_millis(3),
                })
                .collect(),
            failure,
            elapsed: Duration::from_millis(3),
        }
    }

    fn system(addresses: &[&str]) -> SystemLookup {
        SystemLookup {
            host: "h".into(),
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            error: None,
            timed_out: false,
            elapsed: Duration::ZERO,
        }
    }

    fn facts(hosts: Vec<HostDns>, behind_proxy: bool) -> DnsFacts {
        DnsFacts {
            source: ResolverSource::Configured,
            servers: vec!["10.0.0.2:53".parse().unwrap()],
            timeout: Duration::from_secs(3),
            attempts: 2,
            behind_proxy,
            hosts,
        }
    }

    fn host(l: HostLookup, s: SystemLookup) -> HostDns {
        HostDns {
            role: "api",
            target: true,
            lookup: l,
            literal: false,
            system: Some(s),
            via_proxy: None,
        }
    }

    fn codes(o: &Outcome) -> Vec<&'static str> {
        o.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn resolved_hosts_pass_with_evidence() {
        let l = lookup("webexapis.com", &[QueryOutcome::Answer], &["192.0.2.7"]);
        let o = assess(&facts(vec![host(l, system(&["192.0.2.7"]))], false));
        assert!(o.findings.is_empty());
        let system_line = o
            .evidence
            .iter()
            .find(|e| e.label == "webexapis.com (system resolver)")
            .unwrap();
        assert_eq!(system_line.value, "192.0.2.7 (agrees)");
    }

    #[test]
    fn nxdomain_is_name_not_found_and_notes_etc_hosts() {
        let l = lookup("webexapis.com", &[QueryOutcome::NxDomain], &[]);
        let o = assess(&facts(vec![host(l, system(&["192.0.2.7"]))], false));
        assert_eq!(codes(&o), ["dns.name-not-found"]);
        let f = &o.findings[0];
        assert!(f.evidence.iter().any(|e| e.label == "note"));
        assert!(
            f.evidence
                .iter()
                .any(|e| e.label == "answers" && e.value == "10.0.0.2:53 A nxdomain")
        );
    }

    #[test]
    fn servfail_and_refused_are_server_failures() {
        for o in [QueryOutcome::ServFail, QueryOutcome::Refused] {
            let l = lookup("webexapis.com", &[o], &[]);
            let out = assess(&facts(vec![host(l, system(&[]))], false));
            assert_eq!(codes(&out), ["dns.server-failure"]);
        }
    }

    #[test]
    fn silence_everywhere_is_one_unavailable_finding() {
        let a = lookup("webexapis.com", &[QueryOutcome::Timeout], &[]);
        let b = lookup("idbroker.webex.com", &[QueryOutcome::Timeout], &[]);
        let o = assess(&facts(
            vec![host(a, system(&[])), host(b, system(&[]))],
            false,
        ));
        assert_eq!(codes(&o), ["dns.unavailable"]);
    }

    #[test]
    fn silence_behind_a_proxy_that_resolves_everything_is_only_a_warning() {
        let mut a = host(
            lookup("webexapis.com", &[QueryOutcome::Timeout], &[]),
            system(&[]),
        );
        a.via_proxy = Some(ProxyVerdict::Resolves);
        let mut b = a.clone();
        b.lookup.host = "idbroker.webex.com".into();
        let o = assess(&facts(vec![a, b], true));
        assert_eq!(
            codes(&o),
            ["dns.local-only-failure", "dns.local-only-failure"]
        );
        assert_eq!(o.status(), crate::check::Status::Warn);
    }

    #[test]
    fn silence_for_one_name_only_is_a_server_failure() {
        let a = lookup("webexapis.com", &[QueryOutcome::Answer], &["192.0.2.7"]);
        let b = lookup("idbroker.webex.com", &[QueryOutcome::Timeout], &[]);
        let o = assess(&facts(
            vec![host(a, system(&[])), host(b, system(&[]))],
            false,
        ));
        assert_eq!(codes(&o), ["dns.server-failure"]);
    }

    #[test]
    fn behind_a_proxy_a_local_failure_is_a_warning_when_the_proxy_resolves() {
        let mut h = host(
            lookup("webexapis.com", &[QueryOutcome::NxDomain], &[]),
            system(&[]),
        );
        h.via_proxy = Some(ProxyVerdict::Resolves);
        let o = assess(&facts(vec![h.clone()], true));
        assert_eq!(codes(&o), ["dns.local-only-failure"]);
        assert_eq!(o.findings[0].severity, crate::finding::Severity::Warning);

        h.via_proxy = Some(ProxyVerdict::CannotResolve { status: 503 });
        let o = assess(&facts(vec![h.clone()], true));
        assert_eq!(codes(&o), ["dns.name-not-found"]);

        h.via_proxy = Some(ProxyVerdict::Unknown(
            "the proxy rejected the credentials".into(),
        ));
        let o = assess(&facts(vec![h], true));
        assert!(o.findings.is_empty(), "the proxy check owns that problem");
    }
}

#[cfg(test)]
mod literal_tests {
    use super::*;

    #[test]
    fn addresses_and_localhost_need_no_server() {
        assert_eq!(literal("127.0.0.1").unwrap().addresses.len(), 1);
        assert_eq!(literal("::1").unwrap().addresses.len(), 1);
        assert_eq!(literal("LOCALHOST").unwrap().addresses.len(), 2);
        assert_eq!(literal("origin.localhost.").unwrap().addresses.len(), 2);
        assert!(literal("webexapis.com").is_none());
        assert!(literal("localhost.example").is_none());
    }
}
