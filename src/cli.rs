//! Command line: arguments and dispatch.

/// Runs the command line and returns the process exit code.
#[must_use]
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
