//! The CONNECT handshake with an HTTP proxy, done by hand so that every step
//! is a fact: which address answered, what the proxy said to a bare CONNECT,
//! every `Proxy-Authenticate` challenge, what it said to our credentials,
//! and how long each phase took.
//!
//! The same handshake serves two callers. [`probe_proxy`] is the proxy
//! check's: it always asks first without credentials, to read the offered
//! schemes, and when the peer does not answer in HTTP it finds out what the
//! peer is (a TLS endpoint, SOCKS). The relay asks it for a working tunnel:
//! Basic credentials go with the first request, Digest answers a fresh
//! challenge per connection, and a stale nonce is answered once more.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use super::auth::{self, AnswerError, Challenge, Credentials};
use super::head::{self, HeadError, ResponseHead};
use super::resolver::{DnsFailure, Resolver};
use super::settings::{ProxyAuthMode, ProxySettings, ProxyTransport};
use super::stream::{self, BoxIo, ConnectFailure, FirstBytes};
use super::tls::{self, TlsFailure, TlsTrust};
use super::{Authority, Phase, PhaseTiming, serialize_ms};

/// The stream of an established tunnel; bytes the proxy sent after its
/// `200` are still in the buffer.
pub(crate) type Tunnel = BufReader<BoxIo>;

/// The largest error body drained to keep a connection for the next step.
const DRAIN_LIMIT: u64 = 64 * 1024;

/// What the peer at the proxy address speaks instead of what was configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProtocolMismatch {
    /// A TLS endpoint, reached with plain HTTP (the URL should be `https://`).
    TlsProxy,
    /// A plain HTTP proxy, reached with TLS (the URL should be `http://`).
    PlainHttpProxy,
    /// A SOCKS proxy.
    Socks {
        /// 4 or 5.
        version: u8,
    },
    /// An HTTP server that refuses CONNECT or answers it as a web page.
    NotAProxy {
        /// Its status line.
        status_line: String,
    },
    /// Something else.
    Unknown {
        /// Its first bytes, escaped.
        first_bytes: String,
    },
}

/// Why no tunnel was established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum ProxyFailure {
    /// The proxy URL cannot be used.
    InvalidUrl {
        /// Why.
        reason: String,
    },
    /// The proxy's host name does not resolve.
    Resolve {
        /// The resolver's classification.
        failure: DnsFailure,
    },
    /// Every proxy address refused the connection: nothing listens there.
    Refused,
    /// No route, host unreachable.
    Unreachable {
        /// The system's words.
        reason: String,
    },
    /// A phase did not end before the deadline: at `connect` the proxy does
    /// not answer; later, it accepted and then stayed silent.
    Timeout {
        /// The phase that was cut.
        phase: Phase,
    },
    /// The TLS handshake with an `https://` proxy failed.
    ProxyTls {
        /// The classification.
        failure: TlsFailure,
    },
    /// The peer speaks another protocol.
    WrongProtocol {
        /// What it speaks.
        mismatch: ProtocolMismatch,
    },
    /// The peer closed the connection without a word.
    ClosedWithoutResponse,
    /// The peer's answer is not valid HTTP.
    InvalidResponse {
        /// What is wrong.
        reason: String,
    },
    /// The proxy demands credentials and the mode is `none`.
    AuthRequired {
        /// The schemes it offers.
        offered: Vec<String>,
    },
    /// The mode needs credentials and the user name or password is missing.
    CredentialsMissing,
    /// The configured scheme is not among those offered.
    AuthSchemeMismatch {
        /// The configured mode.
        configured: ProxyAuthMode,
        /// The schemes offered.
        offered: Vec<String>,
    },
    /// The configured scheme's challenge cannot be answered.
    ChallengeUnusable {
        /// Why.
        reason: String,
    },
    /// The proxy refused our credentials (407, or 401 from some proxies).
    AuthRejected {
        /// The status.
        status: u16,
    },
    /// The proxy refused CONNECT to the target (403 by its rules).
    DomainBlocked {
        /// The status.
        status: u16,
    },
    /// The proxy could not reach or resolve the target (500, 502, 503, 504).
    UpstreamFailure {
        /// The status.
        status: u16,
    },
    /// Another status.
    UnexpectedStatus {
        /// The status.
        status: u16,
    },
    /// Writing to the proxy failed.
    Io {
        /// The system's words.
        reason: String,
    },
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyFailure::InvalidUrl { reason } => write!(f, "invalid proxy url: {reason}"),
            ProxyFailure::Resolve { failure } => {
                write!(f, "proxy host does not resolve: {failure}")
            }
            ProxyFailure::Refused => f.write_str("the proxy port refused the connection"),
            ProxyFailure::Unreachable { reason } => write!(f, "the proxy is unreachable: {reason}"),
            ProxyFailure::Timeout { phase } => write!(f, "the proxy timed out at {phase}"),
            ProxyFailure::ProxyTls { failure } => write!(f, "tls to the proxy failed: {failure:?}"),
            ProxyFailure::WrongProtocol { mismatch } => {
                write!(f, "the proxy speaks another protocol: {mismatch:?}")
            }
            ProxyFailure::ClosedWithoutResponse => {
                f.write_str("the proxy closed without answering")
            }
            ProxyFailure::InvalidResponse { reason } => {
                write!(f, "invalid proxy response: {reason}")
            }
            ProxyFailure::AuthRequired { offered } => {
                write!(
                    f,
                    "the proxy requires authentication ({})",
                    offered.join(", ")
                )
            }
            ProxyFailure::CredentialsMissing => f.write_str("proxy credentials are missing"),
            ProxyFailure::AuthSchemeMismatch {
                configured,
                offered,
            } => write!(
                f,
                "the proxy does not offer {configured} (it offers {})",
                offered.join(", ")
            ),
            ProxyFailure::ChallengeUnusable { reason } => {
                write!(f, "the proxy's challenge cannot be answered: {reason}")
            }
            ProxyFailure::AuthRejected { status } => {
                write!(f, "the proxy rejected the credentials ({status})")
            }
            ProxyFailure::DomainBlocked { status } => {
                write!(f, "the proxy refused the destination ({status})")
            }
            ProxyFailure::UpstreamFailure { status } => {
                write!(f, "the proxy could not reach the destination ({status})")
            }
            ProxyFailure::UnexpectedStatus { status } => {
                write!(f, "the proxy answered {status}")
            }
            ProxyFailure::Io { reason } => write!(f, "proxy connection failed: {reason}"),
        }
    }
}

/// One CONNECT request and the proxy's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectExchange {
    /// The scheme of the credentials sent, if any (never their value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_credentials: Option<ProxyAuthMode>,
    /// `HTTP/1.1 407 Proxy Authentication Required`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// The challenges of this response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub challenges: Vec<Challenge>,
    /// Squid's `X-Squid-Error`, naming the reason of a refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_error: Option<String>,
    /// The start of the error page, if one came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_excerpt: Option<String>,
    /// Request written to response head read.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

/// Everything the handshake with the proxy showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyProbe {
    /// The proxy URL, as configured (it holds no credentials).
    pub proxy_url: String,
    /// Plain HTTP or TLS to the proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<ProxyTransport>,
    /// The CONNECT target.
    pub target: Authority,
    /// The configured authentication mode.
    pub auth_mode: ProxyAuthMode,
    /// The proxy's addresses.
    pub addresses: Vec<SocketAddr>,
    /// The address that accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_to: Option<SocketAddr>,
    /// Each CONNECT and its response.
    pub exchanges: Vec<ConnectExchange>,
    /// The challenges of the first 407: every scheme the proxy offers.
    pub challenges: Vec<Challenge>,
    /// Whether the proxy demanded credentials.
    pub auth_required: bool,
    /// Whether Basic credentials were sent over plain TCP.
    pub basic_cleartext: bool,
    /// `Via` headers seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// The `Server` header seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Whether the tunnel was established.
    pub tunnel_established: bool,
    /// Why not, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<ProxyFailure>,
    /// Time per phase.
    pub timings: Vec<PhaseTiming>,
    /// Wall time of the whole handshake.
    #[serde(rename = "ms", serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

impl ProxyProbe {
    /// The schemes offered, in the proxy's order.
    #[must_use]
    pub fn offered_schemes(&self) -> Vec<String> {
        self.challenges.iter().map(|c| c.scheme.clone()).collect()
    }
}

/// Probes the proxy: connects (TLS too for `https://`), sends CONNECT to the
/// target without credentials, reads every challenge, answers the
/// configured scheme, and classifies the outcome. Ends within `deadline`.
pub async fn probe_proxy(
    proxy: &ProxySettings,
    resolver: &Resolver,
    trust: &TlsTrust,
    target: &Authority,
    deadline: Duration,
) -> ProxyProbe {
    handshake(proxy, resolver, trust, target, deadline, Style::Probe)
        .await
        .0
}

/// Who asks for the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// The proxy check: bare CONNECT first, sniff a peer that is not HTTP.
    Probe,
    /// The relay and the TLS probe: the quickest working tunnel.
    Tunnel,
}

/// Runs the handshake; returns the facts and, on success, the tunnel.
pub(crate) async fn handshake(
    proxy: &ProxySettings,
    resolver: &Resolver,
    trust: &TlsTrust,
    target: &Authority,
    deadline: Duration,
    style: Style,
) -> (ProxyProbe, Option<Tunnel>) {
    let started = Instant::now();
    let mut hs = Handshake {
        probe: ProxyProbe {
            proxy_url: redacted_url(proxy),
            transport: None,
            target: target.clone(),
            auth_mode: proxy.auth,
            addresses: Vec::new(),
            connected_to: None,
            exchanges: Vec::new(),
            challenges: Vec::new(),
            auth_required: false,
            basic_cleartext: false,
            via: Vec::new(),
            server: None,
            tunnel_established: false,
            failure: None,
            timings: Vec::new(),
            elapsed: Duration::ZERO,
        },
        proxy,
        trust,
        end: started + deadline,
        style,
        host: String::new(),
        target: target.to_string(),
        creds: match (&proxy.username, &proxy.password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => None,
        },
    };
    let result = hs.run(resolver).await;
    let mut probe = hs.probe;
    probe.elapsed = started.elapsed();
    match result {
        Ok(tunnel) => {
            probe.tunnel_established = true;
            tracing::debug!(proxy = %probe.proxy_url, target = %probe.target, ms = probe.elapsed.as_millis(), "tunnel established");
            (probe, Some(tunnel))
        }
        Err(failure) => {
            tracing::debug!(proxy = %probe.proxy_url, target = %probe.target, %failure, "no tunnel");
            probe.failure = Some(failure);
            (probe, None)
        }
    }
}

/// The URL without any user information.
fn redacted_url(proxy: &ProxySettings) -> String {
    let mut url = proxy.url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// Why an exchange produced no HTTP response.
enum NoHead {
    /// The peer sent these bytes (maybe none) and no HTTP head.
    NotHttp(Vec<u8>),
    /// A classified failure.
    Failed(ProxyFailure),
}

struct Handshake<'a> {
    probe: ProxyProbe,
    proxy: &'a ProxySettings,
    trust: &'a TlsTrust,
    end: Instant,
    style: Style,
    host: String,
    target: String,
    creds: Option<Credentials>,
}

impl Handshake<'_> {
    async fn run(&mut self, resolver: &Resolver) -> Result<Tunnel, ProxyFailure> {
        let (authority, transport) =
            self.proxy
                .endpoint()
                .map_err(|e| ProxyFailure::InvalidUrl {
                    reason: e.to_string(),
                })?;
        self.probe.transport = Some(transport);
        self.host.clone_from(&authority.host);

        let t = Instant::now();
        let ips = match timeout_at(self.end, resolver.resolve(&authority.host)).await {
            Err(_) => {
                return Err(ProxyFailure::Timeout {
                    phase: Phase::Resolve,
                });
            }
            Ok(Err(e)) => return Err(ProxyFailure::Resolve { failure: e.failure }),
            Ok(Ok(ips)) => ips,
        };
        self.time(Phase::Resolve, t);
        self.probe.addresses = ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, authority.port))
            .collect();

        let mut conn = self.open().await?;
        let mode = self.proxy.auth;
        let preemptive = match (self.style, mode, &self.creds) {
            (Style::Tunnel, ProxyAuthMode::Basic, Some(c)) => Some(auth::basic_answer(c)),
            _ => None,
        };
        let sent = preemptive.as_ref().map(|_| ProxyAuthMode::Basic);
        let (head, reusable) = match self
            .exchange(&mut conn, preemptive.as_ref(), sent, Phase::ProxyConnect)
            .await
        {
            Ok(r) => r,
            Err(NoHead::NotHttp(bytes)) => return Err(self.sniff(&bytes, transport).await),
            Err(NoHead::Failed(f)) => return Err(f),
        };

        match head.status {
            407 => {}
            401 if sent.is_some() => return Err(ProxyFailure::AuthRejected { status: 401 }),
            _ => {
                return match status_failure(&head, true) {
                    None => Ok(conn),
                    Some(f) => Err(f),
                };
            }
        }

        self.probe.auth_required = true;
        let values = head.all("proxy-authenticate");
        self.probe.challenges = auth::parse_challenges(&values);
        let offered = self.probe.offered_schemes();
        if mode == ProxyAuthMode::None {
            return Err(ProxyFailure::AuthRequired { offered });
        }
        let Some(creds) = self.creds.clone() else {
            return Err(ProxyFailure::CredentialsMissing);
        };
        if !self.probe.challenges.iter().any(|c| c.is_mode(mode)) {
            return Err(ProxyFailure::AuthSchemeMismatch {
                configured: mode,
                offered,
            });
        }
        if sent.is_some() {
            return Err(ProxyFailure::AuthRejected { status: 407 });
        }
        self.authenticate(conn, reusable, values, &creds).await
    }

    /// Answers the challenge; with Digest, a `stale=true` reply is answered
    /// once more with its fresh nonce.
    async fn authenticate(
        &mut self,
        mut conn: Tunnel,
        mut reusable: bool,
        mut values: Vec<String>,
        creds: &Credentials,
    ) -> Result<Tunnel, ProxyFailure> {
        let mode = self.proxy.auth;
        let mut answered_stale = false;
        loop {
            let answer = auth::answer(mode, &values, creds, "CONNECT", &self.target).map_err(
                |e| match e {
                    AnswerError::SchemeNotOffered => ProxyFailure::AuthSchemeMismatch {
                        configured: mode,
                        offered: self.probe.offered_schemes(),
                    },
                    AnswerError::Unusable { reason, .. } => {
                        ProxyFailure::ChallengeUnusable { reason }
                    }
                },
            )?;
            if !reusable {
                conn = self.open().await?;
            }
            let (head, again) = match self
                .exchange(
                    &mut conn,
                    Some(&answer),
                    Some(mode),
                    Phase::ProxyAuthenticate,
                )
                .await
            {
                Ok(r) => r,
                Err(NoHead::NotHttp(bytes)) if bytes.is_empty() => {
                    return Err(ProxyFailure::ClosedWithoutResponse);
                }
                Err(NoHead::NotHttp(bytes)) => {
                    return Err(ProxyFailure::InvalidResponse {
                        reason: format!("not http: {}", head::excerpt(&bytes)),
                    });
                }
                Err(NoHead::Failed(f)) => return Err(f),
            };
            match head.status {
                407 if mode == ProxyAuthMode::Digest
                    && !answered_stale
                    && auth::digest_stale(&head.all("proxy-authenticate")) =>
                {
                    tracing::debug!("digest nonce stale, answering the new one");
                    answered_stale = true;
                    values = head.all("proxy-authenticate");
                    reusable = again;
                }
                407 | 401 => {
                    return Err(ProxyFailure::AuthRejected {
                        status: head.status,
                    });
                }
                _ => {
                    return match status_failure(&head, false) {
                        None => Ok(conn),
                        Some(f) => Err(f),
                    };
                }
            }
        }
    }

    /// Connects to the proxy, with TLS for an `https://` proxy.
    async fn open(&mut self) -> Result<Tunnel, ProxyFailure> {
        let t = Instant::now();
        let (tcp, addr) = stream::connect(&self.probe.addresses, self.end)
            .await
            .map_err(|f| match f {
                ConnectFailure::Refused => ProxyFailure::Refused,
                ConnectFailure::Timeout => ProxyFailure::Timeout {
                    phase: Phase::Connect,
                },
                ConnectFailure::Unreachable(reason) => ProxyFailure::Unreachable { reason },
                ConnectFailure::NoAddresses => ProxyFailure::Resolve {
                    failure: DnsFailure::NoData,
                },
            })?;
        self.time(Phase::Connect, t);
        self.probe.connected_to = Some(addr);
        if self.probe.transport != Some(ProxyTransport::Https) {
            return Ok(BufReader::new(Box::new(tcp)));
        }

        let t = Instant::now();
        let (config, verifier) = self.trust.client_config(&[]);
        let connector = TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from(self.host.clone()).map_err(|_| {
            ProxyFailure::InvalidUrl {
                reason: format!("'{}' is not a valid tls server name", self.host),
            }
        })?;
        let (wrapped, seen) = FirstBytes::new(tcp);
        match timeout_at(self.end, connector.connect(name, wrapped)).await {
            Err(_) => Err(ProxyFailure::Timeout {
                phase: Phase::ProxyTls,
            }),
            Ok(Err(e)) => {
                let first = stream::kept(&seen);
                let failure = tls::classify(&e, &verifier.last_chain(), &self.host, &first);
                Err(match failure {
                    TlsFailure::PlainHttp => ProxyFailure::WrongProtocol {
                        mismatch: ProtocolMismatch::PlainHttpProxy,
                    },
                    TlsFailure::NotTls { .. } => ProxyFailure::WrongProtocol {
                        mismatch: mismatch_from_bytes(&first),
                    },
                    failure => ProxyFailure::ProxyTls { failure },
                })
            }
            Ok(Ok(tls)) => {
                self.time(Phase::ProxyTls, t);
                Ok(BufReader::new(Box::new(tls)))
            }
        }
    }

    /// Sends one CONNECT and reads the response head; drains an error body
    /// so the connection can carry the next request. Returns the head and
    /// whether the connection is still usable.
    async fn exchange(
        &mut self,
        conn: &mut Tunnel,
        auth: Option<&SecretString>,
        sent: Option<ProxyAuthMode>,
        phase: Phase,
    ) -> Result<(ResponseHead, bool), NoHead> {
        let t = Instant::now();
        let request = connect_request(&self.target, auth);
        let write = async {
            conn.get_mut().write_all(&request).await?;
            conn.get_mut().flush().await
        };
        match timeout_at(self.end, write).await {
            Err(_) => return Err(NoHead::Failed(ProxyFailure::Timeout { phase })),
            Ok(Err(e)) => {
                return Err(NoHead::Failed(ProxyFailure::Io {
                    reason: super::io_message(&e),
                }));
            }
            Ok(Ok(())) => {}
        }
        if sent == Some(ProxyAuthMode::Basic) && self.probe.transport == Some(ProxyTransport::Http)
        {
            self.probe.basic_cleartext = true;
        }

        let head = match timeout_at(self.end, head::read_response_head(conn)).await {
            Err(_) => return Err(NoHead::Failed(ProxyFailure::Timeout { phase })),
            Ok(Ok(h)) => h,
            Ok(Err(
                HeadError::Closed { received }
                | HeadError::NotHttp {
                    first_bytes: received,
                },
            )) => {
                return Err(NoHead::NotHttp(received));
            }
            Ok(Err(HeadError::Io(e))) if is_reset(&e) => return Err(NoHead::NotHttp(Vec::new())),
            Ok(Err(HeadError::Io(e))) => {
                return Err(NoHead::Failed(ProxyFailure::Io {
                    reason: super::io_message(&e),
                }));
            }
            Ok(Err(HeadError::TooLarge)) => {
                return Err(NoHead::Failed(ProxyFailure::InvalidResponse {
                    reason: "response head larger than 16 kib".into(),
                }));
            }
            Ok(Err(HeadError::Invalid(reason))) => {
                return Err(NoHead::Failed(ProxyFailure::InvalidResponse { reason }));
            }
        };
        let elapsed = t.elapsed();

        let mut reusable = head.keeps_alive();
        let mut body_excerpt = None;
        if !(200..300).contains(&head.status) {
            match head.content_length() {
                Some(0) => {}
                Some(len) if len <= DRAIN_LIMIT => {
                    match timeout_at(self.end, head::drain_body(conn, len)).await {
                        Ok(Ok(text)) => body_excerpt = Some(text),
                        _ => reusable = false,
                    }
                }
                _ => reusable = false,
            }
        }
        self.time(phase, t);

        for v in head.all("via") {
            if !self.probe.via.contains(&v) {
                self.probe.via.push(v);
            }
        }
        if let Some(s) = head.header("server") {
            self.probe.server = Some(s.to_owned());
        }
        let challenges = auth::parse_challenges(&head.all("proxy-authenticate"));
        tracing::debug!(
            target = %self.target,
            status = %head.status_line(),
            credentials = ?sent,
            ms = elapsed.as_millis(),
            "proxy connect"
        );
        self.probe.exchanges.push(ConnectExchange {
            sent_credentials: sent,
            status_line: head.status_line(),
            status: head.status,
            challenges,
            proxy_error: head.header("x-squid-error").map(str::to_owned),
            body_excerpt,
            elapsed,
        });
        Ok((head, reusable))
    }

    /// Works out what a peer that did not answer in HTTP is.
    async fn sniff(&mut self, first: &[u8], transport: ProxyTransport) -> ProxyFailure {
        if !first.is_empty() {
            return ProxyFailure::WrongProtocol {
                mismatch: mismatch_from_bytes(first),
            };
        }
        if self.style != Style::Probe || transport != ProxyTransport::Http {
            return ProxyFailure::ClosedWithoutResponse;
        }
        let Some(addr) = self.probe.connected_to else {
            return ProxyFailure::ClosedWithoutResponse;
        };
        let t = Instant::now();
        let found = if let Some(version) = self.try_socks(addr).await {
            Some(ProtocolMismatch::Socks { version })
        } else if self.try_tls(addr).await {
            Some(ProtocolMismatch::TlsProxy)
        } else {
            None
        };
        self.time(Phase::ProtocolSniff, t);
        match found {
            Some(mismatch) => ProxyFailure::WrongProtocol { mismatch },
            None => ProxyFailure::ClosedWithoutResponse,
        }
    }

    /// A SOCKS5 greeting offering "no authentication"; a SOCKS5 server
    /// answers `05 xx`.
    async fn try_socks(&self, addr: SocketAddr) -> Option<u8> {
        let end = self.sniff_end();
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
            s.write_all(&[0x05, 0x01, 0x00]).await.ok()?;
            let mut reply = [0u8; 2];
            s.read_exact(&mut reply).await.ok()?;
            (reply[0] == 0x05).then_some(5)
        };
        timeout_at(end, attempt).await.ok().flatten()
    }

    /// A TLS `ClientHello`; a TLS server answers with a handshake record or an
    /// alert, whatever it thinks of our certificate checks.
    async fn try_tls(&self, addr: SocketAddr) -> bool {
        let end = self.sniff_end();
        let (config, _) = self.trust.client_config(&[]);
        let connector = TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .unwrap_or_else(|_| rustls::pki_types::ServerName::try_from("proxy").expect("valid"));
        let attempt = async {
            let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
                return Vec::new();
            };
            let (wrapped, seen) = FirstBytes::new(tcp);
            let _ = connector.connect(name, wrapped).await;
            stream::kept(&seen)
        };
        let first = timeout_at(end, attempt).await.unwrap_or_default();
        matches!(first.as_slice(), [0x15 | 0x16, 0x03, ..])
    }

    /// Each sniff gets half of the time left, so both can run.
    fn sniff_end(&self) -> Instant {
        let now = Instant::now();
        now + self.end.saturating_duration_since(now) / 2
    }

    fn time(&mut self, phase: Phase, since: Instant) {
        self.probe.timings.push(PhaseTiming {
            phase,
            elapsed: since.elapsed(),
        });
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof
    )
}

/// The CONNECT request; zeroed when dropped, since it may carry credentials.
fn connect_request(target: &str, auth: Option<&SecretString>) -> Zeroizing<Vec<u8>> {
    let mut req = Zeroizing::new(Vec::with_capacity(256));
    req.extend_from_slice(
        format!(
            "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: wxc-preflight/{}\r\n\
             Proxy-Connection: Keep-Alive\r\n",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    );
    if let Some(a) = auth {
        req.extend_from_slice(b"Proxy-Authorization: ");
        req.extend_from_slice(a.expose_secret().as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Classifies a response to CONNECT other than 407; `None` is a tunnel.
fn status_failure(head: &ResponseHead, first: bool) -> Option<ProxyFailure> {
    let s = head.status;
    match s {
        200..=299 => {
            let page = head.content_length().is_some_and(|l| l > 0)
                || head.header("content-type").is_some();
            (first && page).then(|| ProxyFailure::WrongProtocol {
                mismatch: ProtocolMismatch::NotAProxy {
                    status_line: head.status_line(),
                },
            })
        }
        403 | 451 => Some(ProxyFailure::DomainBlocked { status: s }),
        400 | 401 | 404 | 405 | 501 if first => Some(ProxyFailure::WrongProtocol {
            mismatch: ProtocolMismatch::NotAProxy {
                status_line: head.status_line(),
            },
        }),
        500 | 502 | 503 | 504 => Some(ProxyFailure::UpstreamFailure { status: s }),
        _ => Some(ProxyFailure::UnexpectedStatus { status: s }),
    }
}

/// Names the protocol behind a peer's first bytes.
fn mismatch_from_bytes(first: &[u8]) -> ProtocolMismatch {
    match first {
        [0x15 | 0x16, 0x03, ..] => ProtocolMismatch::TlsProxy,
        [0x05, ..] => ProtocolMismatch::Socks { version: 5 },
        [0x00, 0x5A..=0x5D, ..] => ProtocolMismatch::Socks { version: 4 },
        _ => ProtocolMismatch::Unknown {
            first_bytes: head::excerpt(&first[..first.len().min(16)]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead {
            version: 1,
            status,
            reason: "x".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(status_failure(&head(200, &[]), true), None);
        assert_eq!(
            status_failure(&head(403, &[]), true),
            Some(ProxyFailure::DomainBlocked { status: 403 })
        );
        assert_eq!(
            status_failure(&head(503, &[]), false),
            Some(ProxyFailure::UpstreamFailure { status: 503 })
        );
        assert!(matches!(
            status_failure(&head(405, &[]), true),
            Some(ProxyFailure::WrongProtocol { .. })
        ));
        assert!(matches!(
            status_failure(&head(200, &[("Content-Type", "text/html")]), true),
            Some(ProxyFailure::WrongProtocol { .. })
        ));
    }

    #[test]
    fn first_bytes_name_the_protocol() {
        assert_eq!(
            mismatch_from_bytes(&[0x15, 0x03, 0x03]),
            ProtocolMismatch::TlsProxy
        );
        assert_eq!(
            mismatch_from_bytes(&[0x05, 0xFF]),
            ProtocolMismatch::Socks { version: 5 }
        );
        assert_eq!(
            mismatch_from_bytes(&[0x00, 0x5B]),
            ProtocolMismatch::Socks { version: 4 }
        );
        assert!(matches!(
            mismatch_from_bytes(b"SSH-2.0-OpenSSH"),
            ProtocolMismatch::Unknown { .. }
        ));
    }

    #[test]
    fn connect_request_carries_the_authority_twice() {
        let r = connect_request("webexapis.com:443", None);
        let text = String::from_utf8(r.to_vec()).unwrap();
        assert!(
            text.starts_with("CONNECT webexapis.com:443 HTTP/1.1\r\nHost: webexapis.com:443\r\n")
        );
        assert!(text.ends_with("\r\n\r\n"));
        assert!(!text.contains("Proxy-Authorization"));
    }

    #[test]
    fn url_is_shown_without_credentials() {
        let mut p = ProxySettings::without_auth(url::Url::parse("http://u:pw@proxy:3128").unwrap());
        p.auth = ProxyAuthMode::Basic;
        assert_eq!(redacted_url(&p), "http://proxy:3128/");
    }
}
