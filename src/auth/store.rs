//! The token store: one JSON file per interface holding the access and
//! refresh tokens, both expiry instants, the granted scope string, when each
//! token was obtained, and who they belong to.
//!
//! Writes are atomic (a temporary file in the same directory, fsync, rename,
//! then fsync of the directory) with mode 0600, so a reader or a crash sees
//! the old store or the new one, never half of one. Refreshing happens under
//! an advisory lock on a sibling `.lock` file (`std::fs::File::lock`), and a
//! process that obtained the lock re-reads the store first: when another
//! process rotated the refresh token meanwhile, it uses that result instead
//! of spending the old refresh token. A rotated refresh token is written to
//! the store before the new access token is handed to anyone.
//!
//! A store that cannot be read or parsed is reported as
//! [`StoreError::Corrupt`], never a panic.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Identity;
use super::oauth::Tokens;
use crate::secret::Secret;

/// The store format version written by this build.
const VERSION: u32 = 1;

/// The environment variable of the crash-test hook (see [`crash_point`]).
pub const CRASH_AT_ENV: &str = "WXC_PREFLIGHT_CRASH_AT";

/// The default store path: the platform data dir, one file per interface.
#[must_use]
pub fn default_path(interface: &str, client_id: &str) -> PathBuf {
    let safe: String = interface
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let short: String = client_id.chars().take(9).collect();
    let file = format!("tokens-{safe}-{short}.json");
    directories::ProjectDirs::from("", "", "wxc-preflight")
        .map_or_else(|| PathBuf::from(&file), |dirs| dirs.data_dir().join(&file))
}

/// The tokens of one interface.
#[derive(Debug, Clone)]
pub struct StoredTokens {
    pub client_id: String,
    pub access_token: Secret,
    pub access_expires_at: Option<jiff::Timestamp>,
    pub access_obtained_at: jiff::Timestamp,
    pub refresh_token: Option<Secret>,
    pub refresh_expires_at: Option<jiff::Timestamp>,
    pub refresh_obtained_at: Option<jiff::Timestamp>,
    /// The granted scope string, split; `None` when never given.
    pub scope: Option<Vec<String>>,
    pub identity: Option<Identity>,
}

impl StoredTokens {
    /// The store content after a login.
    #[must_use]
    pub fn from_login(client_id: &str, tokens: Tokens) -> Self {
        Self {
            client_id: client_id.to_owned(),
            access_token: tokens.access_token,
            access_expires_at: tokens.access_expires_at,
            access_obtained_at: tokens.obtained_at,
            refresh_obtained_at: tokens.refresh_token.as_ref().map(|_| tokens.obtained_at),
            refresh_token: tokens.refresh_token,
            refresh_expires_at: tokens.refresh_expires_at,
            scope: tokens.scope,
            identity: None,
        }
    }

    /// The store content after a refresh: a refresh response without a
    /// refresh token (or without a scope string) keeps the previous one.
    #[must_use]
    pub fn refreshed(&self, tokens: Tokens) -> Self {
        let rotated = tokens.refresh_token.is_some();
        Self {
            client_id: self.client_id.clone(),
            access_token: tokens.access_token,
            access_expires_at: tokens.access_expires_at,
            access_obtained_at: tokens.obtained_at,
            refresh_token: tokens.refresh_token.or_else(|| self.refresh_token.clone()),
            refresh_expires_at: if rotated {
                tokens.refresh_expires_at
            } else {
                self.refresh_expires_at
            },
            refresh_obtained_at: if rotated {
                Some(tokens.obtained_at)
            } else {
                self.refresh_obtained_at
            },
            scope: tokens.scope.or_else(|| self.scope.clone()),
            identity: self.identity.clone(),
        }
    }

    /// Time left on the access token at `now` (negative once expired).
    #[must_use]
    pub fn access_left(&self, now: jiff::Timestamp) -> Option<jiff::SignedDuration> {
        self.access_expires_at.map(|at| at.duration_since(now))
    }

    /// Time left on the refresh token at `now`.
    #[must_use]
    pub fn refresh_left(&self, now: jiff::Timestamp) -> Option<jiff::SignedDuration> {
        self.refresh_expires_at.map(|at| at.duration_since(now))
    }

    /// The fact the `token` check hands on.
    #[must_use]
    pub fn access(&self) -> super::AccessToken {
        super::AccessToken {
            token: self.access_token.clone(),
            expires_at: self.access_expires_at,
            granted_scopes: self.scope.clone(),
        }
    }

    fn same_refresh(&self, other: &Self) -> bool {
        match (&self.refresh_token, &other.refresh_token) {
            (Some(a), Some(b)) => a.expose() == b.expose(),
            (None, None) => true,
            _ => false,
        }
    }
}

/// The file as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u32,
    client_id: String,
    access_token: String,
    access_expires_at: Option<jiff::Timestamp>,
    access_obtained_at: jiff::Timestamp,
    refresh_token: Option<String>,
    refresh_expires_at: Option<jiff::Timestamp>,
    refresh_obtained_at: Option<jiff::Timestamp>,
    scope: Option<String>,
    identity: Option<Identity>,
}

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but cannot be read or parsed.
    #[error("token store {path} cannot be used: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The file (or its lock) cannot be written.
    #[error(
        "token store {path} cannot be written: {reason}\ncheck that the directory exists and is writable by this account"
    )]
    Write { path: PathBuf, reason: String },
}

/// The token store of one interface.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

/// An exclusive lock on the store; released when dropped (or when the
/// process dies: the lock belongs to the open file).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl TokenStore {
    /// The store at `path`.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the store lives.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    /// The stored tokens; `None` when there is no store.
    pub fn load(&self) -> Result<Option<StoredTokens>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(corrupt(e.to_string())),
        };
        // serde_json's messages quote no input, so no token can leak here.
        let file: StoreFile = serde_json::from_slice(&bytes).map_err(|e| {
            corrupt(format!(
                "{} bytes that are not a token store ({e})",
                bytes.len()
            ))
        })?;
        if file.version != VERSION {
            return Err(corrupt(format!(
                "format version {} is not the supported {VERSION}",
                file.version
            )));
        }
        if file.access_token.is_empty() {
            return Err(corrupt("the access token is empty".to_owned()));
        }
        Ok(Some(StoredTokens {
            client_id: file.client_id,
            access_token: Secret::new(file.access_token),
            access_expires_at: file.access_expires_at,
            access_obtained_at: file.access_obtained_at,
            refresh_token: file
                .refresh_token
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            refresh_expires_at: file.refresh_expires_at,
            refresh_obtained_at: file.refresh_obtained_at,
            scope: file.scope.as_deref().map(super::profile::split),
            identity: file.identity,
        }))
    }

    /// Writes the store atomically with mode 0600. Call with the lock held
    /// ([`Self::lock_async`]): it also removes temporary files that a
    /// killed writer left.
    pub fn save(&self, tokens: &StoredTokens) -> Result<(), StoreError> {
        let write_error = |e: &dyn std::fmt::Display| StoreError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let file = StoreFile {
            version: VERSION,
            client_id: tokens.client_id.clone(),
            access_token: tokens.access_token.expose().to_owned(),
            access_expires_at: tokens.access_expires_at,
            access_obtained_at: tokens.access_obtained_at,
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            refresh_expires_at: tokens.refresh_expires_at,
            refresh_obtained_at: tokens.refresh_obtained_at,
            scope: tokens.scope.as_ref().map(|s| s.join(" ")),
            identity: tokens.identity.clone(),
        };
        let text = serde_json::to_string_pretty(&file).map_err(|e| write_error(&e))?;
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|e| write_error(&e))?;
        self.remove_stale_temporaries();
        // tempfile creates the file with mode 0600 on Unix.
        let mut temp = tempfile::Builder::new()
            .prefix(".wxc-tokens-")
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| write_error(&e))?;
        temp.write_all(text.as_bytes())
            .map_err(|e| write_error(&e))?;
        temp.as_file().sync_all().map_err(|e| write_error(&e))?;
        crash_point("temp-written");
        temp.persist(&self.path)
            .map_err(|e| write_error(&e.error))?;
        // The rename is durable only once the directory is synced.
        if let Ok(dir) = File::open(&dir) {
            let _ = dir.sync_all();
        }
        crash_point("renamed");
        Ok(())
    }

    /// Deletes the store; `false` when there was none.
    pub fn delete(&self) -> Result<bool, StoreError> {
        let _lock = self.lock()?;
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::Write {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
        }
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Takes the exclusive lock, waiting for another process to release it.
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        let path = self.lock_path();
        let error = |e: std::io::Error| StoreError::Write {
            path: path.clone(),
            reason: e.to_string(),
        };
        fs::create_dir_all(self.dir()).map_err(error)?;
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(error)?;
        file.lock().map_err(error)?;
        Ok(StoreLock { _file: file })
    }

    /// Takes the exclusive lock without blocking a runtime thread: tries,
    /// and sleeps a little between tries, for at most `LOCK_WAIT` (a process
    /// that holds it longer is stuck; its lock dies with it).
    pub async fn lock_async(&self) -> Result<StoreLock, StoreError> {
        let path = self.lock_path();
        let error = |reason: String| StoreError::Write {
            path: path.clone(),
            reason,
        };
        fs::create_dir_all(self.dir()).map_err(|e| error(e.to_string()))?;
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|e| error(e.to_string()))?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(StoreLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(error(format!(
                        "another process has held the lock for {}s\n                         find it with `fuser {}` and let it finish, or stop it",
                        LOCK_WAIT.as_secs(),
                        path.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(error(e.to_string())),
            }
        }
    }

    /// Removes temporary files a process killed mid-write left behind
    /// (they hold tokens). Call with the lock held.
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(self.dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".wxc-tokens-") && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// How long a process waits for another one's refresh.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// When to refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshPolicy {
    /// Only when the access token has less than 5 minutes left.
    WhenNeeded,
    /// Now (`auth refresh`), unless another process just did.
    Now,
}

/// Less than this left on the access token: refresh (DESIGN section 6).
pub const REFRESH_MARGIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(300);

/// What [`fresh_tokens`] did.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub tokens: StoredTokens,
    /// Whether this process refreshed (false: not needed, or another
    /// process had just refreshed).
    pub refreshed_here: bool,
    /// Whether another process refreshed while this one waited.
    pub refreshed_elsewhere: bool,
}

/// Why [`fresh_tokens`] could not produce tokens.
#[derive(Debug)]
pub enum RefreshError {
    /// No store.
    Missing,
    /// The store cannot be read or written.
    Store(StoreError),
    /// No refresh token is stored.
    NoRefreshToken(StoredTokens),
    /// The stored refresh token expired before we asked.
    RefreshExpired(StoredTokens),
    /// The token endpoint refused.
    Failed(StoredTokens, super::oauth::TokenFailure),
    /// The settings cannot make a token request.
    Settings(String),
}

/// Returns usable tokens from the store, refreshing under the lock when the
/// policy asks for it. Exactly one of several concurrent processes reaches
/// the token endpoint; the others read its result.
pub async fn fresh_tokens(
    settings: &super::AuthSettings,
    http: &reqwest::Client,
    store: &TokenStore,
    policy: RefreshPolicy,
) -> Result<Fresh, RefreshError> {
    let seen = store
        .load()
        .map_err(RefreshError::Store)?
        .ok_or(RefreshError::Missing)?;
    let now = jiff::Timestamp::now();
    let needed = |t: &StoredTokens| t.access_left(now).is_none_or(|left| left < REFRESH_MARGIN);
    if policy == RefreshPolicy::WhenNeeded && !needed(&seen) {
        return Ok(Fresh {
            tokens: seen,
            refreshed_here: false,
            refreshed_elsewhere: false,
        });
    }

    let _lock = store.lock_async().await.map_err(RefreshError::Store)?;
    crash_point("locked");
    let current = store
        .load()
        .map_err(RefreshError::Store)?
        .ok_or(RefreshError::Missing)?;
    let elsewhere =
        !current.same_refresh(&seen) || current.access_obtained_at != seen.access_obtained_at;
    if elsewhere && (policy == RefreshPolicy::Now || !needed(&current)) {
        tracing::info!("another process refreshed the tokens meanwhile; using its result");
        return Ok(Fresh {
            tokens: current,
            refreshed_here: false,
            refreshed_elsewhere: true,
        });
    }
    let Some(refresh_token) = current.refresh_token.clone() else {
        return Err(RefreshError::NoRefreshToken(current));
    };
    if current
        .refresh_left(now)
        .is_some_and(|left| left.is_zero() || left.is_negative())
    {
        return Err(RefreshError::RefreshExpired(current));
    }

    let client = super::oauth::client(settings).map_err(RefreshError::Settings)?;
    let adapter = super::oauth::Http::new(http);
    let started = std::time::Instant::now();
    let answer = client
        .exchange_refresh_token(&oauth2::RefreshToken::new(
            refresh_token.expose().to_owned(),
        ))
        .request_async(&adapter)
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            let failure = super::oauth::TokenFailure::from_oauth(&e, &adapter.last());
            tracing::debug!(failure = %failure, "refresh failed");
            return Err(RefreshError::Failed(current, failure));
        }
    };
    crash_point("answered");
    let tokens = current.refreshed(Tokens::from_response(&response, jiff::Timestamp::now()));
    store.save(&tokens).map_err(RefreshError::Store)?;
    tracing::info!(
        ms = started.elapsed().as_millis(),
        access = %tokens.access_token.hint(),
        "refreshed the tokens and stored the rotated refresh token"
    );
    Ok(Fresh {
        tokens,
        refreshed_here: true,
        refreshed_elsewhere: false,
    })
}

/// A crash-test hook: when `WXC_PREFLIGHT_CRASH_AT` names this step, the
/// process aborts here, as a `kill -9` would stop it. The integration tests
/// use it to prove that no step of a refresh leaves the store unusable.
/// Steps: `locked`, `answered`, `temp-written`, `renamed`.
pub fn crash_point(step: &str) {
    if std::env::var(CRASH_AT_ENV).is_ok_and(|at| at == step) {
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredTokens {
        let now = jiff::Timestamp::now();
        StoredTokens {
            client_id: "C1".into(),
            access_token: Secret::new("access-token-value-1234"),
            access_expires_at: Some(now + jiff::SignedDuration::from_secs(3600)),
            access_obtained_at: now,
            refresh_token: Some(Secret::new("refresh-token-value-5678")),
            refresh_expires_at: Some(now + jiff::SignedDuration::from_secs(7200)),
            refresh_obtained_at: Some(now),
            scope: Some(vec!["a:b".into(), "c:d".into()]),
            identity: None,
        }
    }

    #[test]
    fn save_and_load_round_trip_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("sub/tokens.json"));
        assert!(store.load().unwrap().is_none());
        store.save(&sample()).unwrap();
        let back = store.load().unwrap().unwrap();
        assert_eq!(back.access_token.expose(), "access-token-value-1234");
        assert_eq!(back.scope, sample().scope);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(store.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the store is left in the directory: no temporary file.
        assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
        assert!(store.delete().unwrap());
        assert!(!store.delete().unwrap());
    }

    #[test]
    fn truncated_or_foreign_content_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("tokens.json"));
        store.save(&sample()).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        for bad in [
            &text[..text.len() / 2],
            "",
            "null",
            "{\"version\":9}",
            "\u{0}\u{1}",
        ] {
            fs::write(store.path(), bad).unwrap();
            let error = store.load().unwrap_err();
            let message = error.to_string();
            assert!(message.contains("cannot be used"), "{message}");
            assert!(!message.contains("access-token-value"), "{message}");
        }
    }

    #[test]
    fn a_refresh_without_a_refresh_token_keeps_the_old_one() {
        let old = sample();
        let tokens = Tokens {
            access_token: Secret::new("new-access-token-0000"),
            access_expires_at: None,
            refresh_token: None,
            refresh_expires_at: None,
            scope: None,
            obtained_at: jiff::Timestamp::now(),
        };
        let new = old.refreshed(tokens);
        assert_eq!(
            new.refresh_token.unwrap().expose(),
            "refresh-token-value-5678"
        );
        assert_eq!(new.refresh_expires_at, old.refresh_expires_at);
        assert_eq!(new.scope, old.scope);
    }

    #[test]
    fn the_debug_form_hides_the_tokens() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("token-value"), "{text}");
    }
}
