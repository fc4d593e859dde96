//! `demo`: the embedded default. Starts the Webex emulator in-process on
//! loopback, runs `check` against it (through its proxy), prints the
//! report and stops everything. No account and no browser needed.

use std::future::Future;

use anyhow::Context as _;

use crate::config::ConfigSource;
use crate::emulator::{self, EmulatorOptions};
use crate::report::Report;
use crate::run::{self, RunSettings};

/// How long the demo's sign-in may take (the `slow` fault delays every
/// answer).
const SIGN_IN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Logs the emulated administrator in as `auth login` would, through the
/// emulator's real consent page but without a browser, so the token store
/// the written config names holds tokens. It uses the registered client
/// secret (a fault may write a wrong one, which the token check must then
/// find on refresh). A login that fails (an unknown client, a scope the
/// integration lacks) leaves no store: the checks report why.
async fn sign_in(emulator: &emulator::Emulator) {
    let loaded = crate::config::load(
        &ConfigSource::Explicit(emulator.config_path()),
        crate::checks::SCOPE_PROFILES,
        &|_| None,
    );
    let Some(config) = loaded.config else { return };
    let Ok(mut settings) = crate::auth::AuthSettings::from_config(&config) else {
        return;
    };
    settings.client_secret = Some(crate::secret::Secret::new(
        emulator.client_secret().expose(),
    ));
    let Ok(services) = crate::services::Services::build(&config).await else {
        return;
    };
    let store = crate::auth::store::TokenStore::new(&settings.token_store);
    let started = std::time::Instant::now();
    let login = crate::auth::login::headless_consent(
        &settings,
        services.client(),
        &store,
        emulator.admin_email(),
    );
    match tokio::time::timeout(SIGN_IN_TIMEOUT, login).await {
        Err(_) => tracing::info!(
            "the demo login took over {}s; the token check will show the store it left",
            SIGN_IN_TIMEOUT.as_secs()
        ),
        Ok(Ok(_)) => tracing::info!(
            "signed in as {} in {} ms",
            emulator.admin_email(),
            started.elapsed().as_millis()
        ),
        Ok(Err(e)) => tracing::info!("the demo login failed, as the checks will show: {e}"),
    }
}

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
    // Ctrl-C during the sign-in (slow under the `slow` fault) still ends
    // with the report of an interrupted run.
    let mut interrupt = std::pin::pin!(interrupt);
    let interrupted = tokio::select! {
        () = sign_in(&emulator) => false,
        () = &mut interrupt => true,
    };
    // The token check reads the store `sign_in` wrote; `--token-file` still
    // overrides it when given.
    let report = if interrupted {
        run::execute(&source, settings, std::future::ready(())).await
    } else {
        run::execute(&source, settings, interrupt).await
    };
    let report = report.map_err(anyhow::Error::msg);
    emulator.shutdown().await;
    drop(dir);
    report
}
