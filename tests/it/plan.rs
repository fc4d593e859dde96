//! The plan run against the emulator: a healthy ring passes with every
//! timing, the call faults give their codes, every call is released on
//! failure, and SIGINT to the binary during a call leaves no call active.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wxc_preflight::check::Status;

use super::webex::{rig, run_pipeline};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::print_stdout,
    reason = "prints the figures of the issue with --nocapture"
)]
async fn a_healthy_ring_of_three_passes_with_every_timing() {
    let emu = rig(&[]).await;
    let began = Instant::now();
    let ran = run_pipeline(&emu, &["plan"]).await;
    let wall = began.elapsed();
    assert_eq!(ran.status("plan"), Status::Pass, "{}", ran.evidence("plan"));
    let plan = ran.plan().expect("the plan check puts its results");
    assert_eq!(plan.calls.len(), 3);
    let pairs: Vec<(&str, &str)> = plan
        .calls
        .iter()
        .map(|c| (c.from.as_str(), c.to.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("alice@example.com", "bob@example.com"),
            ("bob@example.com", "carol@example.com"),
            ("carol@example.com", "alice@example.com"),
        ]
    );
    let mut overhead = Duration::ZERO;
    for call in &plan.calls {
        assert_eq!(call.result, "passed", "{call:?}");
        assert_eq!(call.attempts, 1);
        assert!(call.failed_step.is_none() && call.error.is_none());
        let total = call.duration_ms.expect("duration");
        assert!(call.post_dial_delay_ms.is_some() && call.answer_delay_ms.is_some());
        // The talk time of the emulator's config is 1 s.
        assert!(total >= 1000, "{call:?}");
        overhead += Duration::from_millis(total - 1000);
    }
    for user in emu.endpoints() {
        assert_eq!(emu.inspect().active_calls(user), 0, "{user}");
    }
    // Figures for the issue: `cargo test plan::a_healthy -- --nocapture`.
    println!(
        "plan figures: pipeline wall {} ms, plan overhead per call beyond talk time {} ms",
        wall.as_millis(),
        overhead.as_millis() / 3
    );
    assert_eq!(ran.report.plan.as_ref().unwrap().calls.len(), 3);
}

#[tokio::test]
async fn a_callee_that_never_alerts_is_no_answer_and_leaves_no_call() {
    let emu = rig(&["callee-no-answer"]).await;
    let ran = run_pipeline(&emu, &["plan"]).await;
    assert_eq!(
        ran.report.root_causes.first().map(String::as_str),
        Some("plan.no-answer"),
        "{}",
        ran.evidence("plan")
    );
    let plan = ran.plan().unwrap();
    let failed: Vec<_> = plan.calls.iter().filter(|c| c.result == "failed").collect();
    assert_eq!(failed.len(), 1, "{plan:?}");
    assert_eq!(failed[0].to, "bob@example.com");
    assert_eq!(failed[0].failed_step.as_deref(), Some("wait-alerting"));
    assert_eq!(failed[0].post_dial_delay_ms, None);
    // The other two calls still ran and passed.
    assert_eq!(
        plan.calls.iter().filter(|c| c.result == "passed").count(),
        2
    );
    for user in emu.endpoints() {
        assert_eq!(emu.inspect().active_calls(user), 0, "{user}");
    }
}

#[tokio::test]
async fn a_refused_originate_is_call_failed_with_the_error_info() {
    let emu = rig(&["call-rejected"]).await;
    let ran = run_pipeline(&emu, &["plan"]).await;
    assert_eq!(
        ran.report.root_causes.first().map(String::as_str),
        Some("plan.call-failed")
    );
    let plan = ran.plan().unwrap();
    let first = &plan.calls[0];
    assert_eq!(first.failed_step.as_deref(), Some("originate"));
    let error = first.error.as_deref().unwrap();
    assert!(error.contains("errorCode 4102"), "{error}");
    assert!(ran.evidence("plan").contains("errorinfo errorcode: 4102"));
}

#[tokio::test]
async fn transient_rate_limits_during_calls_count_as_attempts() {
    let emu = rig(&["rate-limit-transient"]).await;
    let ran = run_pipeline(&emu, &["plan"]).await;
    assert_eq!(ran.status("plan"), Status::Pass, "{}", ran.evidence("plan"));
    let plan = ran.plan().unwrap();
    assert!(plan.calls.iter().any(|c| c.attempts > 1), "{plan:?}");
}

/// The binary against the emulator, interrupted while a call is up: the
/// report says interrupted and the emulator has no call left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_a_call_leaves_no_call_active() {
    let emu = rig(&[]).await;
    // Hold each call long enough to interrupt it.
    let config = std::fs::read_to_string(emu.config_path()).unwrap();
    let config = config.replace("talk_time = \"1s\"", "talk_time = \"30s\"");
    assert!(config.contains("talk_time = \"30s\""));
    std::fs::write(emu.config_path(), config).unwrap();

    let binary = assert_cmd::cargo::cargo_bin("wxc-preflight");
    let mut child = Command::new(binary)
        .args(["check", "--format", "json", "--config"])
        .arg(emu.config_path())
        .env("WXC_PREFLIGHT_TOKEN_FILE", emu.dir().join("access_token"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let up = Instant::now();
    let busy = || {
        emu.endpoints()
            .iter()
            .any(|u| emu.inspect().active_calls(u) > 0)
    };
    while !busy() {
        assert!(up.elapsed() < Duration::from_secs(30), "no call was placed");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before a call"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the call reach its talk time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let interrupted = Instant::now();
    let output = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(10),
            "the run did not stop after SIGINT"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(output.status.code(), Some(3));
    for user in emu.endpoints() {
        assert_eq!(
            emu.inspect().active_calls(user),
            0,
            "{user} still has a call"
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains(emu.admin_token().expose()));
}

/// `--history FILE` appends one JSON line per run, with the plan's calls;
/// the debug log has every request with its TrackingID and never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_appends_a_line_per_run_and_the_trace_log_holds_no_token() {
    let emu = rig(&[]).await;
    let history = emu.dir().join("history.jsonl");
    for run in 0..2 {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("wxc-preflight"));
        command
            .args(["check", "--format", "json", "--config"])
            .arg(emu.config_path())
            .arg("--history")
            .arg(&history)
            .env("WXC_PREFLIGHT_TOKEN_FILE", emu.dir().join("access_token"))
            // A personal access token states no scopes: the scopes check
            // would (rightly) warn that it cannot verify them.
            .args(["--skip", "scopes"])
            .env_remove("RUST_LOG");
        if run == 1 {
            command.arg("-vvv");
        }
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains(emu.admin_token().expose()),
            "the token leaked"
        );
        if run == 1 {
            assert!(stderr.contains("webex request"), "{stderr}");
            assert!(stderr.contains("tracking_id=WXCPREFLIGHT_"), "{stderr}");
            assert!(stderr.contains("/calls/new?address="), "{stderr}");
        }
    }
    let text = std::fs::read_to_string(&history).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["status"], "ok");
        assert_eq!(line["plan"]["calls"].as_array().unwrap().len(), 3);
        assert!(line["plan"]["calls"][0]["post_dial_delay_ms"].is_u64());
    }
}
