//! XSI-Actions for one user at a time, under
//! `{xsiActionsEndpoint}/v2.0/user/{uuid}` (webex-api.md 3.3): the profile,
//! the calls, originating, answering (`Talk`) and releasing.
//!
//! Answers are read in XML or BadgerFish JSON, whichever comes; an error
//! answer carries its `ErrorInfo` inside [`WebexError::Status`].

use reqwest::Method;

use super::client::{Flavour, Reply, WebexClient, WebexError};
use super::xsi_doc::{self, CallInfo, Element, Profile};

/// The XSI-Actions service of an organisation.
#[derive(Debug, Clone)]
pub struct XsiClient {
    client: WebexClient,
    actions: String,
}

impl XsiClient {
    /// XSI-Actions at `actions_endpoint` (the org's `xsiActionsEndpoint`).
    #[must_use]
    pub fn new(client: WebexClient, actions_endpoint: &str) -> Self {
        Self {
            client,
            actions: actions_endpoint.trim_end_matches('/').to_owned(),
        }
    }

    /// The XSI-Actions endpoint, without a trailing slash.
    #[must_use]
    pub fn actions(&self) -> &str {
        &self.actions
    }

    /// The client underneath.
    #[must_use]
    pub fn client(&self) -> &WebexClient {
        &self.client
    }

    /// The URL of `tail` under the user `uuid`.
    #[must_use]
    pub fn user_url(&self, uuid: &str, tail: &str) -> String {
        let tail = tail.trim_start_matches('/');
        if tail.is_empty() {
            format!("{}/v2.0/user/{uuid}", self.actions)
        } else {
            format!("{}/v2.0/user/{uuid}/{tail}", self.actions)
        }
    }

    async fn document(&self, method: Method, url: &str) -> Result<(Element, Reply), WebexError> {
        let reply = self.client.send(method, url, Flavour::Xsi).await?;
        if !reply.status.is_success() {
            return Err(WebexError::from_reply(&reply));
        }
        match xsi_doc::parse(&reply.body) {
            Ok(doc) => Ok((doc, reply)),
            Err(e) => Err(WebexError::malformed(&reply, e.to_string())),
        }
    }

    /// `GET .../profile`.
    pub async fn profile(&self, uuid: &str) -> Result<(Profile, Reply), WebexError> {
        let (doc, reply) = self
            .document(Method::GET, &self.user_url(uuid, "profile"))
            .await?;
        let profile = Profile::from_element(&doc).ok_or_else(|| {
            WebexError::malformed(&reply, format!("expected a Profile, got {}", doc.name))
        })?;
        Ok((profile, reply))
    }

    /// `GET .../calls`: the user's call legs.
    pub async fn calls(&self, uuid: &str) -> Result<Vec<CallInfo>, WebexError> {
        let (doc, reply) = self
            .document(Method::GET, &self.user_url(uuid, "calls"))
            .await?;
        xsi_doc::calls_of(&doc).ok_or_else(|| {
            WebexError::malformed(&reply, format!("expected Calls, got {}", doc.name))
        })
    }

    /// `GET .../calls/{id}`; `None` when the call is gone (404).
    pub async fn call(&self, uuid: &str, call_id: &str) -> Result<Option<CallInfo>, WebexError> {
        let url = self.user_url(uuid, &format!("calls/{}", encode(call_id)));
        match self.document(Method::GET, &url).await {
            Ok((doc, reply)) => CallInfo::from_element(&doc).map(Some).ok_or_else(|| {
                WebexError::malformed(&reply, format!("expected a Call, got {}", doc.name))
            }),
            Err(WebexError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST .../calls/new?address=`: returns the caller's call id.
    pub async fn originate(&self, uuid: &str, address: &str) -> Result<String, WebexError> {
        let url = format!(
            "{}?address={}",
            self.user_url(uuid, "calls/new"),
            encode(address)
        );
        let (doc, reply) = self.document(Method::POST, &url).await?;
        xsi_doc::started_call_id(&doc).ok_or_else(|| {
            WebexError::malformed(&reply, format!("expected CallStartInfo, got {}", doc.name))
        })
    }

    /// `PUT .../calls/{id}/Talk`: answers a leg alerting at this user.
    pub async fn talk(&self, uuid: &str, call_id: &str) -> Result<(), WebexError> {
        let url = self.user_url(uuid, &format!("calls/{}/Talk", encode(call_id)));
        self.expect_success(Method::PUT, &url).await
    }

    /// `DELETE .../calls/{id}`: releases the call.
    pub async fn release(&self, uuid: &str, call_id: &str) -> Result<(), WebexError> {
        let url = self.user_url(uuid, &format!("calls/{}", encode(call_id)));
        self.expect_success(Method::DELETE, &url).await
    }

    async fn expect_success(&self, method: Method, url: &str) -> Result<(), WebexError> {
        let reply = self.client.send(method, url, Flavour::Xsi).await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(WebexError::from_reply(&reply))
        }
    }
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
