//! The Nagios / Icinga plugin output: one status line with performance
//! data, then long output, one line per finding and per check that did not
//! pass. The status word follows the exit code, as the plugin API says.

use std::fmt::Write as _;

use super::{Report, RunStatus};
use crate::check::Status;

/// Renders the report as plugin output.
#[must_use]
pub fn render(report: &Report) -> String {
    let status = RunStatus::from_exit_code(report.exit_code);
    let s = &report.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "WXC-PREFLIGHT {} - {}",
        status.label(),
        one_line(&report.headline())
    );
    let _ = write!(
        out,
        " | checks_passed={};;;0;{total} checks_warned={};;;0;{total} checks_failed={};;1;0;{total} \
         checks_blocked={};;;0;{total} checks_skipped={};;;0;{total} findings_critical={};;1;0; \
         findings_warning={};1;;0; duration={}",
        s.passed,
        s.warned,
        s.failed,
        s.blocked,
        s.skipped,
        s.critical,
        s.warnings,
        seconds(report.duration_ms),
        total = s.checks,
    );
    out.push('\n');

    for finding in &report.findings {
        let _ = writeln!(
            out,
            "[{}] {} ({}): {}",
            finding.severity.as_str().to_uppercase(),
            finding.code,
            finding.check,
            one_line(&finding.summary)
        );
        if let Some(command) = &finding.fix_command {
            let _ = writeln!(out, "  fix: {command}");
        } else if let Some(action) = finding.actions.first() {
            let _ = writeln!(out, "  next: {}", one_line(action));
        }
    }
    for check in &report.checks {
        if matches!(check.status, Status::Pass) {
            continue;
        }
        let reason = check
            .reason
            .as_deref()
            .map(|r| format!(": {}", one_line(r)))
            .unwrap_or_default();
        let _ = writeln!(out, "check {} {}{reason}", check.id, check.status.as_str());
    }
    if let Some(plan) = &report.plan {
        let passed = plan.calls.iter().filter(|c| c.result == "passed").count();
        let _ = writeln!(
            out,
            "plan {}: {passed} of {} calls passed",
            one_line(&plan.name),
            plan.calls.len()
        );
    }
    let mut perf = Vec::new();
    for check in &report.checks {
        if !matches!(check.status, Status::Blocked | Status::Skipped) {
            perf.push(format!(
                "'check_{}'={}",
                check.id,
                seconds(check.duration_ms)
            ));
        }
    }
    if !perf.is_empty() {
        let _ = writeln!(out, "| {}", perf.join(" "));
    }
    out
}

/// Seconds with a unit, never in scientific notation.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// Plugin output is line-based, and `|` starts performance data.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('|', "/")
}
