//! The `wxc-preflight` binary: hands over to the command line layer at once.

fn main() -> std::process::ExitCode {
    wxc_preflight::cli::main()
}
