//! Logging with `tracing` to stderr, so the report alone goes to stdout.
//!
//! `-v` shows info, `-vv` debug (each request), `-vvv` trace, for this
//! crate only: other crates stay at `warn`, since the HTTP and TLS stacks'
//! own trace output can carry header values. `WXC_PREFLIGHT_LOG` takes a
//! full filter directive for support engineers who need more. No log line,
//! at any level, may carry a secret.

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
        .without_time()
        .try_init();
}
