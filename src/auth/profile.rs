//! Scope profiles: the scope sets a harness version requests, kept as data
//! under `checks/scopes/` and embedded at build time, and the diff of a
//! token's granted scopes against one of them.
//!
//! Webex scope names are case-sensitive, so the diff compares exactly and
//! reports a near miss that differs only in letter case on its own: it is a
//! missing scope that looks present.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The profile used when the config names neither a profile nor scopes.
pub const DEFAULT: &str = "wbc-mt-minimal";

/// The scope Cisco grants per organisation on request.
pub const XSI_SCOPE: &str = "spark-admin:xsi";

/// Scopes broad enough to deserve their own mention in an excess finding.
const BROAD: &[&str] = &["spark:all", "spark:allFull"];

/// One profile file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeProfile {
    pub name: String,
    pub description: String,
    pub source: String,
    pub required: Vec<String>,
    #[serde(default)]
    pub listed_not_enabled: Vec<String>,
    /// Why each scope is needed (only some profiles say).
    #[serde(default)]
    pub why: BTreeMap<String, String>,
}

const FILES: &[(&str, &str)] = &[
    (
        "test_mate-2.5.17",
        include_str!("../../checks/scopes/test_mate-2.5.17.toml"),
    ),
    (
        "wbc-mt-minimal",
        include_str!("../../checks/scopes/wbc-mt-minimal.toml"),
    ),
];

static PROFILES: LazyLock<Vec<ScopeProfile>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, text)| {
            let profile: ScopeProfile = toml::from_str(text)
                .unwrap_or_else(|e| panic!("checks/scopes/{name}.toml does not parse: {e}"));
            assert_eq!(
                &profile.name, name,
                "checks/scopes/{name}.toml names itself"
            );
            profile
        })
        .collect()
});

/// A profile by name.
#[must_use]
pub fn get(name: &str) -> Option<&'static ScopeProfile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// The names of every shipped profile.
#[must_use]
pub fn names() -> Vec<&'static str> {
    PROFILES.iter().map(|p| p.name.as_str()).collect()
}

/// Granted scopes against required ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeDiff {
    /// Required, not granted, and not even a case-insensitive match
    /// (`spark-admin:xsi` excluded: see `xsi_missing`).
    pub missing: Vec<String>,
    /// `spark-admin:xsi` is required and not granted.
    pub xsi_missing: bool,
    /// (required, granted) pairs equal except in letter case.
    pub case_mismatch: Vec<(String, String)>,
    /// Granted, not required (and not the near miss of a required one).
    pub excess: Vec<String>,
}

impl ScopeDiff {
    /// Compares `granted` with `required`.
    #[must_use]
    pub fn new(granted: &[String], required: &[String]) -> Self {
        let mut diff = Self::default();
        for want in required {
            if granted.contains(want) {
                continue;
            }
            if let Some(near) = granted.iter().find(|g| g.eq_ignore_ascii_case(want)) {
                diff.case_mismatch.push((want.clone(), near.clone()));
            } else if want == XSI_SCOPE {
                diff.xsi_missing = true;
            } else {
                diff.missing.push(want.clone());
            }
        }
        for have in granted {
            let wanted = required.contains(have);
            let near_miss = diff.case_mismatch.iter().any(|(_, g)| g == have);
            if !wanted && !near_miss && !diff.excess.contains(have) {
                diff.excess.push(have.clone());
            }
        }
        diff
    }

    /// Whether the granted scopes cover the required ones.
    #[must_use]
    pub fn covers(&self) -> bool {
        self.missing.is_empty() && !self.xsi_missing && self.case_mismatch.is_empty()
    }

    /// The excess scopes that are broad (`spark:all`, `spark:allFull`).
    #[must_use]
    pub fn broad_excess(&self) -> Vec<&str> {
        self.excess
            .iter()
            .map(String::as_str)
            .filter(|s| BROAD.contains(s))
            .collect()
    }
}

/// Splits a space-separated scope string (several spaces, tabs tolerated).
#[must_use]
pub fn split(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn profiles_load_and_match_the_registry() {
        assert_eq!(names(), crate::checks::SCOPE_PROFILES);
        let tm = get("test_mate-2.5.17").unwrap();
        assert!(
            tm.required
                .contains(&"Identity:one_time_password".to_owned())
        );
        assert!(tm.required.contains(&XSI_SCOPE.to_owned()));
        let minimal = get(DEFAULT).unwrap();
        for scope in &minimal.required {
            assert!(minimal.why.contains_key(scope), "{scope} has no why");
        }
    }

    #[test]
    fn diff_sorts_missing_xsi_case_and_excess() {
        let required = v(&[
            "spark:people_read",
            "spark-admin:xsi",
            "Identity:one_time_password",
            "a:b",
        ]);
        let granted = v(&[
            "spark:people_read",
            "identity:one_time_password",
            "spark:all",
        ]);
        let diff = ScopeDiff::new(&granted, &required);
        assert_eq!(diff.missing, v(&["a:b"]));
        assert!(diff.xsi_missing);
        assert_eq!(
            diff.case_mismatch,
            vec![(
                "Identity:one_time_password".to_owned(),
                "identity:one_time_password".to_owned()
            )]
        );
        assert_eq!(diff.excess, v(&["spark:all"]));
        assert_eq!(diff.broad_excess(), ["spark:all"]);
        assert!(!diff.covers());
    }

    #[test]
    fn an_exact_grant_covers() {
        let required = v(&["x:y", "spark-admin:xsi"]);
        let diff = ScopeDiff::new(&required, &required);
        assert!(diff.covers());
        assert!(diff.excess.is_empty());
        assert_eq!(split("  a  b\tc "), v(&["a", "b", "c"]));
    }
}
