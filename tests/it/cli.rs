//! The binary as users and schedulers run it: exit codes, selection flags,
//! blocked chains, every renderer, bad configuration, and secrets.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

const CLIENT_ID: &str = "C0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const CLIENT_SECRET: &str = "S3cr3t-Client-Value-0042";
const PROXY_PASSWORD: &str = "Pr0xy-Pa55word-Value-0042";
const GOOD_URL: &str = "http://localhost:6001/redirect";
/// Keeps a fixture off the network.
const OFFLINE: &str =
    "\n[checks]\nskip = [\"dns\", \"proxy\", \"internet\", \"authorize\", \"token\"]\n";

/// A config file in a temporary directory, and the environment to run it.
pub struct Fixture {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Fixture {
    /// A config with `body` after a valid `[interface]` header line. The
    /// network checks are skipped unless the config has its own `[checks]`
    /// table: they would ask the machine's DNS and the internet, and
    /// tests/it/net runs them against loopback peers instead.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config.to_owned();
        if !config.contains("[checks]") {
            config.push_str(OFFLINE);
        }
        std::fs::write(dir.path().join("wxc-preflight.toml"), config).unwrap();
        Self {
            dir,
            env: vec![("WXC_CLIENT_SECRET".into(), CLIENT_SECRET.into())],
        }
    }

    fn interface(redirect: &str, extra: &str) -> String {
        format!(
            "[interface]\nname = \"lab\"\nclient_id = \"{CLIENT_ID}\"\n\
             client_secret_env = \"WXC_CLIENT_SECRET\"\nredirect_url = \"{redirect}\"\n\
             expected_redirect_url = \"{GOOD_URL}\"\nscope_profile = \"wbc-mt-minimal\"\n{extra}"
        )
    }

    /// Every implemented check passes.
    pub fn healthy() -> Self {
        Self::new(&Self::interface(GOOD_URL, ""))
    }

    /// Only a warning: a client secret file readable by others.
    pub fn warning_only() -> Self {
        let text = Self::interface(GOOD_URL, "").replace(
            "client_secret_env = \"WXC_CLIENT_SECRET\"",
            "client_secret_file = \"client_secret\"",
        );
        let fixture = Self::new(&text);
        fixture.write_secret_file(0o644);
        fixture
    }

    /// A root cause (a trailing no-break space in the redirect URL), a
    /// warning (a secret file readable by others) and a blocked check.
    pub fn broken() -> Self {
        let text = Self::interface("http://localhost:6001/redirect\u{A0}", "").replace(
            "client_secret_env = \"WXC_CLIENT_SECRET\"",
            "client_secret_file = \"client_secret\"",
        );
        let fixture = Self::new(&text);
        fixture.write_secret_file(0o644);
        fixture
    }

    fn write_secret_file(&self, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join("client_secret");
        std::fs::write(&path, format!("{CLIENT_SECRET}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self) -> Command {
        let mut command = Command::cargo_bin("wxc-preflight").unwrap();
        for (key, _) in std::env::vars() {
            if key.starts_with("WXC_") || key == "NO_COLOR" || key == "FORCE_COLOR" {
                command.env_remove(key);
            }
        }
        command
            .current_dir(self.dir.path())
            .env("WXC_PREFLIGHT_FIXED_CLOCK", "1");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut all = vec!["check", "--format", "json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        (output.status.code().unwrap(), value)
    }
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn status_of(report: &serde_json::Value, id: &str) -> String {
    statuses(report)
        .into_iter()
        .find(|(c, _)| c == id)
        .unwrap()
        .1
}

#[test]
fn exit_code_matrix() {
    let code = |fixture: &Fixture, args: &[&str]| fixture.run(args).status.code().unwrap();
    let healthy = Fixture::healthy();
    let warning = Fixture::warning_only();
    let broken = Fixture::broken();
    let cases: Vec<(&str, i32, i32)> = vec![
        ("healthy", code(&healthy, &["check"]), 0),
        ("warning only", code(&warning, &["check"]), 1),
        ("critical", code(&broken, &["check"]), 2),
        (
            "warning, --fail-on critical",
            code(&warning, &["check", "--fail-on", "critical"]),
            0,
        ),
        (
            "warning, --fail-on warning",
            code(&warning, &["check", "--fail-on", "warning"]),
            2,
        ),
        (
            "critical, --fail-on critical",
            code(&broken, &["check", "--fail-on", "critical"]),
            2,
        ),
        (
            "critical ignored",
            code(&broken, &["check", "--ignore", "redirect-url.whitespace"]),
            1,
        ),
        (
            "critical, --ignore all",
            code(&broken, &["check", "--ignore", "all"]),
            1,
        ),
        ("bad flag", code(&healthy, &["check", "--no-such-flag"]), 3),
        (
            "bad flag value",
            code(&healthy, &["check", "--format", "xml"]),
            3,
        ),
        (
            "bad duration",
            code(&healthy, &["check", "--timeout", "soon"]),
            3,
        ),
        (
            "unknown check id",
            code(&healthy, &["check", "--only", "nope"]),
            3,
        ),
        (
            "unknown code",
            code(&healthy, &["check", "--ignore", "nope.code"]),
            3,
        ),
        ("no subcommand", code(&healthy, &[]), 3),
        ("help", code(&healthy, &["--help"]), 0),
        ("version", code(&healthy, &["--version"]), 0),
        (
            "missing config",
            code(&healthy, &["check", "--config", "nope.toml"]),
            3,
        ),
    ];
    let wrong: Vec<_> = cases.iter().filter(|(_, got, want)| got != want).collect();
    assert!(wrong.is_empty(), "(case, got, want): {wrong:?}");
}

#[test]
fn environment_variables_set_flags() {
    let fixture = Fixture::warning_only();
    let output = fixture
        .command()
        .args(["check"])
        .env("WXC_PREFLIGHT_FAIL_ON", "critical")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let output = fixture
        .command()
        .args(["check"])
        .env("WXC_PREFLIGHT_FORMAT", "nagios")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("WXC-PREFLIGHT WARNING - "));
}

#[test]
fn help_documents_the_exit_codes() {
    let output = Fixture::healthy().run(&["check", "--help"]);
    let text = String::from_utf8_lossy(&output.stdout);
    for line in [
        "0  every check passed",
        "1  warnings only",
        "2  at least one critical finding",
        "3  the tool could not run",
    ] {
        assert!(text.contains(line), "{line:?} missing from --help:\n{text}");
    }
}

#[test]
fn a_failing_check_blocks_its_dependents_and_leads_the_report() {
    let broken = Fixture::broken();
    // authorize must run here to be blocked: it never reaches the network.
    let path = broken.path().join("wxc-preflight.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(", \"authorize\"", "")).unwrap();
    let (code, report) = broken.json(&[]);
    assert_eq!(code, 2);
    assert_eq!(report["status"], "critical");
    assert_eq!(
        report["root_causes"],
        serde_json::json!(["redirect-url.whitespace"])
    );
    assert_eq!(report["findings"][0]["code"], "redirect-url.whitespace");
    assert_eq!(report["findings"][0]["root_cause"], true);
    assert_eq!(
        report["findings"][1]["code"],
        "config.secret-file-permissions"
    );
    assert_eq!(report["findings"][1]["root_cause"], false);
    let authorize = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "authorize")
        .unwrap();
    assert_eq!(authorize["status"], "blocked");
    assert_eq!(authorize["blocked_by"], serde_json::json!(["redirect-url"]));
}

#[test]
fn unimplemented_checks_are_skipped_never_passed() {
    let (code, report) = Fixture::healthy().json(&[]);
    assert_eq!(code, 0);
    for (id, status) in statuses(&report) {
        match id.as_str() {
            "config" | "redirect-url" => assert_eq!(status, "pass", "{id}"),
            _ => assert_eq!(status, "skipped", "{id}"),
        }
    }
    let dns = &report["checks"][2];
    assert_eq!(dns["reason"], "skipped with --skip");
    let connection = &report["checks"][7];
    assert_eq!(
        connection["reason"],
        "needs the result of the token check, which did not run"
    );
}

#[test]
fn only_and_skip_select_checks() {
    let broken = Fixture::broken();
    let (_, report) = broken.json(&["--only", "config"]);
    assert_eq!(status_of(&report, "config"), "warn");
    assert_eq!(status_of(&report, "redirect-url"), "skipped");
    assert_eq!(report["checks"][1]["reason"], "not selected by --only");

    let (_, report) = broken.json(&["--only", "redirect-url"]);
    assert_eq!(
        status_of(&report, "config"),
        "warn",
        "a dependency runs with --only"
    );
    assert_eq!(status_of(&report, "redirect-url"), "fail");
    assert_eq!(status_of(&report, "dns"), "skipped");

    let (code, report) = broken.json(&["--skip", "redirect-url"]);
    assert_eq!(code, 1);
    assert_eq!(report["checks"][1]["reason"], "skipped with --skip");
    assert_eq!(
        status_of(&report, "authorize"),
        "skipped",
        "not blocked by a skipped check"
    );

    let output = broken.run(&["check", "--skip", "config"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be skipped"));
}

#[test]
fn ignore_downgrades_a_code_and_says_so() {
    let (code, report) = Fixture::broken().json(&["--ignore", "redirect-url.whitespace"]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "warning");
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "redirect-url.whitespace")
        .unwrap();
    assert_eq!(finding["severity"], "warning");
    assert_eq!(finding["ignored"], true);
    assert_eq!(report["root_causes"], serde_json::json!([]));
    assert_eq!(
        status_of(&report, "authorize"),
        "skipped",
        "no longer blocked"
    );
}

#[test]
fn skip_and_ignore_from_the_config_file() {
    let text = Fixture::interface("http://localhost:6001/redirect ", "")
        + "[checks]\nignore = [\"redirect-url.whitespace\"]\n\
           skip = [\"dns\", \"proxy\", \"internet\", \"authorize\", \"token\"]\n";
    let (code, report) = Fixture::new(&text).json(&[]);
    assert_eq!(code, 1);
    assert_eq!(report["checks"][2]["reason"], "skipped with --skip");
}

/// Turns the fixture's temporary path into a stable placeholder.
fn stable(text: &str, dir: &Path) -> String {
    let dir = dir.display().to_string();
    let canonical = std::fs::canonicalize(&dir)
        .map(|p| p.display().to_string())
        .unwrap_or(dir.clone());
    text.replace(&canonical, "[DIR]").replace(&dir, "[DIR]")
}

#[test]
fn every_renderer_through_the_binary() {
    let broken = Fixture::broken();
    for format in ["human", "json", "markdown", "junit", "nagios", "prometheus"] {
        let output = broken.run(&["check", "--format", format, "--color", "never"]);
        assert_eq!(output.status.code(), Some(2), "{format}");
        let text = stable(&String::from_utf8(output.stdout).unwrap(), broken.path());
        insta::assert_snapshot!(format!("cli_{format}"), text);
    }
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let fixture = Fixture::broken();
    let plain = fixture.run(&["check"]);
    assert!(!plain.stdout.contains(&0x1b), "no colour into a pipe");
    let forced = fixture.run(&["check", "--color", "always"]);
    assert!(forced.stdout.contains(&0x1b), "--color always colours");
    let never = fixture
        .command()
        .args(["check", "--color", "never"])
        .env("FORCE_COLOR", "1")
        .output()
        .unwrap();
    assert!(!never.stdout.contains(&0x1b));
    let no_color = fixture
        .command()
        .args(["check"])
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        !no_color.stdout.contains(&0x1b),
        "NO_COLOR wins over FORCE_COLOR in auto mode"
    );
}

#[test]
fn output_file_is_written_whole_and_stdout_stays_empty() {
    let fixture = Fixture::broken();
    let target = fixture.path().join("out").join("wxc.prom");
    std::fs::create_dir(fixture.path().join("out")).unwrap();
    let output = fixture.run(&[
        "check",
        "--format",
        "prometheus",
        "--output",
        target.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.contains("wxc_preflight_exit_code 2\n") && text.ends_with('\n'));
    let leftovers: Vec<PathBuf> = std::fs::read_dir(fixture.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(leftovers, [target]);

    let missing = fixture.path().join("no/such/dir/r.json");
    let output = fixture.run(&["check", "--output", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write the report"));
}

/// A bad config file gives its finding, names the key or position, and
/// exits 3; the report still renders.
#[test]
fn bad_config_files() {
    let interface = Fixture::interface(GOOD_URL, "");
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "syntax error",
            "[interface\nclient_id = 1\n".to_owned(),
            "config.invalid",
            ":1:",
        ),
        (
            "unknown key",
            format!("{interface}colour = \"blue\"\n"),
            "config.invalid",
            "colour",
        ),
        (
            "wrong type",
            format!("{interface}[plan]\nretries_after_error = \"three\"\n"),
            "config.invalid",
            ":9:",
        ),
        (
            "bad duration",
            format!("{interface}[dns]\ntimeout = \"3\"\n"),
            "config.invalid",
            "no unit",
        ),
        (
            "missing key",
            "[interface]\nclient_id = \"x\"\n".to_owned(),
            "config.invalid",
            "redirect_url",
        ),
        (
            "missing table",
            "[webex]\n".to_owned(),
            "config.invalid",
            "[interface]",
        ),
        (
            "unknown profile",
            interface.replace("wbc-mt-minimal", "nope"),
            "config.invalid",
            "scope_profile",
        ),
        (
            "missing secret",
            interface.replace("WXC_CLIENT_SECRET", "WXC_UNSET_SECRET"),
            "config.secret-missing",
            "WXC_UNSET_SECRET",
        ),
        (
            "missing secret file",
            interface.replace(
                "client_secret_env = \"WXC_CLIENT_SECRET\"",
                "client_secret_file = \"nope\"",
            ),
            "config.secret-missing",
            "does not exist",
        ),
        (
            "proxy without password",
            format!(
                "{interface}[proxy]\nurl = \"http://proxy:3128\"\nauth = \"basic\"\nusername = \"u\"\n"
            ),
            "config.invalid",
            "proxy.password_env",
        ),
    ];
    for (name, text, code, mention) in cases {
        let fixture = Fixture::new(&text);
        let (exit, report) = fixture.json(&[]);
        assert_eq!(exit, 3, "{name}");
        assert_eq!(report["status"], "unknown", "{name}");
        let finding = &report["findings"][0];
        assert_eq!(finding["code"], code, "{name}: {finding}");
        assert!(
            finding["summary"].as_str().unwrap().contains(mention),
            "{name}: {}",
            finding["summary"]
        );
        assert_eq!(status_of(&report, "redirect-url"), "blocked", "{name}");
        let human = fixture.run(&["check"]);
        assert_eq!(human.status.code(), Some(3), "{name}");
        assert!(
            String::from_utf8_lossy(&human.stdout).contains(code),
            "{name}"
        );
    }
}

#[test]
fn no_config_anywhere_names_the_places_searched() {
    let fixture = Fixture::healthy();
    std::fs::remove_file(fixture.path().join("wxc-preflight.toml")).unwrap();
    let output = fixture
        .command()
        .args(["check", "--format", "json"])
        .env("HOME", fixture.path())
        .env("XDG_CONFIG_HOME", fixture.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let evidence = report["findings"][0]["evidence"][0]["value"]
        .as_str()
        .unwrap();
    assert!(evidence.contains("wxc-preflight.toml"), "{evidence}");
}

/// No renderer, at the highest verbosity, prints a secret the config holds.
#[test]
fn secrets_never_appear_in_any_output() {
    let extra = "[proxy]\nurl = \"http://proxy.invalid:3128\"\nauth = \"digest\"\nusername = \"svc\"\n\
                 password_env = \"WXC_PROXY_PASSWORD\"\n";
    let mut healthy = Fixture::new(&Fixture::interface(GOOD_URL, extra));
    healthy
        .env
        .push(("WXC_PROXY_PASSWORD".into(), PROXY_PASSWORD.into()));
    let mut broken = Fixture::broken();
    broken
        .env
        .push(("WXC_PROXY_PASSWORD".into(), PROXY_PASSWORD.into()));
    for fixture in [&healthy, &broken] {
        for format in ["human", "json", "markdown", "junit", "nagios", "prometheus"] {
            let output = fixture.run(&["check", "-vvv", "--format", format, "--color", "always"]);
            for (stream, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                let text = String::from_utf8_lossy(bytes);
                for secret in [CLIENT_SECRET, PROXY_PASSWORD] {
                    assert!(
                        !text.contains(secret),
                        "{format} {stream} shows a secret:\n{text}"
                    );
                    assert!(
                        !text.contains(&secret[..12]),
                        "{format} {stream} shows part of a secret"
                    );
                }
            }
            assert!(!output.stdout.is_empty(), "{format} printed nothing");
        }
    }
}

#[test]
fn explain_and_checks_read_the_catalog() {
    let fixture = Fixture::healthy();
    let output = fixture.run(&["explain", "proxy.auth-scheme-mismatch"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("Problem:") && text.contains("Suggested course of action:"),
        "{text}"
    );
    assert!(text.contains("Internet / proxy errors"), "{text}");

    let output = fixture.run(&["explain", "proxy.nope"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("proxy.auth-rejected"));

    let output = fixture.run(&["explain", "--list"]);
    assert!(String::from_utf8_lossy(&output.stdout).lines().count() >= 43);

    let output = fixture.run(&["checks"]);
    let text = String::from_utf8_lossy(&output.stdout);
    for id in [
        "config",
        "redirect-url",
        "dns",
        "proxy",
        "internet",
        "authorize",
        "token",
        "connection",
        "scopes",
        "organization",
        "xsi",
        "endpoints",
        "plan",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id} missing:\n{text}"
        );
    }
}

/// Each kind of stray character, at the start, the end and inside the
/// redirect URL, through the binary: the finding names its code point and
/// position, and the run is critical.
#[test]
fn redirect_url_stray_character_table() {
    let kinds = [
        ("\\u0020", "U+0020 SPACE"),
        ("\\t", "U+0009 CHARACTER TABULATION (tab)"),
        ("\\r", "U+000D CARRIAGE RETURN"),
        ("\\n", "U+000A LINE FEED"),
        ("\\u00A0", "U+00A0 NO-BREAK SPACE"),
        ("\\u200B", "U+200B ZERO WIDTH SPACE"),
        (
            "\\uFEFF",
            "U+FEFF ZERO WIDTH NO-BREAK SPACE (byte order mark)",
        ),
        ("\\u3000", "U+3000 IDEOGRAPHIC SPACE"),
    ];
    for (escape, described) in kinds {
        for (place, url, position) in [
            ("leading", format!("{escape}{GOOD_URL}"), 1),
            ("trailing", format!("{GOOD_URL}{escape}"), 31),
            (
                "embedded",
                format!("http://localhost:6001/re{escape}direct"),
                25,
            ),
        ] {
            let fixture = Fixture::new(&Fixture::interface(&url, ""));
            let (code, report) = fixture.json(&["--only", "redirect-url"]);
            assert_eq!(code, 2, "{described} {place}");
            let finding = &report["findings"][0];
            assert_eq!(
                finding["code"], "redirect-url.whitespace",
                "{described} {place}"
            );
            let evidence = finding["evidence"][0]["value"].as_str().unwrap();
            assert_eq!(
                evidence,
                format!(
                    "{described} at position {position} (byte {}), {place}",
                    position - 1
                ),
                "{described} {place}"
            );
        }
    }
}

#[test]
fn redirect_url_shape_and_mismatch_table() {
    let cases = [
        ("/redirect", "redirect-url.malformed"),
        ("localhost:6001/redirect", "redirect-url.malformed"),
        ("http://harness.corp:6001/redirect", "redirect-url.insecure"),
        ("http://localhost:6001/redirect/", "redirect-url.mismatch"),
        ("http://localhost:6002/redirect", "redirect-url.mismatch"),
        ("http://localhost:6001/Redirect", "redirect-url.mismatch"),
    ];
    for (url, code) in cases {
        let (_, report) =
            Fixture::new(&Fixture::interface(url, "")).json(&["--only", "redirect-url"]);
        let codes: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&code), "{url}: {codes:?}");
    }
}

/// `--token-file` that cannot be used is a usage error naming the file,
/// and the token never shows in the message.
#[test]
fn an_unusable_token_file_exits_3() {
    let fixture = Fixture::healthy();
    let output = fixture.run(&["check", "--token-file", "missing-token"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--token-file: cannot read"));
    std::fs::write(fixture.path().join("two-tokens"), "secret-one secret-two\n").unwrap();
    let output = fixture.run(&["check", "--token-file", "two-tokens"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not hold one access token"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-one"));
}
