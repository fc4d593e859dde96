//! The Prometheus text exposition, for node_exporter's textfile collector:
//! no timestamps, labels bounded (check ids, finding codes, severities,
//! plan endpoints), and free text kept out of labels.

use std::fmt::Write as _;

use super::{Report, RunStatus};
use crate::check::Status;

const STATUSES: [Status; 5] = [
    Status::Pass,
    Status::Warn,
    Status::Fail,
    Status::Blocked,
    Status::Skipped,
];

/// Renders the report as Prometheus metrics.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    run_metrics(report, &mut out);
    check_metrics(report, &mut out);
    finding_metrics(report, &mut out);
    plan_metrics(report, &mut out);
    out
}

/// One gauge with its help, type and samples.
fn metric(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP wxc_preflight_{name} {help}");
    let _ = writeln!(out, "# TYPE wxc_preflight_{name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "wxc_preflight_{name}{labels} {value}");
    }
}

fn run_metrics(report: &Report, out: &mut String) {
    let mut metric =
        |name: &str, help: &str, samples: &[(String, String)]| metric(out, name, help, samples);

    let success = u8::from(matches!(report.status, RunStatus::Ok | RunStatus::Warning));
    metric(
        "success",
        "1 when the run could run and found nothing critical",
        &[(String::new(), success.to_string())],
    );
    metric(
        "exit_code",
        "The exit code of the run: 0 ok, 1 warning, 2 critical, 3 unknown",
        &[(String::new(), report.exit_code.to_string())],
    );
    metric(
        "duration_seconds",
        "How long the run took",
        &[(String::new(), seconds(report.duration_ms))],
    );
    let started = report
        .started_at
        .parse::<jiff::Timestamp>()
        .map_or(0, jiff::Timestamp::as_second);
    metric(
        "last_run_timestamp_seconds",
        "When the run started, in seconds since the Unix epoch",
        &[(String::new(), started.to_string())],
    );
}

fn check_metrics(report: &Report, out: &mut String) {
    let mut status_samples = Vec::new();
    let mut duration_samples = Vec::new();
    for check in &report.checks {
        for status in STATUSES {
            status_samples.push((
                labels(&[("check", &check.id), ("status", status.as_str())]),
                u8::from(check.status == status).to_string(),
            ));
        }
        duration_samples.push((labels(&[("check", &check.id)]), seconds(check.duration_ms)));
    }
    metric(
        out,
        "check_status",
        "1 for the status each check ended with",
        &status_samples,
    );
    metric(
        out,
        "check_duration_seconds",
        "How long each check took",
        &duration_samples,
    );
}

fn finding_metrics(report: &Report, out: &mut String) {
    let findings: Vec<(String, String)> = report
        .findings
        .iter()
        .map(|f| {
            (
                labels(&[
                    ("code", &f.code),
                    ("check", &f.check),
                    ("severity", f.severity.as_str()),
                    ("root_cause", if f.root_cause { "true" } else { "false" }),
                ]),
                "1".to_owned(),
            )
        })
        .collect();
    metric(
        out,
        "finding",
        "A finding of the run, by code (absent when not found)",
        &findings,
    );
    metric(
        out,
        "findings",
        "How many findings of each severity the run raised",
        &[
            (
                labels(&[("severity", "critical")]),
                report.summary.critical.to_string(),
            ),
            (
                labels(&[("severity", "warning")]),
                report.summary.warnings.to_string(),
            ),
            (
                labels(&[("severity", "info")]),
                report.summary.info.to_string(),
            ),
        ],
    );
}

fn plan_metrics(report: &Report, out: &mut String) {
    if let Some(plan) = &report.plan {
        let mut results = Vec::new();
        let mut post_dial = Vec::new();
        let mut answer = Vec::new();
        for call in &plan.calls {
            let pair = labels(&[("from", &call.from), ("to", &call.to)]);
            results.push((pair.clone(), u8::from(call.result == "passed").to_string()));
            if let Some(ms) = call.post_dial_delay_ms {
                post_dial.push((pair.clone(), seconds(ms)));
            }
            if let Some(ms) = call.answer_delay_ms {
                answer.push((pair, seconds(ms)));
            }
        }
        metric(
            out,
            "plan_call_success",
            "1 when the plan's test call passed",
            &results,
        );
        metric(
            out,
            "plan_call_post_dial_delay_seconds",
            "From originate to the callee alerting",
            &post_dial,
        );
        metric(
            out,
            "plan_call_answer_delay_seconds",
            "From answer to both legs active",
            &answer,
        );
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `{name="value",...}` with values escaped as the exposition format says.
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(name, value)| {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{name}=\"{escaped}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}
