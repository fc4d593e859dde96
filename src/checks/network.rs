//! What the network checks share: the run's services (resolver, trust
//! store, HTTP client with the relay, built once in `services`) seen with
//! the hosts the harness must reach, host and port, and the small helpers
//! of their evidence.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::check::{Context, Outcome};
use crate::net::Authority;
use crate::services::{IDENTITY_BROKER, Services};

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

/// The run's services and the hosts to probe.
#[derive(Debug)]
pub struct Network {
    services: Arc<Services>,
    /// The hosts the harness needs (the XSI host joins later, from the
    /// organisation).
    pub required: Vec<RequiredHost>,
}

impl Deref for Network {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Network {
    /// The deadline of one probe within a check whose own deadline is
    /// `check_deadline`: the probe must end first, so its facts are kept.
    #[must_use]
    pub fn probe_deadline(check_deadline: Duration) -> Duration {
        check_deadline.saturating_sub(Duration::from_secs(3))
    }
}

/// The run's services with the required hosts, or why a check cannot run.
pub fn network(ctx: &Context) -> Result<Arc<Network>, Outcome> {
    let Some(services) = ctx.services.clone() else {
        return Err(ctx.services().err().unwrap_or_default());
    };
    let required = required_hosts(&services.api_base, &services.required_hosts());
    Ok(Arc::new(Network { services, required }))
}

/// The required host names with their ports: the API host on the port of
/// `api_base`, the others on 443.
fn required_hosts(api_base: &Url, names: &[String]) -> Vec<RequiredHost> {
    let api_host = api_base
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let api_port = api_base.port_or_known_default().unwrap_or(443);
    names
        .iter()
        .map(|name| {
            let name = name.trim_start_matches('[').trim_end_matches(']');
            if name == api_host {
                RequiredHost {
                    authority: Authority::new(name, api_port),
                    role: Role::Api,
                }
            } else {
                RequiredHost {
                    authority: Authority::https(name),
                    role: if name == IDENTITY_BROKER {
                        Role::IdentityBroker
                    } else {
                        Role::Api
                    },
                }
            }
        })
        .collect()
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
    fn the_api_host_keeps_its_port() {
        let api = Url::parse("https://127.0.0.1:8443/v1").unwrap();
        let hosts = required_hosts(&api, &["127.0.0.1".to_owned()]);
        assert_eq!(hosts[0].authority, Authority::new("127.0.0.1", 8443));
        let api = Url::parse("https://[::1]:8443/v1").unwrap();
        let hosts = required_hosts(&api, &["[::1]".to_owned()]);
        assert_eq!(hosts[0].authority, Authority::new("::1", 8443));
    }

    #[test]
    fn webex_and_its_identity_broker() {
        let api = Url::parse("https://webexapis.com/v1").unwrap();
        let hosts = required_hosts(
            &api,
            &["webexapis.com".to_owned(), IDENTITY_BROKER.to_owned()],
        );
        let names: Vec<String> = hosts.iter().map(|h| h.authority.to_string()).collect();
        assert_eq!(names, ["webexapis.com:443", "idbroker.webex.com:443"]);
        assert_eq!(hosts[1].role, Role::IdentityBroker);
    }

    #[test]
    fn milliseconds_read_well() {
        assert_eq!(ms(Duration::from_micros(1234)), "1.2 ms");
        assert_eq!(ms(Duration::from_millis(2004)), "2004 ms");
    }
}
