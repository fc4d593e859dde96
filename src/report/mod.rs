//! The report: one model built from a run, rendered by one module per
//! format.
//!
//! The model decides everything the formats share: the run's status and
//! exit code, which findings are root causes, and the order (root causes
//! first, in the catalog order of the checks, so the earliest broken link
//! leads). Renderers only lay it out.

mod human;
mod junit;
mod markdown;
mod nagios;
mod prometheus;

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::check::Status;
use crate::finding::{Evidence, Section, Severity, catalog};
use crate::pipeline::RunResult;

pub use human::render as human;
pub use junit::render as junit;
pub use markdown::render as markdown;
pub use nagios::render as nagios;
pub use prometheus::render as prometheus;

/// The version of the JSON shape; bumped when a field changes meaning or
/// disappears (adding a field does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// The run's verdict, as Nagios names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl RunStatus {
    /// The upper-case name Nagios prints.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The status of an exit code.
    #[must_use]
    pub fn from_exit_code(code: u8) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::Warning,
            2 => Self::Critical,
            _ => Self::Unknown,
        }
    }
}

/// Where `--fail-on` puts the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// The Nagios mapping: 1 for warnings, 2 for critical findings.
    #[default]
    Default,
    /// Warnings fail the run as critical findings do: exit 2.
    Warning,
    /// Only critical findings fail the run: warnings exit 0.
    Critical,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    /// `ok`, `warning`, `critical`, or `unknown` when the tool could not
    /// run (bad configuration, internal error, interrupted).
    pub status: RunStatus,
    /// The process exit code, after `--fail-on`.
    pub exit_code: u8,
    /// RFC 3339 time the run started.
    pub started_at: String,
    pub duration_ms: u64,
    /// The configuration file used, when one was found.
    pub config_file: Option<String>,
    /// Ctrl-C stopped the run; what was measured so far is reported.
    pub interrupted: bool,
    /// `--timeout` stopped the run.
    pub timed_out: bool,
    /// Codes of the root-cause findings, the earliest broken link first.
    pub root_causes: Vec<String>,
    pub summary: Summary,
    pub checks: Vec<CheckEntry>,
    /// Root causes first, then warnings, then information.
    pub findings: Vec<FindingEntry>,
    pub plan: Option<PlanEntry>,
}

/// The name and version of the tool that wrote the report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// Counts, for status lines and metrics.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Summary {
    pub checks: usize,
    pub passed: usize,
    pub warned: usize,
    pub failed: usize,
    pub blocked: usize,
    pub skipped: usize,
    pub critical: usize,
    pub warnings: usize,
    pub info: usize,
}

/// One check of the run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CheckEntry {
    pub id: String,
    pub title: String,
    pub status: Status,
    pub duration_ms: u64,
    /// For a blocked check, the failed checks at its root.
    pub blocked_by: Vec<String>,
    /// Why the check was skipped or blocked.
    pub reason: Option<String>,
    pub evidence: Vec<Evidence>,
    /// The codes this check raised.
    pub findings: Vec<String>,
}

/// One finding with its remediation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FindingEntry {
    pub code: String,
    pub check: String,
    pub severity: Severity,
    pub section: Section,
    /// What exactly was found, with the values involved.
    pub summary: String,
    /// The general problem this code stands for.
    pub problem: String,
    /// What users typically see when this happens.
    pub symptom: Option<String>,
    pub evidence: Vec<Evidence>,
    /// The suggested course of action, step by step.
    pub actions: Vec<String>,
    pub fix_command: Option<String>,
    pub root_cause: bool,
    /// Downgraded to a warning by `--ignore`.
    pub ignored: bool,
}

/// The "Test Runs Results" of the plan run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanEntry {
    pub name: String,
    pub calls: Vec<CallEntry>,
}

/// One test call of the plan.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallEntry {
    pub from: String,
    pub to: String,
    /// `passed`, `failed` or `not-run`.
    pub result: String,
    pub failed_step: Option<String>,
    /// The XSI error: ErrorInfo's summary and errorCode.
    pub error: Option<String>,
    pub post_dial_delay_ms: Option<u64>,
    pub answer_delay_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    pub attempts: u32,
}

/// One line of the `--history` file: when, the verdict, and the plan's
/// calls, as compact JSON.
#[must_use]
pub fn history_line(report: &Report) -> String {
    let line = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "started_at": report.started_at,
        "status": report.status,
        "exit_code": report.exit_code,
        "duration_ms": report.duration_ms,
        "root_causes": report.root_causes,
        "plan": report.plan,
    });
    line.to_string()
}

/// How a renderer should lay out the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colour (the human format only).
    pub color: bool,
    /// 0 normal, 1 adds each check's evidence, 2 and more add everything.
    pub verbose: u8,
}

/// What the report is built from besides the run.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub started_at: jiff::Timestamp,
    pub config_file: Option<String>,
    pub fail_on: FailOn,
    pub plan: Option<PlanEntry>,
}

/// The run's status and exit code: `unknown` (3) when the tool could not
/// run, else the worst severity found, with `--fail-on` moving the
/// threshold of the exit code.
fn verdict(
    run: &RunResult,
    summary: &Summary,
    findings: &[FindingEntry],
    fail_on: FailOn,
) -> (RunStatus, u8) {
    let could_not_run = run.interrupted
        || run
            .checks
            .iter()
            .any(|c| c.id == "config" && c.status == Status::Fail)
        || findings.iter().any(|f| f.code == "check.internal-error");
    let status = if could_not_run {
        RunStatus::Unknown
    } else if summary.critical > 0 {
        RunStatus::Critical
    } else if summary.warnings > 0 {
        RunStatus::Warning
    } else {
        RunStatus::Ok
    };
    let exit_code = match (status, fail_on) {
        (RunStatus::Unknown, _) => 3,
        (RunStatus::Critical, _) | (RunStatus::Warning, FailOn::Warning) => 2,
        (RunStatus::Warning, FailOn::Default) => 1,
        (RunStatus::Warning, FailOn::Critical) | (RunStatus::Ok, _) => 0,
    };
    (status, exit_code)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Report {
    /// Builds the report of a run.
    #[must_use]
    pub fn build(run: &RunResult, info: BuildInfo) -> Self {
        let check_order = |id: &str| {
            run.checks
                .iter()
                .position(|c| c.id == id)
                .unwrap_or(usize::MAX)
        };
        let mut findings = Vec::new();
        let mut checks = Vec::new();
        let mut summary = Summary {
            checks: run.checks.len(),
            ..Summary::default()
        };
        for result in &run.checks {
            match result.status {
                Status::Pass => summary.passed += 1,
                Status::Warn => summary.warned += 1,
                Status::Fail => summary.failed += 1,
                Status::Blocked => summary.blocked += 1,
                Status::Skipped => summary.skipped += 1,
            }
            for finding in &result.findings {
                let remediation = finding.remediation();
                match finding.severity {
                    Severity::Critical => summary.critical += 1,
                    Severity::Warning => summary.warnings += 1,
                    Severity::Info => summary.info += 1,
                }
                findings.push(FindingEntry {
                    code: finding.code.to_owned(),
                    check: result.id.to_owned(),
                    severity: finding.severity,
                    section: remediation.section,
                    summary: finding.summary.clone(),
                    problem: remediation.problem.clone(),
                    symptom: remediation.symptom.clone(),
                    evidence: finding.evidence.clone(),
                    actions: remediation.actions.clone(),
                    fix_command: remediation.fix_command.clone(),
                    root_cause: finding.severity == Severity::Critical,
                    ignored: finding.ignored,
                });
            }
            checks.push(CheckEntry {
                id: result.id.to_owned(),
                title: catalog()
                    .check(result.id)
                    .map_or_else(|| result.id.to_owned(), |c| c.title.clone()),
                status: result.status,
                duration_ms: millis(result.duration),
                blocked_by: result.blocked_by.iter().map(ToString::to_string).collect(),
                reason: result.reason.clone(),
                evidence: result.evidence.clone(),
                findings: result.findings.iter().map(|f| f.code.to_owned()).collect(),
            });
        }
        // Stable: within a severity, the catalog order of checks, then the
        // order each check reported.
        findings.sort_by_key(|f| (std::cmp::Reverse(f.severity), check_order(&f.check)));
        let root_causes = findings
            .iter()
            .filter(|f| f.root_cause)
            .map(|f| f.code.clone())
            .collect();

        let (status, exit_code) = verdict(run, &summary, &findings, info.fail_on);
        Self {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: env!("CARGO_PKG_NAME").to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            status,
            exit_code,
            started_at: info.started_at.to_string(),
            duration_ms: millis(run.duration),
            config_file: info.config_file,
            interrupted: run.interrupted,
            timed_out: run.timed_out,
            root_causes,
            summary,
            checks,
            findings,
            plan: info.plan,
        }
    }

    /// Fixes every time in the report, for tests and documentation
    /// examples that must not change from run to run.
    pub fn freeze_clock(&mut self) {
        "2026-01-01T00:00:00Z".clone_into(&mut self.started_at);
        self.duration_ms = 0;
        for check in &mut self.checks {
            check.duration_ms = 0;
        }
        if let Some(plan) = &mut self.plan {
            for call in &mut plan.calls {
                for field in [
                    &mut call.post_dial_delay_ms,
                    &mut call.answer_delay_ms,
                    &mut call.duration_ms,
                ] {
                    if field.is_some() {
                        *field = Some(0);
                    }
                }
            }
        }
    }

    /// The findings of one section, in report order.
    pub fn section(&self, section: Section) -> impl Iterator<Item = &FindingEntry> {
        self.findings.iter().filter(move |f| f.section == section)
    }

    /// One line saying what the run found, shared by the formats.
    #[must_use]
    pub fn headline(&self) -> String {
        let s = &self.summary;
        let mut parts = Vec::new();
        if let Some(first) = self.findings.iter().find(|f| f.root_cause) {
            parts.push(format!("{}: {}", first.code, first.summary));
            if self.root_causes.len() > 1 {
                parts.push(format!("{} more root causes", self.root_causes.len() - 1));
            }
        } else if let Some(first) = self
            .findings
            .iter()
            .find(|f| f.severity == Severity::Warning)
        {
            parts.push(format!("{}: {}", first.code, first.summary));
        }
        if self.interrupted {
            parts.push("interrupted".to_owned());
        }
        if self.timed_out {
            parts.push("timed out".to_owned());
        }
        parts.push(format!(
            "{} passed, {} warned, {} failed, {} blocked, {} skipped",
            s.passed, s.warned, s.failed, s.blocked, s.skipped
        ));
        parts.join("; ")
    }
}

/// The JSON report, pretty-printed, with a final newline.
///
/// # Panics
/// Never in practice: the model holds only strings, numbers and lists.
#[must_use]
pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report serialises");
    text.push('\n');
    text
}

/// The JSON Schema of the JSON report, as shipped in `schema/`.
///
/// # Panics
/// Never in practice: the schema is plain JSON.
#[must_use]
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Report);
    let mut text = serde_json::to_string_pretty(&schema).expect("the schema serialises");
    text.push('\n');
    text
}

/// Formats milliseconds for people: `12ms`, `1.4s`.
#[must_use]
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        #[expect(clippy::cast_precision_loss, reason = "a display of seconds")]
        let secs = ms as f64 / 1000.0;
        format!("{secs:.1}s")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::pipeline::CheckResult;

    /// A report with a root cause, a warning, a blocked check, a skipped
    /// check and a plan: the fixture of every renderer's snapshot.
    pub(crate) fn sample() -> Report {
        let check = |id: &'static str, status: Status, findings: Vec<Finding>| CheckResult {
            id,
            status,
            duration: Duration::from_millis(3),
            blocked_by: Vec::new(),
            reason: None,
            evidence: vec![Evidence::new("file", "/etc/wxc-preflight.toml")],
            findings,
        };
        let mut blocked = check("authorize", Status::Blocked, Vec::new());
        blocked.blocked_by = vec!["redirect-url"];
        blocked.reason = Some("blocked by the failed redirect-url check".into());
        blocked.evidence.clear();
        let mut skipped = check("dns", Status::Skipped, Vec::new());
        skipped.reason = Some("not implemented yet".into());
        skipped.evidence.clear();
        let run = RunResult {
            checks: vec![
                check(
                    "config",
                    Status::Warn,
                    vec![
                        Finding::new(
                            "config.secret-file-permissions",
                            "the secret file is readable by others (mode 644)",
                        )
                        .with("mode", "644"),
                    ],
                ),
                check(
                    "redirect-url",
                    Status::Fail,
                    vec![
                        Finding::new(
                            "redirect-url.whitespace",
                            "the redirect URL has 1 stray character (trailing)",
                        )
                        .with(
                            "stray character",
                            "U+00A0 NO-BREAK SPACE at position 31 (byte 30), trailing",
                        )
                        .with("as written", "http://localhost:6001/redirect⟨U+00A0⟩"),
                    ],
                ),
                skipped,
                blocked,
            ],
            duration: Duration::from_millis(12),
            interrupted: false,
            timed_out: false,
        };
        let plan = PlanEntry {
            name: "WbC-MT smoke".into(),
            calls: vec![
                CallEntry {
                    from: "alice@example.com".into(),
                    to: "bob@example.com".into(),
                    result: "passed".into(),
                    failed_step: None,
                    error: None,
                    post_dial_delay_ms: Some(850),
                    answer_delay_ms: Some(120),
                    duration_ms: Some(3100),
                    attempts: 1,
                },
                CallEntry {
                    from: "bob@example.com".into(),
                    to: "alice@example.com".into(),
                    result: "failed".into(),
                    failed_step: Some("wait for the callee to alert".into()),
                    error: Some("no alerting call within 20s".into()),
                    post_dial_delay_ms: None,
                    answer_delay_ms: None,
                    duration_ms: Some(20_000),
                    attempts: 1,
                },
            ],
        };
        Report::build(
            &run,
            BuildInfo {
                started_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                config_file: Some("/etc/wxc-preflight.toml".into()),
                fail_on: FailOn::Default,
                plan: Some(plan),
            },
        )
    }

    #[test]
    fn root_causes_lead_and_set_the_exit_code() {
        let report = sample();
        assert_eq!(report.status, RunStatus::Critical);
        assert_eq!(report.exit_code, 2);
        assert_eq!(report.root_causes, ["redirect-url.whitespace"]);
        assert_eq!(report.findings[0].code, "redirect-url.whitespace");
        assert!(report.findings[0].root_cause);
        assert!(!report.findings[1].root_cause);
        assert_eq!(report.checks[3].blocked_by, ["redirect-url"]);
    }

    #[test]
    fn fail_on_moves_the_threshold() {
        let mut run_warning = sample();
        run_warning
            .findings
            .retain(|f| f.severity == Severity::Warning);
        let exit = |fail_on| match (RunStatus::Warning, fail_on) {
            (RunStatus::Warning, FailOn::Warning) => 2,
            (RunStatus::Warning, FailOn::Default) => 1,
            _ => 0,
        };
        assert_eq!(exit(FailOn::Default), 1);
        assert_eq!(exit(FailOn::Critical), 0);
        assert_eq!(exit(FailOn::Warning), 2);
    }

    #[test]
    fn json_carries_the_fields_scripts_rely_on() {
        let value: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        for field in [
            "schema_version",
            "status",
            "exit_code",
            "duration_ms",
            "root_causes",
            "checks",
            "findings",
            "plan",
        ] {
            assert!(value.get(field).is_some(), "{field} missing");
        }
        for field in ["id", "status", "duration_ms", "blocked_by", "evidence"] {
            assert!(
                value["checks"][0].get(field).is_some(),
                "checks[].{field} missing"
            );
        }
        for field in [
            "code",
            "check",
            "severity",
            "section",
            "problem",
            "evidence",
            "actions",
            "fix_command",
            "root_cause",
        ] {
            assert!(
                value["findings"][0].get(field).is_some(),
                "findings[].{field} missing"
            );
        }
        for field in [
            "from",
            "to",
            "result",
            "failed_step",
            "error",
            "post_dial_delay_ms",
            "answer_delay_ms",
            "duration_ms",
            "attempts",
        ] {
            assert!(
                value["plan"]["calls"][0].get(field).is_some(),
                "plan.calls[].{field} missing"
            );
        }
    }

    #[test]
    fn a_multi_line_value_stays_inside_its_finding() {
        let mut report = sample();
        report.findings[0]
            .evidence
            .push(Evidence::new("email", "To: someone\n\nHello,\nthanks\n"));
        let text = human(&report, Style::default());
        assert!(
            text.contains("    email:\n      To: someone\n\n      Hello,\n      thanks\n"),
            "{text}"
        );
        let text = markdown(&report);
        assert!(
            text.contains("- email:\n\n  ```text\n  To: someone\n\n  Hello,\n  thanks\n  ```\n"),
            "{text}"
        );
        assert!(
            text.lines().all(|l| l == l.trim_end()),
            "no trailing spaces"
        );
    }

    #[test]
    fn snapshots_of_every_renderer() {
        let report = sample();
        let style = Style {
            color: false,
            verbose: 1,
        };
        insta::assert_snapshot!("human", human(&report, style));
        insta::assert_snapshot!(
            "human_color",
            human(
                &report,
                Style {
                    color: true,
                    verbose: 0
                }
            )
        );
        insta::assert_snapshot!("json", json(&report));
        insta::assert_snapshot!("markdown", markdown(&report));
        insta::assert_snapshot!("junit", junit(&report));
        insta::assert_snapshot!("nagios", nagios(&report));
        insta::assert_snapshot!("prometheus", prometheus(&report));
    }
}
