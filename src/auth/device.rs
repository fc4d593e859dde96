//! `auth login --device`: the device authorization grant for hosts without
//! a browser (webex-api.md 1.7).
//!
//! `POST {api_base}/device/authorize` with the client id and scopes gives a
//! user code and a verification URL to show; then `POST
//! {api_base}/device/token`, with the client credentials in Basic auth as
//! Webex documents, is polled at the given interval. oauth2 handles
//! `authorization_pending` and `slow_down` (adding 5 s per RFC 8628); Webex
//! answers 428 while the user has not finished, so the adapter reads any
//! 428 as pending whatever its body shape.

use std::cell::Cell;
use std::time::Duration;

use oauth2::{
    AuthType, ClientId, ClientSecret, DeviceAuthorizationUrl, Scope,
    StandardDeviceAuthorizationResponse, TokenUrl,
};

use super::AuthSettings;
use super::login::LoginError;
use super::oauth::{self, TokenFailure, Tokens};
use super::store::{StoredTokens, TokenStore};

/// What the user must do, as the device-authorize answer said.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub interval: Duration,
    pub expires_in: Duration,
}

/// Runs the device grant: shows the prompt through `say`, polls until the
/// user approves (or denies, or the code expires), stores the tokens.
/// `on_prompt` receives the prompt too, for callers (tests) that act on it.
pub async fn login(
    settings: &AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    say: &dyn Fn(&str),
    on_prompt: &dyn Fn(&Prompt),
) -> Result<StoredTokens, LoginError> {
    let settings_error = |what: &str, e: &dyn std::fmt::Display| {
        LoginError::Settings(format!("the {what} URL is not valid: {e}"))
    };
    let device_url = DeviceAuthorizationUrl::new(settings.endpoint("device/authorize"))
        .map_err(|e| settings_error("device authorize", &e))?;
    let token_url = TokenUrl::new(settings.endpoint("device/token"))
        .map_err(|e| settings_error("device token", &e))?;
    let Some(secret) = &settings.client_secret else {
        return Err(LoginError::Settings(
            "the client secret is not available\n\
             set [interface] client_secret_env or client_secret_file"
                .to_owned(),
        ));
    };

    // The authorize request carries the client id in the body and no
    // credentials; the polls authenticate with Basic.
    let start = oauth2::basic::BasicClient::new(ClientId::new(settings.client_id.clone()))
        .set_device_authorization_url(device_url.clone());
    let adapter = oauth::Http::new(http);
    let details: StandardDeviceAuthorizationResponse = start
        .exchange_device_code()
        .add_scopes(settings.scopes.iter().map(|s| Scope::new(s.clone())))
        .request_async(&adapter)
        .await
        .map_err(|e| LoginError::Exchange(TokenFailure::from_oauth(&e, &adapter.last())))?;
    let prompt = Prompt {
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().clone()),
        user_code: details.user_code().secret().clone(),
        interval: details.interval(),
        expires_in: details.expires_in(),
    };
    say(&format!(
        "on any device, open {} and enter the code {}",
        prompt.verification_uri, prompt.user_code
    ));
    if let Some(complete) = &prompt.verification_uri_complete {
        say(&format!("or open {complete}"));
    }
    say(&format!(
        "waiting for the approval (the code expires in {}s)",
        prompt.expires_in.as_secs()
    ));
    on_prompt(&prompt);

    let poll: oauth::WebexClient<oauth2::EndpointNotSet, oauth2::EndpointSet, oauth2::EndpointSet> =
        oauth2::Client::new(ClientId::new(settings.client_id.clone()))
            .set_client_secret(ClientSecret::new(secret.expose().to_owned()))
            .set_auth_type(AuthType::BasicAuth)
            .set_device_authorization_url(device_url)
            .set_token_uri(token_url);
    let poller = oauth::Http::for_device_polling(http);
    let interval = Cell::new(prompt.interval);
    let sleep = |next: Duration| {
        if next > interval.get() {
            say(&format!(
                "the identity service asked to slow down: polling every {}s",
                next.as_secs()
            ));
        }
        interval.set(next);
        tokio::time::sleep(next)
    };
    let details_with_extra: oauth2::DeviceAuthorizationResponse<
        oauth2::EmptyExtraDeviceAuthorizationFields,
    > = details;
    let response = poll
        .exchange_device_access_token(&details_with_extra)
        .request_async(&poller, sleep, None)
        .await
        .map_err(|e| {
            let failure = TokenFailure::from_oauth(&e, &poller.last());
            match failure.error.as_deref() {
                Some("access_denied") => LoginError::Redirect {
                    error: "access_denied".to_owned(),
                    description: failure.description,
                },
                Some("expired_token") => LoginError::Timeout(prompt.expires_in),
                _ => LoginError::Exchange(failure),
            }
        })?;
    super::login::keep(
        settings,
        http,
        store,
        Tokens::from_response(&response, jiff::Timestamp::now()),
    )
    .await
}
