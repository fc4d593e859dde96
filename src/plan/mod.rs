//! The call runner of the minimal WbC-MT plan (DESIGN section 7): E1 calls
//! E2, ..., En calls E1, each call through XSI-Actions:
//!
//! 1. originate from the caller (`calls/new?address=`);
//! 2. answer the caller's own leg when it alerts first (click-to-dial);
//! 3. wait, up to `ring_timeout`, for the callee to show an alerting leg;
//! 4. answer at the callee (`Talk`) and see both legs active;
//! 5. hold for `talk_time`, release from the caller, see both legs cleared.
//!
//! Every leg the run learns of goes into a ledger the moment it is known,
//! and [`PlanRun::release_all`] releases whatever is left in it: after a
//! failed call, and once more at the end whatever happened (the plan check
//! calls it after cancellation too, with a client that is not cancelled).
//! Retries of 429 and 5xx happen in the client underneath, per the plan's
//! settings; a call's `attempts` counts them.
//!
//! This module measures and reports facts; the plan check turns them into
//! findings.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::webex::{CallInfo, WebexError, XsiClient};

/// A plan endpoint, resolved by the `endpoints` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// As written in `[plan] endpoints` (an email or a person id).
    pub label: String,
    /// The CI UUID: the XSI user id.
    pub uuid: String,
    /// What callers dial: the extension, else a number.
    pub address: String,
}

/// The timing settings of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSettings {
    pub ring_timeout: Duration,
    pub talk_time: Duration,
    /// How often call states are polled.
    pub poll_interval: Duration,
    /// How long to wait for both legs to show active, then cleared.
    pub settle_timeout: Duration,
}

impl PlanSettings {
    /// Settings with the default polling (50 ms) and settling (5 s).
    #[must_use]
    pub fn new(ring_timeout: Duration, talk_time: Duration) -> Self {
        Self {
            ring_timeout,
            talk_time,
            poll_interval: Duration::from_millis(50),
            settle_timeout: Duration::from_secs(5),
        }
    }
}

/// A step of a call, as results name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Originate,
    AnswerCaller,
    WaitAlerting,
    AnswerCallee,
    VerifyActive,
    Talk,
    Release,
    VerifyCleared,
}

impl Step {
    /// The kebab-case name of the step.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Originate => "originate",
            Step::AnswerCaller => "answer-caller",
            Step::WaitAlerting => "wait-alerting",
            Step::AnswerCallee => "answer-callee",
            Step::VerifyActive => "verify-active",
            Step::Talk => "talk",
            Step::Release => "release",
            Step::VerifyCleared => "verify-cleared",
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone)]
pub enum CallFailure {
    /// A request failed (XSI error, retries exhausted, transport).
    Request(WebexError),
    /// The callee showed no alerting leg within `ring_timeout`.
    NoAlerting { waited: Duration },
    /// The legs did not reach the expected state in time.
    State {
        expected: &'static str,
        seen: String,
    },
    /// The run was cancelled during the call.
    Cancelled,
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Request(e) => e.fmt(f),
            CallFailure::NoAlerting { waited } => write!(
                f,
                "the callee showed no alerting call within {} ms",
                waited.as_millis()
            ),
            CallFailure::State { expected, seen } => {
                write!(f, "expected {expected}, saw {seen}")
            }
            CallFailure::Cancelled => f.write_str("the run was cancelled during the call"),
        }
    }
}

/// The result of one call.
#[derive(Debug, Clone)]
pub struct CallResult {
    pub from: String,
    pub to: String,
    /// `None`: the call was not run (cancelled before it started).
    pub ran: bool,
    /// The step that failed and why; `None` when the call passed.
    pub failure: Option<(Step, CallFailure)>,
    /// Originate sent to callee alerting seen.
    pub post_dial_delay: Option<Duration>,
    /// Callee alerting seen to both legs active.
    pub answer_delay: Option<Duration>,
    /// Originate sent to both legs cleared (or to the failure).
    pub duration: Option<Duration>,
    /// 1 plus the retries the call's requests needed.
    pub attempts: u32,
}

impl CallResult {
    /// Whether the call passed every step.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.ran && self.failure.is_none()
    }
}

/// What the run reports as it goes, for a progress display.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// Call `index` (0-based) of `total` starts.
    Call {
        index: usize,
        total: usize,
        from: &'a str,
        to: &'a str,
    },
    /// The current call reached a step.
    Step(Step),
    /// The current call ended.
    Done { passed: bool },
}

/// A leg to release: its owner's UUID and its call id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub owner: String,
    pub call_id: String,
}

/// A plan run over resolved endpoints.
#[derive(Debug, Clone)]
pub struct PlanRun {
    xsi: XsiClient,
    endpoints: Vec<Endpoint>,
    settings: PlanSettings,
    cancel: CancellationToken,
    ledger: Arc<Mutex<Vec<Leg>>>,
}

impl PlanRun {
    /// A run of the ring over `endpoints` (at least two), with `xsi`
    /// watching `cancel`.
    #[must_use]
    pub fn new(
        xsi: &XsiClient,
        endpoints: Vec<Endpoint>,
        settings: PlanSettings,
        cancel: CancellationToken,
    ) -> Self {
        let xsi = XsiClient::new(xsi.client().with_cancel(cancel.clone()), xsi.actions());
        Self {
            xsi,
            endpoints,
            settings,
            cancel,
            ledger: Arc::default(),
        }
    }

    /// The calls of the ring: (caller, callee) indexes.
    #[must_use]
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        let n = self.endpoints.len();
        if n < 2 {
            return Vec::new();
        }
        (0..n).map(|i| (i, (i + 1) % n)).collect()
    }

    /// Runs every call in order. A cancelled run returns what it measured;
    /// calls it did not start are marked not run. Legs of failed calls
    /// are released before the next call starts.
    pub async fn run(&self, progress: &mut (dyn FnMut(Progress<'_>) + Send)) -> Vec<CallResult> {
        let pairs = self.pairs();
        let total = pairs.len();
        let mut results = Vec::with_capacity(total);
        for (index, (a, b)) in pairs.into_iter().enumerate() {
            let (caller, answerer) = (&self.endpoints[a], &self.endpoints[b]);
            if self.cancel.is_cancelled() {
                results.push(not_run(caller, answerer));
                continue;
            }
            progress(Progress::Call {
                index,
                total,
                from: &caller.label,
                to: &answerer.label,
            });
            let result = self.call(caller, answerer, progress).await;
            progress(Progress::Done {
                passed: result.passed(),
            });
            if !result.passed() && !self.cancel.is_cancelled() {
                self.release_all(&self.xsi).await;
            }
            results.push(result);
        }
        results
    }

    /// Releases every leg still in the ledger with `xsi` (pass a client
    /// that is not cancelled to clean up after a cancellation). Returns
    /// the legs that could not be released, with the reason.
    pub async fn release_all(&self, xsi: &XsiClient) -> Vec<(Leg, WebexError)> {
        let legs: Vec<Leg> = std::mem::take(
            &mut *self
                .ledger
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let mut failed = Vec::new();
        for leg in legs {
            match xsi.release(&leg.owner, &leg.call_id).await {
                Ok(()) | Err(WebexError::Status { status: 404, .. }) => {
                    tracing::debug!(owner = %leg.owner, call = %leg.call_id, "released");
                }
                Err(e) => {
                    tracing::warn!(owner = %leg.owner, call = %leg.call_id, "could not release a test call: {e}");
                    failed.push((leg, e));
                }
            }
        }
        failed
    }

    /// The legs not released yet.
    #[must_use]
    pub fn pending_legs(&self) -> Vec<Leg> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The XSI client of the run.
    #[must_use]
    pub fn xsi(&self) -> &XsiClient {
        &self.xsi
    }

    fn remember(&self, owner: &str, call_id: &str) {
        let leg = Leg {
            owner: owner.to_owned(),
            call_id: call_id.to_owned(),
        };
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !ledger.contains(&leg) {
            ledger.push(leg);
        }
    }

    fn forget(&self, owner: &str, call_id: &str) {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|l| !(l.owner == owner && l.call_id == call_id));
    }

    async fn call(
        &self,
        caller: &Endpoint,
        answerer: &Endpoint,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> CallResult {
        let (requests_before, attempts_before) = self.xsi.client().counts();
        let began = Instant::now();
        let mut result = CallResult {
            from: caller.label.clone(),
            to: answerer.label.clone(),
            ran: true,
            failure: None,
            post_dial_delay: None,
            answer_delay: None,
            duration: None,
            attempts: 1,
        };
        if let Err(failure) = self.steps(caller, answerer, &mut result, progress).await {
            result.failure = Some(failure);
        }
        result.duration = Some(began.elapsed());
        let (requests, attempts) = self.xsi.client().counts();
        let retries = (attempts - attempts_before).saturating_sub(requests - requests_before);
        result.attempts = 1 + u32::try_from(retries).unwrap_or(u32::MAX - 1);
        result
    }

    async fn steps(
        &self,
        caller: &Endpoint,
        answerer: &Endpoint,
        result: &mut CallResult,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<(), (Step, CallFailure)> {
        let fail = |step: Step| move |e: WebexError| (step, request_failure(e));
        // Legs the callee had before: a leftover must not pass for ours.
        let before: Vec<String> = self
            .xsi
            .calls(&answerer.uuid)
            .await
            .map_err(fail(Step::Originate))?
            .into_iter()
            .map(|c| c.call_id)
            .collect();

        progress(Progress::Step(Step::Originate));
        let sent = Instant::now();
        let call_id = self
            .xsi
            .originate(&caller.uuid, &answerer.address)
            .await
            .map_err(fail(Step::Originate))?;
        self.remember(&caller.uuid, &call_id);

        progress(Progress::Step(Step::WaitAlerting));
        let (callee_leg, alerted) = self
            .wait_alerting(caller, answerer, &call_id, &before, sent, progress)
            .await?;
        self.remember(&answerer.uuid, &callee_leg);
        result.post_dial_delay = Some(alerted.duration_since(sent));

        progress(Progress::Step(Step::AnswerCallee));
        self.xsi
            .talk(&answerer.uuid, &callee_leg)
            .await
            .map_err(fail(Step::AnswerCallee))?;
        progress(Progress::Step(Step::VerifyActive));
        self.settle(Step::VerifyActive, "both legs active", || async {
            let a = self.xsi.call(&caller.uuid, &call_id).await?;
            let b = self.xsi.call(&answerer.uuid, &callee_leg).await?;
            let done = a.as_ref().is_some_and(CallInfo::is_active)
                && b.as_ref().is_some_and(CallInfo::is_active);
            Ok((done, describe_legs(a.as_ref(), b.as_ref())))
        })
        .await?;
        result.answer_delay = Some(alerted.elapsed());

        progress(Progress::Step(Step::Talk));
        self.pause(self.settings.talk_time)
            .await
            .map_err(|()| (Step::Talk, CallFailure::Cancelled))?;

        progress(Progress::Step(Step::Release));
        self.xsi
            .release(&caller.uuid, &call_id)
            .await
            .map_err(fail(Step::Release))?;
        self.forget(&caller.uuid, &call_id);
        progress(Progress::Step(Step::VerifyCleared));
        self.settle(Step::VerifyCleared, "both legs cleared", || async {
            let a = self.xsi.call(&caller.uuid, &call_id).await?;
            let b = self.xsi.call(&answerer.uuid, &callee_leg).await?;
            Ok((
                a.is_none() && b.is_none(),
                describe_legs(a.as_ref(), b.as_ref()),
            ))
        })
        .await?;
        self.forget(&answerer.uuid, &callee_leg);
        Ok(())
    }

    /// Polls until the callee shows a new alerting leg, answering the
    /// caller's click-to-dial leg on the way. Returns the callee's leg
    /// and when it was first seen alerting.
    async fn wait_alerting(
        &self,
        caller: &Endpoint,
        answerer: &Endpoint,
        call_id: &str,
        before: &[String],
        sent: Instant,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<(String, Instant), (Step, CallFailure)> {
        let deadline = sent + self.settings.ring_timeout;
        let mut caller_answered = false;
        loop {
            let legs = self
                .xsi
                .calls(&answerer.uuid)
                .await
                .map_err(|e| (Step::WaitAlerting, request_failure(e)))?;
            let fresh: Vec<&CallInfo> = legs
                .iter()
                .filter(|l| !before.contains(&l.call_id))
                .collect();
            for leg in &fresh {
                // The list may not carry states: look at the leg itself.
                let detail = self
                    .xsi
                    .call(&answerer.uuid, &leg.call_id)
                    .await
                    .map_err(|e| (Step::WaitAlerting, request_failure(e)))?;
                if let Some(detail) = detail.filter(|d| d.is_alerting() || d.is_active()) {
                    return Ok((detail.call_id, Instant::now()));
                }
            }
            if !caller_answered {
                let own = self
                    .xsi
                    .call(&caller.uuid, call_id)
                    .await
                    .map_err(|e| (Step::AnswerCaller, request_failure(e)))?;
                match own {
                    Some(leg) if leg.is_click_to_dial() && leg.is_alerting() => {
                        progress(Progress::Step(Step::AnswerCaller));
                        self.xsi
                            .talk(&caller.uuid, call_id)
                            .await
                            .map_err(|e| (Step::AnswerCaller, request_failure(e)))?;
                        caller_answered = true;
                        progress(Progress::Step(Step::WaitAlerting));
                        continue;
                    }
                    Some(leg) if !leg.is_click_to_dial() => caller_answered = true,
                    Some(_) => {}
                    None => {
                        return Err((
                            Step::WaitAlerting,
                            CallFailure::State {
                                expected: "the caller's leg up while the callee rings",
                                seen: "the caller's leg released".to_owned(),
                            },
                        ));
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err((
                    Step::WaitAlerting,
                    CallFailure::NoAlerting {
                        waited: sent.elapsed(),
                    },
                ));
            }
            self.pause(self.settings.poll_interval)
                .await
                .map_err(|()| (Step::WaitAlerting, CallFailure::Cancelled))?;
        }
    }

    /// Polls `probe` until it reports done, for at most the settle timeout.
    async fn settle<F, Fut>(
        &self,
        step: Step,
        expected: &'static str,
        mut probe: F,
    ) -> Result<(), (Step, CallFailure)>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(bool, String), WebexError>>,
    {
        let deadline = Instant::now() + self.settings.settle_timeout;
        loop {
            let (done, seen) = probe().await.map_err(|e| (step, request_failure(e)))?;
            if done {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err((step, CallFailure::State { expected, seen }));
            }
            self.pause(self.settings.poll_interval)
                .await
                .map_err(|()| (step, CallFailure::Cancelled))?;
        }
    }

    /// Sleeps, or returns `Err` when the run is cancelled first.
    async fn pause(&self, duration: Duration) -> Result<(), ()> {
        tokio::select! {
            () = self.cancel.cancelled() => Err(()),
            () = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

fn request_failure(e: WebexError) -> CallFailure {
    match e {
        WebexError::Cancelled => CallFailure::Cancelled,
        other => CallFailure::Request(other),
    }
}

fn describe_legs(a: Option<&CallInfo>, b: Option<&CallInfo>) -> String {
    let one = |leg: Option<&CallInfo>| {
        leg.map_or_else(
            || "released".to_owned(),
            |l| l.state.clone().unwrap_or_else(|| "no state".to_owned()),
        )
    };
    format!("caller leg {}, callee leg {}", one(a), one(b))
}

fn not_run(caller: &Endpoint, answerer: &Endpoint) -> CallResult {
    CallResult {
        from: caller.label.clone(),
        to: answerer.label.clone(),
        ran: false,
        failure: None,
        post_dial_delay: None,
        answer_delay: None,
        duration: None,
        attempts: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::webex::{RetryPolicy, WebexClient};

    fn endpoint(n: usize) -> Endpoint {
        Endpoint {
            label: format!("e{n}@example.com"),
            uuid: format!("u{n}"),
            address: format!("100{n}"),
        }
    }

    #[test]
    fn the_ring_closes_on_the_first_endpoint() {
        crate::net::install_crypto_provider();
        let client = WebexClient::new(
            reqwest::Client::new(),
            Secret::new("t"),
            RetryPolicy::default(),
            CancellationToken::new(),
        );
        let xsi = XsiClient::new(client, "https://xsi.example/com.broadsoft.xsi-actions");
        let settings = PlanSettings::new(Duration::from_secs(1), Duration::from_secs(1));
        let run = PlanRun::new(
            &xsi,
            (1..=3).map(endpoint).collect(),
            settings,
            CancellationToken::new(),
        );
        assert_eq!(run.pairs(), vec![(0, 1), (1, 2), (2, 0)]);
        let two = PlanRun::new(
            &xsi,
            (1..=2).map(endpoint).collect(),
            settings,
            CancellationToken::new(),
        );
        assert_eq!(two.pairs(), vec![(0, 1), (1, 0)]);
        assert_eq!(Step::WaitAlerting.as_str(), "wait-alerting");
    }
}
