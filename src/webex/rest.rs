//! The REST resources the checks read: `people/me`, people by id or email,
//! the organisation with its calling data (the XSI endpoints), licences
//! (webex-api.md 2.1, 3.1, 5.1, 5.2).
//!
//! Fields are read tolerantly: everything is optional except what makes
//! the object itself (a person's id, an org's id), so a field Webex adds,
//! renames or leaves out never makes a good answer look malformed.

use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::client::{Flavour, Reply, WebexClient, WebexError};

/// A phone number of a person.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PhoneNumber {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// A person (`GET /people/me`, `/people/{id}`, items of `/people`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: String,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub org_id: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub licenses: Vec<String>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub phone_numbers: Vec<PhoneNumber>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

impl Person {
    /// The primary email, or the id when the person has none.
    #[must_use]
    pub fn label(&self) -> String {
        self.emails
            .first()
            .cloned()
            .unwrap_or_else(|| self.id.clone())
    }

    /// The number to dial this person by: the extension, else a work number.
    #[must_use]
    pub fn dial_address(&self) -> Option<String> {
        if let Some(ext) = self.extension.as_deref().filter(|e| !e.trim().is_empty()) {
            return Some(ext.trim().to_owned());
        }
        self.phone_numbers
            .iter()
            .filter(|p| p.kind.as_deref() != Some("work_extension"))
            .find_map(|p| p.value.clone())
    }
}

/// The organisation with its calling data.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub xsi_actions_endpoint: Option<String>,
    #[serde(default)]
    pub xsi_events_endpoint: Option<String>,
    #[serde(default)]
    pub xsi_events_channel_endpoint: Option<String>,
    #[serde(default)]
    pub xsi_domain: Option<String>,
}

/// A licence of the organisation.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl License {
    /// Whether the licence is a Webex Calling one (matched by name, as ids
    /// are per org; webex-api.md 5.2).
    #[must_use]
    pub fn is_calling(&self) -> bool {
        self.name
            .as_deref()
            .is_some_and(|n| n.contains("Webex Calling") || n.contains("Hot desk only"))
    }
}

#[derive(Deserialize)]
struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

/// The REST API at `api_base`, through a [`WebexClient`].
#[derive(Debug, Clone)]
pub struct RestApi {
    client: WebexClient,
    base: Url,
}

impl RestApi {
    /// The API at `base` (`https://webexapis.com/v1`).
    #[must_use]
    pub fn new(client: WebexClient, base: Url) -> Self {
        Self { client, base }
    }

    /// The client underneath.
    #[must_use]
    pub fn client(&self) -> &WebexClient {
        &self.client
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}/{path}"));
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url.to_string()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<(T, Reply), WebexError> {
        let reply = self.client.send(Method::GET, url, Flavour::Rest).await?;
        if !reply.status.is_success() {
            return Err(WebexError::from_reply(&reply));
        }
        match serde_json::from_slice::<T>(&reply.body) {
            Ok(value) => Ok((value, reply)),
            Err(e) => {
                let text = reply.text();
                let reason = if text.trim_start().starts_with('<') {
                    format!("expected json, got {:?}", super::xsi_doc::excerpt(&text))
                } else {
                    format!("the json does not parse: {e}")
                };
                Err(WebexError::malformed(&reply, reason))
            }
        }
    }

    /// `GET /people/me`.
    pub async fn me(&self) -> Result<(Person, Reply), WebexError> {
        self.get_json(&self.url("people/me", &[])).await
    }

    /// `GET /people/{id}?callingData=true`; `None` on 404.
    pub async fn person(&self, id: &str) -> Result<Option<Person>, WebexError> {
        let url = self.url(
            &format!("people/{}", segment(id)),
            &[("callingData", "true")],
        );
        match self.get_json(&url).await {
            Ok((person, _)) => Ok(Some(person)),
            Err(WebexError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /people?email=&callingData=true`: the first match, if any.
    pub async fn person_by_email(&self, email: &str) -> Result<Option<Person>, WebexError> {
        let url = self.url("people", &[("email", email), ("callingData", "true")]);
        let (list, _) = self.get_json::<Items<Person>>(&url).await?;
        Ok(list
            .items
            .into_iter()
            .find(|p| p.emails.iter().any(|e| e.eq_ignore_ascii_case(email))))
    }

    /// `GET /organizations/{id}?callingData=true`.
    pub async fn organization(&self, id: &str) -> Result<(Organization, Reply), WebexError> {
        let url = self.url(
            &format!("organizations/{}", segment(id)),
            &[("callingData", "true")],
        );
        self.get_json(&url).await
    }

    /// `GET /licenses`.
    pub async fn licenses(&self) -> Result<Vec<License>, WebexError> {
        let (list, _) = self
            .get_json::<Items<License>>(&self.url("licenses", &[]))
            .await?;
        Ok(list.items)
    }
}

/// Percent-encodes an id for a path segment (standard base64 may hold `/`).
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.trim().as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_reads_tolerantly_and_picks_a_dial_address() {
        let p: Person = serde_json::from_str(
            r#"{"id":"x","emails":["a@b"],"phoneNumbers":[{"type":"work_extension","value":"81001"},
                {"type":"work","value":"+15550101"}],"unknownField":{"nested":true}}"#,
        )
        .unwrap();
        assert_eq!(p.dial_address().as_deref(), Some("+15550101"));
        let with_ext: Person = serde_json::from_str(r#"{"id":"x","extension":"1001"}"#).unwrap();
        assert_eq!(with_ext.dial_address().as_deref(), Some("1001"));
        assert_eq!(with_ext.label(), "x");
    }

    #[test]
    fn calling_licences_by_name() {
        let lic = |name: &str| License {
            id: "l".into(),
            name: Some(name.into()),
        };
        assert!(lic("Webex Calling - Professional").is_calling());
        assert!(!lic("Messaging").is_calling());
    }
}
