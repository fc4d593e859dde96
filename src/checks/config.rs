//! The `config` check: the file parses, required keys are present, secrets
//! resolve. It reports what loading the configuration found; it never reads
//! a secret's value into the report, only where the secret comes from.

use crate::check::{Check, CheckFuture, Context, Outcome};
use crate::config::{Config, ConfigProblem, ProxyAuth};
use crate::finding::Finding;

/// See the module documentation.
pub struct ConfigCheck;

impl Check for ConfigCheck {
    fn id(&self) -> &'static str {
        "config"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }

    fn run<'a>(&'a self, ctx: &'a Context) -> CheckFuture<'a> {
        Box::pin(async move {
            let mut outcome = Outcome::new();
            if let Some(config) = ctx.config.as_deref() {
                describe(config, &mut outcome);
            }
            for problem in ctx.config_problems.iter() {
                outcome.finding(finding(problem, ctx.config.as_deref()));
            }
            outcome
        })
    }
}

/// Evidence of what the configuration says, secrets by source only.
fn describe(config: &Config, outcome: &mut Outcome) {
    outcome.evidence("file", config.path.display().to_string());
    let file = &config.file;
    if let Some(interface) = &file.interface {
        if let Some(name) = &interface.name {
            outcome.evidence("interface", name.clone());
        }
        outcome.evidence("client_id", interface.client_id.get_ref().clone());
        let secret_source = match (&interface.client_secret_env, &interface.client_secret_file) {
            (Some(var), _) => format!("environment variable {var}"),
            (None, Some(path)) => format!("file {}", path.display()),
            (None, None) => "none".to_owned(),
        };
        let state = if config.client_secret.is_some() {
            "resolved"
        } else {
            "not resolved"
        };
        outcome.evidence("client secret", format!("{secret_source} ({state})"));
        let scopes = match (&interface.scope_profile, &interface.scopes) {
            (Some(profile), _) => format!("profile {profile}"),
            (None, Some(list)) => format!("{} listed in the config", list.len()),
            (None, None) => "none".to_owned(),
        };
        outcome.evidence("scopes", scopes);
    }
    outcome.evidence("api_base", file.webex.api_base.clone());
    match &file.proxy {
        Some(proxy) => {
            let mut text = format!("{} (auth {})", proxy.url, proxy.auth.as_str());
            if proxy.auth != ProxyAuth::None {
                if let Some(user) = &proxy.username {
                    text.push_str(&format!(", user {user}"));
                }
                let state = if config.proxy_password.is_some() {
                    "resolved"
                } else {
                    "not resolved"
                };
                text.push_str(&format!(", password {state}"));
            }
            outcome.evidence("proxy", text);
        }
        None => outcome.evidence("proxy", "none (direct connection)"),
    }
    let dns = if config.dns_servers.is_empty() {
        "the system resolver".to_owned()
    } else {
        config
            .dns_servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    outcome.evidence("dns", dns);
    match &file.plan {
        Some(plan) => outcome.evidence(
            "plan",
            format!("{:?} with {} endpoints", plan.name, plan.endpoints.len()),
        ),
        None => outcome.evidence("plan", "none ([plan] is not set)"),
    }
}

/// The finding for one configuration problem.
fn finding(problem: &ConfigProblem, config: Option<&Config>) -> Finding {
    let file = config.map(|c| c.path.display().to_string());
    match problem {
        ConfigProblem::NotFound { searched } => {
            let list = searched
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>();
            Finding::new(
                "config.invalid",
                "no configuration file was found: pass --config FILE or create wxc-preflight.toml",
            )
            .with("searched", list.join(", "))
        }
        ConfigProblem::Unreadable { path, reason } => Finding::new(
            "config.invalid",
            format!(
                "the configuration file {} cannot be read: {reason}",
                path.display()
            ),
        )
        .with("file", path.display().to_string()),
        ConfigProblem::Syntax {
            path,
            line,
            column,
            message,
        } => Finding::new(
            "config.invalid",
            format!("{}:{line}:{column}: {message}", path.display()),
        )
        .with("file", path.display().to_string())
        .with("position", format!("line {line}, column {column}"))
        .with("error", message.clone()),
        ConfigProblem::Invalid { key, message } => {
            let mut finding = Finding::new("config.invalid", format!("{key}: {message}"))
                .with("key", key.clone());
            if let Some(file) = file {
                finding = finding.with("file", file);
            }
            finding
        }
        ConfigProblem::SecretMissing {
            key,
            source,
            reason,
        } => Finding::new(
            "config.secret-missing",
            format!("the secret {key} comes from the {source}, which {reason}"),
        )
        .with("key", key.clone())
        .with("source", source.clone()),
        ConfigProblem::SecretFileOpen { key, path, mode } => Finding::new(
            "config.secret-file-permissions",
            format!(
                "the file holding {key}, {}, can be read by other users (mode {mode:o})",
                path.display()
            ),
        )
        .with("file", path.display().to_string())
        .with("mode", format!("{mode:o}"))
        .with("fix", format!("chmod 600 {}", path.display())),
        ConfigProblem::ClientIdFormat {
            value,
            line,
            column,
        } => Finding::new(
            "config.client-id-format",
            format!(
                "client_id {value:?} is not \"C\" followed by 64 hexadecimal digits \
                 (line {line}, column {column})"
            ),
        )
        .with("client_id", value.clone())
        .with("length", value.chars().count().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use crate::finding::Severity;

    async fn run(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Outcome {
        let loaded = crate::config::parse(
            "/tmp/wxc-preflight.toml".into(),
            text.to_owned(),
            crate::checks::SCOPE_PROFILES,
            env,
        );
        let ctx = Context::new(loaded.config, loaded.problems);
        ConfigCheck.run(&ctx).await
    }

    #[tokio::test]
    async fn a_good_config_passes_and_shows_sources_not_secrets() {
        let text = r#"
[interface]
client_id = "C0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
client_secret_env = "WXC_CLIENT_SECRET"
redirect_url = "http://localhost:6001/redirect"
scope_profile = "wbc-mt-minimal"
[proxy]
url = "http://proxy.corp:3128"
auth = "digest"
username = "svc"
password_env = "WXC_PROXY_PASSWORD"
"#;
        let outcome = run(text, &|_| Some("top-secret-value".to_owned())).await;
        assert_eq!(outcome.status(), Status::Pass, "{:?}", outcome.findings);
        let text = format!("{:?}", outcome.evidence);
        assert!(
            text.contains("environment variable WXC_CLIENT_SECRET (resolved)"),
            "{text}"
        );
        assert!(!text.contains("top-secret-value"));
    }

    #[tokio::test]
    async fn problems_become_findings() {
        let outcome = run("[interface]\nclient_id = 3\n", &|_| None).await;
        assert_eq!(outcome.status(), Status::Fail);
        assert_eq!(outcome.findings[0].code, "config.invalid");
        assert!(
            outcome.findings[0].summary.contains(":2:"),
            "{}",
            outcome.findings[0].summary
        );

        let text = r#"
[interface]
client_id = "C12"
client_secret_env = "UNSET"
redirect_url = "http://localhost:6001/redirect"
scopes = ["spark:people_read"]
"#;
        let outcome = run(text, &|_| None).await;
        let codes: Vec<_> = outcome
            .findings
            .iter()
            .map(|f| (f.code, f.severity))
            .collect();
        assert_eq!(
            codes,
            [
                ("config.client-id-format", Severity::Warning),
                ("config.secret-missing", Severity::Critical)
            ]
        );
    }
}
