//! What a check is: the trait every check implements, the context it runs
//! in, and the outcome it returns.
//!
//! A check declares its id and the checks it depends on, and turns facts
//! into evidence and findings. Checks pass facts down the chain through
//! [`Facts`], a typed blackboard: a check reads only what the checks it
//! depends on have put there, so the dependency graph also orders the data.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigProblem};
use crate::finding::{Evidence, Finding, Severity};
use crate::services::Services;

/// The future a check's `run` returns.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A check of the pipeline (DESIGN section 4).
pub trait Check: Send + Sync + 'static {
    /// The stable, user-facing id (`--only`, `--skip` take it).
    fn id(&self) -> &'static str;

    /// The ids of the checks that must pass before this one can say
    /// anything meaningful.
    fn depends_on(&self) -> &'static [&'static str];

    /// How long the check may take before the pipeline stops it.
    fn deadline(&self) -> Duration {
        Duration::from_secs(15)
    }

    /// Runs the check. It should watch `ctx.cancel` when it holds
    /// resources to release (calls, listeners): the pipeline cancels it at
    /// its deadline or on Ctrl-C and gives it a short grace period.
    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a>;
}

/// Boxes a check body written with `?`: its `Err` is the outcome to report
/// early (a skip, or the finding that ends the check), its `Ok` the full
/// outcome.
pub fn settle<'a>(
    body: impl Future<Output = Result<Outcome, Outcome>> + Send + 'a,
) -> CheckFuture<'a> {
    Box::pin(async move { body.await.unwrap_or_else(|early| early) })
}

/// The result of a check before the pipeline adds timing and selection.
#[derive(Debug, Default)]
pub struct Outcome {
    pub evidence: Vec<Evidence>,
    pub findings: Vec<Finding>,
    /// Set when the check did not run its test, with the reason.
    pub skipped: Option<String>,
}

impl Outcome {
    /// A check that ran and found nothing wrong (yet).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A check that did not run, with the reason a person can act on.
    #[must_use]
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            skipped: Some(reason.into()),
            ..Self::default()
        }
    }

    /// Records a measurement.
    pub fn evidence(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.evidence.push(Evidence::new(label, value));
    }

    /// Records a finding.
    pub fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// The status this outcome stands for.
    #[must_use]
    pub fn status(&self) -> Status {
        if self.skipped.is_some() {
            return Status::Skipped;
        }
        match self.findings.iter().map(|f| f.severity).max() {
            Some(Severity::Critical) => Status::Fail,
            Some(Severity::Warning) => Status::Warn,
            Some(Severity::Info) | None => Status::Pass,
        }
    }
}

/// The status of a check in the report.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Blocked,
    Skipped,
}

impl Status {
    /// The name used in every format.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Blocked => "blocked",
            Self::Skipped => "skipped",
        }
    }
}

/// Facts passed from one check to the checks that depend on it, by type.
#[derive(Default)]
pub struct Facts(Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl Facts {
    /// Stores a fact, replacing one of the same type.
    ///
    /// # Panics
    /// Only if another thread panicked while holding the lock.
    pub fn put<T: Any + Send + Sync>(&self, fact: T) {
        self.0
            .lock()
            .expect("facts lock")
            .insert(TypeId::of::<T>(), Arc::new(fact));
    }

    /// A stored fact of this type, if a check put one.
    ///
    /// # Panics
    /// Only if another thread panicked while holding the lock.
    #[must_use]
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let map = self.0.lock().expect("facts lock");
        map.get(&TypeId::of::<T>())
            .cloned()
            .and_then(|fact| fact.downcast::<T>().ok())
    }
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.0.lock().map_or(0, |m| m.len());
        write!(f, "Facts({count} stored)")
    }
}

/// Everything a check may read: the resolved configuration, the facts of
/// earlier checks, and its cancellation signal.
#[derive(Debug, Clone)]
pub struct Context {
    /// The configuration; `None` when the file could not be read at all
    /// (then every check but `config` is blocked).
    pub config: Option<Arc<Config>>,
    /// Problems found while loading the configuration.
    pub config_problems: Arc<Vec<ConfigProblem>>,
    pub facts: Arc<Facts>,
    /// The resolver, trust store and HTTP client of the run; `None` when
    /// the configuration could not be loaded or used.
    pub services: Option<Arc<Services>>,
    /// Cancelled at the check's deadline, at the run's timeout, or on
    /// Ctrl-C.
    pub cancel: CancellationToken,
}

impl Context {
    /// A context for a run.
    #[must_use]
    pub fn new(config: Option<Config>, config_problems: Vec<ConfigProblem>) -> Self {
        Self {
            config: config.map(Arc::new),
            config_problems: Arc::new(config_problems),
            facts: Arc::new(Facts::default()),
            services: None,
            cancel: CancellationToken::new(),
        }
    }

    /// The configuration, or an outcome that says why the check cannot
    /// run without it.
    pub fn config(&self) -> Result<&Config, Outcome> {
        self.config
            .as_deref()
            .ok_or_else(|| Outcome::skipped("the configuration could not be loaded"))
    }

    /// The shared network services, or an outcome that says why the check
    /// cannot run without them.
    pub fn services(&self) -> Result<&Services, Outcome> {
        self.services.as_deref().ok_or_else(|| {
            Outcome::skipped("the network services could not be built from the configuration")
        })
    }

    /// A fact a dependency should have put, or a `skipped` outcome naming
    /// the check that provides it (it was skipped or deselected).
    pub fn need<T: Any + Send + Sync>(&self, provider: &str) -> Result<Arc<T>, Outcome> {
        self.facts.get::<T>().ok_or_else(|| {
            Outcome::skipped(format!(
                "needs the result of the {provider} check, which did not run"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_worst_finding() {
        let mut outcome = Outcome::new();
        assert_eq!(outcome.status(), Status::Pass);
        outcome.finding(Finding::new("token.expiring", "soon").severity(Severity::Warning));
        assert_eq!(outcome.status(), Status::Warn);
        outcome.finding(Finding::new("redirect-url.whitespace", "space"));
        assert_eq!(outcome.status(), Status::Fail);
        assert_eq!(Outcome::skipped("why").status(), Status::Skipped);
    }

    #[test]
    fn facts_are_typed() {
        #[derive(Debug, PartialEq)]
        struct OrgId(String);
        let facts = Facts::default();
        assert!(facts.get::<OrgId>().is_none());
        facts.put(OrgId("o1".into()));
        assert_eq!(*facts.get::<OrgId>().unwrap(), OrgId("o1".into()));
    }
}
