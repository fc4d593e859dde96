//! The files the emulator leaves for its clients: the CA certificate, a
//! ready-to-use tool config (DESIGN section 3), and the secrets it names.
//!
//! Secrets go into their own files with mode 0600, never into the config.
//! Paths in the config are relative to the config's directory.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::faults::ProxyAuthMode;

/// File names inside the emulator's directory.
pub const CA_FILE: &str = "ca.pem";
/// The tool config.
pub const CONFIG_FILE: &str = "wxc-preflight.toml";
/// The client secret.
pub const CLIENT_SECRET_FILE: &str = "client_secret";
/// The administrator's personal access token.
pub const ACCESS_TOKEN_FILE: &str = "access_token";
/// The proxy password.
pub const PROXY_PASSWORD_FILE: &str = "proxy_password";
/// Where the tool keeps its tokens for this config.
pub const TOKEN_STORE: &str = "token-store";

/// The `[proxy]` table of the written config.
#[derive(Debug, Clone)]
pub struct ProxySection {
    /// `http://HOST:PORT`.
    pub url: String,
    /// The scheme the config names.
    pub auth: ProxyAuthMode,
    /// The user name.
    pub username: String,
}

/// What goes into the written config.
#[derive(Debug, Clone)]
pub struct ToolConfig {
    /// `[interface] client_id`.
    pub client_id: String,
    /// `[interface] redirect_url`.
    pub redirect_url: String,
    /// `[webex] api_base`.
    pub api_base: String,
    /// `[proxy]`, when the proxy is part of the setup.
    pub proxy: Option<ProxySection>,
    /// `[plan] endpoints`.
    pub endpoints: Vec<String>,
}

fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Renders the config as TOML.
#[must_use]
pub fn render_config(config: &ToolConfig) -> String {
    let endpoints: Vec<String> = config.endpoints.iter().map(|e| quoted(e)).collect();
    let mut text = format!(
        "# Written by `wxc-preflight emulator`: a config for the emulated Webex.\n\
         # Relative paths are relative to this file's directory.\n\
         \n\
         [interface]\n\
         name = \"emulator\"\n\
         client_id = {client_id}\n\
         client_secret_file = {secret}\n\
         redirect_url = {redirect}\n\
         scope_profile = \"wbc-mt-minimal\"\n\
         token_store = {store}\n\
         \n\
         [webex]\n\
         api_base = {api_base}\n\
         ca_file = {ca}\n",
        client_id = quoted(&config.client_id),
        secret = quoted(CLIENT_SECRET_FILE),
        redirect = quoted(&config.redirect_url),
        store = quoted(TOKEN_STORE),
        api_base = quoted(&config.api_base),
        ca = quoted(CA_FILE),
    );
    if let Some(proxy) = &config.proxy {
        let _ = write!(
            text,
            "\n[proxy]\nurl = {}\nauth = {}\n",
            quoted(&proxy.url),
            quoted(proxy.auth.config_name())
        );
        if proxy.auth != ProxyAuthMode::None {
            let _ = write!(
                text,
                "username = {}\npassword_file = {}\n",
                quoted(&proxy.username),
                quoted(PROXY_PASSWORD_FILE)
            );
        }
    }
    let _ = write!(
        text,
        "\n[plan]\n\
         name = \"WbC-MT smoke (emulator)\"\n\
         endpoints = [{}]\n\
         pause_after_error = \"1s\"\n\
         retries_after_error = 3\n\
         ring_timeout = \"5s\"\n\
         talk_time = \"1s\"\n",
        endpoints.join(", ")
    );
    text
}

/// Writes a public file.
pub fn write_public(dir: &Path, name: &str, contents: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    fs::write(&path, contents).with_context(|| format!("could not write {}", path.display()))
}

/// Writes a secret file with mode 0600 (replacing any earlier one).
pub fn write_secret(dir: &Path, name: &str, contents: &str) -> anyhow::Result<()> {
    let path = dir.join(name);
    let _ = fs::remove_file(&path);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("could not create {}", path.display()))?;
    // No trailing newline: the file holds exactly the secret.
    file.write_all(contents.as_bytes())
        .with_context(|| format!("could not write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_as_toml_with_design_keys() {
        let text = render_config(&ToolConfig {
            client_id: format!("C{}", "a".repeat(64)),
            redirect_url: "http://127.0.0.1:6001/redirect".to_owned(),
            api_base: "https://127.0.0.1:1234/v1".to_owned(),
            proxy: Some(ProxySection {
                url: "http://127.0.0.1:3128".to_owned(),
                auth: ProxyAuthMode::Digest,
                username: "harness".to_owned(),
            }),
            endpoints: vec!["a@example.com".to_owned(), "b@example.com".to_owned()],
        });
        let value: toml::Table = text.parse().unwrap();
        assert_eq!(
            value["interface"]["client_secret_file"].as_str(),
            Some("client_secret")
        );
        assert_eq!(
            value["interface"]["scope_profile"].as_str(),
            Some("wbc-mt-minimal")
        );
        assert_eq!(value["webex"]["ca_file"].as_str(), Some("ca.pem"));
        assert_eq!(value["proxy"]["auth"].as_str(), Some("digest"));
        assert_eq!(value["plan"]["talk_time"].as_str(), Some("1s"));
        assert_eq!(value["plan"]["retries_after_error"].as_integer(), Some(3));
        assert_eq!(value["plan"]["endpoints"].as_array().unwrap().len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        write_secret(dir.path(), "s", "x").unwrap();
        write_secret(dir.path(), "s", "y").unwrap();
        let meta = fs::metadata(dir.path().join("s")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(dir.path().join("s")).unwrap(), "y");
    }
}
