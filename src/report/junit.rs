//! The JUnit XML report, for CI systems: a test case per check and per plan
//! call. A failed check is a failure, a blocked or skipped check is skipped,
//! and warnings ride along as system-out of a passing case.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::{FindingEntry, Report};
use crate::check::Status;

/// Renders the report as JUnit XML.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut junit = Junit::new("wxc-preflight");
    junit.set_time(Duration::from_millis(report.duration_ms));

    let mut suite = TestSuite::new("checks");
    for check in &report.checks {
        let findings: Vec<&FindingEntry> = report
            .findings
            .iter()
            .filter(|f| f.check == check.id)
            .collect();
        let status = match check.status {
            Status::Pass | Status::Warn => TestCaseStatus::success(),
            Status::Fail => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                if let Some(first) = findings.iter().find(|f| f.root_cause).or(findings.first()) {
                    status.set_message(format!("{}: {}", first.code, first.summary));
                    status.set_type(first.code.clone());
                }
                status.set_description(details(&findings));
                status
            }
            Status::Blocked | Status::Skipped => {
                let mut status = TestCaseStatus::skipped();
                if let Some(reason) = &check.reason {
                    status.set_message(reason.clone());
                }
                status
            }
        };
        let mut case = TestCase::new(check.id.clone(), status);
        case.set_classname(format!("wxc-preflight.{}", check.id));
        case.set_time(Duration::from_millis(check.duration_ms));
        if check.status == Status::Warn || (check.status == Status::Pass && !findings.is_empty()) {
            case.set_system_out(details(&findings));
        }
        suite.add_test_case(case);
    }
    junit.add_test_suite(suite);

    if let Some(plan) = &report.plan {
        let mut suite = TestSuite::new(format!("plan: {}", plan.name));
        for call in &plan.calls {
            let status = match call.result.as_str() {
                "passed" => TestCaseStatus::success(),
                "failed" => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let message = [call.failed_step.as_deref(), call.error.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ");
                    status.set_message(message);
                    status
                }
                _ => TestCaseStatus::skipped(),
            };
            let mut case = TestCase::new(format!("{} -> {}", call.from, call.to), status);
            case.set_classname("wxc-preflight.plan");
            if let Some(ms) = call.duration_ms {
                case.set_time(Duration::from_millis(ms));
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit rendering failed: {e} -->\n"))
}

/// Every finding of a check as plain text: summary, evidence, actions.
fn details(findings: &[&FindingEntry]) -> String {
    let mut out = String::new();
    for finding in findings {
        out.push_str(&format!(
            "[{}] {}: {}\n",
            finding.severity, finding.code, finding.summary
        ));
        for evidence in &finding.evidence {
            let value = evidence.value.trim_end().replace('\n', "\n    ");
            out.push_str(&format!("  {}: {value}\n", evidence.label));
        }
        for (i, action) in finding.actions.iter().enumerate() {
            out.push_str(&format!("  {}. {action}\n", i + 1));
        }
        if let Some(command) = &finding.fix_command {
            out.push_str(&format!("  fix: {command}\n"));
        }
    }
    out
}
