//! The `plan` check: the minimal WbC-MT plan run of DESIGN section 7 over
//! the endpoints the `endpoints` check resolved. It turns each call's
//! measurements into the report's "Test Runs Results" (a [`PlanEntry`]
//! fact the CLI hands to the report) and each failed call into a finding:
//! `plan.no-answer`, `plan.call-failed`, or `api.rate-limited` /
//! `api.server-error` when retries ran out.
//!
//! Whatever happens (a failed call, the deadline, Ctrl-C) every leg the
//! run created is released: the run releases after each failed call, and
//! this check once more at the end with a client that is not cancelled,
//! within the pipeline's grace period.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::finding::Finding;
use crate::output;
use crate::plan::{CallFailure, CallResult, PlanRun, PlanSettings, Progress};
use crate::report::{CallEntry, PlanEntry};
use crate::webex::XsiClient;

use super::endpoints::PlanEndpoints;
use super::session;
use super::xsi::XsiReady;

/// How long the final clean-up may take: inside the pipeline's 3 s grace.
const CLEANUP: Duration = Duration::from_millis(2500);

/// See the module documentation.
pub struct PlanCheck;

impl Check for PlanCheck {
    fn id(&self) -> &'static str {
        "plan"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["endpoints"]
    }

    /// Calls ring for up to `ring_timeout` each and retries pause: the plan
    /// bounds itself, this only stops a run that is stuck.
    fn deadline(&self) -> Duration {
        Duration::from_secs(600)
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        crate::check::settle(run(ctx))
    }
}

async fn run(ctx: &Context) -> Result<Outcome, Outcome> {
    let config = ctx.config()?;
    let Some(section) = &config.file.plan else {
        return Err(Outcome::skipped("the configuration has no [plan] table"));
    };
    let endpoints = ctx.need::<PlanEndpoints>("endpoints")?;
    let ready = ctx.need::<XsiReady>("xsi")?;
    let client = session::client(ctx)?;
    let xsi = XsiClient::new(client.clone(), &ready.actions);
    let settings = PlanSettings::new(section.ring_timeout, section.talk_time);
    let run = PlanRun::new(&xsi, endpoints.0.clone(), settings, ctx.cancel.clone());

    let bar = output::Progress::new(run.pairs().len() as u64, "plan");
    let mut show = |event: Progress<'_>| match event {
        Progress::Call { from, to, .. } => bar.message(format!("{from} -> {to}")),
        Progress::Step(step) => bar.message(step.as_str().to_owned()),
        Progress::Done { .. } => bar.advance(),
    };
    let results = run.run(&mut show).await;
    bar.finish();

    // Release what is left, also after a cancellation: with a client of
    // its own, so the cancelled one does not refuse the requests.
    let cleaner = XsiClient::new(client.with_cancel(CancellationToken::new()), &ready.actions);
    let left = tokio::time::timeout(CLEANUP, run.release_all(&cleaner)).await;
    let mut outcome = Outcome::new();
    match left {
        Ok(failed) => {
            for (leg, e) in failed {
                outcome.evidence(
                    "not released",
                    format!("{} of {}: {e}", leg.call_id, leg.owner),
                );
            }
        }
        Err(_) => outcome.evidence(
            "not released",
            format!("clean-up did not finish within {} ms", CLEANUP.as_millis()),
        ),
    }

    for result in &results {
        outcome.evidence(format!("{} -> {}", result.from, result.to), summary(result));
        if let Some(finding) = finding(result) {
            outcome.finding(finding);
        }
    }
    ctx.facts.put(PlanEntry {
        name: section.name.clone(),
        calls: results.iter().map(entry).collect(),
    });
    Ok(outcome)
}

fn millis(d: Option<Duration>) -> Option<u64> {
    d.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The report row of a call.
fn entry(result: &CallResult) -> CallEntry {
    let (failed_step, error) = match &result.failure {
        Some((step, failure)) => (Some(step.as_str().to_owned()), Some(error_text(failure))),
        None => (None, None),
    };
    CallEntry {
        from: result.from.clone(),
        to: result.to.clone(),
        result: if !result.ran {
            "not-run"
        } else if result.failure.is_some() {
            "failed"
        } else {
            "passed"
        }
        .to_owned(),
        failed_step,
        error,
        post_dial_delay_ms: millis(result.post_dial_delay),
        answer_delay_ms: millis(result.answer_delay),
        duration_ms: millis(result.duration),
        attempts: result.attempts,
    }
}

/// The error of a failed call: ErrorInfo's summary and errorCode when XSI
/// gave them.
fn error_text(failure: &CallFailure) -> String {
    match failure {
        CallFailure::Request(crate::webex::WebexError::Status {
            status,
            xsi: Some(info),
            ..
        }) => format!("{status}: {}", info.describe()),
        other => other.to_string(),
    }
}

fn summary(result: &CallResult) -> String {
    if !result.ran {
        return "not run".to_owned();
    }
    let ms = |d: Option<Duration>| millis(d).map_or_else(|| "-".to_owned(), |v| format!("{v} ms"));
    let head = match &result.failure {
        None => "passed".to_owned(),
        Some((step, failure)) => format!("failed at {}: {}", step.as_str(), error_text(failure)),
    };
    format!(
        "{head}; post-dial delay {}, answer delay {}, total {}, attempts {}",
        ms(result.post_dial_delay),
        ms(result.answer_delay),
        ms(result.duration),
        result.attempts
    )
}

/// The finding of a failed call, if any.
fn finding(result: &CallResult) -> Option<Finding> {
    let (step, failure) = result.failure.as_ref()?;
    let call = format!("{} -> {}", result.from, result.to);
    let finding = match failure {
        CallFailure::Cancelled => return None,
        CallFailure::NoAlerting { waited } => Finding::new(
            "plan.no-answer",
            format!(
                "test call {call}: the callee never alerted within {} ms",
                waited.as_millis()
            ),
        ),
        CallFailure::State { expected, seen } => Finding::new(
            "plan.call-failed",
            format!(
                "test call {call} failed at {}: expected {expected}, saw {seen}",
                step.as_str()
            ),
        ),
        CallFailure::Request(e) => {
            match session::request_finding(&format!("test call {call}"), e) {
                Some(f) if f.code.starts_with("api.rate") || f.code.starts_with("api.server") => f,
                _ => session::with_error_evidence(
                    Finding::new(
                        "plan.call-failed",
                        format!(
                            "test call {call} failed at {}: {}",
                            step.as_str(),
                            error_text(failure)
                        ),
                    ),
                    e,
                ),
            }
        }
    };
    Some(finding.with("step", step.as_str()).with("call", call))
}
