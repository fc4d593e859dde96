//! Findings and the remediation catalog.
//!
//! A [`Finding`] is a value a check returns: a stable code, a severity and
//! the evidence behind it. What the code means to a person (the problem, the
//! course of action, the fix command) is data under `checks/`, embedded at
//! build time, so support can improve the texts without touching Rust. The
//! [`Catalog`] is that data, checked for completeness by the tests.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Warning < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// The name used in every format.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The troubleshooting section a finding belongs to, as the harness guide
/// groups them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// API errors: configuration, OAuth, tokens, scopes, Webex and XSI.
    Api,
    /// Internet / proxy errors: DNS, proxy, TLS, clock.
    Internet,
    /// Problems of the run itself: deadlines, internal errors.
    Tool,
}

impl Section {
    /// The heading of the section in reports.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Api => "API errors",
            Self::Internet => "Internet / proxy errors",
            Self::Tool => "Tool",
        }
    }
}

/// One line of evidence: what was measured, with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub label: String,
    pub value: String,
}

impl Evidence {
    /// A labelled value.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// A finding as a check returns it.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The stable code, a key of the remediation catalog.
    pub code: &'static str,
    /// One line saying what exactly was found, with the values involved.
    pub summary: String,
    /// The severity; starts as the catalog's default.
    pub severity: Severity,
    pub evidence: Vec<Evidence>,
    /// Set when `--ignore` downgraded this finding to a warning.
    pub ignored: bool,
}

impl Finding {
    /// A finding with the catalog's default severity.
    ///
    /// # Panics
    /// When `code` has no catalog entry: every code a check raises must be
    /// documented, and the tests walk every code the checks use.
    #[must_use]
    pub fn new(code: &'static str, summary: impl Into<String>) -> Self {
        let entry = catalog()
            .get(code)
            .unwrap_or_else(|| panic!("finding code {code} has no entry under checks/"));
        Self {
            code,
            summary: summary.into(),
            severity: entry.severity,
            evidence: Vec::new(),
            ignored: false,
        }
    }

    /// Adds a line of evidence.
    #[must_use]
    pub fn with(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.evidence.push(Evidence::new(label, value));
        self
    }

    /// Overrides the catalog's severity (a check knows when a problem is
    /// only a warning in context, such as a local DNS failure behind a
    /// proxy that resolves the name itself).
    #[must_use]
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The catalog entry of this finding's code.
    ///
    /// # Panics
    /// Never: `Finding::new` refuses codes without an entry.
    #[must_use]
    pub fn remediation(&self) -> &'static Remediation {
        catalog().get(self.code).expect("checked in Finding::new")
    }
}

/// What a finding code means to a person, read from `checks/*.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub code: String,
    pub severity: Severity,
    pub check: String,
    pub problem: String,
    pub symptom: Option<String>,
    pub actions: Vec<String>,
    pub fix_command: Option<String>,
    #[serde(skip, default = "default_section")]
    pub section: Section,
}

fn default_section() -> Section {
    Section::Tool
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionFile {
    section: Section,
    title: String,
    finding: Vec<Remediation>,
}

/// What a check proves, read from `checks/catalog.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInfo {
    pub id: String,
    pub title: String,
    pub proves: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckFile {
    check: Vec<CheckInfo>,
}

/// The remediation catalog and check descriptions.
#[derive(Debug)]
pub struct Catalog {
    entries: BTreeMap<String, Remediation>,
    /// Codes in file order: API errors, then Internet / proxy, then Tool.
    order: Vec<String>,
    checks: Vec<CheckInfo>,
}

/// The data files, embedded at build time.
const SECTION_FILES: [(&str, &str); 3] = [
    (
        "checks/api-errors.toml",
        include_str!("../checks/api-errors.toml"),
    ),
    (
        "checks/internet-proxy-errors.toml",
        include_str!("../checks/internet-proxy-errors.toml"),
    ),
    (
        "checks/tool-errors.toml",
        include_str!("../checks/tool-errors.toml"),
    ),
];
const CHECK_FILE: &str = include_str!("../checks/catalog.toml");

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::parse().unwrap_or_else(|e| panic!("embedded catalog: {e}")));

/// The catalog embedded in this build.
#[must_use]
pub fn catalog() -> &'static Catalog {
    &CATALOG
}

impl Catalog {
    fn parse() -> Result<Self, String> {
        let mut entries = BTreeMap::new();
        let mut order = Vec::new();
        for (name, text) in SECTION_FILES {
            let file: SectionFile = toml::from_str(text).map_err(|e| format!("{name}: {e}"))?;
            if file.title != file.section.title() {
                return Err(format!(
                    "{name}: title {:?} does not match its section",
                    file.title
                ));
            }
            for mut entry in file.finding {
                entry.section = file.section;
                let code = entry.code.clone();
                order.push(code.clone());
                if entries.insert(code.clone(), entry).is_some() {
                    return Err(format!("{name}: code {code} appears twice"));
                }
            }
        }
        let checks: CheckFile =
            toml::from_str(CHECK_FILE).map_err(|e| format!("checks/catalog.toml: {e}"))?;
        Ok(Self {
            entries,
            order,
            checks: checks.check,
        })
    }

    /// The entry of a code.
    #[must_use]
    pub fn get(&self, code: &str) -> Option<&Remediation> {
        self.entries.get(code)
    }

    /// Every entry, in the order of the data files.
    pub fn entries(&self) -> impl Iterator<Item = &Remediation> {
        self.order.iter().map(|code| &self.entries[code])
    }

    /// The description of a check.
    #[must_use]
    pub fn check(&self, id: &str) -> Option<&CheckInfo> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Every check description, in catalog order.
    #[must_use]
    pub fn checks(&self) -> &[CheckInfo] {
        &self.checks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes of DESIGN section 5: the contract. Each must have an entry.
    const DESIGN_CODES: &[(&str, Section)] = &[
        ("config.invalid", Section::Api),
        ("config.secret-missing", Section::Api),
        ("redirect-url.whitespace", Section::Api),
        ("redirect-url.malformed", Section::Api),
        ("redirect-url.mismatch", Section::Api),
        ("oauth.client-unknown", Section::Api),
        ("oauth.client-rejected", Section::Api),
        ("scopes.not-registered", Section::Api),
        ("token.missing", Section::Api),
        ("token.access-expired", Section::Api),
        ("token.refresh-expired", Section::Api),
        ("token.refresh-rejected", Section::Api),
        ("token.expiring", Section::Api),
        ("token.rejected", Section::Api),
        ("scopes.missing", Section::Api),
        ("scopes.xsi-missing", Section::Api),
        ("scopes.case-mismatch", Section::Api),
        ("scopes.excess", Section::Api),
        ("api.forbidden", Section::Api),
        ("api.rate-limited", Section::Api),
        ("api.server-error", Section::Api),
        ("xsi.not-enabled", Section::Api),
        ("xsi.unreachable", Section::Api),
        ("xsi.rejected", Section::Api),
        ("endpoint.not-found", Section::Api),
        ("endpoint.not-calling", Section::Api),
        ("endpoint.stale-calls", Section::Api),
        ("plan.call-failed", Section::Api),
        ("plan.no-answer", Section::Api),
        ("dns.unavailable", Section::Internet),
        ("dns.name-not-found", Section::Internet),
        ("dns.server-failure", Section::Internet),
        ("proxy.unreachable", Section::Internet),
        ("proxy.wrong-port", Section::Internet),
        ("proxy.wrong-protocol", Section::Internet),
        ("proxy.auth-required", Section::Internet),
        ("proxy.auth-scheme-mismatch", Section::Internet),
        ("proxy.auth-rejected", Section::Internet),
        ("proxy.domain-blocked", Section::Internet),
        ("proxy.basic-cleartext", Section::Internet),
        ("internet.unavailable", Section::Internet),
        ("tls.untrusted", Section::Internet),
        ("clock.skew", Section::Internet),
    ];

    #[test]
    fn every_design_code_has_an_entry_in_its_section() {
        for (code, section) in DESIGN_CODES {
            let entry = catalog()
                .get(code)
                .unwrap_or_else(|| panic!("{code} has no entry"));
            assert_eq!(entry.section, *section, "{code} is in the wrong file");
        }
    }

    #[test]
    fn every_entry_names_an_action_and_a_known_check() {
        for entry in catalog().entries() {
            assert!(
                !entry.problem.trim().is_empty(),
                "{} has no problem",
                entry.code
            );
            assert!(!entry.actions.is_empty(), "{} names no action", entry.code);
            assert!(
                entry.actions.iter().all(|a| !a.trim().is_empty()),
                "{} has an empty action",
                entry.code
            );
            assert!(
                catalog().check(&entry.check).is_some(),
                "{} names unknown check {}",
                entry.code,
                entry.check
            );
            let prefix = entry.code.split('.').next().unwrap();
            assert!(
                entry.code.split('.').count() == 2
                    && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{} is not a kebab-case code",
                entry.code
            );
        }
    }

    #[test]
    fn every_check_has_a_description() {
        let ids: Vec<&str> = catalog().checks().iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), 13, "{ids:?}");
    }

    #[test]
    fn finding_takes_the_default_severity() {
        let finding = Finding::new("redirect-url.whitespace", "a stray space").with("at", "0");
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.remediation().section, Section::Api);
    }
}
