//! The network of a run, as the checks see it: the configuration mapped
//! into `net`'s settings, the resolver and the trust store built once, the
//! required hosts, and the one HTTP client every request goes through.
//!
//! The first check that needs it builds it and leaves it on the facts
//! blackboard; every later check, and every request of the run, uses the
//! same resolver, trust store and proxy path.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::OnceCell;
use url::Url;

use crate::check::{Context, Outcome};
use crate::config::{Config, ProxyAuth};
use crate::net::{
    Authority, ClientSettings, DnsSettings, HttpClient, ProxyAuthMode, ProxySettings, Resolver,
    TlsSettings, TlsTrust, build_client,
};

/// The identity broker the Webex login goes through (webex-api.md §7).
pub const IDENTITY_BROKER: &str = "idbroker.webex.com";

/// What a required host is for, as the evidence names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The REST API and OAuth host of `[webex] api_base`.
    Api,
    /// The identity broker behind the login.
    IdentityBroker,
}

impl Role {
    /// How evidence names the role.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::IdentityBroker => "identity broker",
        }
    }
}

/// A host the harness must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredHost {
    /// Host and port.
    pub authority: Authority,
    /// What it is for.
    pub role: Role,
}

/// Everything network the checks share.
pub struct Network {
    /// The DNS settings the resolver was built from.
    pub dns: DnsSettings,
    /// The one resolver.
    pub resolver: Resolver,
    /// The trust store: system roots plus `ca_file`.
    pub trust: TlsTrust,
    /// Why `ca_file` could not be used, if it could not (the system roots
    /// are then trusted alone).
    pub trust_problem: Option<String>,
    /// The proxy, if one is configured.
    pub proxy: Option<ProxySettings>,
    /// The hosts the harness needs (the XSI host joins later, from the
    /// organisation).
    pub required: Vec<RequiredHost>,
    /// `[webex] api_base`.
    pub api_base: Url,
    client: OnceCell<Result<HttpClient, String>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("resolver", &self.resolver)
            .field("proxy", &self.proxy)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl Network {
    /// Maps the configuration and builds the resolver and trust store.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let dns = DnsSettings {
            servers: config.dns_servers.clone(),
            timeout: config.file.dns.timeout,
            attempts: 2,
        };
        let resolver = Resolver::new(&dns).map_err(|e| e.to_string())?;
        let tls = TlsSettings {
            ca_file: config.file.webex.ca_file.clone(),
            without_system_roots: false,
        };
        let (trust, trust_problem) = match TlsTrust::load(&tls) {
            Ok(trust) => (trust, None),
            Err(e) => {
                let fallback =
                    TlsTrust::load(&TlsSettings::default()).map_err(|e| e.to_string())?;
                (fallback, Some(e.to_string()))
            }
        };
        let api_base = Url::parse(&config.file.webex.api_base)
            .map_err(|e| format!("webex.api_base is not a url: {e}"))?;
        Ok(Self {
            dns,
            resolver,
            trust,
            trust_problem,
            proxy: proxy_settings(config)?,
            required: required_hosts(&api_base)?,
            api_base,
            client: OnceCell::new(),
        })
    }

    /// The tool's HTTP client, built on first use: this resolver, this
    /// trust store, and the relay when a proxy is configured.
    pub async fn client(&self) -> Result<&HttpClient, String> {
        let built = self
            .client
            .get_or_init(|| async {
                build_client(
                    &self.resolver,
                    self.proxy.as_ref(),
                    &self.trust,
                    &ClientSettings::default(),
                )
                .await
                .map_err(|e| e.to_string())
            })
            .await;
        built.as_ref().map_err(Clone::clone)
    }

    /// The deadline of one probe within a check whose own deadline is
    /// `check_deadline`: the probe must end first, so its facts are kept.
    #[must_use]
    pub fn probe_deadline(check_deadline: Duration) -> Duration {
        check_deadline.saturating_sub(Duration::from_secs(3))
    }
}

/// The run's network from the facts, built and stored on first use.
pub fn network(ctx: &Context) -> Result<Arc<Network>, Outcome> {
    if let Some(net) = ctx.facts.get::<Network>() {
        return Ok(net);
    }
    let config = ctx.config()?;
    let net = Network::from_config(config).map_err(Outcome::skipped)?;
    ctx.facts.put(net);
    ctx.facts
        .get::<Network>()
        .ok_or_else(|| Outcome::skipped("the network settings could not be stored"))
}

fn proxy_settings(config: &Config) -> Result<Option<ProxySettings>, String> {
    let Some(section) = &config.file.proxy else {
        return Ok(None);
    };
    let url = Url::parse(&section.url)
        .map_err(|e| format!("proxy.url {:?} is not a url: {e}", section.url))?;
    let auth = match section.auth {
        ProxyAuth::None => ProxyAuthMode::None,
        ProxyAuth::Basic => ProxyAuthMode::Basic,
        ProxyAuth::Digest => ProxyAuthMode::Digest,
    };
    let settings = ProxySettings {
        url,
        auth,
        username: section.username.clone(),
        password: config
            .proxy_password
            .as_ref()
            .map(|s| SecretString::from(s.expose().to_owned())),
    };
    settings.endpoint().map_err(|e| e.to_string())?;
    Ok(Some(settings))
}

/// The API host, and the identity broker when the API is Webex's own
/// (an emulator or another cloud brings its own login host).
fn required_hosts(api_base: &Url) -> Result<Vec<RequiredHost>, String> {
    let host = api_base
        .host_str()
        .ok_or_else(|| format!("webex.api_base {api_base} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = api_base.port_or_known_default().unwrap_or(443);
    let is_webex = host == "webexapis.com" || host.ends_with(".webexapis.com");
    let mut out = vec![RequiredHost {
        authority: Authority::new(host, port),
        role: Role::Api,
    }];
    if is_webex {
        out.push(RequiredHost {
            authority: Authority::https(IDENTITY_BROKER),
            role: Role::IdentityBroker,
        });
    }
    Ok(out)
}

/// Milliseconds, for evidence.
#[must_use]
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webex_api_needs_the_identity_broker_too() {
        let hosts = required_hosts(&Url::parse("https://webexapis.com/v1").unwrap()).unwrap();
        let names: Vec<String> = hosts.iter().map(|h| h.authority.to_string()).collect();
        assert_eq!(names, ["webexapis.com:443", "idbroker.webex.com:443"]);
    }

    #[test]
    fn an_emulator_is_its_own_login_host() {
        let hosts = required_hosts(&Url::parse("https://127.0.0.1:8443/v1").unwrap()).unwrap();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].authority, Authority::new("127.0.0.1", 8443));
        let v6 = required_hosts(&Url::parse("https://[::1]:8443/v1").unwrap()).unwrap();
        assert_eq!(v6[0].authority.host, "::1");
    }

    #[test]
    fn milliseconds_read_well() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.2 ms");
        assert_eq!(ms(Duration::from_millis(2004)), "2004 ms");
    }
}
