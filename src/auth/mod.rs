//! OAuth and tokens: the login flows, the token store, refreshing, and what
//! the `token` check hands to every check after it.
//!
//! [`AuthSettings`] is the `[interface]` table resolved for OAuth: the
//! client, the raw redirect URL, the scopes to request and where the tokens
//! live. [`oauth`] speaks to the token endpoint through the run's one HTTP
//! client, [`store`] keeps the tokens on disk and refreshes them under a
//! lock, [`login`] and [`device`] obtain them, [`profile`] holds the scope
//! profiles, and [`commands`] are the `auth` and `xsi-request` subcommands.

pub mod commands;
pub mod device;
pub mod diagnosis;
pub mod identity;
pub mod login;
pub mod oauth;
pub mod profile;
pub mod store;

use std::path::PathBuf;

use url::Url;

use crate::config::Config;
use crate::secret::Secret;

/// The bearer token of the run, put into the facts by the `token` check and
/// read by `connection`, `scopes`, `organization`, `xsi`, `endpoints` and
/// `plan`.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The access token itself; never printed (evidence shows
    /// [`Secret::hint`] at most).
    pub token: Secret,
    /// When it expires, when known.
    pub expires_at: Option<jiff::Timestamp>,
    /// The scopes granted, as the token response listed them; `None` when
    /// the response carried no scope string (the diff is then unverifiable).
    pub granted_scopes: Option<Vec<String>>,
}

/// Who the token belongs to, as `GET /people/me` answered; put into the
/// facts by the `token` check when that request succeeded.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Identity {
    pub email: String,
    pub display_name: String,
    pub org_id: String,
}

/// The `[interface]` table, resolved for OAuth.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// The interface's name, for messages.
    pub name: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    /// The redirect URL exactly as written: OAuth sends it verbatim.
    pub redirect_url: String,
    /// The scopes the login requests: the profile's required set, or
    /// `[interface] scopes`.
    pub scopes: Vec<String>,
    /// The scope profile's name, or `None` for an explicit list.
    pub profile: Option<String>,
    pub token_store: PathBuf,
    /// `[webex] api_base`.
    pub api_base: Url,
}

impl AuthSettings {
    /// The settings of a loaded configuration, or a message naming what is
    /// missing (the `config` check reports the details).
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let interface = config
            .interface()
            .ok_or("the configuration has no [interface] table")?;
        let api_base = Url::parse(&config.file.webex.api_base).map_err(|e| {
            format!(
                "webex.api_base {:?} is not a URL: {e}",
                config.file.webex.api_base
            )
        })?;
        let (scopes, profile) = match (&interface.scopes, &interface.scope_profile) {
            (Some(scopes), _) => (scopes.clone(), None),
            (None, profile) => {
                let name = profile
                    .clone()
                    .unwrap_or_else(|| profile::DEFAULT.to_owned());
                let found = profile::get(&name).ok_or_else(|| {
                    format!(
                        "interface.scope_profile {name:?} is not a known profile\n\
                         known profiles: {}",
                        profile::names().join(", ")
                    )
                })?;
                (found.required.clone(), Some(name))
            }
        };
        let client_id = interface.client_id.get_ref().clone();
        let name = interface
            .name
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let token_store = interface
            .token_store
            .clone()
            .unwrap_or_else(|| store::default_path(&name, &client_id));
        Ok(Self {
            name,
            client_id,
            client_secret: config.client_secret.clone(),
            redirect_url: interface.redirect_url.get_ref().clone(),
            scopes,
            profile,
            token_store,
            api_base,
        })
    }

    /// `{api_base}/{path}`, whatever trailing slash the base has.
    #[must_use]
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.api_base.as_str().trim_end_matches('/'))
    }

    /// The API host, for messages.
    #[must_use]
    pub fn host(&self) -> String {
        match (self.api_base.host_str(), self.api_base.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => self.api_base.to_string(),
        }
    }
}
