//! Who a token belongs to: `GET /people/me` (and the org's name for the XSI
//! request), the cheapest requests that prove the API accepts a token.
//!
//! The full Webex client belongs to the Webex checks; auth needs only these
//! two reads, for `auth status`, `xsi-request` and `token.rejected`.

use serde::Deserialize;

use super::Identity;
use super::oauth::describe_reqwest;
use crate::secret::Secret;

/// Why the API did not say who the token belongs to.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// 401: the token is refused.
    Unauthorized {
        message: String,
        tracking_id: Option<String>,
    },
    /// Another status.
    Status {
        status: u16,
        message: String,
        tracking_id: Option<String>,
    },
    /// No answer.
    Network(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized { message, .. } => write!(f, "401 {message}"),
            Self::Status {
                status, message, ..
            } => write!(f, "{status} {message}"),
            Self::Network(text) => f.write_str(text),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Person {
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    org_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Organization {
    #[serde(default)]
    display_name: String,
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: &Secret,
) -> Result<reqwest::Response, Refusal> {
    let started = std::time::Instant::now();
    let response = client
        .get(url)
        .bearer_auth(token.expose())
        .header(
            "TrackingID",
            format!("WXCPREFLIGHT_{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .map_err(|e| Refusal::Network(describe_reqwest(&e)))?;
    let status = response.status().as_u16();
    let tracking_id = response
        .headers()
        .get("trackingid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    tracing::debug!(
        method = "GET",
        url,
        status,
        tracking_id = tracking_id.as_deref().unwrap_or("-"),
        ms = started.elapsed().as_millis(),
        "api request"
    );
    if response.status().is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status}"));
    Err(if status == 401 {
        Refusal::Unauthorized {
            message,
            tracking_id,
        }
    } else {
        Refusal::Status {
            status,
            message,
            tracking_id,
        }
    })
}

/// `GET {api_base}/people/me`.
pub async fn whoami(
    client: &reqwest::Client,
    settings: &super::AuthSettings,
    token: &Secret,
) -> Result<Identity, Refusal> {
    let response = get(client, &settings.endpoint("people/me"), token).await?;
    let person: Person = response
        .json()
        .await
        .map_err(|e| Refusal::Network(format!("the answer is not a person: {e}")))?;
    Ok(Identity {
        email: person.emails.into_iter().next().unwrap_or_default(),
        display_name: person.display_name,
        org_id: person.org_id,
    })
}

/// `GET {api_base}/organizations/{org_id}`: the org's display name.
pub async fn org_name(
    client: &reqwest::Client,
    settings: &super::AuthSettings,
    token: &Secret,
    org_id: &str,
) -> Result<String, Refusal> {
    let url = settings.endpoint(&format!("organizations/{org_id}"));
    let response = get(client, &url, token).await?;
    let org: Organization = response
        .json()
        .await
        .map_err(|e| Refusal::Network(format!("the answer is not an organisation: {e}")))?;
    Ok(org.display_name)
}
