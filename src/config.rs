//! Configuration: the TOML file of DESIGN section 3, in two stages.
//!
//! [`ConfigFile`] is the file as written, parsed strictly: an unknown key or
//! a wrong type is an error naming the key with its line and column.
//! [`Config`] is the resolved form the checks read: relative paths made
//! absolute against the file's folder, secrets read from their environment
//! variable or file, and every semantic problem collected as a
//! [`ConfigProblem`] for the `config` check to report (never a panic, never
//! a half-loaded run).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::secret::Secret;

/// The file name looked for in the working directory and the platform
/// config directory.
pub const FILE_NAME: &str = "wxc-preflight.toml";

/// The default Webex API base.
pub const DEFAULT_API_BASE: &str = "https://webexapis.com/v1";

/// The config file as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub interface: Option<InterfaceSection>,
    #[serde(default)]
    pub webex: WebexSection,
    pub proxy: Option<ProxySection>,
    #[serde(default)]
    pub dns: DnsSection,
    #[serde(default)]
    pub organization: OrganizationSection,
    pub plan: Option<PlanSection>,
    #[serde(default)]
    pub checks: ChecksSection,
}

/// `[interface]`: the Webex integration (OAuth2 client).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceSection {
    pub name: Option<String>,
    pub client_id: Spanned<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub redirect_url: Spanned<String>,
    pub expected_redirect_url: Option<Spanned<String>>,
    pub scope_profile: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub token_store: Option<PathBuf>,
}

/// `[webex]`: where the API lives and which extra roots to trust.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebexSection {
    #[serde(default = "default_api_base")]
    pub api_base: String,
    pub ca_file: Option<PathBuf>,
}

impl Default for WebexSection {
    fn default() -> Self {
        Self {
            api_base: default_api_base(),
            ca_file: None,
        }
    }
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.to_owned()
}

/// How the proxy wants clients to authenticate.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProxyAuth {
    #[default]
    None,
    Basic,
    Digest,
}

impl ProxyAuth {
    /// The name as written in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "basic",
            Self::Digest => "digest",
        }
    }
}

/// `[proxy]`: omitted for a direct connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    pub url: String,
    #[serde(default)]
    pub auth: ProxyAuth,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

/// `[dns]`: the resolver every lookup of the tool uses.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSection {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(
        default = "default_dns_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub timeout: Duration,
}

impl Default for DnsSection {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout: default_dns_timeout(),
        }
    }
}

fn default_dns_timeout() -> Duration {
    Duration::from_secs(3)
}

/// `[organization]`: optional overrides of what the token's org reports.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSection {
    pub id: Option<String>,
    pub xsi_actions_url: Option<String>,
}

/// `[plan]`: the minimal WbC-MT plan run (DESIGN section 7).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSection {
    #[serde(default = "default_plan_name")]
    pub name: String,
    #[serde(default)]
    pub endpoints: Vec<String>,
    #[serde(
        default = "default_pause",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub pause_after_error: Duration,
    #[serde(default = "default_retries")]
    pub retries_after_error: u32,
    #[serde(
        default = "default_ring_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub ring_timeout: Duration,
    #[serde(
        default = "default_talk_time",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub talk_time: Duration,
}

fn default_plan_name() -> String {
    "WbC-MT smoke".to_owned()
}
fn default_pause() -> Duration {
    Duration::from_secs(5)
}
fn default_retries() -> u32 {
    3
}
fn default_ring_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_talk_time() -> Duration {
    Duration::from_secs(2)
}

/// `[checks]`: selection and thresholds kept with the config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksSection {
    #[serde(default)]
    pub skip: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(
        default = "default_warn_expiry",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub warn_token_expiry: Duration,
}

impl Default for ChecksSection {
    fn default() -> Self {
        Self {
            skip: Vec::new(),
            ignore: Vec::new(),
            warn_token_expiry: default_warn_expiry(),
        }
    }
}

fn default_warn_expiry() -> Duration {
    Duration::from_secs(7 * 86_400)
}

/// What went wrong with the configuration, for the `config` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigProblem {
    /// No file was found where the tool looks for one.
    NotFound { searched: Vec<PathBuf> },
    /// The file exists but cannot be read.
    Unreadable { path: PathBuf, reason: String },
    /// The file is not valid TOML or does not match the schema.
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A key is missing, contradicts another, or has an unusable value.
    Invalid { key: String, message: String },
    /// A secret's environment variable or file is absent or empty.
    SecretMissing {
        key: String,
        source: String,
        reason: String,
    },
    /// A secret file can be read by other users.
    SecretFileOpen {
        key: String,
        path: PathBuf,
        mode: u32,
    },
    /// `client_id` does not look like a Webex client id.
    ClientIdFormat {
        value: String,
        line: usize,
        column: usize,
    },
}

/// Where the config file comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// `--config FILE` (or `WXC_PREFLIGHT_CONFIG`).
    Explicit(PathBuf),
    /// The default search: `./wxc-preflight.toml`, then the platform
    /// config directory.
    Search,
}

/// The resolved configuration every check reads.
#[derive(Debug)]
pub struct Config {
    /// The file the configuration came from.
    pub path: PathBuf,
    /// The file's text, kept to turn byte spans into line and column.
    pub text: String,
    pub file: ConfigFile,
    pub client_secret: Option<Secret>,
    pub proxy_password: Option<Secret>,
    /// DNS servers of `[dns] servers`, parsed.
    pub dns_servers: Vec<SocketAddr>,
}

/// The outcome of loading: a configuration (possibly with problems) or
/// only problems when nothing usable could be read.
#[derive(Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub problems: Vec<ConfigProblem>,
}

impl Loaded {
    fn failed(problem: ConfigProblem) -> Self {
        Self {
            config: None,
            problems: vec![problem],
        }
    }
}

/// The places the default search looks, in order.
#[must_use]
pub fn search_paths() -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from(FILE_NAME)];
    if let Some(dirs) = directories::ProjectDirs::from("", "", "wxc-preflight") {
        paths.push(dirs.config_dir().join(FILE_NAME));
    }
    paths
}

/// Finds, reads, parses and resolves the configuration.
///
/// `known_profiles` are the scope profile names shipped under
/// `checks/scopes/`; `env` reads an environment variable (injected so tests
/// need not touch the process environment).
pub fn load(
    source: &ConfigSource,
    known_profiles: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
) -> Loaded {
    let path = match source {
        ConfigSource::Explicit(path) => path.clone(),
        ConfigSource::Search => {
            let searched = search_paths();
            match searched.iter().find(|p| p.is_file()) {
                Some(found) => found.clone(),
                None => return Loaded::failed(ConfigProblem::NotFound { searched }),
            }
        }
    };
    // Evidence names the file without ambiguity, whatever the working
    // directory of whoever reads the report.
    let path = std::path::absolute(&path).unwrap_or(path);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded::failed(ConfigProblem::NotFound {
                searched: vec![path],
            });
        }
        Err(e) => {
            return Loaded::failed(ConfigProblem::Unreadable {
                path,
                reason: e.to_string(),
            });
        }
    };
    parse(path, text, known_profiles, env)
}

/// Parses and resolves a configuration from its text.
pub fn parse(
    path: PathBuf,
    text: String,
    known_profiles: &[&str],
    env: &dyn Fn(&str) -> Option<String>,
) -> Loaded {
    let file: ConfigFile = match toml::from_str(&text) {
        Ok(file) => file,
        Err(e) => {
            let (line, column) = e
                .span()
                .map_or((0, 0), |span| line_column(&text, span.start));
            return Loaded::failed(ConfigProblem::Syntax {
                path,
                line,
                column,
                message: e.message().trim().to_owned(),
            });
        }
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut problems = Vec::new();
    validate(&file, &text, known_profiles, &mut problems);

    let mut client_secret = None;
    if let Some(interface) = &file.interface {
        client_secret = resolve_secret(
            "interface.client_secret",
            interface.client_secret_env.as_deref(),
            interface.client_secret_file.as_deref(),
            &dir,
            env,
            &mut problems,
        );
    }
    let mut proxy_password = None;
    if let Some(proxy) = &file.proxy
        && proxy.auth != ProxyAuth::None
    {
        proxy_password = resolve_secret(
            "proxy.password",
            proxy.password_env.as_deref(),
            proxy.password_file.as_deref(),
            &dir,
            env,
            &mut problems,
        );
    }
    let dns_servers = parse_dns_servers(&file.dns.servers, &mut problems);

    let mut file = file;
    absolutise(&mut file, &dir);
    Loaded {
        config: Some(Config {
            path,
            text,
            file,
            client_secret,
            proxy_password,
            dns_servers,
        }),
        problems,
    }
}

/// The 1-based line and column of a byte offset.
#[must_use]
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn validate(
    file: &ConfigFile,
    text: &str,
    known_profiles: &[&str],
    problems: &mut Vec<ConfigProblem>,
) {
    let invalid = |key: &str, message: String| ConfigProblem::Invalid {
        key: key.to_owned(),
        message,
    };
    let Some(interface) = &file.interface else {
        problems.push(invalid(
            "interface",
            "the [interface] table is missing: it names the Webex integration \
             (client_id, client_secret_env or client_secret_file, redirect_url)"
                .to_owned(),
        ));
        return;
    };

    let client_id = interface.client_id.get_ref();
    if !looks_like_client_id(client_id) {
        let (line, column) = line_column(text, interface.client_id.span().start);
        problems.push(ConfigProblem::ClientIdFormat {
            value: client_id.clone(),
            line,
            column,
        });
    }
    match (&interface.client_secret_env, &interface.client_secret_file) {
        (Some(_), Some(_)) => problems.push(invalid(
            "interface.client_secret_env",
            "set client_secret_env or client_secret_file, not both".to_owned(),
        )),
        (None, None) => problems.push(invalid(
            "interface.client_secret_env",
            "the client secret has no source: set client_secret_env to the name of an \
             environment variable, or client_secret_file to a file holding it"
                .to_owned(),
        )),
        _ => {}
    }
    match (&interface.scope_profile, &interface.scopes) {
        (Some(_), Some(_)) => problems.push(invalid(
            "interface.scopes",
            "set scope_profile or scopes, not both".to_owned(),
        )),
        (Some(profile), None) if !known_profiles.contains(&profile.as_str()) => {
            problems.push(invalid(
                "interface.scope_profile",
                format!(
                    "unknown scope profile {profile:?}; known profiles: {}",
                    known_profiles.join(", ")
                ),
            ));
        }
        (None, Some(scopes)) if scopes.is_empty() => problems.push(invalid(
            "interface.scopes",
            "the scope list is empty: list the scopes the integration requests".to_owned(),
        )),
        _ => {}
    }

    if url::Url::parse(&file.webex.api_base).is_err() {
        problems.push(invalid(
            "webex.api_base",
            format!("{:?} is not an absolute URL", file.webex.api_base),
        ));
    }
    if let Some(proxy) = &file.proxy {
        validate_proxy(proxy, problems);
    }
    if let Some(plan) = &file.plan {
        if plan.endpoints.len() < 2 {
            problems.push(invalid(
                "plan.endpoints",
                format!(
                    "the plan needs at least 2 endpoints to call each other, found {}",
                    plan.endpoints.len()
                ),
            ));
        }
        let unique: BTreeSet<&String> = plan.endpoints.iter().collect();
        if unique.len() != plan.endpoints.len() {
            problems.push(invalid(
                "plan.endpoints",
                "an endpoint is listed twice: each must be a different user".to_owned(),
            ));
        }
    }
}

fn validate_proxy(proxy: &ProxySection, problems: &mut Vec<ConfigProblem>) {
    let invalid = |key: &str, message: String| ConfigProblem::Invalid {
        key: key.to_owned(),
        message,
    };
    match url::Url::parse(&proxy.url) {
        Ok(url) if !matches!(url.scheme(), "http" | "https") => problems.push(invalid(
            "proxy.url",
            format!(
                "proxy scheme {:?} is not supported: use http:// (or https:// for a TLS proxy)",
                url.scheme()
            ),
        )),
        Ok(url) if url.host_str().is_none() => {
            problems.push(invalid(
                "proxy.url",
                format!("{:?} names no host", proxy.url),
            ));
        }
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            problems.push(invalid(
                "proxy.url",
                "the proxy URL must not carry credentials: use username and password_env \
             or password_file"
                    .to_owned(),
            ));
        }
        Ok(_) => {}
        Err(e) => problems.push(invalid(
            "proxy.url",
            format!(
                "{:?} is not a valid URL ({e}): write it like \"http://proxy.corp:3128\"",
                proxy.url
            ),
        )),
    }
    if proxy.auth == ProxyAuth::None {
        return;
    }
    if proxy.username.as_deref().is_none_or(str::is_empty) {
        problems.push(invalid(
            "proxy.username",
            format!(
                "proxy auth is {:?} but no username is set",
                proxy.auth.as_str()
            ),
        ));
    }
    match (&proxy.password_env, &proxy.password_file) {
        (Some(_), Some(_)) => problems.push(invalid(
            "proxy.password_env",
            "set password_env or password_file, not both".to_owned(),
        )),
        (None, None) => problems.push(invalid(
            "proxy.password_env",
            format!(
                "proxy auth is {:?} but the password has no source: set password_env or \
                 password_file",
                proxy.auth.as_str()
            ),
        )),
        _ => {}
    }
}

/// A Webex client id is "C" followed by 64 hexadecimal digits.
#[must_use]
pub fn looks_like_client_id(value: &str) -> bool {
    value.len() == 65 && value.starts_with('C') && value[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn resolve_secret(
    key: &str,
    env_name: Option<&str>,
    file: Option<&Path>,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<ConfigProblem>,
) -> Option<Secret> {
    let missing = |source: String, reason: &str| ConfigProblem::SecretMissing {
        key: key.to_owned(),
        source,
        reason: reason.to_owned(),
    };
    if let Some(name) = env_name {
        let source = format!("environment variable {name}");
        return match env(name) {
            None => {
                problems.push(missing(source, "is not set"));
                None
            }
            Some(value) if value.trim().is_empty() => {
                problems.push(missing(source, "is empty"));
                None
            }
            Some(value) => Some(Secret::new(value)),
        };
    }
    let file = file?;
    let path = dir.join(file);
    let source = format!("file {}", path.display());
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(missing(source, "does not exist"));
            None
        }
        Err(e) => {
            problems.push(missing(source, &format!("cannot be read: {e}")));
            None
        }
        Ok(value) => {
            let value = value.trim_end_matches(['\r', '\n']);
            if value.trim().is_empty() {
                problems.push(missing(source, "is empty"));
                return None;
            }
            if let Some(mode) = open_mode(&path) {
                problems.push(ConfigProblem::SecretFileOpen {
                    key: key.to_owned(),
                    path,
                    mode,
                });
            }
            Some(Secret::new(value))
        }
    }
}

/// The file's permission bits when group or others may read it.
#[cfg(unix)]
fn open_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn open_mode(_path: &Path) -> Option<u32> {
    None
}

fn parse_dns_servers(servers: &[String], problems: &mut Vec<ConfigProblem>) -> Vec<SocketAddr> {
    let mut parsed = Vec::new();
    for server in servers {
        let with_port = server.parse::<SocketAddr>().or_else(|_| {
            server
                .parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        });
        match with_port {
            Ok(addr) => parsed.push(addr),
            Err(_) => problems.push(ConfigProblem::Invalid {
                key: "dns.servers".to_owned(),
                message: format!(
                    "{server:?} is not an IP address with an optional port \
                     (\"10.0.0.2\", \"10.0.0.2:53\", \"[2001:db8::2]:53\")"
                ),
            }),
        }
    }
    parsed
}

fn absolutise(file: &mut ConfigFile, dir: &Path) {
    let join = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    };
    if let Some(interface) = &mut file.interface {
        interface.client_secret_file.as_mut().map(join);
        interface.token_store.as_mut().map(join);
    }
    file.webex.ca_file.as_mut().map(join);
    if let Some(proxy) = &mut file.proxy {
        proxy.password_file.as_mut().map(join);
    }
}

impl Config {
    /// The `[interface]` table; present whenever a `Config` exists without
    /// problems, since its absence is a problem.
    #[must_use]
    pub fn interface(&self) -> Option<&InterfaceSection> {
        self.file.interface.as_ref()
    }

    /// The 1-based line and column of a byte span start in the file.
    #[must_use]
    pub fn position(&self, offset: usize) -> (usize, usize) {
        line_column(&self.text, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILES: &[&str] = &["test_mate-2.5.17", "wbc-mt-minimal"];

    fn load_text(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Loaded {
        parse(
            PathBuf::from("/nonexistent/wxc-preflight.toml"),
            text.to_owned(),
            PROFILES,
            env,
        )
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const MINIMAL: &str = r#"
[interface]
client_id = "C0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
client_secret_env = "SECRET"
redirect_url = "http://localhost:6001/redirect"
scope_profile = "wbc-mt-minimal"
"#;

    #[test]
    fn minimal_config_loads_with_the_secret_from_the_environment() {
        let loaded = load_text(MINIMAL, &|name| {
            (name == "SECRET").then(|| "s3cret".to_owned())
        });
        assert_eq!(loaded.problems, vec![]);
        let config = loaded.config.unwrap();
        assert_eq!(config.client_secret.unwrap().expose(), "s3cret");
        assert_eq!(config.file.webex.api_base, DEFAULT_API_BASE);
        assert_eq!(
            config.file.checks.warn_token_expiry,
            Duration::from_secs(7 * 86_400)
        );
    }

    #[test]
    fn unknown_key_names_the_key_with_line_and_column() {
        let text = format!("{MINIMAL}colour = \"red\"\n");
        let loaded = load_text(&text, &no_env);
        let [
            ConfigProblem::Syntax {
                line,
                column,
                message,
                ..
            },
        ] = loaded.problems.as_slice()
        else {
            panic!("expected one syntax problem, got {:?}", loaded.problems);
        };
        assert!(message.contains("colour"), "{message}");
        assert_eq!((*line, *column), (7, 1));
    }

    #[test]
    fn wrong_type_and_bad_duration_are_syntax_problems() {
        let loaded = load_text(&format!("{MINIMAL}[plan]\nendpoints = \"a@b\"\n"), &no_env);
        assert!(matches!(
            loaded.problems[0],
            ConfigProblem::Syntax { line: 8, .. }
        ));
        let loaded = load_text(&format!("{MINIMAL}[dns]\ntimeout = \"5\"\n"), &no_env);
        let ConfigProblem::Syntax { message, .. } = &loaded.problems[0] else {
            panic!()
        };
        assert!(message.contains("no unit"), "{message}");
    }

    #[test]
    fn missing_secret_is_reported_without_a_value() {
        let loaded = load_text(MINIMAL, &no_env);
        assert_eq!(
            loaded.problems,
            vec![ConfigProblem::SecretMissing {
                key: "interface.client_secret".into(),
                source: "environment variable SECRET".into(),
                reason: "is not set".into(),
            }]
        );
    }

    #[test]
    fn semantic_problems_are_all_collected() {
        let text = r#"
[interface]
client_id = "not-a-client-id"
redirect_url = "http://localhost:6001/redirect"
scope_profile = "nope"
[proxy]
url = "socks5://proxy:1080"
auth = "digest"
[dns]
servers = ["10.0.0.2", "dns.corp"]
[plan]
endpoints = ["a@example.com"]
"#;
        let loaded = load_text(text, &no_env);
        let keys: Vec<String> = loaded
            .problems
            .iter()
            .map(|p| match p {
                ConfigProblem::Invalid { key, .. } | ConfigProblem::SecretMissing { key, .. } => {
                    key.clone()
                }
                ConfigProblem::ClientIdFormat { .. } => "client_id".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "client_id",
                "interface.client_secret_env",
                "interface.scope_profile",
                "proxy.url",
                "proxy.username",
                "proxy.password_env",
                "plan.endpoints",
                "dns.servers"
            ]
        );
        assert_eq!(
            loaded.config.unwrap().dns_servers,
            ["10.0.0.2:53".parse().unwrap()]
        );
    }

    #[test]
    fn client_id_shape() {
        assert!(looks_like_client_id(&format!("C{}", "a1".repeat(32))));
        assert!(!looks_like_client_id(&format!("c{}", "a1".repeat(32))));
        assert!(!looks_like_client_id("C123"));
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
    }
}
