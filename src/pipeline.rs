//! The pipeline: runs the checks by their dependencies and collects what
//! they found.
//!
//! A check starts as soon as every check it depends on has finished;
//! independent checks run concurrently. A check whose dependency failed is
//! not run but marked `blocked`, pointing at the failed check, so the report
//! leads with the root cause instead of a wall of red. Every check runs
//! under its own deadline and the whole run under `--timeout`; Ctrl-C stops
//! the run cleanly and keeps what was measured.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::check::{Check, Context, Outcome, Status};
use crate::duration;
use crate::finding::{Evidence, Finding, Severity};

/// What to run and how strictly.
#[derive(Debug, Clone)]
pub struct Options {
    /// Run only these checks (and what they depend on); empty runs all.
    pub only: Vec<String>,
    /// Never run these checks; their dependents still run when they can.
    pub skip: Vec<String>,
    /// Finding codes downgraded from critical to warning; `all` for every
    /// code.
    pub ignore: Vec<String>,
    /// The deadline of the whole run.
    pub timeout: Option<Duration>,
    /// How long a cancelled check may take to release what it holds.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            only: Vec::new(),
            skip: Vec::new(),
            ignore: Vec::new(),
            timeout: None,
            grace: Duration::from_secs(3),
        }
    }
}

/// What one check did, as the report shows it.
#[derive(Debug)]
pub struct CheckResult {
    pub id: &'static str,
    pub status: Status,
    pub duration: Duration,
    /// The failed checks at the root of a `blocked` status.
    pub blocked_by: Vec<&'static str>,
    /// Why the check was skipped or blocked.
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
    pub findings: Vec<Finding>,
}

impl CheckResult {
    fn not_run(id: &'static str, status: Status, reason: String) -> Self {
        Self {
            id,
            status,
            duration: Duration::ZERO,
            blocked_by: Vec::new(),
            reason: Some(reason),
            evidence: Vec::new(),
            findings: Vec::new(),
        }
    }
}

/// The results of a run, one per check in catalog order.
#[derive(Debug)]
pub struct RunResult {
    pub checks: Vec<CheckResult>,
    pub duration: Duration,
    /// Ctrl-C stopped the run.
    pub interrupted: bool,
    /// `--timeout` stopped the run.
    pub timed_out: bool,
}

/// Checks that `--only`, `--skip` and `--ignore` name things that exist.
pub fn validate(checks: &[Arc<dyn Check>], options: &Options) -> Result<(), String> {
    let ids: Vec<&str> = checks.iter().map(|c| c.id()).collect();
    for (flag, names) in [("--only", &options.only), ("--skip", &options.skip)] {
        for name in names {
            if !ids.contains(&name.as_str()) {
                return Err(format!(
                    "{flag}: unknown check {name:?}\nknown checks: {}",
                    ids.join(", ")
                ));
            }
        }
    }
    if options.skip.iter().any(|s| s == "config") {
        return Err(
            "--skip: the config check cannot be skipped, every other check reads \
                    the configuration"
                .to_owned(),
        );
    }
    for code in &options.ignore {
        if code != "all" && crate::finding::catalog().get(code).is_none() {
            return Err(format!(
                "--ignore: unknown finding code {code:?}\nlist the codes with: wxc-preflight explain --list"
            ));
        }
    }
    Ok(())
}

/// Runs the checks until all are done, the run times out, or `interrupt`
/// completes (Ctrl-C).
///
/// # Panics
/// Never: every check ends with a result, run, blocked or skipped.
pub async fn run(
    checks: &[Arc<dyn Check>],
    ctx: &Context,
    options: &Options,
    interrupt: impl Future<Output = ()>,
) -> RunResult {
    let started = Instant::now();
    let index: HashMap<&str, usize> = checks
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id(), i))
        .collect();
    let mut results: Vec<Option<CheckResult>> = deselect(checks, options, &index);
    let mut launched = vec![false; checks.len()];
    let mut tasks = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    let run_deadline = options.timeout.map(|t| started + t);
    let (mut interrupted, mut timed_out) = (false, false);
    tokio::pin!(interrupt);

    loop {
        launch_ready(
            checks,
            ctx,
            options,
            &index,
            &mut results,
            &mut launched,
            &mut tasks,
            &mut running,
        );
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            joined = tasks.join_next_with_id() => {
                if let Some(joined) = joined {
                    record(checks, options, &mut results, &mut running, joined);
                }
            }
            () = &mut interrupt => { interrupted = true; break; }
            () = sleep_until(run_deadline) => { timed_out = true; break; }
        }
    }

    if interrupted || timed_out {
        ctx.cancel.cancel();
        let grace_end = Instant::now() + options.grace;
        let why = if interrupted {
            "the run was interrupted (Ctrl-C)".to_owned()
        } else {
            format!(
                "the run's --timeout of {} was reached",
                duration::format(options.timeout.unwrap_or_default())
            )
        };
        while let Ok(Some(joined)) =
            tokio::time::timeout_at(grace_end, tasks.join_next_with_id()).await
        {
            let Some(i) = record(checks, options, &mut results, &mut running, joined) else {
                continue;
            };
            // A check cut short reports what it had; its own "cancelled"
            // skip says less than the reason the run stopped.
            if let Some(result) = results[i].as_mut().filter(|r| r.status == Status::Skipped) {
                if timed_out {
                    result.status = Status::Fail;
                    result.findings.push(Finding::new(
                        "check.timeout",
                        format!("the {} check was still running when {why}", result.id),
                    ));
                }
                result.reason = Some(format!("{why} while it ran"));
            }
        }
        tasks.abort_all();
        for (i, slot) in results.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let id = checks[i].id();
            *slot = Some(if launched[i] && timed_out {
                let mut result = CheckResult::not_run(id, Status::Fail, why.clone());
                result.duration = started.elapsed();
                result.findings.push(Finding::new(
                    "check.timeout",
                    format!("the {id} check was still running when {why}"),
                ));
                result
            } else if launched[i] {
                CheckResult::not_run(id, Status::Skipped, format!("{why} while it ran"))
            } else {
                CheckResult::not_run(id, Status::Skipped, format!("{why} before it started"))
            });
        }
    }

    RunResult {
        checks: results
            .into_iter()
            .map(|r| r.expect("every check has a result"))
            .collect(),
        duration: started.elapsed(),
        interrupted,
        timed_out,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Marks the checks that selection leaves out as skipped.
fn deselect(
    checks: &[Arc<dyn Check>],
    options: &Options,
    index: &HashMap<&str, usize>,
) -> Vec<Option<CheckResult>> {
    let mut wanted: BTreeSet<usize> = BTreeSet::new();
    if options.only.is_empty() {
        wanted.extend(0..checks.len());
    } else {
        let mut stack: Vec<usize> = options
            .only
            .iter()
            .filter_map(|id| index.get(id.as_str()).copied())
            .collect();
        while let Some(i) = stack.pop() {
            if wanted.insert(i) {
                stack.extend(
                    checks[i]
                        .depends_on()
                        .iter()
                        .filter_map(|d| index.get(d).copied()),
                );
            }
        }
    }
    checks
        .iter()
        .enumerate()
        .map(|(i, check)| {
            let id = check.id();
            if options.skip.iter().any(|s| s == id) {
                Some(CheckResult::not_run(
                    id,
                    Status::Skipped,
                    "skipped with --skip".to_owned(),
                ))
            } else if !wanted.contains(&i) {
                Some(CheckResult::not_run(
                    id,
                    Status::Skipped,
                    "not selected by --only".to_owned(),
                ))
            } else {
                None
            }
        })
        .collect()
}

/// Starts every check whose dependencies have finished, and blocks those
/// whose dependencies failed. Repeats until nothing changes, since a
/// blocked check can unblock the decision for its own dependents.
#[expect(
    clippy::too_many_arguments,
    reason = "the scheduler's state, kept in `run`"
)]
fn launch_ready(
    checks: &[Arc<dyn Check>],
    ctx: &Context,
    options: &Options,
    index: &HashMap<&str, usize>,
    results: &mut [Option<CheckResult>],
    launched: &mut [bool],
    tasks: &mut JoinSet<(Outcome, Duration)>,
    running: &mut HashMap<tokio::task::Id, usize>,
) {
    loop {
        let mut changed = false;
        for i in 0..checks.len() {
            if results[i].is_some() || launched[i] {
                continue;
            }
            let deps: Vec<usize> = checks[i]
                .depends_on()
                .iter()
                .filter_map(|d| index.get(d).copied())
                .collect();
            if deps.iter().any(|&d| results[d].is_none()) {
                continue;
            }
            let blocked_by = root_failures(checks, results, &deps);
            if blocked_by.is_empty() {
                let handle = tasks.spawn(run_one(checks[i].clone(), ctx.clone(), options.grace));
                running.insert(handle.id(), i);
                launched[i] = true;
            } else {
                let reason = format!("blocked by the failed {} check", blocked_by.join(", "));
                let mut result = CheckResult::not_run(checks[i].id(), Status::Blocked, reason);
                result.blocked_by = blocked_by;
                results[i] = Some(result);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// The failed checks behind `deps`: a failed dependency itself, or what
/// blocked a blocked one. In catalog order, without repeats.
fn root_failures(
    checks: &[Arc<dyn Check>],
    results: &[Option<CheckResult>],
    deps: &[usize],
) -> Vec<&'static str> {
    let mut roots = BTreeSet::new();
    for &d in deps {
        let Some(result) = &results[d] else { continue };
        match result.status {
            Status::Fail => {
                roots.insert(d);
            }
            Status::Blocked => {
                for id in &result.blocked_by {
                    if let Some(i) = checks.iter().position(|c| c.id() == *id) {
                        roots.insert(i);
                    }
                }
            }
            _ => {}
        }
    }
    roots.into_iter().map(|i| checks[i].id()).collect()
}

/// Runs one check under its deadline. At the deadline the check is
/// cancelled and given `grace` to return what it has; the result then
/// carries `check.timeout` unless the check already reported why it failed.
async fn run_one(check: Arc<dyn Check>, mut ctx: Context, grace: Duration) -> (Outcome, Duration) {
    let started = Instant::now();
    ctx.cancel = ctx.cancel.child_token();
    let deadline = check.deadline();
    let future = check.run(&ctx);
    tokio::pin!(future);
    let outcome = tokio::select! {
        outcome = &mut future => outcome,
        () = tokio::time::sleep(deadline) => {
            ctx.cancel.cancel();
            let mut outcome = tokio::time::timeout(grace, &mut future).await.unwrap_or_default();
            outcome.skipped = None;
            if !outcome.findings.iter().any(|f| f.severity == Severity::Critical) {
                outcome.finding(
                    Finding::new(
                        "check.timeout",
                        format!(
                            "the {} check did not finish within its deadline of {}",
                            check.id(),
                            duration::format(deadline)
                        ),
                    )
                    .with("deadline", duration::format(deadline)),
                );
            }
            outcome
        }
    };
    (outcome, started.elapsed())
}

/// Stores a finished check's result, applying `--ignore`.
fn record(
    checks: &[Arc<dyn Check>],
    options: &Options,
    results: &mut [Option<CheckResult>],
    running: &mut HashMap<tokio::task::Id, usize>,
    joined: Result<(tokio::task::Id, (Outcome, Duration)), tokio::task::JoinError>,
) -> Option<usize> {
    let (task, outcome, elapsed) = match joined {
        Ok((task, (outcome, elapsed))) => (task, outcome, elapsed),
        Err(error) => {
            let task = error.id();
            let &i = running.get(&task)?;
            let what = if error.is_panic() {
                "panicked"
            } else {
                "was cancelled"
            };
            let mut outcome = Outcome::new();
            outcome.finding(
                Finding::new(
                    "check.internal-error",
                    format!(
                        "the {} check {what}: this is a bug in wxc-preflight",
                        checks[i].id()
                    ),
                )
                .with("error", panic_message(error)),
            );
            (task, outcome, Duration::ZERO)
        }
    };
    let i = running.remove(&task)?;
    let mut outcome = outcome;
    apply_ignore(&mut outcome.findings, &options.ignore);
    let status = outcome.status();
    results[i] = Some(CheckResult {
        id: checks[i].id(),
        status,
        duration: elapsed,
        blocked_by: Vec::new(),
        reason: outcome.skipped,
        evidence: outcome.evidence,
        findings: outcome.findings,
    });
    Some(i)
}

fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return error.to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Downgrades critical findings named by `--ignore` to warnings.
pub fn apply_ignore(findings: &mut [Finding], ignore: &[String]) {
    for finding in findings {
        let named = ignore
            .iter()
            .any(|code| code == "all" || code == finding.code);
        if named && finding.severity == Severity::Critical {
            finding.severity = Severity::Warning;
            finding.ignored = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckFuture;

    /// A check that waits, then returns a finding when given one.
    struct Fake {
        id: &'static str,
        deps: &'static [&'static str],
        delay: Duration,
        code: Option<&'static str>,
    }

    impl Check for Fake {
        fn id(&self) -> &'static str {
            self.id
        }
        fn depends_on(&self) -> &'static [&'static str] {
            self.deps
        }
        fn deadline(&self) -> Duration {
            Duration::from_secs(1)
        }
        fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
            Box::pin(async move {
                tokio::select! {
                    () = tokio::time::sleep(self.delay) => {}
                    () = ctx.cancel.cancelled() => return Outcome::skipped("cancelled"),
                }
                let mut outcome = Outcome::new();
                if let Some(code) = self.code {
                    outcome.finding(Finding::new(code, "fake"));
                }
                outcome
            })
        }
    }

    fn fake(
        id: &'static str,
        deps: &'static [&'static str],
        ms: u64,
        code: Option<&'static str>,
    ) -> Arc<dyn Check> {
        Arc::new(Fake {
            id,
            deps,
            delay: Duration::from_millis(ms),
            code,
        })
    }

    fn chain() -> Vec<Arc<dyn Check>> {
        vec![
            fake("config", &[], 10, None),
            fake(
                "redirect-url",
                &["config"],
                10,
                Some("redirect-url.whitespace"),
            ),
            fake("dns", &["config"], 10, None),
            fake("authorize", &["dns", "redirect-url"], 10, None),
            fake("token", &["authorize"], 10, None),
        ]
    }

    async fn run_with(checks: &[Arc<dyn Check>], options: &Options) -> RunResult {
        let ctx = Context::new(None, Vec::new());
        run(checks, &ctx, options, std::future::pending()).await
    }

    fn statuses(result: &RunResult) -> Vec<(&str, Status)> {
        result.checks.iter().map(|c| (c.id, c.status)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_blocks_its_dependents_transitively() {
        let result = run_with(&chain(), &Options::default()).await;
        assert_eq!(
            statuses(&result),
            [
                ("config", Status::Pass),
                ("redirect-url", Status::Fail),
                ("dns", Status::Pass),
                ("authorize", Status::Blocked),
                ("token", Status::Blocked),
            ]
        );
        assert_eq!(result.checks[3].blocked_by, ["redirect-url"]);
        assert_eq!(result.checks[4].blocked_by, ["redirect-url"]);
    }

    #[tokio::test(start_paused = true)]
    async fn ignore_downgrades_and_unblocks() {
        let options = Options {
            ignore: vec!["redirect-url.whitespace".into()],
            ..Options::default()
        };
        let result = run_with(&chain(), &options).await;
        assert_eq!(result.checks[1].status, Status::Warn);
        assert!(result.checks[1].findings[0].ignored);
        assert_eq!(result.checks[4].status, Status::Pass);
    }

    #[tokio::test(start_paused = true)]
    async fn only_pulls_in_dependencies_and_skip_wins() {
        let options = Options {
            only: vec!["dns".into()],
            ..Options::default()
        };
        let result = run_with(&chain(), &options).await;
        assert_eq!(
            statuses(&result),
            [
                ("config", Status::Pass),
                ("redirect-url", Status::Skipped),
                ("dns", Status::Pass),
                ("authorize", Status::Skipped),
                ("token", Status::Skipped),
            ]
        );
        let options = Options {
            skip: vec!["redirect-url".into()],
            ..Options::default()
        };
        let result = run_with(&chain(), &options).await;
        assert_eq!(
            result.checks[1].reason.as_deref(),
            Some("skipped with --skip")
        );
        assert_eq!(
            result.checks[3].status,
            Status::Pass,
            "a skipped dependency does not block"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn independent_checks_run_concurrently() {
        let checks = vec![
            fake("config", &[], 100, None),
            fake("a", &["config"], 100, None),
            fake("b", &["config"], 100, None),
            fake("c", &["config"], 100, None),
            fake("d", &["a", "b", "c"], 100, None),
        ];
        let result = run_with(&checks, &Options::default()).await;
        assert_eq!(result.duration, Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_past_its_deadline_fails_with_check_timeout() {
        let checks = vec![
            fake("config", &[], 10, None),
            fake("slow", &["config"], 60_000, None),
        ];
        let result = run_with(&checks, &Options::default()).await;
        let slow = &result.checks[1];
        assert_eq!(slow.status, Status::Fail);
        assert_eq!(slow.findings[0].code, "check.timeout");
        assert!(
            slow.duration < Duration::from_secs(2),
            "{:?}",
            slow.duration
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_run_timeout_bounds_everything() {
        let checks = vec![
            fake("config", &[], 10, None),
            fake("slow", &["config"], 900, None),
            fake("after", &["slow"], 10, None),
        ];
        let options = Options {
            timeout: Some(Duration::from_millis(500)),
            ..Options::default()
        };
        let result = run_with(&checks, &options).await;
        assert!(result.timed_out);
        assert_eq!(
            statuses(&result)[1..],
            [("slow", Status::Fail), ("after", Status::Skipped)]
        );
        assert_eq!(result.checks[1].findings[0].code, "check.timeout");
        assert!(
            result.checks[1]
                .reason
                .as_deref()
                .unwrap()
                .contains("--timeout")
        );
        assert!(result.duration < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_keeps_what_was_measured() {
        let checks = vec![
            fake("config", &[], 10, None),
            fake("slow", &["config"], 900, None),
        ];
        let ctx = Context::new(None, Vec::new());
        let interrupt = tokio::time::sleep(Duration::from_millis(100));
        let result = run(&checks, &ctx, &Options::default(), interrupt).await;
        assert!(result.interrupted);
        assert_eq!(
            statuses(&result),
            [("config", Status::Pass), ("slow", Status::Skipped)]
        );
    }

    #[test]
    fn validate_names_unknown_ids_and_codes() {
        let checks = chain();
        let bad = Options {
            only: vec!["nope".into()],
            ..Options::default()
        };
        assert!(
            validate(&checks, &bad)
                .unwrap_err()
                .contains("unknown check \"nope\"")
        );
        let bad = Options {
            ignore: vec!["nope.code".into()],
            ..Options::default()
        };
        assert!(
            validate(&checks, &bad)
                .unwrap_err()
                .contains("unknown finding code")
        );
        let bad = Options {
            skip: vec!["config".into()],
            ..Options::default()
        };
        assert!(validate(&checks, &bad).is_err());
    }
}
