//! The internet probe: TCP and TLS to a required host, directly or through a
//! CONNECT tunnel, then one small HTTP request for the server's clock.
//!
//! reqwest cannot show the certificate chain of a tunnelled connection, so
//! the probe does its own handshake with tokio-rustls and the tool's trust
//! store. It names the chain's subjects and issuers even when the chain is
//! refused, which is how a TLS-inspecting proxy shows itself: a chain
//! issued by the corporate CA instead of a public one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use super::head::{self, HeadError};
use super::proxy_probe::{self, ProxyFailure, ProxyProbe, Style};
use super::resolver::{DnsFailure, Resolver};
use super::settings::ProxySettings;
use super::stream::{self, BoxIo, ConnectFailure, FirstBytes};
use super::tls::{self, CertificateSummary, TlsTrust};
use super::{Authority, Phase, PhaseTiming, serialize_ms};

pub use super::tls::TlsFailure;

/// How the probe reaches the host.
#[derive(Debug, Clone, Copy)]
pub enum Route<'a> {
    /// A direct TCP connection.
    Direct,
    /// A CONNECT tunnel through this proxy.
    Proxy(&'a ProxySettings),
}

/// Why the probe did not complete a TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum TlsProbeFailure {
    /// The host does not resolve (direct route).
    Resolve {
        /// The classification.
        failure: DnsFailure,
    },
    /// The TCP connection failed (direct route).
    Connect {
        /// The classification.
        failure: ConnectFailure,
    },
    /// The proxy did not open the tunnel.
    Proxy {
        /// The classification; the whole handshake is in `proxy`.
        failure: ProxyFailure,
    },
    /// A phase did not end before the deadline.
    Timeout {
        /// The phase that was cut.
        phase: Phase,
    },
    /// The TLS handshake failed.
    Tls {
        /// The classification.
        failure: TlsFailure,
    },
}

/// Why the small HTTP request after the handshake gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum HttpFailure {
    /// No response head before the deadline.
    Timeout,
    /// The server closed the connection without a response.
    Closed,
    /// The response is not HTTP/1.
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

/// The origin's answer to `HEAD /`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OriginResponse {
    /// `HTTP/1.1 404 Not Found`, for example; any status will do.
    pub status_line: String,
    /// The `Server` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The `Date` header, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// Everything the probe saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsProbe {
    /// The host and port.
    pub target: Authority,
    /// Whether the route was through a proxy.
    pub via_proxy: bool,
    /// The host's addresses (direct route; through a proxy, the proxy
    /// resolves the name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<SocketAddr>,
    /// The address connected to (direct route).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_to: Option<SocketAddr>,
    /// The tunnel's handshake (proxy route).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyProbe>,
    /// The negotiated TLS version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// The negotiated cipher suite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The chain the server presented, leaf first (also when refused).
    pub chain: Vec<CertificateSummary>,
    /// Whether the chain verified against the trust store for this name.
    pub trusted: bool,
    /// The answer to `HEAD /`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<OriginResponse>,
    /// The server's clock from its `Date` header, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_time: Option<String>,
    /// Server clock minus ours, in seconds (the `Date` header has a
    /// resolution of one second).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_secs: Option<i64>,
    /// Why there is no TLS session, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<TlsProbeFailure>,
    /// Why there is no HTTP response, after a good handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_failure: Option<HttpFailure>,
    /// Time per phase.
    pub timings: Vec<PhaseTiming>,
    /// Wall time of the whole probe.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

/// Probes TCP and TLS to `target` by `route`, then sends `HEAD /` for the
/// server's `Date`. Ends within `deadline`.
pub async fn probe_tls(
    target: &Authority,
    route: Route<'_>,
    resolver: &Resolver,
    trust: &TlsTrust,
    deadline: Duration,
) -> TlsProbe {
    let started = Instant::now();
    let end = started + deadline;
    let mut p = TlsProbe {
        target: target.clone(),
        via_proxy: matches!(route, Route::Proxy(_)),
        addresses: Vec::new(),
        connected_to: None,
        proxy: None,
        tls_version: None,
        cipher_suite: None,
        chain: Vec::new(),
        trusted: false,
        response: None,
        server_time: None,
        clock_offset_secs: None,
        failure: None,
        http_failure: None,
        timings: Vec::new(),
        elapsed: Duration::ZERO,
    };
    if let Err(f) = run(&mut p, route, resolver, trust, end).await {
        tracing::debug!(target = %p.target, failure = ?f, "tls probe failed");
        p.failure = Some(f);
    }
    p.elapsed = started.elapsed();
    p
}

async fn run(
    p: &mut TlsProbe,
    route: Route<'_>,
    resolver: &Resolver,
    trust: &TlsTrust,
    end: Instant,
) -> Result<(), TlsProbeFailure> {
    let io: BoxIo = match route {
        Route::Direct => Box::new(direct(p, resolver, end).await?),
        Route::Proxy(proxy) => {
            let left = end.saturating_duration_since(Instant::now());
            let (probe, tunnel) =
                proxy_probe::handshake(proxy, resolver, trust, &p.target, left, Style::Tunnel)
                    .await;
            p.timings.extend(probe.timings.iter().copied());
            let failure = probe.failure.clone();
            p.proxy = Some(probe);
            match (tunnel, failure) {
                (Some(t), _) => Box::new(t),
                (None, Some(failure)) => return Err(TlsProbeFailure::Proxy { failure }),
                (None, None) => {
                    return Err(TlsProbeFailure::Proxy {
                        failure: ProxyFailure::ClosedWithoutResponse,
                    });
                }
            }
        }
    };

    let t = Instant::now();
    let (config, verifier) = trust.client_config(&[b"http/1.1"]);
    let connector = TlsConnector::from(Arc::new(config));
    let host = p.target.host.clone();
    let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| {
        TlsProbeFailure::Tls {
            failure: TlsFailure::Handshake {
                reason: format!("'{host}' is not a valid tls server name"),
            },
        }
    })?;
    let (wrapped, seen) = FirstBytes::new(io);
    let tls = match timeout_at(end, connector.connect(name, wrapped)).await {
        Err(_) => {
            p.chain = verifier.last_chain();
            return Err(TlsProbeFailure::Timeout {
                phase: Phase::TlsHandshake,
            });
        }
        Ok(Err(e)) => {
            p.chain = verifier.last_chain();
            let failure = tls::classify(&e, &p.chain, &host, &stream::kept(&seen));
            return Err(TlsProbeFailure::Tls { failure });
        }
        Ok(Ok(s)) => s,
    };
    p.timings.push(PhaseTiming {
        phase: Phase::TlsHandshake,
        elapsed: t.elapsed(),
    });
    p.chain = verifier.last_chain();
    p.trusted = true;
    let (_, session) = tls.get_ref();
    p.tls_version = session
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."));
    p.cipher_suite = session
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));

    origin_date(p, tls, end).await;
    Ok(())
}

/// Resolves and connects directly.
async fn direct(
    p: &mut TlsProbe,
    resolver: &Resolver,
    end: Instant,
) -> Result<tokio::net::TcpStream, TlsProbeFailure> {
    let t = Instant::now();
    let ips = match timeout_at(end, resolver.resolve(&p.target.host)).await {
        Err(_) => {
            return Err(TlsProbeFailure::Timeout {
                phase: Phase::Resolve,
            });
        }
        Ok(Err(e)) => return Err(TlsProbeFailure::Resolve { failure: e.failure }),
        Ok(Ok(ips)) => ips,
    };
    p.timings.push(PhaseTiming {
        phase: Phase::Resolve,
        elapsed: t.elapsed(),
    });
    p.addresses = ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, p.target.port))
        .collect();

    let t = Instant::now();
    let (tcp, addr) =
        stream::connect(&p.addresses, end)
            .await
            .map_err(|failure| match failure {
                ConnectFailure::Timeout => TlsProbeFailure::Timeout {
                    phase: Phase::Connect,
                },
                failure => TlsProbeFailure::Connect { failure },
            })?;
    p.timings.push(PhaseTiming {
        phase: Phase::Connect,
        elapsed: t.elapsed(),
    });
    p.connected_to = Some(addr);
    Ok(tcp)
}

/// Sends `HEAD /` and reads the status line, `Server` and `Date`.
async fn origin_date<S>(p: &mut TlsProbe, mut tls: S, end: Instant)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let t = Instant::now();
    let host = match (p.target.port, p.target.host.contains(':')) {
        (443, true) => format!("[{}]", p.target.host),
        (443, false) => p.target.host.clone(),
        _ => p.target.to_string(),
    };
    let request = format!(
        "HEAD / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wxc-preflight/{}\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let exchange = async {
        tls.write_all(request.as_bytes())
            .await
            .map_err(HeadError::Io)?;
        tls.flush().await.map_err(HeadError::Io)?;
        let mut reader = BufReader::new(&mut tls);
        head::read_response_head(&mut reader).await
    };
    let result = timeout_at(end, exchange).await;
    let local = jiff::Timestamp::now();
    let head = match result {
        Err(_) => {
            p.http_failure = Some(HttpFailure::Timeout);
            return;
        }
        Ok(Err(HeadError::Closed { .. } | HeadError::Io(_))) => {
            p.http_failure = Some(HttpFailure::Closed);
            return;
        }
        Ok(Err(HeadError::NotHttp { first_bytes })) => {
            p.http_failure = Some(HttpFailure::Invalid {
                reason: format!("not http: {}", head::excerpt(&first_bytes)),
            });
            return;
        }
        Ok(Err(HeadError::TooLarge)) => {
            p.http_failure = Some(HttpFailure::Invalid {
                reason: "response head larger than 16 kib".into(),
            });
            return;
        }
        Ok(Err(HeadError::Invalid(reason))) => {
            p.http_failure = Some(HttpFailure::Invalid { reason });
            return;
        }
        Ok(Ok(h)) => h,
    };
    p.timings.push(PhaseTiming {
        phase: Phase::HttpRequest,
        elapsed: t.elapsed(),
    });
    let date = head.header("date").map(str::to_owned);
    if let Some(server_ts) = date.as_deref().and_then(parse_http_date) {
        p.server_time = Some(server_ts.to_string());
        p.clock_offset_secs = Some(server_ts.as_second() - local.as_second());
    }
    p.response = Some(OriginResponse {
        status_line: head.status_line(),
        server: head.header("server").map(str::to_owned),
        date,
    });
}

/// Parses an HTTP date (IMF-fixdate, which RFC 2822 parsing accepts).
fn parse_http_date(s: &str) -> Option<jiff::Timestamp> {
    jiff::fmt::rfc2822::parse(s.trim())
        .ok()
        .map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_parse() {
        let ts = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(ts.to_string(), "1994-11-06T08:49:37Z");
        assert!(parse_http_date("yesterday").is_none());
    }
}
