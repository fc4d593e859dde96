//! The network layer: the resolver, the proxy handshake, the loopback relay,
//! the TLS probe and the one HTTP client of the tool.
//!
//! Everything here returns facts, not findings: typed results that carry what
//! was measured (addresses, servers asked and answered, status lines,
//! challenges, certificate chains, timings) and typed classifications of what
//! went wrong. The checks turn those into evidence and finding codes; `net`
//! knows nothing of them.
//!
//! Data flows one way: the resolver is built once from [`DnsSettings`], the
//! trust store once from [`TlsSettings`], and [`http::build_client`] builds
//! the client that every request of a run goes through, so what the checks
//! report is what the traffic saw.

pub mod auth;
mod head;
pub mod http;
pub mod proxy_probe;
pub mod relay;
pub mod resolver;
pub mod settings;
mod stream;
pub mod tls;
pub mod tls_probe;
mod x509;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use auth::Challenge;
pub use http::{ClientSettings, HttpClient, build_client};
pub use proxy_probe::{ProtocolMismatch, ProxyFailure, ProxyProbe, probe_proxy};
pub use relay::Relay;
pub use resolver::{
    Agreement, DnsFailure, HostLookup, QueryOutcome, Resolver, SrvLookup, SystemLookup,
    compare_with_system, system_lookup,
};
pub use settings::{DnsSettings, ProxyAuthMode, ProxySettings, ProxyTransport, TlsSettings};
pub use stream::ConnectFailure;
pub use tls::{CertificateSummary, TlsFailure, TlsTrust, install_crypto_provider};
pub use tls_probe::{Route, TlsProbe, TlsProbeFailure, probe_tls};

/// `localhost`, a `*.localhost` name, 127.0.0.0/8 or `::1`.
#[must_use]
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let lower = host.to_ascii_lowercase();
    lower == "localhost"
        || lower.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A host and a port, as in a CONNECT request target (`host:port`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Authority {
    /// A DNS name or an IP address literal, without brackets.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl Authority {
    /// Builds an authority from a host and a port.
    #[must_use]
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// The authority of an `https` host on port 443.
    #[must_use]
    pub fn https(host: impl Into<String>) -> Self {
        Self::new(host, 443)
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A phase of a network operation, for timings and timeout classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Name resolution.
    Resolve,
    /// The TCP connection.
    Connect,
    /// The TLS handshake with a proxy reached over `https`.
    ProxyTls,
    /// The first CONNECT request and its response.
    ProxyConnect,
    /// A CONNECT request carrying credentials and its response.
    ProxyAuthenticate,
    /// Finding out what a peer that does not speak HTTP speaks.
    ProtocolSniff,
    /// The TLS handshake with the origin.
    TlsHandshake,
    /// A small HTTP request to the origin and its response head.
    HttpRequest,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::ProxyTls => "proxy tls",
            Phase::ProxyConnect => "proxy connect",
            Phase::ProxyAuthenticate => "proxy authenticate",
            Phase::ProtocolSniff => "protocol sniff",
            Phase::TlsHandshake => "tls handshake",
            Phase::HttpRequest => "http request",
        })
    }
}

/// How long one phase took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PhaseTiming {
    /// The phase.
    pub phase: Phase,
    /// Its duration, serialised in milliseconds.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

/// Serialises a duration as milliseconds with a tenth of a millisecond.
pub(crate) fn serialize_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10_000.0).round() / 10.0)
}

/// Renders an I/O error kind and message the way our messages read: lowercase.
pub(crate) fn io_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("{:?}", err.kind()).to_lowercase(),
    }
}
