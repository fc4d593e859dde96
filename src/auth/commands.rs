//! The `auth` subcommands (`login`, `status`, `refresh`, `logout`) and
//! `xsi-request`: each loads the configuration, builds the run's network
//! services, does its work through the rest of `auth`, and writes through
//! `crate::output` only. Each returns the process exit code: 0 done, 1
//! warnings, 2 a problem a finding describes, 3 the command could not run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::diagnosis::{self, describe_expiry};
use super::login::{LoginError, LoginOptions};
use super::profile::{self, ScopeDiff};
use super::store::{Fresh, RefreshError, RefreshPolicy, StoredTokens, TokenStore};
use super::{AuthSettings, identity};
use crate::config::{self, Config, ConfigProblem, ConfigSource};
use crate::finding::{Finding, Severity};
use crate::output;
use crate::services::Services;

/// What `auth` was asked to do.
#[derive(Debug, Clone)]
pub enum Action {
    Login {
        no_browser: bool,
        device: bool,
        timeout: Duration,
    },
    Status,
    Refresh,
    Logout,
}

/// One finding for a terminal: summary, evidence, problem, actions, fix.
#[must_use]
pub fn render_finding(finding: &Finding) -> String {
    let entry = finding.remediation();
    let mut out = format!(
        "{} ({}): {}\n",
        finding.code, finding.severity, finding.summary
    );
    for evidence in &finding.evidence {
        let _ = writeln!(out, "  {}: {}", evidence.label, evidence.value);
    }
    let _ = writeln!(out, "Problem: {}", entry.problem);
    let _ = writeln!(out, "Suggested course of action:");
    for (i, action) in entry.actions.iter().enumerate() {
        let _ = writeln!(out, "  {}. {action}", i + 1);
    }
    if let Some(fix) = &entry.fix_command {
        let _ = writeln!(out, "Fix: {fix}");
    }
    out
}

fn problem_text(problem: &ConfigProblem) -> String {
    match problem {
        ConfigProblem::NotFound { searched } => {
            let paths: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
            format!(
                "no configuration file found (looked at {})\npass one with --config FILE",
                paths.join(", ")
            )
        }
        ConfigProblem::Unreadable { path, reason } => {
            format!("config {} cannot be read: {reason}", path.display())
        }
        ConfigProblem::Syntax {
            path,
            line,
            column,
            message,
        } => {
            format!("config {}:{line}:{column}: {message}", path.display())
        }
        ConfigProblem::Invalid { key, message } => format!("config key {key}: {message}"),
        ConfigProblem::SecretMissing {
            key,
            source,
            reason,
        } => format!("secret {key} from {source}: {reason}"),
        ConfigProblem::SecretFileOpen { key, path, mode } => {
            format!(
                "secret file {} of {key} has mode {mode:o}\nrestrict it with chmod 600",
                path.display()
            )
        }
        ConfigProblem::ClientIdFormat {
            value,
            line,
            column,
        } => {
            format!(
                "config {line}:{column}: client_id {value:?} does not look like a Webex client id"
            )
        }
    }
}

/// The configuration and settings, or exit code 3 after saying why.
fn load(config_path: Option<PathBuf>) -> Result<(Config, AuthSettings), u8> {
    let source = config_path.map_or(ConfigSource::Search, ConfigSource::Explicit);
    let loaded = config::load(&source, &profile::names(), &|name| std::env::var(name).ok());
    for problem in &loaded.problems {
        output::message(&problem_text(problem));
    }
    let Some(config) = loaded.config else {
        return Err(3);
    };
    match AuthSettings::from_config(&config) {
        Ok(settings) => Ok((config, settings)),
        Err(text) => {
            output::message(&text);
            Err(3)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            output::message(&format!("cannot start the async runtime: {e}"));
            3
        })
}

async fn services(config: &Config) -> Result<Services, u8> {
    Services::build(config).await.map_err(|problem| {
        output::message(&problem_text(&problem));
        3
    })
}

/// Runs `auth ACTION`.
#[must_use]
pub fn auth(config_path: Option<PathBuf>, action: &Action) -> u8 {
    let (config, settings) = match load(config_path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let store = TokenStore::new(&settings.token_store);
    if let Action::Logout = action {
        return logout(&store);
    }
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let code = runtime.block_on(async {
        let services = match services(&config).await {
            Ok(services) => services,
            Err(code) => return code,
        };
        let http = services.client();
        match action {
            Action::Login {
                no_browser,
                device,
                timeout,
            } => login(&settings, http, &store, *no_browser, *device, *timeout).await,
            Action::Status => status(&settings, http, &store).await,
            Action::Refresh => refresh(&settings, http, &store).await,
            Action::Logout => unreachable!("handled above"),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn login(
    settings: &AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    no_browser: bool,
    device: bool,
    timeout: Duration,
) -> u8 {
    let started = std::time::Instant::now();
    let say = |text: &str| output::message(text);
    let result = if device {
        super::device::login(settings, http, store, &say, &|_| {}).await
    } else {
        let options = LoginOptions {
            no_browser,
            timeout,
        };
        super::login::login(settings, http, store, &options, &say).await
    };
    match result {
        Ok(tokens) => {
            let who = tokens.identity.as_ref().map_or_else(
                || "(unknown user)".to_owned(),
                |i| format!("{} ({})", i.email, i.display_name),
            );
            output::message(&format!(
                "logged in to {} as {who} in {} ms; tokens stored in {}",
                settings.host(),
                started.elapsed().as_millis(),
                store.path().display()
            ));
            0
        }
        Err(error) => login_failed(&error, settings),
    }
}

fn login_failed(error: &LoginError, settings: &AuthSettings) -> u8 {
    output::message(&format!("login failed: {error}"));
    if let Some(finding) = diagnosis::login_finding(error, &settings.host()) {
        output::stderr(&render_finding(&finding));
        return 2;
    }
    match error {
        LoginError::Settings(_) | LoginError::Listener(_) => 3,
        _ => 2,
    }
}

fn logout(store: &TokenStore) -> u8 {
    match store.delete() {
        Ok(true) => {
            output::message(&format!(
                "deleted the stored tokens in {}",
                store.path().display()
            ));
            0
        }
        Ok(false) => {
            output::message(&format!(
                "no tokens were stored in {}",
                store.path().display()
            ));
            0
        }
        Err(e) => {
            output::message(&e.to_string());
            3
        }
    }
}

async fn refresh(settings: &AuthSettings, http: &reqwest::Client, store: &TokenStore) -> u8 {
    let started = std::time::Instant::now();
    match super::store::fresh_tokens(settings, http, store, RefreshPolicy::Now).await {
        Ok(Fresh {
            tokens,
            refreshed_elsewhere,
            ..
        }) => {
            let how = if refreshed_elsewhere {
                "another process had just refreshed them"
            } else {
                "refreshed"
            };
            output::message(&format!(
                "{how} in {} ms; access token {}",
                started.elapsed().as_millis(),
                describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at)
            ));
            0
        }
        Err(error) => refresh_failed(&error, settings, store),
    }
}

fn refresh_failed(error: &RefreshError, settings: &AuthSettings, store: &TokenStore) -> u8 {
    if let Some(finding) = diagnosis::refresh_finding(error, &settings.host()) {
        output::message(&format!("refresh failed: {}", finding.summary));
        output::stderr(&render_finding(&finding));
        return 2;
    }
    let finding = Finding::new(
        "token.missing",
        format!("no tokens are stored in {}", store.path().display()),
    );
    output::stderr(&render_finding(&finding));
    2
}

/// `auth status`, in the manner of `gh auth status`.
async fn status(settings: &AuthSettings, http: &reqwest::Client, store: &TokenStore) -> u8 {
    let tokens = match store.load() {
        Ok(Some(tokens)) => tokens,
        Ok(None) => {
            output::stdout(&format!(
                "{} (interface {})\n  X not logged in: no tokens in {}\n  - To log in, run: wxc-preflight auth login\n",
                settings.host(),
                settings.name,
                store.path().display()
            ));
            return 2;
        }
        Err(e) => {
            output::stdout(&format!(
                "{}\n  X {e}\n  - To start over, run: wxc-preflight auth login\n",
                settings.host()
            ));
            return 2;
        }
    };
    let check = identity::whoami(http, settings, &tokens.access_token).await;
    let (text, code) = status_text(settings, store, &tokens, &check);
    output::stdout(&text);
    code
}

/// The status page as it is written, with the worst problem seen.
struct StatusPage {
    out: String,
    worst: Severity,
}

impl StatusPage {
    fn line(&mut self, severity: Severity, text: &str) {
        self.worst = self.worst.max(severity);
        self.out.push_str("  ");
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn who(&mut self, tokens: &StoredTokens, check: &Result<super::Identity, identity::Refusal>) {
        let stored = tokens.identity.as_ref();
        match (check, stored) {
            (Ok(id), _) => self.line(
                Severity::Info,
                &format!(
                    "✓ Logged in as {} ({}), org {}",
                    id.email, id.display_name, id.org_id
                ),
            ),
            (Err(identity::Refusal::Unauthorized { message, .. }), _) => {
                self.line(
                    Severity::Critical,
                    &format!("X The API refuses the stored access token: {message}"),
                );
            }
            (Err(e), Some(id)) => self.line(
                Severity::Warning,
                &format!(
                    "! Logged in as {} ({}), org {}; not verified: {e}",
                    id.email, id.display_name, id.org_id
                ),
            ),
            (Err(e), None) => {
                self.line(
                    Severity::Warning,
                    &format!("! Logged in; who could not be checked: {e}"),
                );
            }
        }
    }

    fn expiries(&mut self, tokens: &StoredTokens) {
        let now = jiff::Timestamp::now();
        let access_expired = tokens.access_left(now).is_some_and(|l| !l.is_positive());
        let access = describe_expiry(&tokens.access_token.hint(), tokens.access_expires_at);
        if let Some(refresh) = &tokens.refresh_token {
            let expired = tokens.refresh_left(now).is_some_and(|l| !l.is_positive());
            let mark = if access_expired { "-" } else { "✓" };
            self.line(Severity::Info, &format!("{mark} Access token: {access}"));
            let text = describe_expiry(&refresh.hint(), tokens.refresh_expires_at);
            if expired {
                self.line(Severity::Critical, &format!("X Refresh token: {text}"));
                self.line(
                    Severity::Info,
                    "- To log in again, run: wxc-preflight auth login",
                );
            } else {
                self.line(Severity::Info, &format!("✓ Refresh token: {text}"));
            }
        } else if access_expired {
            self.line(
                Severity::Critical,
                &format!("X Access token: {access}, and no refresh token"),
            );
            self.line(
                Severity::Info,
                "- To log in again, run: wxc-preflight auth login",
            );
        } else {
            self.line(Severity::Info, &format!("✓ Access token: {access}"));
            self.line(Severity::Warning, "! No refresh token stored");
        }
    }

    fn scopes(&mut self, settings: &AuthSettings, tokens: &StoredTokens) {
        let required = settings
            .profile
            .as_deref()
            .map_or("[interface] scopes".to_owned(), |p| format!("profile {p}"));
        let Some(granted) = &tokens.scope else {
            self.line(
                Severity::Warning,
                "! Token scopes: not stated by the token response (unverifiable)",
            );
            self.line(
                Severity::Info,
                "- To have them listed, run: wxc-preflight auth refresh",
            );
            return;
        };
        self.line(
            Severity::Info,
            &format!("- Token scopes: {}", quote_list(granted)),
        );
        let diff = ScopeDiff::new(granted, &settings.scopes);
        if diff.covers() {
            self.line(Severity::Info, &format!("✓ Covers the {required}"));
        } else {
            let mut missing = diff.missing.clone();
            if diff.xsi_missing {
                missing.push(profile::XSI_SCOPE.to_owned());
            }
            missing.extend(diff.case_mismatch.iter().map(|(want, _)| want.clone()));
            self.line(
                Severity::Critical,
                &format!(
                    "! Missing scopes required by the {required}: {}",
                    quote_list(&missing)
                ),
            );
            if diff.xsi_missing {
                self.line(
                    Severity::Info,
                    "- spark-admin:xsi is granted per organisation by Cisco: run wxc-preflight xsi-request",
                );
            }
            self.line(
                Severity::Info,
                "- To request missing scopes, run: wxc-preflight auth login",
            );
        }
        if !diff.excess.is_empty() {
            self.line(
                Severity::Warning,
                &format!(
                    "! Scopes beyond the {required}: {}",
                    quote_list(&diff.excess)
                ),
            );
        }
    }
}

/// The status page and its exit code, from the stored tokens and what
/// `GET /people/me` answered.
#[must_use]
pub fn status_text(
    settings: &AuthSettings,
    store: &TokenStore,
    tokens: &StoredTokens,
    check: &Result<super::Identity, identity::Refusal>,
) -> (String, u8) {
    let mut page = StatusPage {
        out: format!("{} (interface {})\n", settings.host(), settings.name),
        worst: Severity::Info,
    };
    page.who(tokens, check);
    page.line(
        Severity::Info,
        &format!("- Token store: {}", store.path().display()),
    );
    page.expiries(tokens);
    page.scopes(settings, tokens);
    if matches!(check, Err(identity::Refusal::Unauthorized { .. })) {
        page.line(
            Severity::Info,
            "- To re-authenticate, run: wxc-preflight auth login",
        );
    }
    let code = match page.worst {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Critical => 2,
    };
    (page.out, code)
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `xsi-request`: the email with the orgId and org name filled in
/// when a stored token can read them, placeholders otherwise.
#[must_use]
pub fn xsi_request(config_path: Option<PathBuf>) -> u8 {
    let (config, settings) = match load(config_path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let store = TokenStore::new(&settings.token_store);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let (org_id, org_name) = runtime.block_on(async {
        let Ok(services) = services(&config).await else {
            return (None, None);
        };
        let http = services.client();
        let tokens = match super::store::fresh_tokens(&settings, http, &store, RefreshPolicy::WhenNeeded).await {
            Ok(fresh) => fresh.tokens,
            Err(e) => {
                if let Some(finding) = diagnosis::refresh_finding(&e, &settings.host()) {
                    output::message(&format!("no usable token, so the orgId is left for you to fill in: {}", finding.summary));
                } else {
                    output::message("not logged in, so the orgId is left for you to fill in (wxc-preflight auth login)");
                }
                return (None, None);
            }
        };
        let org_id = match identity::whoami(http, &settings, &tokens.access_token).await {
            Ok(id) => Some(id.org_id),
            Err(e) => {
                output::message(&format!("GET /people/me failed ({e}); using the stored identity"));
                tokens.identity.as_ref().map(|i| i.org_id.clone())
            }
        };
        let org_name = match &org_id {
            Some(id) => identity::org_name(http, &settings, &tokens.access_token, id).await.ok(),
            None => None,
        };
        (org_id, org_name)
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    output::stdout(&crate::xsi_request::email(
        org_id.as_deref(),
        org_name.as_deref(),
        &settings.client_id,
    ));
    0
}
