//! `demo`: the embedded default. Starts the Webex emulator in-process on
//! loopback, runs `check` against it (through its proxy), prints the
//! report and stops everything. No account and no browser needed.

use std::future::Future;

use anyhow::Context as _;

use crate::config::ConfigSource;
use crate::emulator::{self, EmulatorOptions};
use crate::report::Report;
use crate::run::{self, RunSettings};

/// Runs the demo with the named emulator faults. An `Err` is a usage error
/// (an unknown fault) or an emulator that could not start.
pub async fn execute(
    faults: &[String],
    settings: &RunSettings,
    interrupt: impl Future<Output = ()>,
) -> anyhow::Result<Report> {
    let dir = tempfile::Builder::new()
        .prefix("wxc-preflight-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the emulator")?;
    let mut options = EmulatorOptions {
        dir: Some(dir.path().to_path_buf()),
        ..EmulatorOptions::default()
    };
    for fault in faults.iter().filter(|f| !f.trim().is_empty()) {
        options = options.fault(fault)?;
    }
    let emulator = emulator::start(options).await?;
    tracing::info!(
        "emulator ready in {} ms at {}",
        emulator.startup_time().as_millis(),
        emulator.api_base()
    );
    let source = ConfigSource::Explicit(emulator.config_path());
    let mut settings = settings.clone();
    if settings.token_file.is_none() {
        // The administrator's personal access token, as the emulator wrote it.
        settings.token_file = Some(emulator.dir().join("access_token"));
    }
    let report = run::execute(&source, &settings, interrupt)
        .await
        .map_err(anyhow::Error::msg);
    emulator.shutdown().await;
    drop(dir);
    report
}
