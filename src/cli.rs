//! The command line: arguments as typed (no I/O), then dispatch.
//!
//! Two stages, as ripgrep does it: clap parses the arguments into plain
//! values; only then does a command read files, the environment and the
//! terminal. `--help` and `--version` never touch a config file. Usage
//! errors exit 3 (UNKNOWN to Nagios), not clap's default 2, which would
//! read as CRITICAL.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::checks;
use crate::config::ConfigSource;
use crate::finding::catalog;
use crate::output;
use crate::report::{self, FailOn, Report, Style};
use crate::run::{self, RunSettings};

/// The exit codes, for `--help`.
const EXIT_CODES: &str = "\
Exit codes (as Nagios plugins):
  0  every check passed
  1  warnings only
  2  at least one critical finding
  3  the tool could not run: bad flags or configuration, internal error, interrupted
--fail-on moves the threshold: `warning` makes warnings exit 2, `critical` makes them exit 0.";

/// A diagnostic for Webex Calling multi-tenant test harnesses: walks the
/// chain from DNS and proxy to OAuth, tokens, XSI and endpoints, and says
/// what is broken and how to fix it.
#[derive(Debug, Parser)]
#[command(name = "wxc-preflight", version, after_help = EXIT_CODES, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// When to colour the human report.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "WXC_PREFLIGHT_COLOR")]
    color: ColorChoice,

    /// More detail: -v shows each check's evidence and info logs, -vv debug
    /// logs (each request), -vvv trace logs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Less: -q logs errors only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    quiet: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the check pipeline, then the plan run, and print the report.
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// List the check catalog: id, what it proves, what it depends on.
    Checks,
    /// Print a finding code's problem and course of action.
    Explain(ExplainArgs),
    /// The embedded default: run `check` against a local Webex emulator,
    /// no account needed.
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
    /// Run the Webex emulator alone, until Ctrl-C.
    Emulator(crate::emulator::EmulatorArgs),
    /// Log in to Webex, show, refresh or delete the stored tokens.
    Auth(AuthArgs),
    /// Print the email asking Cisco to grant XSI access (spark-admin:xsi),
    /// with the orgId filled in.
    XsiRequest(ConfigArg),
}

#[derive(Debug, Args)]
struct ConfigArg {
    /// The config file [default: ./wxc-preflight.toml, then the platform
    /// config directory].
    #[arg(long, value_name = "FILE", env = "WXC_PREFLIGHT_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AuthArgs {
    #[command(subcommand)]
    action: AuthAction,
}

#[derive(Debug, Subcommand)]
enum AuthAction {
    /// Sign in with the browser (authorization code with PKCE), or with
    /// --device on a host without one, and store the tokens.
    Login(LoginArgs),
    /// Who is logged in, token expiries, granted scopes against the profile.
    Status(ConfigArg),
    /// Refresh the access token now (rotating the refresh token).
    Refresh(ConfigArg),
    /// Delete the stored tokens.
    Logout(ConfigArg),
}

#[derive(Debug, Args)]
struct LoginArgs {
    #[command(flatten)]
    config: ConfigArg,

    /// Print the sign-in URL instead of opening a browser.
    #[arg(long, env = "WXC_PREFLIGHT_NO_BROWSER")]
    no_browser: bool,

    /// Use the device grant: a code to enter on any device with a browser.
    #[arg(long, conflicts_with = "no_browser")]
    device: bool,

    /// How long to wait for the browser, like "3m".
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "3m")]
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
    Junit,
    Nagios,
    Prometheus,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The config file [default: ./wxc-preflight.toml, then the platform
    /// config directory].
    #[arg(long, value_name = "FILE", env = "WXC_PREFLIGHT_CONFIG")]
    config: Option<PathBuf>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Make the emulator misbehave: NAME or NAME=DURATION (repeatable; see
    /// `wxc-preflight emulator --list-faults`).
    #[arg(
        long = "fault",
        value_name = "NAME",
        value_delimiter = ',',
        env = "WXC_PREFLIGHT_FAULT"
    )]
    faults: Vec<String>,

    #[command(flatten)]
    run: RunArgs,
}

/// The options `check` and `demo` share.
#[derive(Debug, Args)]
struct RunArgs {
    /// Run only these checks (and the checks they depend on).
    #[arg(
        long,
        value_name = "ID,...",
        value_delimiter = ',',
        env = "WXC_PREFLIGHT_ONLY"
    )]
    only: Vec<String>,

    /// Skip these checks; their dependents still run when they can.
    #[arg(
        long,
        value_name = "ID,...",
        value_delimiter = ',',
        env = "WXC_PREFLIGHT_SKIP"
    )]
    skip: Vec<String>,

    /// Downgrade these finding codes from critical to warning (`all` for
    /// every code).
    #[arg(
        long,
        value_name = "CODE,...",
        value_delimiter = ',',
        env = "WXC_PREFLIGHT_IGNORE"
    )]
    ignore: Vec<String>,

    /// The report format.
    #[arg(long, value_enum, default_value_t = Format::Human, env = "WXC_PREFLIGHT_FORMAT")]
    format: Format,

    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE", env = "WXC_PREFLIGHT_OUTPUT")]
    output: Option<PathBuf>,

    /// Move the failure threshold (see the exit codes below).
    #[arg(long, value_enum, env = "WXC_PREFLIGHT_FAIL_ON")]
    fail_on: Option<FailOnArg>,

    /// A deadline for the whole run, like "30s" or "2m".
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, env = "WXC_PREFLIGHT_TIMEOUT")]
    timeout: Option<Duration>,

    /// Run the checks only, not the plan's test calls.
    #[arg(long, env = "WXC_PREFLIGHT_NO_PLAN")]
    no_plan: bool,

    /// Append this run's plan results to FILE as one JSON line, for trends
    #[arg(long, value_name = "FILE", env = "WXC_PREFLIGHT_HISTORY")]
    history: Option<PathBuf>,

    /// Use the access token in FILE (a personal access token from the
    /// developer portal, valid 12 hours) instead of the token store; its
    /// scopes cannot be verified. Never a token on the command line.
    #[arg(long, value_name = "FILE", env = "WXC_PREFLIGHT_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

impl RunArgs {
    fn settings(&self) -> RunSettings {
        RunSettings {
            only: self.only.clone(),
            skip: self.skip.clone(),
            ignore: self.ignore.clone(),
            timeout: self.timeout,
            no_plan: self.no_plan,
            token_file: self.token_file.clone(),
            fail_on: match self.fail_on {
                None => FailOn::Default,
                Some(FailOnArg::Warning) => FailOn::Warning,
                Some(FailOnArg::Critical) => FailOn::Critical,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOnArg {
    Warning,
    Critical,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The finding code, like redirect-url.whitespace.
    #[arg(required_unless_present = "list")]
    code: Option<String>,

    /// List every code with its severity and problem.
    #[arg(long)]
    list: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
}

/// Runs the command line and returns the process exit code.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    crate::logging::init(cli.verbose, cli.quiet);
    let code = match cli.command {
        Command::Check(args) => run_check(&args, cli.color, cli.verbose),
        Command::Demo(args) => run_demo(&args, cli.color, cli.verbose),
        Command::Emulator(args) => run_emulator(args),
        Command::Checks => {
            output::stdout(&list_checks());
            0
        }
        Command::Explain(args) => explain(&args),
        Command::Auth(args) => auth(args),
        Command::XsiRequest(args) => crate::auth::commands::xsi_request(args.config),
    };
    ExitCode::from(code)
}

/// `auth ...`: hands over to the auth commands.
fn auth(args: AuthArgs) -> u8 {
    use crate::auth::commands::{self, Action};
    let (config, action) = match args.action {
        AuthAction::Login(login) => (
            login.config.config,
            Action::Login {
                no_browser: login.no_browser,
                device: login.device,
                timeout: login.timeout,
            },
        ),
        AuthAction::Status(c) => (c.config, Action::Status),
        AuthAction::Refresh(c) => (c.config, Action::Refresh),
        AuthAction::Logout(c) => (c.config, Action::Logout),
    };
    commands::auth(config, &action)
}

/// Prints clap's message; help and version exit 0, anything else 3.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let text = error.render().ansi().to_string();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            output::stdout(&text);
            ExitCode::SUCCESS
        }
        _ => {
            output::stderr(&text);
            ExitCode::from(3)
        }
    }
}

/// A tokio runtime for a command, or the message saying why there is none.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            output::message(&format!("cannot start the async runtime: {e}"));
            None
        }
    }
}

/// `check`: load, run, report.
fn run_check(args: &CheckArgs, color: ColorChoice, verbose: u8) -> u8 {
    let Some(runtime) = runtime() else { return 3 };
    let source = args
        .config
        .clone()
        .map_or(ConfigSource::Search, ConfigSource::Explicit);
    let report = runtime.block_on(run::execute(&source, &args.run.settings(), run::ctrl_c()));
    // Give checks' background tasks a moment to release what they hold.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match report {
        Ok(report) => report_out(&report, &args.run, color, verbose),
        Err(message) => {
            output::message(&message);
            3
        }
    }
}

/// `demo`: the emulator, then `check` against it.
fn run_demo(args: &DemoArgs, color: ColorChoice, verbose: u8) -> u8 {
    let Some(runtime) = runtime() else { return 3 };
    let report = runtime.block_on(crate::demo::execute(
        &args.faults,
        &args.run.settings(),
        run::ctrl_c(),
    ));
    runtime.shutdown_timeout(Duration::from_secs(2));
    match report {
        Ok(report) => report_out(&report, &args.run, color, verbose),
        Err(error) => {
            output::message(&format!("{error:#}"));
            3
        }
    }
}

/// `emulator`: start it, say where it is, serve until Ctrl-C.
fn run_emulator(args: crate::emulator::EmulatorArgs) -> u8 {
    let Some(runtime) = runtime() else { return 3 };
    let code = runtime.block_on(async {
        let cancel = tokio_util::sync::CancellationToken::new();
        match crate::emulator::run_command(args, cancel.clone()).await {
            Ok(started) => {
                output::stdout(&format!("{started}\n"));
                if started.is_running() {
                    run::ctrl_c().await;
                    cancel.cancel();
                }
                drop(started);
                0
            }
            Err(error) => {
                output::message(&format!("{error:#}"));
                3
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    code
}

/// Renders and writes the report of `check` or `demo`.
fn report_out(report: &Report, args: &RunArgs, color: ColorChoice, verbose: u8) -> u8 {
    append_history(args.history.as_deref(), report);
    let style = Style {
        color: use_color(color, args.output.is_none()),
        verbose,
    };
    deliver(report, args.format, style, args.output.as_deref())
}

/// Appends the run to `--history FILE`; a failure is reported, not fatal.
fn append_history(path: Option<&std::path::Path>, report: &Report) {
    let Some(path) = path else { return };
    if let Err(e) = output::append_line(path, &report::history_line(report)) {
        output::message(&format!(
            "cannot append to the history file {}: {e}\n\
             check that the directory exists and is writable",
            path.display()
        ));
    }
}

/// Renders the report and writes it; returns the run's exit code, or 3
/// when the report cannot be written.
fn deliver(report: &Report, format: Format, style: Style, path: Option<&std::path::Path>) -> u8 {
    let text = render(report, format, style);
    match path {
        None => output::stdout(&text),
        Some(path) => {
            if let Err(e) = output::write_atomic(path, &text) {
                output::message(&format!(
                    "cannot write the report to {}: {e}\ncheck that the directory exists and is writable",
                    path.display()
                ));
                return 3;
            }
        }
    }
    report.exit_code
}

/// The report in one format.
#[must_use]
pub fn render(report: &Report, format: Format, style: Style) -> String {
    match format {
        Format::Human => report::human(report, style),
        Format::Json => report::json(report),
        Format::Markdown => report::markdown(report),
        Format::Junit => report::junit(report),
        Format::Nagios => report::nagios(report),
        Format::Prometheus => report::prometheus(report),
    }
}

fn use_color(choice: ColorChoice, to_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            // NO_COLOR (no-color.org) wins over everything in auto mode.
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            to_terminal
                && !no_color
                && supports_color::on_cached(supports_color::Stream::Stdout).is_some()
        }
    }
}

/// `checks`: the catalog as a table.
fn list_checks() -> String {
    use std::fmt::Write as _;
    let all = checks::all();
    let mut out = String::new();
    let _ = writeln!(out, "{:13} {:26} proves", "check", "depends on");
    for check in &all {
        let info = catalog().check(check.id());
        let deps = if check.depends_on().is_empty() {
            "-".to_owned()
        } else {
            check.depends_on().join(", ")
        };
        let _ = writeln!(
            out,
            "{:13} {:26} {}",
            check.id(),
            deps,
            info.map_or("", |i| i.proves.as_str())
        );
    }
    out
}

/// `explain CODE` and `explain --list`.
fn explain(args: &ExplainArgs) -> u8 {
    use std::fmt::Write as _;
    let mut out = String::new();
    if args.list {
        for entry in catalog().entries() {
            let _ = writeln!(
                out,
                "{:32} {:9} {}",
                entry.code,
                entry.severity.as_str(),
                entry.problem
            );
        }
        output::stdout(&out);
        return 0;
    }
    let code = args.code.as_deref().unwrap_or_default();
    let Some(entry) = catalog().get(code) else {
        let prefix = code.split('.').next().unwrap_or(code);
        let near: Vec<&str> = catalog()
            .entries()
            .map(|e| e.code.as_str())
            .filter(|c| c.starts_with(prefix))
            .collect();
        let hint = if near.is_empty() {
            "list the codes with: wxc-preflight explain --list".to_owned()
        } else {
            format!("codes starting with {prefix}: {}", near.join(", "))
        };
        output::message(&format!("unknown finding code {code:?}\n{hint}"));
        return 3;
    };
    let _ = writeln!(
        out,
        "{} ({}, {})",
        entry.code,
        entry.severity,
        entry.section.title()
    );
    let _ = writeln!(out, "raised by the {} check\n", entry.check);
    let _ = writeln!(out, "Problem: {}", entry.problem);
    if let Some(symptom) = &entry.symptom {
        let _ = writeln!(out, "Symptom: {symptom}");
    }
    let _ = writeln!(out, "\nSuggested course of action:");
    for (i, action) in entry.actions.iter().enumerate() {
        let _ = writeln!(out, "  {}. {action}", i + 1);
    }
    if let Some(command) = &entry.fix_command {
        let _ = writeln!(out, "\nFix: {command}");
    }
    output::stdout(&out);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
