//! The plain settings the network layer is built from.
//!
//! The configuration layer maps the user's `[dns]`, `[proxy]` and `ca_file`
//! into these; `net` never reads a file or an environment variable for them
//! itself (the CA file named here is read when the trust store is built).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use url::Url;

use super::Authority;

/// Which DNS servers to ask, and how long to wait for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// The servers to ask, in order. Empty means the system configuration
    /// (`/etc/resolv.conf` on Unix).
    pub servers: Vec<SocketAddr>,
    /// How long one query waits for an answer (resolv.conf's `timeout:`).
    pub timeout: Duration,
    /// How many times a query is sent before giving up, at least 1
    /// (resolv.conf's `attempts:`).
    pub attempts: usize,
}

impl Default for DnsSettings {
    /// The system's servers, 3 seconds per query, two tries.
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: Duration::from_secs(3),
            attempts: 2,
        }
    }
}

impl DnsSettings {
    /// The longest one lookup can take: every try timing out.
    #[must_use]
    pub fn lookup_deadline(&self) -> Duration {
        let tries = u32::try_from(self.attempts.max(1)).unwrap_or(u32::MAX);
        self.timeout.saturating_mul(tries)
    }
}

/// The authentication a proxy is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyAuthMode {
    /// No credentials are sent.
    None,
    /// `Basic`: user name and password, base64-encoded, on every CONNECT.
    Basic,
    /// `Digest`: an answer to the proxy's challenge, per connection.
    Digest,
}

impl fmt::Display for ProxyAuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyAuthMode::None => "none",
            ProxyAuthMode::Basic => "basic",
            ProxyAuthMode::Digest => "digest",
        })
    }
}

/// An HTTP proxy reached with CONNECT, and the credentials to give it.
#[derive(Clone)]
pub struct ProxySettings {
    /// `http://host:port` (plain) or `https://host:port` (TLS to the proxy).
    pub url: Url,
    /// The configured authentication scheme.
    pub auth: ProxyAuthMode,
    /// The user name, for Basic and Digest.
    pub username: Option<String>,
    /// The password, for Basic and Digest; never logged or printed.
    pub password: Option<SecretString>,
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("url", &self.url.as_str())
            .field("auth", &self.auth)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "(redacted)"))
            .finish()
    }
}

/// The transport to the proxy itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyTransport {
    /// Plain TCP: the proxy URL starts with `http://`.
    Http,
    /// TLS to the proxy: the proxy URL starts with `https://`.
    Https,
}

/// Why a proxy URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    /// The scheme is neither `http` nor `https` (for example `socks5`).
    #[error("proxy url scheme '{0}' is not supported: use http:// or https://")]
    UnsupportedScheme(String),
    /// The URL names no host.
    #[error("proxy url '{0}' has no host")]
    NoHost(String),
}

impl ProxySettings {
    /// A proxy without authentication.
    #[must_use]
    pub fn without_auth(url: Url) -> Self {
        Self {
            url,
            auth: ProxyAuthMode::None,
            username: None,
            password: None,
        }
    }

    /// The proxy's address and its transport, from the URL (port defaults to
    /// 80 for `http` and 443 for `https`, as the URL standard says).
    pub fn endpoint(&self) -> Result<(Authority, ProxyTransport), ProxyUrlError> {
        let transport = match self.url.scheme() {
            "http" => ProxyTransport::Http,
            "https" => ProxyTransport::Https,
            other => return Err(ProxyUrlError::UnsupportedScheme(other.to_owned())),
        };
        let host = match self.url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(ProxyUrlError::NoHost(self.url.to_string())),
        };
        let port = self.url.port_or_known_default().unwrap_or(80);
        Ok((Authority::new(host, port), transport))
    }
}

/// Which certificates the tool trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// A PEM file of extra trusted roots (a TLS-inspecting proxy's CA).
    pub ca_file: Option<PathBuf>,
    /// Whether the operating system's roots are trusted too (normally yes).
    pub without_system_roots: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_defaults_ports_by_scheme() {
        let plain = ProxySettings::without_auth(Url::parse("http://proxy.corp").unwrap());
        assert_eq!(
            plain.endpoint().unwrap(),
            (Authority::new("proxy.corp", 80), ProxyTransport::Http)
        );
        let tls = ProxySettings::without_auth(Url::parse("https://[::1]:8443").unwrap());
        assert_eq!(
            tls.endpoint().unwrap(),
            (Authority::new("::1", 8443), ProxyTransport::Https)
        );
    }

    #[test]
    fn endpoint_rejects_socks() {
        let socks = ProxySettings::without_auth(Url::parse("socks5://127.0.0.1:1080").unwrap());
        assert_eq!(
            socks.endpoint(),
            Err(ProxyUrlError::UnsupportedScheme("socks5".into()))
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let mut s = ProxySettings::without_auth(Url::parse("http://p:3128").unwrap());
        s.password = Some(SecretString::from("hunter2"));
        let text = format!("{s:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("(redacted)"), "{text}");
    }

    #[test]
    fn lookup_deadline_is_timeout_times_tries() {
        let s = DnsSettings {
            servers: vec![],
            timeout: Duration::from_millis(300),
            attempts: 2,
        };
        assert_eq!(s.lookup_deadline(), Duration::from_millis(600));
    }
}
