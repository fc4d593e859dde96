//! Named faults: ways to make the emulator misbehave on purpose.
//!
//! Each fault is one row of [`CATALOG`]: a name, the finding code (DESIGN
//! section 5) the tool should report when it meets it, a description, and a
//! function that adjusts the emulator's [`Behaviour`]. Everything else in the
//! emulator reads `Behaviour` and never the fault names, so a new fault is a
//! new row, plus a field here when no existing knob fits.

use std::fmt;
use std::time::Duration;

/// A fault as listed by `emulator --list-faults`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultInfo {
    /// The name given to `--fault`; `=DURATION` may follow where the fault takes one.
    pub name: &'static str,
    /// The finding code the tool should report, or `None` when a correct tool
    /// reports nothing (the fault only slows it down or is absorbed by retries).
    pub code: Option<&'static str>,
    /// What the emulator does differently.
    pub description: &'static str,
}

/// Which proxy authentication schemes exist, as offered by the emulated proxy
/// or written into the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProxyAuthMode {
    /// No authentication.
    #[default]
    None,
    /// HTTP Basic.
    Basic,
    /// HTTP Digest (MD5, qop=auth).
    Digest,
}

impl ProxyAuthMode {
    /// The name used in the config file (`auth = "..."`).
    #[must_use]
    pub fn config_name(self) -> &'static str {
        match self {
            ProxyAuthMode::None => "none",
            ProxyAuthMode::Basic => "basic",
            ProxyAuthMode::Digest => "digest",
        }
    }
}

/// How the XSI-Actions service of the organisation behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XsiMode {
    /// XSI is enabled and reported by the organisation.
    Enabled,
    /// The organisation reports no XSI endpoints and XSI refuses every request.
    Disabled,
    /// XSI is reported but answers 403 to every request.
    Forbidden,
    /// The organisation reports an XSI host that does not resolve.
    Unreachable,
}

/// How rate limiting behaves on the REST and XSI routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// Never.
    Off,
    /// Every request gets 429.
    Storm,
    /// One request in four gets 429; a retry succeeds.
    Transient,
}

/// Everything the faults can change, resolved once at start.
#[derive(Debug, Clone)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent switches, one per fault"
)]
pub struct Behaviour {
    /// Lifetime of issued access tokens (personal access token excluded).
    pub access_lifetime: Duration,
    /// Lifetime of issued refresh tokens.
    pub refresh_lifetime: Duration,
    /// Lifetime of the personal access token.
    pub pat_lifetime: Duration,
    /// Refresh tokens are refused as revoked even when valid.
    pub refresh_revoked: bool,
    /// The API refuses every access token as revoked (401) although it has not expired.
    pub tokens_rejected: bool,
    /// The client secret written to the directory is not the registered one.
    pub written_secret_wrong: bool,
    /// The client id written to the config is not a registered integration.
    pub written_client_id_unknown: bool,
    /// Scopes silently left out of every grant (the org lacks them).
    pub dropped_scopes: Vec<&'static str>,
    /// Scopes the profile needs that the integration does not register.
    pub unregistered_scopes: Vec<&'static str>,
    /// The integration registers another redirect URI than the config's.
    pub redirect_registered_differs: bool,
    /// The emulated administrator holds an admin role.
    pub admin_has_role: bool,
    /// The XSI service mode.
    pub xsi: XsiMode,
    /// Index of a plan endpoint that does not exist in the organisation.
    pub missing_endpoint: Option<usize>,
    /// Index of a plan endpoint without a calling licence or location.
    pub unlicensed_endpoint: Option<usize>,
    /// Index of a plan endpoint whose device never alerts.
    pub unanswering_endpoint: Option<usize>,
    /// Index of a plan endpoint that has a call up at start.
    pub stale_call_endpoint: Option<usize>,
    /// `calls/new` is refused with an XSI error.
    pub originate_refused: bool,
    /// Rate limiting on REST and XSI routes.
    pub rate_limit: RateLimit,
    /// Every REST and XSI request fails with a 5xx.
    pub server_errors: bool,
    /// Delay added before every response.
    pub slow: Duration,
    /// Offset of the `Date` header from the real clock, in seconds.
    pub clock_skew_secs: i64,
    /// The schemes the proxy accepts (empty: no authentication).
    pub proxy_offers: Vec<ProxyAuthMode>,
    /// The scheme written into the config.
    pub proxy_config_auth: ProxyAuthMode,
    /// The proxy password written to the directory is wrong.
    pub proxy_password_wrong: bool,
    /// The proxy refuses CONNECT to the API host.
    pub proxy_blocks_api: bool,
}

impl Behaviour {
    /// The faithful behaviour, with the proxy demanding `proxy_auth`.
    #[must_use]
    pub fn healthy(proxy_auth: ProxyAuthMode) -> Self {
        Behaviour {
            access_lifetime: Duration::from_secs(1_209_599),
            refresh_lifetime: Duration::from_secs(7_775_999),
            pat_lifetime: Duration::from_secs(12 * 3600),
            refresh_revoked: false,
            tokens_rejected: false,
            written_secret_wrong: false,
            written_client_id_unknown: false,
            dropped_scopes: Vec::new(),
            unregistered_scopes: Vec::new(),
            redirect_registered_differs: false,
            admin_has_role: true,
            xsi: XsiMode::Enabled,
            missing_endpoint: None,
            unlicensed_endpoint: None,
            unanswering_endpoint: None,
            stale_call_endpoint: None,
            originate_refused: false,
            rate_limit: RateLimit::Off,
            server_errors: false,
            slow: Duration::ZERO,
            clock_skew_secs: 0,
            proxy_offers: match proxy_auth {
                ProxyAuthMode::None => Vec::new(),
                mode => vec![mode],
            },
            proxy_config_auth: proxy_auth,
            proxy_password_wrong: false,
            proxy_blocks_api: false,
        }
    }

    /// Applies the faults in order.
    #[must_use]
    pub fn with_faults(mut self, faults: &[FaultSpec]) -> Self {
        for fault in faults {
            (fault.entry.apply)(&mut self, fault.value);
        }
        self
    }

    /// Makes the proxy demand some authentication (Digest when it demanded none).
    fn proxy_demands_auth(&mut self) {
        if self.proxy_offers.is_empty() {
            self.proxy_offers = vec![ProxyAuthMode::Digest];
            self.proxy_config_auth = ProxyAuthMode::Digest;
        }
    }
}

/// The argument a fault takes after `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaultArg {
    /// None.
    Nothing,
    /// A duration, with the default used when none is given.
    Duration(Duration),
}

/// One row of the catalog.
#[derive(Debug)]
pub struct FaultEntry {
    info: FaultInfo,
    arg: FaultArg,
    apply: fn(&mut Behaviour, Option<Duration>),
}

/// A fault chosen on the command line, with its argument.
#[derive(Debug, Clone, Copy)]
pub struct FaultSpec {
    entry: &'static FaultEntry,
    value: Option<Duration>,
}

impl FaultSpec {
    /// Parses `NAME` or `NAME=DURATION` (durations as `"2s"`, `"500ms"`, `"1h"`).
    pub fn parse(text: &str) -> anyhow::Result<FaultSpec> {
        let (name, value) = match text.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (text.trim(), None),
        };
        let Some(entry) = CATALOG.iter().find(|e| e.info.name == name) else {
            anyhow::bail!(
                "unknown fault \"{name}\"\n\
                 hint: `wxc-preflight emulator --list-faults` lists the faults"
            );
        };
        let value = match (entry.arg, value) {
            (FaultArg::Nothing, None) => None,
            (FaultArg::Nothing, Some(_)) => {
                anyhow::bail!("fault \"{name}\" takes no value")
            }
            (FaultArg::Duration(default), None) => Some(default),
            (FaultArg::Duration(_), Some(value)) => Some(parse_duration(value).map_err(|e| {
                anyhow::anyhow!(
                    "fault \"{name}\" needs a duration such as \"2s\", not \"{value}\": {e}"
                )
            })?),
        };
        Ok(FaultSpec { entry, value })
    }

    /// The catalog entry of this fault.
    #[must_use]
    pub fn info(&self) -> &FaultInfo {
        &self.entry.info
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value {
            Some(value) => write!(f, "{}={value:?}", self.entry.info.name),
            None => f.write_str(self.entry.info.name),
        }
    }
}

/// Parses a duration in the config's notation (`"5s"`, `"2m"`, `"7d"`, `"500ms"`).
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let span: jiff::SignedDuration = text.parse()?;
    anyhow::ensure!(!span.is_negative(), "negative duration");
    Ok(span.unsigned_abs())
}

/// The plan endpoints the faults single out (indexes into the written plan).
const CALLER: usize = 0;
const CALLEE: usize = 1;
const LAST: usize = 2;

macro_rules! fault {
    ($name:literal, $code:expr, $arg:expr, $desc:literal, $apply:expr) => {
        FaultEntry {
            info: FaultInfo {
                name: $name,
                code: $code,
                description: $desc,
            },
            arg: $arg,
            apply: $apply,
        }
    };
}

/// Every fault the emulator knows.
static CATALOG: &[FaultEntry] = &[
    fault!(
        "token-expired",
        Some("token.access-expired"),
        FaultArg::Nothing,
        "access tokens are issued already expired, so neither login nor refresh yields a usable one",
        |b, _| b.access_lifetime = Duration::ZERO
    ),
    fault!(
        "refresh-expired",
        Some("token.refresh-expired"),
        FaultArg::Nothing,
        "access and refresh tokens are issued already expired",
        |b, _| {
            b.access_lifetime = Duration::ZERO;
            b.refresh_lifetime = Duration::ZERO;
        }
    ),
    fault!(
        "refresh-revoked",
        Some("token.refresh-rejected"),
        FaultArg::Nothing,
        "access tokens are issued expired and every refresh is refused with invalid_grant",
        |b, _| {
            b.access_lifetime = Duration::ZERO;
            b.refresh_revoked = true;
        }
    ),
    fault!(
        "token-revoked",
        Some("token.rejected"),
        FaultArg::Nothing,
        "the API answers 401 to access tokens that have not expired",
        |b, _| b.tokens_rejected = true
    ),
    fault!(
        "client-secret-wrong",
        Some("oauth.client-rejected"),
        FaultArg::Nothing,
        "the written client secret is not the registered one, and access tokens are issued \
         expired so the tool must use it",
        |b, _| {
            b.written_secret_wrong = true;
            b.access_lifetime = Duration::ZERO;
        }
    ),
    fault!(
        "client-unknown",
        Some("oauth.client-unknown"),
        FaultArg::Nothing,
        "the written client id belongs to no integration",
        |b, _| b.written_client_id_unknown = true
    ),
    fault!(
        "scope-missing-xsi",
        Some("scopes.xsi-missing"),
        FaultArg::Nothing,
        "the org was never granted spark-admin:xsi: grants silently leave it out and XSI answers 403",
        |b, _| b.dropped_scopes.push("spark-admin:xsi")
    ),
    fault!(
        "scope-not-registered",
        Some("scopes.not-registered"),
        FaultArg::Nothing,
        "the integration does not register spark-admin:licenses_read: authorize redirects \
         with error=invalid_scope",
        |b, _| b.unregistered_scopes.push("spark-admin:licenses_read")
    ),
    fault!(
        "redirect-mismatch",
        Some("redirect-url.mismatch"),
        FaultArg::Nothing,
        "the integration registers the config's redirect URL with a trailing slash",
        |b, _| b.redirect_registered_differs = true
    ),
    fault!(
        "not-admin",
        Some("api.forbidden"),
        FaultArg::Nothing,
        "the emulated administrator holds no admin role: admin resources answer 403",
        |b, _| b.admin_has_role = false
    ),
    fault!(
        "xsi-disabled",
        Some("xsi.not-enabled"),
        FaultArg::Nothing,
        "the organisation reports no XSI endpoints",
        |b, _| b.xsi = XsiMode::Disabled
    ),
    fault!(
        "xsi-forbidden",
        Some("xsi.rejected"),
        FaultArg::Nothing,
        "XSI-Actions answers 403 ErrorInfo to every request",
        |b, _| b.xsi = XsiMode::Forbidden
    ),
    fault!(
        "xsi-unreachable",
        Some("xsi.unreachable"),
        FaultArg::Nothing,
        "the organisation reports an XSI host under .invalid, which never resolves",
        |b, _| b.xsi = XsiMode::Unreachable
    ),
    fault!(
        "endpoint-missing",
        Some("endpoint.not-found"),
        FaultArg::Nothing,
        "the last plan endpoint does not exist in the organisation",
        |b, _| b.missing_endpoint = Some(LAST)
    ),
    fault!(
        "endpoint-no-licence",
        Some("endpoint.not-calling"),
        FaultArg::Nothing,
        "the last plan endpoint has no Webex Calling licence, no location and no XSI profile",
        |b, _| b.unlicensed_endpoint = Some(LAST)
    ),
    fault!(
        "callee-no-answer",
        Some("plan.no-answer"),
        FaultArg::Nothing,
        "the second plan endpoint's device never alerts",
        |b, _| b.unanswering_endpoint = Some(CALLEE)
    ),
    fault!(
        "call-rejected",
        Some("plan.call-failed"),
        FaultArg::Nothing,
        "XSI refuses every calls/new with ErrorInfo",
        |b, _| b.originate_refused = true
    ),
    fault!(
        "stale-calls",
        Some("endpoint.stale-calls"),
        FaultArg::Nothing,
        "the first plan endpoint has an active call when the emulator starts",
        |b, _| b.stale_call_endpoint = Some(CALLER)
    ),
    fault!(
        "rate-limit-storm",
        Some("api.rate-limited"),
        FaultArg::Nothing,
        "every REST and XSI request answers 429 with Retry-After: 1",
        |b, _| b.rate_limit = RateLimit::Storm
    ),
    fault!(
        "rate-limit-transient",
        None,
        FaultArg::Nothing,
        "one REST or XSI request in four answers 429 with Retry-After: 1; retries succeed",
        |b, _| b.rate_limit = RateLimit::Transient
    ),
    fault!(
        "server-errors",
        Some("api.server-error"),
        FaultArg::Nothing,
        "every REST and XSI request answers 503",
        |b, _| b.server_errors = true
    ),
    fault!(
        "slow",
        None,
        FaultArg::Duration(Duration::from_secs(2)),
        "delays every response by DURATION (default 2s); past the tool's deadlines its checks time out",
        |b, d| b.slow = d.unwrap_or_default()
    ),
    fault!(
        "clock-skew",
        Some("clock.skew"),
        FaultArg::Duration(Duration::from_secs(3600)),
        "the Date header runs DURATION (default 1h) ahead of the real clock",
        |b, d| b.clock_skew_secs =
            i64::try_from(d.unwrap_or_default().as_secs()).unwrap_or(i64::MAX)
    ),
    fault!(
        "proxy-auth-required",
        Some("proxy.auth-required"),
        FaultArg::Nothing,
        "the proxy demands Digest credentials and the config names none",
        |b, _| {
            b.proxy_demands_auth();
            b.proxy_config_auth = ProxyAuthMode::None;
        }
    ),
    fault!(
        "proxy-wrong-password",
        Some("proxy.auth-rejected"),
        FaultArg::Nothing,
        "the proxy demands credentials and the written password is wrong",
        |b, _| {
            b.proxy_demands_auth();
            b.proxy_password_wrong = true;
        }
    ),
    fault!(
        "proxy-digest-only",
        Some("proxy.auth-scheme-mismatch"),
        FaultArg::Nothing,
        "the proxy offers only Digest while the config says basic",
        |b, _| {
            b.proxy_offers = vec![ProxyAuthMode::Digest];
            b.proxy_config_auth = ProxyAuthMode::Basic;
        }
    ),
    fault!(
        "proxy-block-api",
        Some("proxy.domain-blocked"),
        FaultArg::Nothing,
        "the proxy refuses CONNECT to the API host (403)",
        |b, _| b.proxy_blocks_api = true
    ),
];

/// Lists every fault with the finding code it should provoke.
#[must_use]
pub fn fault_catalog() -> Vec<FaultInfo> {
    CATALOG.iter().map(|e| e.info.clone()).collect()
}

/// The catalog as `emulator --list-faults` prints it.
#[derive(Debug, Clone)]
pub struct FaultList(pub Vec<FaultInfo>);

impl fmt::Display for FaultList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.0.iter().map(|i| i.name.len()).max().unwrap_or(0) + 2;
        let code_width = self
            .0
            .iter()
            .map(|i| i.code.map_or(1, str::len))
            .max()
            .unwrap_or(0)
            + 2;
        writeln!(f, "{:width$}{:code_width$}WHAT IT DOES", "FAULT", "FINDING")?;
        for info in &self.0 {
            let name = match CATALOG.iter().find(|e| e.info.name == info.name) {
                Some(FaultEntry {
                    arg: FaultArg::Duration(_),
                    ..
                }) => format!("{}[=DURATION]", info.name),
                _ => info.name.to_owned(),
            };
            writeln!(
                f,
                "{name:width$}{:code_width$}{}",
                info.code.unwrap_or("-"),
                info.description,
                width = width.max(name.len() + 2)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_faults_are_all_in_the_catalog() {
        let names: Vec<_> = fault_catalog().iter().map(|i| i.name).collect();
        for wanted in [
            "token-expired",
            "refresh-expired",
            "refresh-revoked",
            "client-secret-wrong",
            "scope-missing-xsi",
            "scope-not-registered",
            "redirect-mismatch",
            "not-admin",
            "xsi-disabled",
            "xsi-forbidden",
            "endpoint-missing",
            "endpoint-no-licence",
            "callee-no-answer",
            "stale-calls",
            "rate-limit-storm",
            "rate-limit-transient",
            "server-errors",
            "slow",
            "clock-skew",
            "proxy-wrong-password",
            "proxy-digest-only",
            "proxy-block-api",
        ] {
            assert!(names.contains(&wanted), "{wanted} missing");
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate fault names");
    }

    #[test]
    fn faults_parse_with_and_without_values() {
        let slow = FaultSpec::parse("slow=250ms").unwrap();
        let b = Behaviour::healthy(ProxyAuthMode::None).with_faults(&[slow]);
        assert_eq!(b.slow, Duration::from_millis(250));

        let skew = FaultSpec::parse("clock-skew").unwrap();
        let b = Behaviour::healthy(ProxyAuthMode::None).with_faults(&[skew]);
        assert_eq!(b.clock_skew_secs, 3600);

        let err = FaultSpec::parse("no-such-fault").unwrap_err().to_string();
        assert!(err.starts_with("unknown fault \"no-such-fault\""), "{err}");
        assert!(FaultSpec::parse("not-admin=3s").is_err());
        assert!(FaultSpec::parse("slow=soon").is_err());
    }

    #[test]
    fn proxy_faults_make_the_proxy_demand_credentials() {
        let f = FaultSpec::parse("proxy-wrong-password").unwrap();
        let b = Behaviour::healthy(ProxyAuthMode::None).with_faults(&[f]);
        assert_eq!(b.proxy_offers, vec![ProxyAuthMode::Digest]);
        assert_eq!(b.proxy_config_auth, ProxyAuthMode::Digest);
        assert!(b.proxy_password_wrong);

        let f = FaultSpec::parse("proxy-digest-only").unwrap();
        let b = Behaviour::healthy(ProxyAuthMode::Basic).with_faults(&[f]);
        assert_eq!(b.proxy_offers, vec![ProxyAuthMode::Digest]);
        assert_eq!(b.proxy_config_auth, ProxyAuthMode::Basic);
    }

    #[test]
    fn listing_names_every_fault_and_code() {
        let text = FaultList(fault_catalog()).to_string();
        assert!(text.contains("slow[=DURATION]"));
        assert!(text.contains("proxy.domain-blocked"));
        assert_eq!(text.lines().count(), fault_catalog().len() + 1);
    }
}
