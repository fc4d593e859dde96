//! The one HTTP client of the tool.
//!
//! Every request of a run (OAuth, REST, XSI) goes through the client built
//! here, so the facts the checks report are what the traffic saw: names
//! resolve through the tool's resolver, certificates are checked against the
//! tool's trust store (system roots plus `ca_file`), and when a proxy is
//! configured every connection goes through the loopback relay, whatever
//! the proxy's authentication. Environment and system proxy settings are
//! ignored, so behaviour follows the configuration alone. Redirects are not
//! followed: an OAuth or API redirect is a fact to report, not to chase.

use std::time::Duration;

use super::relay::Relay;
use super::resolver::Resolver;
use super::settings::{ProxySettings, ProxyUrlError};
use super::tls::TlsTrust;

/// Timeouts of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Until the TCP (or tunnel) connection is up.
    pub connect_timeout: Duration,
    /// A whole request, from connecting to the end of the body.
    pub request_timeout: Duration,
    /// The relay's upstream handshake with the proxy.
    pub proxy_handshake_timeout: Duration,
}

impl Default for ClientSettings {
    /// 10 s to connect, 30 s per request, 10 s for the proxy handshake.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            proxy_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The proxy URL cannot be used.
    #[error(transparent)]
    ProxyUrl(#[from] ProxyUrlError),
    /// The relay could not listen on loopback.
    #[error("cannot start the proxy relay on 127.0.0.1: {0}")]
    Relay(std::io::Error),
    /// reqwest refused the configuration.
    #[error("cannot build the http client: {0}")]
    Build(#[from] reqwest::Error),
}

/// The tool's HTTP client, with the relay it depends on. Keep it for the
/// whole run: dropping it stops the relay, and clones of the inner
/// `reqwest::Client` cannot reach a proxy after that.
#[derive(Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    relay: Option<Relay>,
}

impl HttpClient {
    /// The reqwest client to send requests with.
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The relay, when a proxy is configured: its address, and the facts of
    /// the last upstream handshake that failed.
    #[must_use]
    pub fn relay(&self) -> Option<&Relay> {
        self.relay.as_ref()
    }
}

/// Builds the client: the tool's resolver, the tool's trust store, the
/// relay to `proxy` when one is given (no proxy at all otherwise),
/// timeouts, and no redirects. Must run inside a tokio runtime.
pub async fn build_client(
    resolver: &Resolver,
    proxy: Option<&ProxySettings>,
    trust: &TlsTrust,
    settings: &ClientSettings,
) -> Result<HttpClient, ClientError> {
    let (tls, _) = trust.client_config(&[b"h2", b"http/1.1"]);
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(resolver.for_reqwest())
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.request_timeout)
        .user_agent(concat!("wxc-preflight/", env!("CARGO_PKG_VERSION")));

    let relay = match proxy {
        None => None,
        Some(p) => {
            p.endpoint()?;
            let relay = Relay::start(
                p.clone(),
                resolver.clone(),
                trust.clone(),
                settings.proxy_handshake_timeout,
            )
            .await
            .map_err(ClientError::Relay)?;
            builder = builder.proxy(relay.reqwest_proxy()?);
            Some(relay)
        }
    };
    Ok(HttpClient {
        client: builder.build()?,
        relay,
    })
}
