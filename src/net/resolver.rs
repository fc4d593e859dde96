//! The one resolver of the tool, on hickory: built from `[dns]` or from the
//! system configuration, used by the checks and, through
//! [`Resolver::for_reqwest`], by every request the tool makes.
//!
//! Two ways of asking:
//! - the traffic path ([`Resolver::resolve`]) asks the configured servers as
//!   one pool, as any stub resolver would;
//! - the diagnostic path ([`Resolver::lookup_host`], [`Resolver::lookup_srv`])
//!   asks every server on its own, concurrently, without cache or hosts file,
//!   so the facts say which servers were asked, which answered and what each
//!   said (NXDOMAIN, no data, SERVFAIL, REFUSED, silence).
//!
//! Every lookup ends within [`Resolver::deadline`]: `timeout` times the
//! number of tries, plus a small margin; the servers are asked in parallel,
//! so a silent server costs that deadline once, not once per server.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts, ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde::Serialize;

use super::serialize_ms;
use super::settings::DnsSettings;

/// Extra time past the resolver's own worst case before a lookup is cut.
const MARGIN: Duration = Duration::from_millis(250);

/// Where the resolver's servers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolverSource {
    /// `[dns] servers`.
    Configured,
    /// The operating system's configuration (`/etc/resolv.conf`).
    System,
}

/// Why the resolver could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    /// The system configuration could not be read.
    #[error("cannot read the system dns configuration: {0}")]
    SystemConfig(String),
    /// hickory refused the configuration.
    #[error("cannot build the dns resolver: {0}")]
    Build(String),
}

/// What one server said to one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum QueryOutcome {
    /// Records of the asked type.
    Answer,
    /// NXDOMAIN: the name does not exist.
    NxDomain,
    /// NOERROR without records of the asked type.
    NoData,
    /// SERVFAIL.
    ServFail,
    /// REFUSED.
    Refused,
    /// Another error response code.
    OtherCode(String),
    /// No answer within the timeout, every try.
    Timeout,
    /// The query could not be sent or the connection failed.
    Unreachable(String),
    /// Anything else (a malformed answer, a name that is not a name).
    Error(String),
}

impl QueryOutcome {
    /// Whether the server answered at all (any response code).
    #[must_use]
    pub fn answered(&self) -> bool {
        matches!(
            self,
            QueryOutcome::Answer
                | QueryOutcome::NxDomain
                | QueryOutcome::NoData
                | QueryOutcome::ServFail
                | QueryOutcome::Refused
                | QueryOutcome::OtherCode(_)
        )
    }
}

/// One query to one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerExchange {
    /// The server asked.
    pub server: SocketAddr,
    /// `A`, `AAAA` or `SRV`.
    pub record_type: &'static str,
    /// What it said.
    pub outcome: QueryOutcome,
    /// The records, rendered (addresses, or `priority weight port target`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// How long it took.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

/// Why a name did not resolve, over all servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum DnsFailure {
    /// A server said the name does not exist.
    NxDomain,
    /// The name exists but has no records of the asked types.
    NoData,
    /// A server answered SERVFAIL and none answered better.
    ServFail,
    /// A server answered REFUSED and none answered better.
    Refused,
    /// Another error response code.
    OtherCode(String),
    /// No server answered before the deadline.
    Timeout,
    /// No server could be reached (every query failed to be sent).
    NoReachableServer,
    /// No servers are configured, and the system names none.
    NoServers,
    /// The name is not a valid DNS name.
    InvalidName(String),
    /// Something else.
    Other(String),
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsFailure::NxDomain => f.write_str("nxdomain: the name does not exist"),
            DnsFailure::NoData => f.write_str("no data: the name has no address records"),
            DnsFailure::ServFail => f.write_str("servfail: the server failed"),
            DnsFailure::Refused => f.write_str("refused: the server refused the query"),
            DnsFailure::OtherCode(c) => write!(f, "error response {c}"),
            DnsFailure::Timeout => f.write_str("timeout: no server answered"),
            DnsFailure::NoReachableServer => f.write_str("no dns server could be reached"),
            DnsFailure::NoServers => f.write_str("no dns servers are configured"),
            DnsFailure::InvalidName(n) => write!(f, "'{n}' is not a valid dns name"),
            DnsFailure::Other(m) => f.write_str(m),
        }
    }
}

/// The diagnostic lookup of one host's A and AAAA records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostLookup {
    /// The name looked up.
    pub host: String,
    /// Every address any server gave, IPv4 first.
    pub addresses: Vec<IpAddr>,
    /// Each query to each server.
    pub exchanges: Vec<ServerExchange>,
    /// Why it did not resolve; `None` when it did.
    pub failure: Option<DnsFailure>,
    /// Wall time of the whole lookup.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

impl HostLookup {
    /// The servers that were asked, in configuration order.
    #[must_use]
    pub fn servers_asked(&self) -> Vec<SocketAddr> {
        unique(self.exchanges.iter().map(|e| e.server))
    }

    /// The servers that answered at least one query, whatever the answer.
    #[must_use]
    pub fn servers_answered(&self) -> Vec<SocketAddr> {
        unique(
            self.exchanges
                .iter()
                .filter(|e| e.outcome.answered())
                .map(|e| e.server),
        )
    }
}

/// One SRV target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrvTarget {
    /// Lower is preferred.
    pub priority: u16,
    /// Share among equal priorities.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The host, without the trailing dot.
    pub target: String,
}

/// The diagnostic lookup of an SRV name, such as `_xsi-client._tcp.<domain>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrvLookup {
    /// The name looked up.
    pub name: String,
    /// The targets, by priority then weight (highest first).
    pub targets: Vec<SrvTarget>,
    /// Each query to each server.
    pub exchanges: Vec<ServerExchange>,
    /// Why it did not resolve; `None` when it did.
    pub failure: Option<DnsFailure>,
    /// Wall time of the whole lookup.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

/// A failed traffic lookup; it travels inside reqwest's error chain, so a
/// caller can downcast to it and read the classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dns lookup of '{host}' failed: {failure}")]
pub struct ResolveError {
    /// The name.
    pub host: String,
    /// The classification.
    pub failure: DnsFailure,
}

struct Inner {
    source: ResolverSource,
    servers: Vec<SocketAddr>,
    traffic: TokioResolver,
    each: Vec<(SocketAddr, TokioResolver)>,
    deadline: Duration,
}

/// The tool's resolver. Cheap to clone; every clone shares the same servers.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("source", &self.inner.source)
            .field("servers", &self.inner.servers)
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// Builds the resolver from the settings: the given servers, or the
    /// system's when none are given. Does no I/O beyond reading the system
    /// configuration.
    pub fn new(settings: &DnsSettings) -> Result<Self, ResolverError> {
        let tries = settings.attempts.max(1);
        let mut opts = ResolverOpts::default();
        opts.timeout = settings.timeout;
        opts.attempts = tries - 1;
        opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;

        let (source, servers, config) = if settings.servers.is_empty() {
            let (config, sys_opts) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ResolverError::SystemConfig(e.to_string().to_lowercase()))?;
            opts.ndots = sys_opts.ndots;
            opts.use_hosts_file = ResolveHosts::Auto;
            let servers = system_servers(&config);
            (ResolverSource::System, servers, config)
        } else {
            opts.use_hosts_file = ResolveHosts::Never;
            let servers = settings.servers.clone();
            let config = ResolverConfig::from_name_servers(name_servers(&servers));
            (ResolverSource::Configured, servers, config)
        };

        let traffic = build(config, opts.clone())?;
        let mut each_opts = opts;
        each_opts.use_hosts_file = ResolveHosts::Never;
        each_opts.cache_size = 0;
        let each = servers
            .iter()
            .map(|s| {
                let config = ResolverConfig::from_name_servers(name_servers(&[*s]));
                Ok((*s, build(config, each_opts.clone())?))
            })
            .collect::<Result<Vec<_>, ResolverError>>()?;

        Ok(Self {
            inner: Arc::new(Inner {
                source,
                servers,
                traffic,
                each,
                deadline: settings.lookup_deadline() + MARGIN,
            }),
        })
    }

    /// The servers asked, in order.
    #[must_use]
    pub fn servers(&self) -> &[SocketAddr] {
        &self.inner.servers
    }

    /// Where the servers come from.
    #[must_use]
    pub fn source(&self) -> ResolverSource {
        self.inner.source
    }

    /// The longest any one lookup takes before it is classified a timeout.
    #[must_use]
    pub fn deadline(&self) -> Duration {
        self.inner.deadline
    }

    /// Resolves a host for traffic: IP literals and `localhost` names directly,
    /// anything else through the server pool. Addresses come IPv4 first.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let fail = |failure| ResolveError {
            host: host.to_owned(),
            failure,
        };
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(vec![ip]);
        }
        if is_localhost_name(host) {
            return Ok(vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]);
        }
        if self.inner.servers.is_empty() {
            return Err(fail(DnsFailure::NoServers));
        }
        let lookup = tokio::time::timeout(self.inner.deadline, self.inner.traffic.lookup_ip(host));
        match lookup.await {
            Err(_) => Err(fail(DnsFailure::Timeout)),
            Ok(Err(e)) => Err(fail(failure_of(&classify(&e)))),
            Ok(Ok(found)) => {
                let mut ips: Vec<IpAddr> = found.iter().collect();
                ips.sort_by_key(IpAddr::is_ipv6);
                if ips.is_empty() {
                    Err(fail(DnsFailure::NoData))
                } else {
                    Ok(ips)
                }
            }
        }
    }

    /// Looks up a host's A and AAAA records at every server, concurrently,
    /// and records what each said. The name is asked as given, fully
    /// qualified (no search domains).
    pub async fn lookup_host(&self, host: &str) -> HostLookup {
        let started = Instant::now();
        let name = fqdn(host);
        let queries = self.inner.each.iter().flat_map(|(server, r)| {
            [RecordType::A, RecordType::AAAA]
                .map(|t| ask(*server, r, name.clone(), t, self.deadline()))
        });
        let exchanges = futures_join(queries).await;

        let mut v4 = BTreeSet::new();
        let mut v6 = BTreeSet::new();
        for e in exchanges
            .iter()
            .filter(|e| e.outcome == QueryOutcome::Answer)
        {
            for r in &e.records {
                match r.parse::<IpAddr>() {
                    Ok(ip @ IpAddr::V4(_)) => v4.insert(ip),
                    Ok(ip @ IpAddr::V6(_)) => v6.insert(ip),
                    Err(_) => false,
                };
            }
        }
        let addresses: Vec<IpAddr> = v4.into_iter().chain(v6).collect();
        let failure = if addresses.is_empty() {
            Some(aggregate(&exchanges, self.inner.servers.is_empty()))
        } else {
            None
        };
        tracing::debug!(host, ?addresses, ?failure, "dns lookup");
        HostLookup {
            host: host.to_owned(),
            addresses,
            exchanges,
            failure,
            elapsed: started.elapsed(),
        }
    }

    /// Looks up an SRV name at every server, concurrently.
    pub async fn lookup_srv(&self, name: &str) -> SrvLookup {
        let started = Instant::now();
        let fq = fqdn(name);
        let queries = self
            .inner
            .each
            .iter()
            .map(|(server, r)| ask(*server, r, fq.clone(), RecordType::SRV, self.deadline()));
        let exchanges = futures_join(queries).await;

        let mut targets: Vec<SrvTarget> = Vec::new();
        for e in exchanges
            .iter()
            .filter(|e| e.outcome == QueryOutcome::Answer)
        {
            for r in &e.records {
                if let Some(t) = parse_srv_rendering(r)
                    && !targets.contains(&t)
                {
                    targets.push(t);
                }
            }
        }
        targets.sort_by(|a, b| a.priority.cmp(&b.priority).then(b.weight.cmp(&a.weight)));
        let failure = if targets.is_empty() {
            Some(aggregate(&exchanges, self.inner.servers.is_empty()))
        } else {
            None
        };
        SrvLookup {
            name: name.to_owned(),
            targets,
            exchanges,
            failure,
            elapsed: started.elapsed(),
        }
    }

    /// An adapter for `reqwest::ClientBuilder::dns_resolver`, so every
    /// request resolves through this resolver.
    #[must_use]
    pub fn for_reqwest(&self) -> Arc<dyn reqwest::dns::Resolve> {
        Arc::new(ReqwestAdapter(self.clone()))
    }
}

/// `localhost` and the names under it, which RFC 6761 reserves for the
/// loopback interface: no server is asked about them.
#[must_use]
pub fn is_localhost_name(host: &str) -> bool {
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    lower == "localhost" || lower.ends_with(".localhost")
}

/// The servers named in a system configuration, with their ports.
fn system_servers(config: &ResolverConfig) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map_or(53, |c| c.port);
        let addr = SocketAddr::new(ns.ip, port);
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    out
}

fn name_servers(servers: &[SocketAddr]) -> Vec<NameServerConfig> {
    servers
        .iter()
        .map(|s| {
            let mut ns = NameServerConfig::udp_and_tcp(s.ip());
            for c in &mut ns.connections {
                c.port = s.port();
            }
            ns
        })
        .collect()
}

fn build(config: ResolverConfig, opts: ResolverOpts) -> Result<TokioResolver, ResolverError> {
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    *builder.options_mut() = opts;
    builder
        .build()
        .map_err(|e| ResolverError::Build(e.to_string().to_lowercase()))
}

fn fqdn(host: &str) -> String {
    if host.ends_with('.') {
        host.to_owned()
    } else {
        format!("{host}.")
    }
}

/// Runs the queries concurrently and returns their exchanges in order.
async fn futures_join<F>(queries: impl IntoIterator<Item = F>) -> Vec<ServerExchange>
where
    F: std::future::Future<Output = ServerExchange> + Send + 'static,
{
    let handles: Vec<_> = queries.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(e) = h.await {
            out.push(e);
        }
    }
    out
}

/// One query to one server, cut at the deadline.
fn ask(
    server: SocketAddr,
    resolver: &TokioResolver,
    name: String,
    record_type: RecordType,
    deadline: Duration,
) -> impl std::future::Future<Output = ServerExchange> + Send + 'static {
    let resolver = resolver.clone();
    async move {
        let started = Instant::now();
        let result =
            tokio::time::timeout(deadline, resolver.lookup(name.as_str(), record_type)).await;
        let (outcome, records) = match result {
            Err(_) => (QueryOutcome::Timeout, Vec::new()),
            Ok(Err(e)) => (classify(&e), Vec::new()),
            Ok(Ok(lookup)) => {
                let records: Vec<String> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| render(&r.data))
                    .collect();
                if records.is_empty() {
                    (QueryOutcome::NoData, records)
                } else {
                    (QueryOutcome::Answer, records)
                }
            }
        };
        tracing::trace!(%server, %record_type, name, ?outcome, "dns query");
        ServerExchange {
            server,
            record_type: match record_type {
                RecordType::A => "A",
                RecordType::AAAA => "AAAA",
                _ => "SRV",
            },
            outcome,
            records,
            elapsed: started.elapsed(),
        }
    }
}

fn render(data: &RData) -> Option<String> {
    match data {
        RData::A(a) => Some(a.0.to_string()),
        RData::AAAA(a) => Some(a.0.to_string()),
        RData::SRV(s) => Some(format!(
            "{} {} {} {}",
            s.priority,
            s.weight,
            s.port,
            s.target.to_string().trim_end_matches('.')
        )),
        _ => None,
    }
}

fn parse_srv_rendering(r: &str) -> Option<SrvTarget> {
    let mut it = r.split(' ');
    Some(SrvTarget {
        priority: it.next()?.parse().ok()?,
        weight: it.next()?.parse().ok()?,
        port: it.next()?.parse().ok()?,
        target: it.next()?.to_owned(),
    })
}

/// Classifies a hickory error as one server's outcome.
fn classify(err: &NetError) -> QueryOutcome {
    match err {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => match nr.response_code {
            ResponseCode::NXDomain => QueryOutcome::NxDomain,
            ResponseCode::NoError => QueryOutcome::NoData,
            code => code_outcome(code),
        },
        NetError::Dns(DnsError::ResponseCode(code)) => code_outcome(*code),
        NetError::Timeout => QueryOutcome::Timeout,
        NetError::Io(e) => io_outcome(e),
        NetError::NoConnections => QueryOutcome::Unreachable("no connections available".into()),
        NetError::Proto(p) if p.to_string().to_lowercase().contains("timed out") => {
            QueryOutcome::Timeout
        }
        other => QueryOutcome::Error(other.to_string().to_lowercase()),
    }
}

fn code_outcome(code: ResponseCode) -> QueryOutcome {
    match code {
        ResponseCode::NXDomain => QueryOutcome::NxDomain,
        ResponseCode::ServFail => QueryOutcome::ServFail,
        ResponseCode::Refused => QueryOutcome::Refused,
        ResponseCode::NoError => QueryOutcome::NoData,
        other => QueryOutcome::OtherCode(format!("{other:?}").to_uppercase()),
    }
}

fn io_outcome(e: &io::Error) -> QueryOutcome {
    match e.kind() {
        io::ErrorKind::TimedOut => QueryOutcome::Timeout,
        _ => QueryOutcome::Unreachable(super::io_message(e)),
    }
}

/// One failure from the outcomes of all servers: an authoritative "no" wins
/// over a server error, a server error over silence.
fn aggregate(exchanges: &[ServerExchange], no_servers: bool) -> DnsFailure {
    if no_servers || exchanges.is_empty() {
        return DnsFailure::NoServers;
    }
    let has = |o: &QueryOutcome| exchanges.iter().any(|e| &e.outcome == o);
    if has(&QueryOutcome::NxDomain) {
        return DnsFailure::NxDomain;
    }
    if has(&QueryOutcome::NoData) || has(&QueryOutcome::Answer) {
        return DnsFailure::NoData;
    }
    if has(&QueryOutcome::ServFail) {
        return DnsFailure::ServFail;
    }
    if has(&QueryOutcome::Refused) {
        return DnsFailure::Refused;
    }
    if let Some(QueryOutcome::OtherCode(c)) = exchanges
        .iter()
        .map(|e| &e.outcome)
        .find(|o| matches!(o, QueryOutcome::OtherCode(_)))
    {
        return DnsFailure::OtherCode(c.clone());
    }
    if has(&QueryOutcome::Timeout) {
        return DnsFailure::Timeout;
    }
    if exchanges
        .iter()
        .all(|e| matches!(e.outcome, QueryOutcome::Unreachable(_)))
    {
        return DnsFailure::NoReachableServer;
    }
    match exchanges.iter().find_map(|e| match &e.outcome {
        QueryOutcome::Error(m) => Some(m.clone()),
        _ => None,
    }) {
        Some(m) if m.contains("label") || m.contains("name") => DnsFailure::InvalidName(m),
        Some(m) => DnsFailure::Other(m),
        None => DnsFailure::NoReachableServer,
    }
}

/// The failure a single traffic outcome stands for.
fn failure_of(o: &QueryOutcome) -> DnsFailure {
    match o {
        QueryOutcome::Answer | QueryOutcome::NoData => DnsFailure::NoData,
        QueryOutcome::NxDomain => DnsFailure::NxDomain,
        QueryOutcome::ServFail => DnsFailure::ServFail,
        QueryOutcome::Refused => DnsFailure::Refused,
        QueryOutcome::OtherCode(c) => DnsFailure::OtherCode(c.clone()),
        QueryOutcome::Timeout => DnsFailure::Timeout,
        QueryOutcome::Unreachable(_) => DnsFailure::NoReachableServer,
        QueryOutcome::Error(m) => DnsFailure::Other(m.clone()),
    }
}

fn unique(it: impl Iterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for a in it {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

struct ReqwestAdapter(Resolver);

impl reqwest::dns::Resolve for ReqwestAdapter {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = resolver.resolve(&host).await?;
            tracing::debug!(host, ?ips, "resolved for traffic");
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// What the operating system's resolver (getaddrinfo) said about a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemLookup {
    /// The name.
    pub host: String,
    /// The addresses, IPv4 first, without duplicates.
    pub addresses: Vec<IpAddr>,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether it was cut at the deadline.
    pub timed_out: bool,
    /// How long it took.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

/// Asks the operating system's resolver (getaddrinfo, with /etc/hosts and
/// nsswitch) about a host, cut at the deadline.
pub async fn system_lookup(host: &str, deadline: Duration) -> SystemLookup {
    let started = Instant::now();
    let result = tokio::time::timeout(deadline, tokio::net::lookup_host((host, 0))).await;
    let (addresses, error, timed_out) = match result {
        Err(_) => (Vec::new(), Some("timed out".to_owned()), true),
        Ok(Err(e)) => (Vec::new(), Some(super::io_message(&e)), false),
        Ok(Ok(addrs)) => {
            let mut v4 = BTreeSet::new();
            let mut v6 = BTreeSet::new();
            for a in addrs {
                match a.ip() {
                    ip @ IpAddr::V4(_) => v4.insert(ip),
                    ip @ IpAddr::V6(_) => v6.insert(ip),
                };
            }
            (v4.into_iter().chain(v6).collect(), None, false)
        }
    };
    SystemLookup {
        host: host.to_owned(),
        addresses,
        error,
        timed_out,
        elapsed: started.elapsed(),
    }
}

/// How the tool's resolver and the system's compare for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Agreement {
    /// The same set of addresses.
    Same,
    /// Both resolved, to different addresses (split horizon, /etc/hosts).
    Different {
        /// Addresses only the tool's resolver gave.
        only_ours: Vec<IpAddr>,
        /// Addresses only the system gave.
        only_system: Vec<IpAddr>,
    },
    /// Only the tool's resolver found addresses.
    OnlyOurs,
    /// Only the system found addresses (for example from /etc/hosts).
    OnlySystem,
    /// Neither resolved it.
    Neither,
}

/// Compares the tool's lookup with the system's.
#[must_use]
pub fn compare_with_system(ours: &HostLookup, system: &SystemLookup) -> Agreement {
    match (ours.addresses.is_empty(), system.addresses.is_empty()) {
        (true, true) => Agreement::Neither,
        (false, true) => Agreement::OnlyOurs,
        (true, false) => Agreement::OnlySystem,
        (false, false) => {
            let only_ours: Vec<IpAddr> = ours
                .addresses
                .iter()
                .filter(|a| !system.addresses.contains(a))
                .copied()
                .collect();
            let only_system: Vec<IpAddr> = system
                .addresses
                .iter()
                .filter(|a| !ours.addresses.contains(a))
                .copied()
                .collect();
            if only_ours.is_empty() && only_system.is_empty() {
                Agreement::Same
            } else {
                Agreement::Different {
                    only_ours,
                    only_system,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(outcome: QueryOutcome) -> ServerExchange {
        ServerExchange {
            server: "127.0.0.1:53".parse().unwrap(),
            record_type: "A",
            outcome,
            records: vec![],
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn nxdomain_wins_over_servfail_and_silence() {
        let got = aggregate(
            &[
                ex(QueryOutcome::Timeout),
                ex(QueryOutcome::ServFail),
                ex(QueryOutcome::NxDomain),
            ],
            false,
        );
        assert_eq!(got, DnsFailure::NxDomain);
    }

    #[test]
    fn servfail_wins_over_silence_and_refused() {
        let got = aggregate(
            &[
                ex(QueryOutcome::Timeout),
                ex(QueryOutcome::Refused),
                ex(QueryOutcome::ServFail),
            ],
            false,
        );
        assert_eq!(got, DnsFailure::ServFail);
    }

    #[test]
    fn all_unreachable_is_no_reachable_server() {
        let got = aggregate(&[ex(QueryOutcome::Unreachable("x".into()))], false);
        assert_eq!(got, DnsFailure::NoReachableServer);
        let got = aggregate(
            &[
                ex(QueryOutcome::Unreachable("x".into())),
                ex(QueryOutcome::Timeout),
            ],
            false,
        );
        assert_eq!(got, DnsFailure::Timeout);
    }

    #[test]
    fn no_servers() {
        assert_eq!(aggregate(&[], true), DnsFailure::NoServers);
    }

    #[test]
    fn comparison() {
        let ours = HostLookup {
            host: "h".into(),
            addresses: vec!["127.0.0.9".parse().unwrap()],
            exchanges: vec![],
            failure: None,
            elapsed: Duration::ZERO,
        };
        let sys = SystemLookup {
            host: "h".into(),
            addresses: vec!["127.0.0.1".parse().unwrap()],
            error: None,
            timed_out: false,
            elapsed: Duration::ZERO,
        };
        assert_eq!(
            compare_with_system(&ours, &sys),
            Agreement::Different {
                only_ours: vec!["127.0.0.9".parse().unwrap()],
                only_system: vec!["127.0.0.1".parse().unwrap()],
            }
        );
        assert_eq!(
            compare_with_system(&ours, &ours_as_system(&ours)),
            Agreement::Same
        );
    }

    fn ours_as_system(h: &HostLookup) -> SystemLookup {
        SystemLookup {
            host: h.host.clone(),
            addresses: h.addresses.clone(),
            error: None,
            timed_out: false,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn srv_rendering_round_trips() {
        let t = parse_srv_rendering("10 60 443 xsp1.example.test").unwrap();
        assert_eq!(t.port, 443);
        assert_eq!(t.target, "xsp1.example.test");
    }
}
