//! A faithful local stand-in for the parts of Webex the tool talks to
//! (DESIGN section 9): OAuth (authorize page, token endpoint, device grant),
//! the REST resources, XSI-Actions with a call-state machine, and a forward
//! proxy with none, Basic or Digest authentication, all on loopback over TLS
//! with a CA generated at start. Named faults make it misbehave on purpose.
//!
//! It stands apart from the tool: nothing here imports the tool's config,
//! checks or pipeline, so it cannot agree with a bug of theirs by
//! construction. Its shapes come from `reference/webex-api.md`.
//!
//! Entry points: [`start`] for tests and `demo`, [`run_command`] for the
//! `emulator` subcommand, [`fault_catalog`] for `--list-faults`.

mod calls;
mod faults;
mod files;
mod ids;
mod oauth;
mod proxy;
mod rest;
mod state;
mod tls;
mod wire;
mod xsi;
mod xsi_doc;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post, put};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use faults::{FaultInfo, FaultList, FaultSpec, ProxyAuthMode, fault_catalog};
pub use ids::{IdKind, decode as decode_id, encode as encode_id};
pub use oauth::TokenResponse;
pub use state::REGISTERED_SCOPES;

use faults::Behaviour;
use state::{Counters, Directory, Integration, Shared, Urls, World};

/// The path prefix of XSI-Actions on the emulator's origin.
pub const XSI_ACTIONS_PATH: &str = "/com.broadsoft.xsi-actions";

/// Text that must not be shown: its `Debug` prints `(redacted)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    /// The secret itself, for sending where it belongs.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, which the tool may show as evidence.
    #[must_use]
    pub fn last4(&self) -> &str {
        let n = self.0.len();
        self.0.get(n.saturating_sub(4)..).unwrap_or_default()
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

/// Arguments of `wxc-preflight emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address of the HTTPS server (loopback only; the proxy takes another port on the same IP)
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        env = "WXC_PREFLIGHT_EMULATOR_LISTEN"
    )]
    pub listen: SocketAddr,

    /// Make the emulator misbehave: NAME or NAME=DURATION (repeatable; see --list-faults)
    #[arg(
        long = "fault",
        value_name = "NAME",
        env = "WXC_PREFLIGHT_FAULT",
        value_delimiter = ','
    )]
    pub faults: Vec<String>,

    /// List the faults with the finding code each should provoke, then exit
    #[arg(long)]
    pub list_faults: bool,

    /// Directory for the CA, config and secrets (default: a fresh temporary directory, kept)
    #[arg(long, value_name = "DIR", env = "WXC_PREFLIGHT_EMULATOR_DIR")]
    pub dir: Option<PathBuf>,

    /// Authentication the proxy demands
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        default_value = "none",
        env = "WXC_PREFLIGHT_EMULATOR_PROXY_AUTH"
    )]
    pub proxy_auth: ProxyAuthMode,

    /// Leave the [proxy] table out of the written config (direct connection)
    #[arg(long)]
    pub no_proxy_in_config: bool,
}

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Where the HTTPS server listens; must be a loopback address.
    pub listen: SocketAddr,
    /// Faults, in order.
    pub faults: Vec<FaultSpec>,
    /// Where to write files; `None`: a fresh temporary directory that is kept.
    pub dir: Option<PathBuf>,
    /// What the proxy demands (faults may change it).
    pub proxy_auth: ProxyAuthMode,
    /// Whether the written config routes the tool through the proxy.
    pub proxy_in_config: bool,
    /// How long a call may ring before the emulator releases it.
    pub ring_timeout: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            faults: Vec::new(),
            dir: None,
            proxy_auth: ProxyAuthMode::None,
            proxy_in_config: true,
            ring_timeout: Duration::from_secs(30),
        }
    }
}

impl EmulatorOptions {
    /// Options from the command line (faults parsed and checked).
    pub fn from_args(args: &EmulatorArgs) -> anyhow::Result<Self> {
        let faults = args
            .faults
            .iter()
            .filter(|f| !f.trim().is_empty())
            .map(|f| FaultSpec::parse(f))
            .collect::<anyhow::Result<_>>()?;
        Ok(EmulatorOptions {
            listen: args.listen,
            faults,
            dir: args.dir.clone(),
            proxy_auth: args.proxy_auth,
            proxy_in_config: !args.no_proxy_in_config,
            ..EmulatorOptions::default()
        })
    }

    /// Adds a fault by name (`NAME` or `NAME=DURATION`).
    pub fn fault(mut self, spec: &str) -> anyhow::Result<Self> {
        self.faults.push(FaultSpec::parse(spec)?);
        Ok(self)
    }
}

/// A running emulator. Dropping it stops its servers; [`Emulator::shutdown`]
/// also waits for them.
pub struct Emulator {
    api_base: Url,
    xsi_actions_base: Url,
    proxy_addr: SocketAddr,
    ca_pem: String,
    dir: PathBuf,
    admin_token: SecretText,
    proxy_username: String,
    proxy_password: SecretText,
    faults: Vec<FaultSpec>,
    startup: Duration,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("api_base", &self.api_base.as_str())
            .field("proxy_addr", &self.proxy_addr)
            .field("dir", &self.dir)
            .field("admin_token", &self.admin_token)
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Emulator {
    /// `https://HOST:PORT/v1`.
    #[must_use]
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// `https://HOST:PORT/com.broadsoft.xsi-actions` (what the org reports when healthy).
    #[must_use]
    pub fn xsi_actions_base(&self) -> &Url {
        &self.xsi_actions_base
    }

    /// The forward proxy's address.
    #[must_use]
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// `http://HOST:PORT` of the proxy.
    #[must_use]
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.proxy_addr)
    }

    /// The proxy's user name and its real password (the written one may be wrong, by fault).
    #[must_use]
    pub fn proxy_credentials(&self) -> (&str, &SecretText) {
        (&self.proxy_username, &self.proxy_password)
    }

    /// The CA certificate (PEM), also in `dir/ca.pem`.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The directory holding the CA, config and secrets.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `dir/wxc-preflight.toml`.
    #[must_use]
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(files::CONFIG_FILE)
    }

    /// `dir/ca.pem`.
    #[must_use]
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join(files::CA_FILE)
    }

    /// The plan endpoints' emails, in plan order (as written to the config).
    #[must_use]
    pub fn endpoints(&self) -> &[String] {
        &self.shared.directory.plan_emails
    }

    /// Every emulated user's email, administrator first.
    #[must_use]
    pub fn users(&self) -> Vec<String> {
        self.shared
            .directory
            .users
            .iter()
            .map(|u| u.email.clone())
            .collect()
    }

    /// The administrator's email (the PAT's owner and `demo`'s login user).
    #[must_use]
    pub fn admin_email(&self) -> &str {
        &self.shared.directory.admin().email
    }

    /// The administrator's personal access token (12 hours, the integration's
    /// scopes), also in `dir/access_token`.
    #[must_use]
    pub fn admin_token(&self) -> &SecretText {
        &self.admin_token
    }

    /// The registered client id (the written one differs under `client-unknown`).
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.shared.integration.client_id
    }

    /// The registered client secret (the written one differs under `client-secret-wrong`).
    #[must_use]
    pub fn client_secret(&self) -> SecretText {
        SecretText(self.shared.integration.client_secret.clone())
    }

    /// The registered redirect URI.
    #[must_use]
    pub fn registered_redirect_uri(&self) -> &str {
        &self.shared.integration.redirect_uri
    }

    /// The org id (base64 of `ciscospark://us/ORGANIZATION/<uuid>`).
    #[must_use]
    pub fn org_id(&self) -> String {
        self.shared.directory.org_id()
    }

    /// The Webex person id of a user, by email.
    #[must_use]
    pub fn person_id(&self, email: &str) -> Option<String> {
        self.shared
            .directory
            .by_email(email)
            .map(state::User::person_id)
    }

    /// The faults in force.
    #[must_use]
    pub fn faults(&self) -> &[FaultSpec] {
        &self.faults
    }

    /// How long [`start`] took, from the call to ready.
    #[must_use]
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// What a completed OAuth login of `email` would return, without the
    /// browser (for `demo` and tests): live tokens for every registered scope
    /// the org grants.
    pub fn issue_tokens(&self, email: &str) -> anyhow::Result<TokenResponse> {
        let all: Vec<&str> = self
            .shared
            .integration
            .scopes
            .iter()
            .map(String::as_str)
            .collect();
        self.issue_tokens_with_scopes(email, &all)
    }

    /// Like [`Emulator::issue_tokens`], for the given scopes, each of which
    /// must be registered on the integration (else the error names them).
    pub fn issue_tokens_with_scopes(
        &self,
        email: &str,
        scopes: &[&str],
    ) -> anyhow::Result<TokenResponse> {
        let shared = &self.shared;
        let user = shared
            .directory
            .by_email(email)
            .with_context(|| format!("no emulated user {email}"))?;
        let unregistered: Vec<&str> = scopes
            .iter()
            .copied()
            .filter(|s| !shared.integration.scopes.iter().any(|r| r == s))
            .collect();
        anyhow::ensure!(
            unregistered.is_empty(),
            "invalid_scope: the integration does not register {}",
            unregistered.join(" ")
        );
        let requested: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let granted = oauth::granted(shared, &requested);
        let mut world = shared.world();
        Ok(oauth::issue(
            shared,
            &mut world,
            &shared.integration.client_id,
            &user.uuid,
            &granted,
        ))
    }

    /// Plays the user's browser on the login page: opens `authorize_url`
    /// (as the tool built it), signs in as `email` and accepts. Returns the
    /// URL the browser would be sent to: the client's redirect URI with
    /// `code` and `state`, or with `error=` (for example `invalid_scope`).
    /// Errors are what the page would show instead (unknown client id,
    /// unregistered redirect URI), as `"<error>: <text>"`.
    pub fn sign_in(&self, authorize_url: &str, email: &str) -> anyhow::Result<Url> {
        match oauth::sign_in(&self.shared, authorize_url, email) {
            Ok(location) | Err(oauth::Refusal::Redirect(location)) => Ok(Url::parse(&location)?),
            Err(oauth::Refusal::Page { error, text }) => anyhow::bail!("{error}: {text}"),
        }
    }

    /// Read-only views of the emulator's state, for tests.
    #[must_use]
    pub fn inspect(&self) -> Inspector<'_> {
        Inspector {
            shared: &self.shared,
        }
    }

    /// Stops the servers and waits for them.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// Read-only views of a running emulator.
#[derive(Debug)]
pub struct Inspector<'a> {
    shared: &'a Shared,
}

impl Inspector<'_> {
    /// How many call legs the user with `email` has now.
    #[must_use]
    pub fn active_calls(&self, email: &str) -> usize {
        self.shared
            .directory
            .by_email(email)
            .map_or(0, |u| self.shared.world().switch.count_of(&u.uuid))
    }

    /// Requests to the token endpoints (`access_token` and `device/token`).
    #[must_use]
    pub fn token_endpoint_hits(&self) -> u64 {
        load(&self.shared.counters.token_endpoint_hits)
    }

    /// Requests served by the HTTPS server.
    #[must_use]
    pub fn requests(&self) -> u64 {
        load(&self.shared.counters.requests)
    }

    /// CONNECT tunnels the proxy opened.
    #[must_use]
    pub fn proxy_tunnels(&self) -> u64 {
        load(&self.shared.counters.proxy_tunnels)
    }

    /// Proxy requests answered 407.
    #[must_use]
    pub fn proxy_challenges(&self) -> u64 {
        load(&self.shared.counters.proxy_challenges)
    }
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

/// What `wxc-preflight emulator` hands the CLI to print.
#[derive(Debug)]
pub enum Started {
    /// The emulator runs until the value is dropped or the cancel token fires.
    Running(Box<Emulator>),
    /// `--list-faults`: nothing runs.
    Faults(FaultList),
}

impl Started {
    /// Whether the CLI should wait (for Ctrl-C) before dropping this value.
    #[must_use]
    pub fn is_running(&self) -> bool {
        matches!(self, Started::Running(_))
    }
}

impl fmt::Display for Started {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Started::Faults(list) => list.fmt(f),
            Started::Running(emulator) => describe(emulator, f),
        }
    }
}

fn describe(e: &Emulator, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let dir = e.dir.display();
    writeln!(f, "wxc-preflight emulator is running (Ctrl-C stops it)")?;
    writeln!(f, "  directory:    {dir}")?;
    writeln!(f, "  config:       {}", e.config_path().display())?;
    writeln!(f, "  CA:           {}", e.ca_path().display())?;
    writeln!(f, "  API base:     {}", e.api_base)?;
    writeln!(f, "  XSI-Actions:  {}", e.xsi_actions_base)?;
    let auth = &e.shared.behaviour.proxy_offers;
    let auth = if auth.is_empty() {
        "no authentication".to_owned()
    } else {
        let names: Vec<_> = auth.iter().map(|m| m.config_name()).collect();
        format!("{} as {}", names.join(" or "), e.proxy_username)
    };
    writeln!(f, "  proxy:        {} ({auth})", e.proxy_url())?;
    writeln!(
        f,
        "  users:        {} (admin), {}",
        e.admin_email(),
        e.endpoints().join(", ")
    )?;
    writeln!(
        f,
        "  admin token:  personal access token of {}, valid 12 hours, ending ...{}, in {}",
        e.admin_email(),
        e.admin_token.last4(),
        e.dir.join(files::ACCESS_TOKEN_FILE).display()
    )?;
    let faults: Vec<String> = e.faults.iter().map(ToString::to_string).collect();
    writeln!(
        f,
        "  faults:       {}",
        if faults.is_empty() {
            "none".to_owned()
        } else {
            faults.join(", ")
        }
    )?;
    writeln!(f)?;
    writeln!(f, "try:")?;
    writeln!(
        f,
        "  curl --cacert {dir}/ca.pem -H \"Authorization: Bearer $(cat {dir}/access_token)\" {}/people/me",
        e.api_base
    )?;
    write!(
        f,
        "  wxc-preflight check --config {}",
        e.config_path().display()
    )
}

/// Runs `wxc-preflight emulator`: lists the faults, or starts the emulator
/// and returns it running until `cancel` fires or the value is dropped.
pub async fn run_command(args: EmulatorArgs, cancel: CancellationToken) -> anyhow::Result<Started> {
    if args.list_faults {
        return Ok(Started::Faults(FaultList(fault_catalog())));
    }
    let options = EmulatorOptions::from_args(&args)?;
    let emulator = start_with(options, cancel.child_token()).await?;
    Ok(Started::Running(Box::new(emulator)))
}

/// Starts an emulator on loopback: HTTPS server, proxy, files.
pub async fn start(options: EmulatorOptions) -> anyhow::Result<Emulator> {
    start_with(options, CancellationToken::new()).await
}

async fn start_with(
    options: EmulatorOptions,
    cancel: CancellationToken,
) -> anyhow::Result<Emulator> {
    let began = Instant::now();
    let ip = options.listen.ip();
    anyhow::ensure!(
        ip.is_loopback(),
        "the emulator listens on loopback only, not {ip}\n\
         hint: use --listen 127.0.0.1:0 or --listen [::1]:0"
    );
    let behaviour = Behaviour::healthy(options.proxy_auth).with_faults(&options.faults);

    let https = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("could not listen on {}", options.listen))?;
    let proxy_listener = TcpListener::bind((ip, 0))
        .await
        .with_context(|| format!("could not listen on {ip} for the proxy"))?;
    let proxy_addr = proxy_listener.local_addr()?;
    let redirect_port = free_port(ip).await?;

    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let origin = format!("https://{host}:{}", https.local_addr()?.port());
    let urls = Urls {
        api_base: format!("{origin}/v1"),
        xsi_actions: format!("{origin}{XSI_ACTIONS_PATH}"),
        origin,
    };
    let authority = tls::generate(ip)?;

    let redirect_url = format!("http://{host}:{redirect_port}/redirect");
    let shared = Arc::new(build_shared(
        behaviour,
        urls,
        &redirect_url,
        options.ring_timeout,
    ));
    let admin_uuid = shared.directory.admin().uuid.clone();
    let admin_token = SecretText(oauth::issue_personal(&shared, &admin_uuid));
    let proxy_username = "harness".to_owned();
    let proxy_password = SecretText(state::random_alnum(24));

    let dir = write_files(
        &options,
        &shared,
        &authority.ca_pem,
        &admin_token,
        &proxy_username,
        &proxy_password,
        &redirect_url,
        proxy_addr,
    )?;

    let tasks = spawn_servers(
        &shared,
        https,
        Arc::clone(&authority.server_config),
        proxy_listener,
        &proxy_password,
        &proxy_username,
        &cancel,
    )?;

    let startup = began.elapsed();
    tracing::debug!(
        api_base = %shared.urls.api_base,
        proxy = %proxy_addr,
        dir = %dir.display(),
        startup_ms = startup.as_millis(),
        "emulator ready"
    );
    Ok(Emulator {
        api_base: Url::parse(&shared.urls.api_base)?,
        xsi_actions_base: Url::parse(&shared.urls.xsi_actions)?,
        proxy_addr,
        ca_pem: authority.ca_pem,
        dir,
        admin_token,
        proxy_username,
        proxy_password,
        faults: options.faults.clone(),
        startup,
        shared,
        cancel,
        tasks: Mutex::new(tasks),
    })
}

/// The organisation, integration and initial state, shaped by the faults.
fn build_shared(
    behaviour: Behaviour,
    urls: Urls,
    redirect_url: &str,
    ring_timeout: Duration,
) -> Shared {
    let integration = Integration {
        client_id: format!("C{}", state::random_hex(32)),
        client_secret: state::random_hex(32),
        redirect_uri: if behaviour.redirect_registered_differs {
            format!("{redirect_url}/")
        } else {
            redirect_url.to_owned()
        },
        scopes: REGISTERED_SCOPES
            .iter()
            .filter(|s| !behaviour.unregistered_scopes.contains(s))
            .map(|s| (*s).to_owned())
            .collect(),
    };
    let directory = Directory::build(&behaviour);
    let mut world = World::new(ring_timeout);
    if let Some(user) = behaviour
        .stale_call_endpoint
        .and_then(|i| directory.plan_emails.get(i))
        .and_then(|email| directory.by_email(email))
    {
        world.switch.add_stale_call(&user.party());
    }
    Shared {
        behaviour,
        directory,
        integration,
        urls,
        world: Mutex::new(world),
        counters: Counters::default(),
    }
}

/// Starts the HTTPS server and the proxy; returns their tasks.
fn spawn_servers(
    shared: &Arc<Shared>,
    https: TcpListener,
    server_config: Arc<rustls::ServerConfig>,
    proxy_listener: TcpListener,
    proxy_password: &SecretText,
    proxy_username: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let https_addr = https.local_addr()?;
    let ip = https_addr.ip();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config);
    let mut tasks = vec![tokio::spawn(serve_https(
        https,
        acceptor,
        router(Arc::clone(shared)),
        cancel.clone(),
    ))];
    let b = &shared.behaviour;
    let mut allowed_hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !allowed_hosts.contains(&ip.to_string()) {
        allowed_hosts.push(ip.to_string());
    }
    let proxy = proxy::Proxy::new(
        proxy::ProxySettings {
            offers: b.proxy_offers.clone(),
            username: proxy_username.to_owned(),
            password: proxy_password.expose().to_owned(),
            allowed_hosts,
            block_api: b.proxy_blocks_api,
            emulator: https_addr,
        },
        Arc::clone(shared),
    );
    tasks.push(tokio::spawn(proxy::serve(
        proxy_listener,
        Arc::new(proxy),
        cancel.clone(),
    )));
    Ok(tasks)
}

/// A port that was free a moment ago, for the redirect URL the tool listens on.
async fn free_port(ip: IpAddr) -> anyhow::Result<u16> {
    let listener = TcpListener::bind((ip, 0))
        .await
        .with_context(|| format!("could not find a free port on {ip}"))?;
    Ok(listener.local_addr()?.port())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site, every value is distinct"
)]
fn write_files(
    options: &EmulatorOptions,
    shared: &Shared,
    ca_pem: &str,
    admin_token: &SecretText,
    proxy_username: &str,
    proxy_password: &SecretText,
    redirect_url: &str,
    proxy_addr: SocketAddr,
) -> anyhow::Result<PathBuf> {
    let dir = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
            dir.clone()
        }
        None => tempfile::Builder::new()
            .prefix("wxc-emulator-")
            .tempdir()
            .context("could not create a temporary directory")?
            .keep(),
    };
    let b = &shared.behaviour;
    let client_id = if b.written_client_id_unknown {
        format!("C{}", state::random_hex(32))
    } else {
        shared.integration.client_id.clone()
    };
    let secret = if b.written_secret_wrong {
        state::random_hex(32)
    } else {
        shared.integration.client_secret.clone()
    };
    let password = if b.proxy_password_wrong {
        format!("{}-wrong", proxy_password.expose())
    } else {
        proxy_password.expose().to_owned()
    };
    let config = files::ToolConfig {
        client_id,
        redirect_url: redirect_url.to_owned(),
        api_base: shared.urls.api_base.clone(),
        proxy: options.proxy_in_config.then(|| files::ProxySection {
            url: format!("http://{proxy_addr}"),
            auth: b.proxy_config_auth,
            username: proxy_username.to_owned(),
        }),
        endpoints: shared.directory.plan_emails.clone(),
    };
    files::write_public(&dir, files::CA_FILE, ca_pem)?;
    files::write_secret(&dir, files::CLIENT_SECRET_FILE, &secret)?;
    files::write_secret(&dir, files::ACCESS_TOKEN_FILE, admin_token.expose())?;
    files::write_secret(&dir, files::PROXY_PASSWORD_FILE, &password)?;
    files::write_public(&dir, files::CONFIG_FILE, &files::render_config(&config))?;
    Ok(dir)
}

/// Every route of the HTTPS server.
fn router(shared: Arc<Shared>) -> Router {
    let user = format!("{XSI_ACTIONS_PATH}/v2.0/user/{{user}}");
    Router::new()
        .route(
            "/v1/authorize",
            get(oauth::authorize_page).post(oauth::authorize_decision),
        )
        .route("/v1/access_token", post(oauth::access_token))
        .route("/v1/device/authorize", post(oauth::device_authorize))
        .route("/v1/device/token", post(oauth::device_token))
        .route(
            "/v1/device/verify",
            get(oauth::device_page).post(oauth::device_decision),
        )
        .route("/v1/people/me", get(rest::people_me))
        .route("/v1/people", get(rest::people_list))
        .route("/v1/people/{id}", get(rest::people_get))
        .route("/v1/organizations/{id}", get(rest::organization))
        .route("/v1/licenses", get(rest::licenses))
        .route("/v1/authorizations/tokenExpiry", get(rest::token_expiry))
        .route(&format!("{user}/profile"), get(xsi::profile))
        .route(&format!("{user}/calls"), get(xsi::calls))
        .route(&format!("{user}/calls/new"), post(xsi::originate))
        .route(
            &format!("{user}/calls/{{call}}"),
            get(xsi::call).delete(xsi::release),
        )
        .route(&format!("{user}/calls/{{call}}/Talk"), put(xsi::talk))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            wire::layer,
        ))
        .with_state(shared)
}

async fn fallback(uri: axum::http::Uri) -> wire::Failure {
    if uri.path().starts_with(XSI_ACTIONS_PATH) {
        xsi::not_found()
    } else {
        rest::not_found()
    }
}

/// Accepts TLS connections and serves HTTP/1.1 on them until `cancel` fires.
async fn serve_https(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: Router,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _)) = accepted else { continue };
        // Small answers written in pieces would otherwise wait out delayed ACKs (40 ms each).
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
            let tls = tokio::select! {
                () = cancel.cancelled() => return,
                tls = handshake => match tls {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "emulator TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                },
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                () = cancel.cancelled() => {}
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "emulator connection ended");
                    }
                }
            }
        });
    }
}
