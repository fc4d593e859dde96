//! The human report: one line per check with its status and time, then the
//! findings by troubleshooting section, root causes first, each with its
//! problem, evidence, course of action and fix command.

use std::fmt::Write as _;

use owo_colors::{OwoColorize, Style as Paint};

use super::{Report, RunStatus, Style, format_ms};
use crate::check::Status;
use crate::finding::{Section, Severity};

/// Renders the report for a person at a terminal.
#[must_use]
pub fn render(report: &Report, style: Style) -> String {
    let painter = Painter(style.color);
    let mut out = String::new();
    let config = report.config_file.as_deref().unwrap_or("(none)");
    let _ = writeln!(
        out,
        "{} {} · config {config}",
        painter.paint(&report.tool.name, Paint::new().bold()),
        report.tool.version
    );
    out.push('\n');
    checks(report, style, painter, &mut out);
    findings(report, painter, &mut out);
    plan(report, painter, &mut out);
    verdict(report, painter, &mut out);
    out
}

#[derive(Clone, Copy)]
struct Painter(bool);

impl Painter {
    fn paint(self, text: &str, style: Paint) -> String {
        if self.0 {
            text.style(style).to_string()
        } else {
            text.to_owned()
        }
    }

    fn status(self, status: Status) -> String {
        let (mark, style) = match status {
            Status::Pass => ("✓ pass   ", Paint::new().green()),
            Status::Warn => ("! warn   ", Paint::new().yellow()),
            Status::Fail => ("✗ fail   ", Paint::new().red().bold()),
            Status::Blocked => ("⊘ blocked", Paint::new().magenta()),
            Status::Skipped => ("- skipped", Paint::new().dimmed()),
        };
        self.paint(mark, style)
    }

    fn severity(self, severity: Severity) -> String {
        let style = match severity {
            Severity::Critical => Paint::new().red().bold(),
            Severity::Warning => Paint::new().yellow(),
            Severity::Info => Paint::new().cyan(),
        };
        self.paint(severity.as_str(), style)
    }
}

fn checks(report: &Report, style: Style, painter: Painter, out: &mut String) {
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &report.checks {
        let time = match check.status {
            Status::Blocked | Status::Skipped => String::new(),
            _ => format_ms(check.duration_ms),
        };
        let _ = write!(
            out,
            "  {} {:width$}  {time:>6}",
            painter.status(check.status),
            check.id
        );
        if let Some(reason) = &check.reason {
            let _ = write!(out, "  {}", painter.paint(reason, Paint::new().dimmed()));
        }
        out.push('\n');
        if style.verbose > 0 {
            for evidence in &check.evidence {
                let _ = writeln!(
                    out,
                    "      {}{}",
                    painter.paint(&format!("{}:", evidence.label), Paint::new().dimmed()),
                    indent_lines(&evidence.value, 8)
                );
            }
        }
    }
}

/// A value after its label's colon: on the same line after a space, or,
/// when it spans lines (an email to send), on the lines below, indented to
/// `width` so it stays inside its finding.
fn indent_lines(value: &str, width: usize) -> String {
    if !value.contains('\n') {
        return format!(" {value}");
    }
    let pad = " ".repeat(width);
    let body: Vec<String> = value
        .trim_end()
        .lines()
        .map(|line| format!("{pad}{line}").trim_end().to_owned())
        .collect();
    format!("\n{}", body.join("\n"))
}

fn findings(report: &Report, painter: Painter, out: &mut String) {
    for section in [Section::Api, Section::Internet, Section::Tool] {
        let mut entries = report.section(section).peekable();
        if entries.peek().is_none() {
            continue;
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "{}",
            painter.paint(section.title(), Paint::new().bold().underline())
        );
        for finding in entries {
            out.push('\n');
            let mut tags = vec![painter.severity(finding.severity)];
            if finding.root_cause {
                tags.push(painter.paint("root cause", Paint::new().red()));
            }
            if finding.ignored {
                tags.push("ignored with --ignore".to_owned());
            }
            let _ = writeln!(
                out,
                "{} ({}) in check {}",
                painter.paint(&finding.code, Paint::new().bold()),
                tags.join(", "),
                finding.check
            );
            let _ = writeln!(out, "  {}", finding.summary);
            let _ = writeln!(
                out,
                "  {} {}",
                painter.paint("Problem:", Paint::new().bold()),
                finding.problem
            );
            if let Some(symptom) = &finding.symptom {
                let _ = writeln!(
                    out,
                    "  {} {symptom}",
                    painter.paint("Symptom:", Paint::new().bold())
                );
            }
            if !finding.evidence.is_empty() {
                let _ = writeln!(out, "  {}", painter.paint("Evidence:", Paint::new().bold()));
                for evidence in &finding.evidence {
                    let _ = writeln!(
                        out,
                        "    {}:{}",
                        evidence.label,
                        indent_lines(&evidence.value, 6)
                    );
                }
            }
            let _ = writeln!(
                out,
                "  {}",
                painter.paint("Suggested course of action:", Paint::new().bold())
            );
            for (i, action) in finding.actions.iter().enumerate() {
                let _ = writeln!(out, "    {}. {action}", i + 1);
            }
            if let Some(command) = &finding.fix_command {
                let _ = writeln!(
                    out,
                    "  {} {}",
                    painter.paint("Fix:", Paint::new().bold()),
                    painter.paint(command, Paint::new().cyan())
                );
            }
        }
    }
}

fn plan(report: &Report, painter: Painter, out: &mut String) {
    let Some(plan) = &report.plan else { return };
    out.push('\n');
    let _ = writeln!(
        out,
        "{}",
        painter.paint(
            &format!("Test Runs Results: {}", plan.name),
            Paint::new().bold().underline()
        )
    );
    let ms = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), format_ms);
    let from_width = plan
        .calls
        .iter()
        .map(|c| c.from.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let to_width = plan
        .calls
        .iter()
        .map(|c| c.to.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        out,
        "  {:from_width$}  {:to_width$}  {:7}  {:>9}  {:>7}  {:>7}  {:>8}  failure",
        "from", "to", "result", "post-dial", "answer", "total", "attempts"
    );
    for call in &plan.calls {
        let result = match call.result.as_str() {
            "passed" => painter.paint("passed ", Paint::new().green()),
            "failed" => painter.paint("failed ", Paint::new().red()),
            other => format!("{other:7}"),
        };
        let failure = match (&call.failed_step, &call.error) {
            (Some(step), Some(error)) => format!("{step}: {error}"),
            (Some(step), None) => step.clone(),
            (None, Some(error)) => error.clone(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:from_width$}  {:to_width$}  {result}  {:>9}  {:>7}  {:>7}  {:>8}  {failure}",
            call.from,
            call.to,
            ms(call.post_dial_delay_ms),
            ms(call.answer_delay_ms),
            ms(call.duration_ms),
            call.attempts,
        );
    }
}

fn verdict(report: &Report, painter: Painter, out: &mut String) {
    out.push('\n');
    let style = match report.status {
        RunStatus::Ok => Paint::new().green().bold(),
        RunStatus::Warning => Paint::new().yellow().bold(),
        RunStatus::Critical | RunStatus::Unknown => Paint::new().red().bold(),
    };
    let _ = writeln!(
        out,
        "{} {} (exit {}, {})",
        painter.paint(report.status.label(), style),
        report.headline(),
        report.exit_code,
        format_ms(report.duration_ms)
    );
    if report.status == RunStatus::Unknown && !report.interrupted {
        let _ = writeln!(
            out,
            "the tool could not complete the run: the findings above say why"
        );
    }
    if let Some(first) = report.findings.iter().find(|f| f.root_cause) {
        let _ = writeln!(
            out,
            "start with {}: wxc-preflight explain {}",
            first.code, first.code
        );
    }
}
