//! One run of the pipeline, from a config source to a report: load the
//! configuration, build the shared services, run the checks, build the
//! report. `check` and `demo` both go through here.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::check::Context;
use crate::config::{self, ConfigSource};
use crate::report::{BuildInfo, FailOn, PlanEntry, Report};
use crate::services::Services;
use crate::{checks, pipeline};

/// What to run and how strictly, as the command line says it.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub ignore: Vec<String>,
    pub timeout: Option<Duration>,
    pub no_plan: bool,
    pub fail_on: FailOn,
    /// `--token-file`: a file holding an access token (a personal access
    /// token) that the `token` check uses instead of the token store.
    pub token_file: Option<PathBuf>,
}

/// Runs the pipeline for the configuration at `source` until it ends, the
/// run times out, or `interrupt` completes; returns the report.
///
/// An `Err` is a usage error (an unknown check id or finding code in the
/// flags or in `[checks]`), to be shown as it is, with exit code 3.
pub async fn execute(
    source: &ConfigSource,
    settings: &RunSettings,
    interrupt: impl Future<Output = ()>,
) -> Result<Report, String> {
    let started_at = jiff::Timestamp::now();
    let loaded = config::load(source, checks::SCOPE_PROFILES, &|name| {
        std::env::var(name).ok()
    });

    let mut options = pipeline::Options {
        only: settings.only.clone(),
        skip: settings.skip.clone(),
        ignore: settings.ignore.clone(),
        timeout: settings.timeout,
        ..pipeline::Options::default()
    };
    if let Some(config) = &loaded.config {
        options.skip.extend(config.file.checks.skip.iter().cloned());
        options
            .ignore
            .extend(config.file.checks.ignore.iter().cloned());
    }
    if settings.no_plan {
        options.skip.push("plan".to_owned());
    }
    let all = checks::all();
    pipeline::validate(&all, &options)?;

    let config_file = loaded.config.as_ref().map(|c| c.path.display().to_string());
    let mut problems = loaded.problems;
    let services = match &loaded.config {
        Some(config) => match Services::build(config).await {
            Ok(services) => Some(Arc::new(services)),
            Err(problem) => {
                problems.push(problem);
                None
            }
        },
        None => None,
    };
    let mut ctx = Context::new(loaded.config, problems);
    ctx.services = services;
    if let Some(path) = &settings.token_file {
        ctx.facts.put(read_token_file(path)?);
    }
    let result = pipeline::run(&all, &ctx, &options, interrupt).await;

    let mut report = Report::build(
        &result,
        BuildInfo {
            started_at,
            config_file,
            fail_on: settings.fail_on,
            plan: ctx.facts.get::<PlanEntry>().map(|p| (*p).clone()),
        },
    );
    if std::env::var_os("WXC_PREFLIGHT_FIXED_CLOCK").is_some() {
        report.freeze_clock();
    }
    tracing::debug!(
        "run finished in {} ms, peak memory {}",
        report.duration_ms,
        crate::logging::peak_memory().unwrap_or_else(|| "unknown".to_owned())
    );
    Ok(report)
}

/// The access token of `--token-file`, for the `token` check to use
/// instead of the store. A file that cannot be used is a usage error.
fn read_token_file(path: &Path) -> Result<crate::auth::AccessToken, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "--token-file: cannot read {}: {e}\ncheck the path, or drop the option to use the token store",
            path.display()
        )
    })?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(format!(
            "--token-file: {} does not hold one access token\nwrite only the token into the file",
            path.display()
        ));
    }
    Ok(crate::auth::AccessToken {
        token: crate::secret::Secret::new(token),
        expires_at: None,
        granted_scopes: None,
    })
}

/// Completes on Ctrl-C (never, where the signal cannot be watched).
pub async fn ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
    tracing::warn!("interrupted (Ctrl-C): stopping");
}
