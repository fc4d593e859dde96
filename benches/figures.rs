//! Figures, not timed tests: prints what the pipeline and the binary cost.
//!
//! `cargo bench --bench figures` prints:
//! - 12 synthetic checks of 100 ms each in a 4-level dependency graph, run
//!   through the real pipeline: wall time against the 400 ms critical path
//!   (target: ratio at most 1.1);
//! - the cold start of `wxc-preflight --version`;
//! - the peak memory (max RSS) of a `check` run on the example config.

#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wxc_preflight::check::{Check, CheckFuture, Context, Outcome};
use wxc_preflight::pipeline;

/// A check that takes 100 ms, as a network check waiting on a peer would.
struct Synthetic {
    id: &'static str,
    deps: &'static [&'static str],
}

impl Check for Synthetic {
    fn id(&self) -> &'static str {
        self.id
    }
    fn depends_on(&self) -> &'static [&'static str] {
        self.deps
    }
    fn run<'a>(&'a self, _ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Outcome::new()
        })
    }
}

/// Four levels of three checks; each check of a level depends on every
/// check of the level before, so the critical path is 4 x 100 ms.
fn graph() -> Vec<Arc<dyn Check>> {
    const L1: &[&str] = &["a1", "a2", "a3"];
    const L2: &[&str] = &["b1", "b2", "b3"];
    const L3: &[&str] = &["c1", "c2", "c3"];
    let mut checks: Vec<Arc<dyn Check>> = Vec::new();
    for id in L1 {
        checks.push(Arc::new(Synthetic { id, deps: &[] }));
    }
    for id in L2 {
        checks.push(Arc::new(Synthetic { id, deps: L1 }));
    }
    for id in L3 {
        checks.push(Arc::new(Synthetic { id, deps: L2 }));
    }
    for id in ["d1", "d2", "d3"] {
        checks.push(Arc::new(Synthetic { id, deps: L3 }));
    }
    checks
}

fn pipeline_figures() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let checks = graph();
    let mut walls = Vec::new();
    for _ in 0..10 {
        let ctx = Context::new(None, Vec::new());
        let started = Instant::now();
        let result = runtime.block_on(pipeline::run(
            &checks,
            &ctx,
            &pipeline::Options::default(),
            std::future::pending(),
        ));
        walls.push(started.elapsed());
        assert!(
            result
                .checks
                .iter()
                .all(|c| c.status == wxc_preflight::check::Status::Pass)
        );
    }
    walls.sort();
    let median = walls[walls.len() / 2];
    let critical = Duration::from_millis(400);
    println!(
        "pipeline: 12 checks x 100 ms, 4 levels: median {:.1} ms, min {:.1} ms, max {:.1} ms \
         over {} runs; critical path 400 ms; ratio {:.3} (target <= 1.1)",
        ms(median),
        ms(walls[0]),
        ms(walls[walls.len() - 1]),
        walls.len(),
        median.as_secs_f64() / critical.as_secs_f64()
    );
}

fn version_figures(binary: &str) {
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let status = Command::new(binary)
            .arg("--version")
            .output()
            .unwrap()
            .status;
        times.push(started.elapsed());
        assert!(status.success());
    }
    times.sort();
    println!(
        "--version: median {:.2} ms, min {:.2} ms over {} cold process starts",
        ms(times[times.len() / 2]),
        ms(times[0]),
        times.len()
    );
}

fn memory_figures(binary: &str) {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/wxc-preflight.toml");
    let output = Command::new(binary)
        // The network checks would ask the machine's DNS and the internet.
        .args(["check", "--config", config, "--format", "json"])
        .args(["--skip", "dns,proxy,internet"])
        .env("WXC_CLIENT_SECRET", "not-a-real-secret")
        .env("WXC_PREFLIGHT_LOG", "wxc_preflight=debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let peak = stderr
        .lines()
        .find_map(|line| line.split("peak memory ").nth(1))
        .unwrap_or("not reported (no /proc/self/status?)");
    println!(
        "check run (example config): peak memory {peak}, exit status {:?}",
        output.status.code()
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let binary = env!("CARGO_BIN_EXE_wxc-preflight");
    pipeline_figures();
    version_figures(binary);
    memory_figures(binary);
}
