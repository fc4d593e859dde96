//! What every check of a run shares, built once from the configuration:
//! the resolver, the trust store and the one HTTP client (with the proxy
//! relay when a proxy is set). Checks reach them through
//! [`Context::services`](crate::check::Context::services), so every lookup
//! and request of a run goes the same way and the report says what the
//! traffic saw.

use std::time::Duration;

use url::Url;

use crate::config::{Config, ConfigProblem, ProxyAuth};
use crate::net::{
    self, DnsSettings, HttpClient, ProxyAuthMode, ProxySettings, Resolver, TlsSettings, TlsTrust,
};

/// The shared network services of a run.
#[derive(Debug)]
pub struct Services {
    pub resolver: Resolver,
    pub trust: TlsTrust,
    pub http: HttpClient,
    /// `[webex] api_base`, parsed.
    pub api_base: Url,
    /// The proxy, as the net layer takes it; `None` for a direct connection.
    pub proxy: Option<ProxySettings>,
    pub dns: DnsSettings,
}

impl Services {
    /// Builds the services. Must run inside the tokio runtime (the relay
    /// listens on loopback). A setting that cannot be used is returned as a
    /// configuration problem for the `config` check to report.
    pub async fn build(config: &Config) -> Result<Self, ConfigProblem> {
        let invalid = |key: &str, message: String| ConfigProblem::Invalid {
            key: key.to_owned(),
            message,
        };
        let file = &config.file;
        let api_base = Url::parse(&file.webex.api_base).map_err(|e| {
            invalid(
                "webex.api_base",
                format!("{:?} is not a URL: {e}", file.webex.api_base),
            )
        })?;
        let dns = DnsSettings {
            servers: config.dns_servers.clone(),
            timeout: file.dns.timeout,
            ..DnsSettings::default()
        };
        let resolver = Resolver::new(&dns)
            .map_err(|e| invalid("dns.servers", format!("cannot build the resolver: {e}")))?;
        let tls = TlsSettings {
            ca_file: file.webex.ca_file.clone(),
            ..TlsSettings::default()
        };
        let trust = TlsTrust::load(&tls).map_err(|e| invalid("webex.ca_file", e.to_string()))?;
        let proxy = proxy_settings(config)?;
        let http = net::build_client(
            &resolver,
            proxy.as_ref(),
            &trust,
            &net::ClientSettings::default(),
        )
        .await
        .map_err(|e| invalid("proxy.url", e.to_string()))?;
        Ok(Self {
            resolver,
            trust,
            http,
            api_base,
            proxy,
            dns,
        })
    }

    /// The reqwest client every request of the run uses.
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        self.http.client()
    }

    /// The hosts a run needs: the API host and the identity broker (the
    /// org's XSI host joins them once known, in the `xsi` check).
    #[must_use]
    pub fn required_hosts(&self) -> Vec<String> {
        let mut hosts = Vec::new();
        if let Some(host) = self.api_base.host_str() {
            hosts.push(host.to_owned());
        }
        // The identity broker serves the login pages behind /authorize; an
        // emulator or another API base on loopback has no such host.
        let loopback = self.api_base.host_str().is_some_and(net::is_loopback);
        if !loopback && !hosts.iter().any(|h| h == IDENTITY_BROKER) {
            hosts.push(IDENTITY_BROKER.to_owned());
        }
        hosts
    }

    /// A timeout for one request, from the client's settings.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        net::ClientSettings::default().request_timeout
    }
}

/// The identity broker host of Webex.
pub const IDENTITY_BROKER: &str = "idbroker.webex.com";

fn proxy_settings(config: &Config) -> Result<Option<ProxySettings>, ConfigProblem> {
    let Some(proxy) = &config.file.proxy else {
        return Ok(None);
    };
    let url = Url::parse(&proxy.url).map_err(|e| ConfigProblem::Invalid {
        key: "proxy.url".to_owned(),
        message: format!("{:?} is not a URL: {e}", proxy.url),
    })?;
    let auth = match proxy.auth {
        ProxyAuth::None => ProxyAuthMode::None,
        ProxyAuth::Basic => ProxyAuthMode::Basic,
        ProxyAuth::Digest => ProxyAuthMode::Digest,
    };
    Ok(Some(ProxySettings {
        url,
        auth,
        username: proxy.username.clone(),
        password: config
            .proxy_password
            .as_ref()
            .map(|secret| secrecy::SecretString::from(secret.expose().to_owned())),
    }))
}
