//! `auth login`: the authorization-code flow with PKCE (S256) and a random
//! `state`, a loopback listener on the redirect URL's port, and the code
//! exchange; and [`headless_consent`], the same flow walked without a
//! browser against the emulator's consent page (for `demo` and tests).
//!
//! The listener binds 127.0.0.1 only, answers the one request for the
//! redirect path (other paths get 404 and do not end the wait), and gives
//! up after a timeout. Codes, states and the PKCE verifier are never logged.

use std::borrow::Cow;
use std::time::Duration;

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::AuthSettings;
use super::oauth::{self, TokenFailure, Tokens};
use super::store::{StoreError, StoredTokens, TokenStore};

/// How long `auth login` waits for the browser by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// Why a login did not end with stored tokens.
#[derive(Debug)]
pub enum LoginError {
    /// The settings cannot make the request (bad redirect URL, no secret).
    Settings(String),
    /// The loopback listener could not start.
    Listener(String),
    /// Nobody came back to the redirect URL in time.
    Timeout(Duration),
    /// The identity service redirected back with `error=`.
    Redirect { error: String, description: String },
    /// The `state` that came back is not the one sent.
    StateMismatch,
    /// The code exchange failed.
    Exchange(TokenFailure),
    /// The store could not be written.
    Store(StoreError),
    /// (headless) The consent page did not answer as a browser expects.
    Consent(String),
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Settings(text) | Self::Listener(text) | Self::Consent(text) => f.write_str(text),
            Self::Timeout(after) => write!(
                f,
                "no browser came back to the redirect URL within {}s\n\
                 finish the sign-in in the browser, or use `auth login --device` on a host without one",
                after.as_secs()
            ),
            Self::Redirect { error, description } => {
                write!(f, "the identity service answered {error}: {description}")
            }
            Self::StateMismatch => f.write_str(
                "the state returned to the redirect URL is not the one this login sent\n\
                 start the login again and finish it in the browser window it opens",
            ),
            Self::Exchange(failure) => {
                write!(f, "exchanging the authorization code failed: {failure}")
            }
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

/// An authorization request about to be sent.
pub struct Pending {
    /// The URL to open in a browser.
    pub url: url::Url,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").finish_non_exhaustive()
    }
}

/// Builds the authorize URL: response_type=code, the scopes space-separated,
/// a random state, an S256 challenge, the redirect URL as written.
pub fn begin(settings: &AuthSettings) -> Result<Pending, LoginError> {
    let client = oauth::client(settings).map_err(LoginError::Settings)?;
    let redirect = oauth::redirect_url(settings).map_err(LoginError::Settings)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(settings.scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(challenge)
        .set_redirect_uri(Cow::Owned(redirect))
        .url();
    Ok(Pending {
        url,
        state,
        verifier,
    })
}

/// What came back to the redirect URL.
#[derive(Debug)]
enum Returned {
    Code { code: String, state: Option<String> },
    Error { error: String, description: String },
}

fn read_return(query: &str) -> Option<Returned> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Some(error) = get("error") {
        return Some(Returned::Error {
            error,
            description: get("error_description").unwrap_or_default(),
        });
    }
    get("code").map(|code| Returned::Code {
        code,
        state: get("state"),
    })
}

/// Completes a login from what came back: checks the state, exchanges the
/// code, learns who signed in, stores the tokens.
async fn complete(
    settings: &AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    pending: Pending,
    returned: Returned,
) -> Result<StoredTokens, LoginError> {
    let (code, state) = match returned {
        Returned::Error { error, description } => {
            return Err(LoginError::Redirect { error, description });
        }
        Returned::Code { code, state } => (code, state),
    };
    if state.as_deref() != Some(pending.state.secret().as_str()) {
        return Err(LoginError::StateMismatch);
    }
    let client = oauth::client(settings).map_err(LoginError::Settings)?;
    if settings.client_secret.is_none() {
        return Err(LoginError::Settings(
            "the client secret is not available\n\
             set [interface] client_secret_env or client_secret_file and check it with \
             `wxc-preflight check --only config`"
                .to_owned(),
        ));
    }
    let redirect = oauth::redirect_url(settings).map_err(LoginError::Settings)?;
    let adapter = oauth::Http::new(http);
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(pending.verifier)
        .set_redirect_uri(Cow::Owned(redirect))
        .request_async(&adapter)
        .await
        .map_err(|e| LoginError::Exchange(TokenFailure::from_oauth(&e, &adapter.last())))?;
    keep(
        settings,
        http,
        store,
        Tokens::from_response(&response, jiff::Timestamp::now()),
    )
    .await
}

/// The last step of every login: learns who signed in (a failure there
/// only costs the name in `auth status`) and stores the tokens under the
/// store's lock.
pub(super) async fn keep(
    settings: &AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    fresh: Tokens,
) -> Result<StoredTokens, LoginError> {
    let mut tokens = StoredTokens::from_login(&settings.client_id, fresh);
    match super::identity::whoami(http, settings, &tokens.access_token).await {
        Ok(identity) => tokens.identity = Some(identity),
        Err(e) => tracing::warn!("signed in, but GET /people/me failed: {e}"),
    }
    let _lock = store.lock_async().await.map_err(LoginError::Store)?;
    store.save(&tokens).map_err(LoginError::Store)?;
    Ok(tokens)
}

/// The redirect URL's port and path, for the listener.
fn listen_target(settings: &AuthSettings) -> Result<(u16, String), LoginError> {
    let url = url::Url::parse(settings.redirect_url.trim()).map_err(|e| {
        LoginError::Settings(format!(
            "interface.redirect_url {:?} is not a URL: {e}",
            settings.redirect_url
        ))
    })?;
    let loopback = url.host_str().is_some_and(crate::net::is_loopback);
    if url.scheme() != "http" || !loopback {
        return Err(LoginError::Settings(format!(
            "interface.redirect_url {} does not point at this host over http, so no local \
             listener can receive the code\n\
             register a loopback redirect URL such as http://localhost:6001/redirect, or use \
             `wxc-preflight auth login --device`",
            settings.redirect_url
        )));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    Ok((port, url.path().to_owned()))
}

const DONE_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>wxc-preflight</title></head><body style=\"font-family:sans-serif;margin:3em\">\
<h1 id=\"done\">Sign-in received</h1><p>You can close this window and return to the terminal.</p>\
</body></html>";

const ERROR_PAGE: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>wxc-preflight</title></head><body style=\"font-family:sans-serif;margin:3em\">\
<h1 id=\"failed\">Sign-in did not complete</h1><p>Return to the terminal: it says what went wrong \
and what to do.</p></body></html>";

/// Waits on the listener for the request to `path` and answers it.
async fn receive(listener: &TcpListener, path: &str) -> Returned {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let mut buffer = vec![0_u8; 8192];
        let mut filled = 0;
        // A browser's speculative connection may send nothing: do not let it
        // hold the listener.
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            while filled < buffer.len() {
                match stream.read(&mut buffer[filled..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
                if buffer[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        })
        .await;
        if read.is_err() || filled == 0 {
            continue;
        }
        let head = String::from_utf8_lossy(&buffer[..filled]);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_owned();
        let (req_path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let returned = (req_path == path).then(|| read_return(query)).flatten();
        let (status, body) = match &returned {
            Some(Returned::Code { .. }) => ("200 OK", DONE_PAGE),
            Some(Returned::Error { .. }) => ("200 OK", ERROR_PAGE),
            None => ("404 Not Found", "not found"),
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\n\
             content-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(returned) = returned {
            return returned;
        }
    }
}

/// Options of `auth login`.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// Print the URL only; do not start a browser.
    pub no_browser: bool,
    /// How long to wait for the redirect.
    pub timeout: Duration,
}

/// Runs the browser login: starts the listener, shows the URL through
/// `say` (and opens the system browser unless `no_browser`), waits for the
/// redirect, exchanges the code and stores the tokens.
pub async fn login(
    settings: &AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    options: &LoginOptions,
    say: &dyn Fn(&str),
) -> Result<StoredTokens, LoginError> {
    let (port, path) = listen_target(settings)?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        LoginError::Listener(format!(
            "cannot listen on 127.0.0.1:{port} for the redirect: {e}\n\
             stop whatever holds the port (perhaps another login), then retry"
        ))
    })?;
    let pending = begin(settings)?;
    let opened = !options.no_browser && open_browser(pending.url.as_str());
    if opened {
        say("opened the browser for the Webex sign-in; if nothing appears, open this URL:");
    } else {
        say("open this URL in a browser and sign in to Webex:");
    }
    say(pending.url.as_str());
    say(&format!(
        "waiting up to {}s for the redirect to 127.0.0.1:{port}{path}",
        options.timeout.as_secs()
    ));
    let returned = tokio::time::timeout(options.timeout, receive(&listener, &path))
        .await
        .map_err(|_| LoginError::Timeout(options.timeout))?;
    drop(listener);
    complete(settings, http, store, pending, returned).await
}

/// Starts the system browser; `false` when none could be started.
fn open_browser(url: &str) -> bool {
    let candidates: &[(&str, &[&str])] = if cfg!(target_os = "macos") {
        &[("open", &[])]
    } else if cfg!(windows) {
        &[("cmd", &["/C", "start", ""])]
    } else {
        &[("xdg-open", &[])]
    };
    candidates.iter().any(|(program, args)| {
        std::process::Command::new(program)
            .args(*args)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    })
}

/// Logs `user_email` in without a browser by walking the real
/// authorization-code flow against a consent page shaped like the
/// emulator's, as a browser would.
///
/// Contract:
/// - GETs the authorize URL (PKCE S256, random state, the configured scopes
///   and redirect URL) through `http`, which must not follow redirects;
/// - reads the page's form (its `action` and hidden inputs), submits it with
///   `user=user_email` and `decision=accept`;
/// - takes the code and state from the `Location` of the answer (no
///   listener is opened, so the redirect URL's port need not be free),
///   checks the state, exchanges the code, records who signed in and writes
///   the token store;
/// - an `error=` redirect at either step is [`LoginError::Redirect`]; a page
///   that is not the expected form is [`LoginError::Consent`].
///
/// It works against the emulator, not against Webex's real sign-in, whose
/// pages are for people.
pub async fn headless_consent(
    settings: &AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    user_email: &str,
) -> Result<StoredTokens, LoginError> {
    let pending = begin(settings)?;
    let consent = |text: String| LoginError::Consent(text);
    let page = http.get(pending.url.clone()).send().await.map_err(|e| {
        consent(format!(
            "GET authorize failed: {}",
            oauth::describe_reqwest(&e)
        ))
    })?;
    if let Some(returned) = redirected(&page) {
        return complete(settings, http, store, pending, returned).await;
    }
    let status = page.status();
    let html = page.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(consent(format!(
            "the authorize page answered {status}: {}",
            page_error(&html)
        )));
    }
    let form = ConsentForm::parse(&html)
        .ok_or_else(|| consent("the authorize page holds no consent form".to_owned()))?;
    if !html.contains(&format!("value=\"{user_email}\"")) {
        return Err(consent(format!(
            "the consent page offers no user {user_email}"
        )));
    }
    let mut fields = form.hidden;
    fields.push(("user".to_owned(), user_email.to_owned()));
    fields.push(("decision".to_owned(), "accept".to_owned()));
    let action = pending.url.join(&form.action).map_err(|e| {
        consent(format!(
            "the form action {:?} is not a URL: {e}",
            form.action
        ))
    })?;
    let answer = http.post(action).form(&fields).send().await.map_err(|e| {
        consent(format!(
            "submitting the consent failed: {}",
            oauth::describe_reqwest(&e)
        ))
    })?;
    let Some(returned) = redirected(&answer) else {
        let status = answer.status();
        let html = answer.text().await.unwrap_or_default();
        return Err(consent(format!(
            "the consent answer is {status}, not a redirect: {}",
            page_error(&html)
        )));
    };
    complete(settings, http, store, pending, returned).await
}

/// The code or error a redirect carries, if the answer is one.
fn redirected(response: &reqwest::Response) -> Option<Returned> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get("location")?.to_str().ok()?;
    let url = url::Url::parse(location).ok()?;
    read_return(url.query().unwrap_or_default())
}

/// The error text of an error page, shortened.
fn page_error(html: &str) -> String {
    let text = html
        .split_once("class=\"error\"")
        .map_or(html, |(_, rest)| rest);
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(160)
        .collect()
}

/// The consent form of the authorize page.
#[derive(Debug)]
struct ConsentForm {
    action: String,
    hidden: Vec<(String, String)>,
}

impl ConsentForm {
    /// Reads the first form's action and hidden inputs (attribute values in
    /// double quotes, as the emulator writes them).
    fn parse(html: &str) -> Option<Self> {
        let start = html.find("<form")?;
        let form = &html[start
            ..html[start..]
                .find("</form>")
                .map_or(html.len(), |e| start + e)];
        let action = attribute(form.split('>').next()?, "action")?;
        let hidden = form
            .split("<input")
            .skip(1)
            .filter_map(|tag| {
                let tag = tag.split('>').next()?;
                (attribute(tag, "type")? == "hidden")
                    .then(|| Some((attribute(tag, "name")?, attribute(tag, "value")?)))
                    .flatten()
            })
            .collect();
        Some(Self { action, hidden })
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')? + at;
    Some(tag[at..end].replace("&amp;", "&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redirect_query_gives_a_code_or_an_error() {
        match read_return("code=abc&state=xyz") {
            Some(Returned::Code { code, state }) => {
                assert_eq!(code, "abc");
                assert_eq!(state.as_deref(), Some("xyz"));
            }
            other => panic!("{other:?}"),
        }
        match read_return(
            "error=invalid_scope&error_description=The+requested+scope+is+invalid%3A+a",
        ) {
            Some(Returned::Error { error, description }) => {
                assert_eq!(error, "invalid_scope");
                assert_eq!(description, "The requested scope is invalid: a");
            }
            other => panic!("{other:?}"),
        }
        assert!(read_return("").is_none());
    }

    #[test]
    fn the_consent_form_is_read() {
        let html = "<form method=\"post\" action=\"/v1/authorize\"><input type=\"hidden\" \
                    name=\"request\" value=\"R1\"><select name=\"user\"></select></form>";
        let form = ConsentForm::parse(html).unwrap();
        assert_eq!(form.action, "/v1/authorize");
        assert_eq!(form.hidden, vec![("request".to_owned(), "R1".to_owned())]);
    }
}
