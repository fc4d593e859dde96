//! The one place that writes: the report to stdout or to a file, messages to
//! stderr. Everything else produces strings; this keeps output testable and
//! keeps the report alone on stdout.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the module that writes"
)]

use std::io::Write as _;
use std::path::Path;

/// Writes the report to stdout.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes a message for the person running the tool to stderr, prefixed
/// with the tool's name.
pub fn message(text: &str) {
    eprintln!("wxc-preflight: {text}");
}

/// Writes text to stderr as it is (clap's own help and errors).
pub fn stderr(text: &str) {
    eprint!("{text}");
}

/// Writes `text` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over the target, so a reader
/// (node_exporter, a person) never sees half a report.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".wxc-preflight-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.prom");
        write_atomic(&path, "one\n").unwrap();
        write_atomic(&path, "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn atomic_write_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomic(&dir.path().join("no/such/dir/r.json"), "x").is_err());
    }
}
