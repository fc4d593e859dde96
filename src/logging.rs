//! Logging with `tracing` to stderr, so the report alone goes to stdout.
//!
//! `-v` shows info, `-vv` debug (each request), `-vvv` trace, for this
//! crate only: other crates stay at `warn`, since the HTTP and TLS stacks'
//! own trace output can carry header values. `WXC_PREFLIGHT_LOG` takes a
//! full filter directive for support engineers who need more. No log line,
//! at any level, may carry a secret.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the stderr logger for the given `-v` and `-q` counts.
pub fn init(verbose: u8, quiet: u8) {
    let level = match (quiet, verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = std::env::var("WXC_PREFLIGHT_LOG")
        .ok()
        .and_then(|text| EnvFilter::try_new(text).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("warn,wxc_preflight={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose > 1)
        .with_ansi(
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .without_time()
        .try_init();
}

/// The process's peak resident memory (`VmHWM` of `/proc/self/status`),
/// for the debug log and the benchmark; `None` where there is no `/proc`.
#[must_use]
pub fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kib / 1024.0))
}
