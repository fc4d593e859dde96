//! The markdown report: for pasting into a support ticket. Root causes
//! first, then the checks, then every finding with its remediation.

use std::fmt::Write as _;

use super::{Report, format_ms};
use crate::check::Status;
use crate::finding::Section;

/// Renders the report as GitHub-flavoured markdown.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# wxc-preflight report: {}\n", report.status.label());
    let _ = writeln!(out, "| | |\n| --- | --- |");
    let _ = writeln!(
        out,
        "| status | {} (exit {}) |",
        report.status.label(),
        report.exit_code
    );
    let _ = writeln!(out, "| started | {} |", report.started_at);
    let _ = writeln!(out, "| duration | {} |", format_ms(report.duration_ms));
    let _ = writeln!(
        out,
        "| config | {} |",
        cell(report.config_file.as_deref().unwrap_or("(none)"))
    );
    let _ = writeln!(
        out,
        "| version | {} {} |",
        report.tool.name, report.tool.version
    );
    let _ = writeln!(out, "| summary | {} |", cell(&report.headline()));

    if !report.root_causes.is_empty() {
        out.push_str("\n## Root causes\n\n");
        for (i, finding) in report.findings.iter().filter(|f| f.root_cause).enumerate() {
            let _ = writeln!(
                out,
                "{}. {} ({}): {}",
                i + 1,
                code(&finding.code),
                finding.check,
                finding.summary
            );
        }
    }

    out.push_str("\n## Checks\n\n| check | status | time | notes |\n| --- | --- | --- | --- |\n");
    for check in &report.checks {
        let notes = check
            .reason
            .clone()
            .unwrap_or_else(|| check.findings.join(", "));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            check.id,
            check.status.as_str(),
            if matches!(check.status, Status::Blocked | Status::Skipped) {
                "-".to_owned()
            } else {
                format_ms(check.duration_ms)
            },
            cell(&notes)
        );
    }

    findings(report, &mut out);
    plan(report, &mut out);
    out
}

fn findings(report: &Report, out: &mut String) {
    for section in [Section::Api, Section::Internet, Section::Tool] {
        let mut entries = report.section(section).peekable();
        if entries.peek().is_none() {
            continue;
        }
        let _ = writeln!(out, "\n## {}", section.title());
        for finding in entries {
            let mut tags = vec![finding.severity.as_str().to_owned()];
            if finding.root_cause {
                tags.push("root cause".to_owned());
            }
            if finding.ignored {
                tags.push("ignored".to_owned());
            }
            let _ = writeln!(out, "\n### {} ({})\n", code(&finding.code), tags.join(", "));
            let _ = writeln!(out, "{}\n", finding.summary);
            let _ = writeln!(out, "**Problem:** {}\n", finding.problem);
            if let Some(symptom) = &finding.symptom {
                let _ = writeln!(out, "**Symptom:** {symptom}\n");
            }
            if !finding.evidence.is_empty() {
                out.push_str("**Evidence:**\n\n");
                for evidence in &finding.evidence {
                    if evidence.value.contains('\n') {
                        let _ = writeln!(out, "- {}:\n\n  ```text", evidence.label);
                        for line in evidence.value.trim_end().lines() {
                            let _ = writeln!(out, "{}", format!("  {line}").trim_end());
                        }
                        out.push_str("  ```\n");
                    } else {
                        let _ = writeln!(out, "- {}: {}", evidence.label, code(&evidence.value));
                    }
                }
                out.push('\n');
            }
            out.push_str("**Suggested course of action:**\n\n");
            for (i, action) in finding.actions.iter().enumerate() {
                let _ = writeln!(out, "{}. {action}", i + 1);
            }
            if let Some(command) = &finding.fix_command {
                let _ = writeln!(out, "\n**Fix:** {}", code(command));
            }
        }
    }
}

fn plan(report: &Report, out: &mut String) {
    if let Some(plan) = &report.plan {
        let _ = writeln!(out, "\n## Test Runs Results: {}\n", cell(&plan.name));
        out.push_str("| from | to | result | post-dial delay | answer delay | total | attempts | failure |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), format_ms);
        for call in &plan.calls {
            let failure = [call.failed_step.as_deref(), call.error.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&call.from),
                cell(&call.to),
                call.result,
                ms(call.post_dial_delay_ms),
                ms(call.answer_delay_ms),
                ms(call.duration_ms),
                call.attempts,
                cell(&failure)
            );
        }
    }
}

/// Text safe inside a table cell: no pipe, no line break.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Inline code that survives backticks in the value.
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}
