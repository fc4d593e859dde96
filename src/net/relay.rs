//! The loopback relay: how all of the tool's traffic reaches the internet
//! through a proxy, whatever its authentication.
//!
//! reqwest can only send a fixed `Proxy-Authorization` with CONNECT, which
//! cannot answer a Digest challenge (each connection needs an answer to a
//! fresh nonce). So reqwest is pointed at this relay instead: a listener on
//! `127.0.0.1` on a random port that accepts CONNECT only with the run's
//! random token (sent by reqwest as Basic proxy credentials), opens the
//! tunnel upstream with the handshake of [`super::proxy_probe`] (none,
//! Basic, or Digest answering a fresh challenge, stale nonces answered
//! again), replies `200`, and copies bytes both ways. TLS stays end to end
//! between reqwest and the origin. The relay stops when its handle drops.

use std::fmt;
use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::Authority;
use super::auth::{self, Credentials};
use super::head::{self, RequestHead};
use super::proxy_probe::{self, ProxyProbe, Style};
use super::resolver::Resolver;
use super::settings::ProxySettings;
use super::tls::TlsTrust;

/// The user name reqwest presents to the relay; the token is the password.
const RELAY_USER: &str = "wxc-preflight";

/// How long a client may take to send its CONNECT head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

struct Context {
    upstream: ProxySettings,
    resolver: Resolver,
    trust: TlsTrust,
    deadline: Duration,
    expected: SecretString,
    last_failure: Mutex<Option<ProxyProbe>>,
}

/// A running relay. Dropping it stops the listener and every tunnel.
pub struct Relay {
    addr: SocketAddr,
    token: SecretString,
    context: Arc<Context>,
    task: JoinHandle<()>,
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .field("upstream", &self.context.upstream)
            .field("token", &"(redacted)")
            .finish_non_exhaustive()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Relay {
    /// Starts a relay to the upstream proxy on `127.0.0.1` and a random
    /// port. Each upstream handshake ends within `deadline`.
    pub async fn start(
        upstream: ProxySettings,
        resolver: Resolver,
        trust: TlsTrust,
        deadline: Duration,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let token = random_token()?;
        let expected = auth::basic_answer(&Credentials {
            username: RELAY_USER.to_owned(),
            password: token.clone(),
        });
        let context = Arc::new(Context {
            upstream,
            resolver,
            trust,
            deadline,
            expected,
            last_failure: Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(listener, context.clone()));
        tracing::debug!(%addr, upstream = ?context.upstream, "relay started");
        Ok(Self {
            addr,
            token,
            context,
            task,
        })
    }

    /// The relay's loopback address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The reqwest proxy that goes through this relay with its token.
    pub fn reqwest_proxy(&self) -> reqwest::Result<reqwest::Proxy> {
        Ok(reqwest::Proxy::all(format!("http://{}", self.addr))?
            .basic_auth(RELAY_USER, self.token.expose_secret()))
    }

    /// The facts of the last upstream handshake that failed, so a caller
    /// whose request failed can tell why the proxy refused.
    #[must_use]
    pub fn last_failure(&self) -> Option<ProxyProbe> {
        self.context
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn random_token() -> io::Result<SecretString> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    let hex = bytes.iter().fold(String::with_capacity(48), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok(SecretString::from(hex))
}

async fn accept_loop(listener: TcpListener, context: Arc<Context>) {
    let mut tunnels = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracing::trace!(%peer, "relay connection");
                    tunnels.spawn(serve(stream, context.clone()));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "relay accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tunnels.join_next(), if !tunnels.is_empty() => {}
        }
    }
}

/// Serves one client connection: one CONNECT, then the tunnel.
async fn serve(stream: TcpStream, context: Arc<Context>) {
    let mut client = BufReader::new(stream);
    let Ok(Ok(head)) =
        tokio::time::timeout(HEAD_TIMEOUT, head::read_request_head(&mut client)).await
    else {
        return;
    };
    if !head.method.eq_ignore_ascii_case("CONNECT") {
        let _ = reply(
            &mut client,
            405,
            "Method Not Allowed",
            "the relay carries connect only",
        )
        .await;
        return;
    }
    if !token_matches(&head, &context.expected) {
        tracing::debug!("relay refused a connect without the run's token");
        let _ = reply(
            &mut client,
            407,
            "Proxy Authentication Required",
            "wrong relay token",
        )
        .await;
        return;
    }
    let Some(target) = parse_authority(&head.target) else {
        let _ = reply(
            &mut client,
            400,
            "Bad Request",
            "connect target is not host:port",
        )
        .await;
        return;
    };

    let (probe, tunnel) = proxy_probe::handshake(
        &context.upstream,
        &context.resolver,
        &context.trust,
        &target,
        context.deadline,
        Style::Tunnel,
    )
    .await;
    let Some(mut upstream) = tunnel else {
        let (code, reason) = relay_status(&probe);
        let text = probe
            .failure
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        *context
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(probe);
        let _ = reply(&mut client, code, reason, &text).await;
        return;
    };
    if client
        .get_mut()
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        Ok((up, down)) => tracing::trace!(%target, up, down, "tunnel closed"),
        Err(e) => tracing::trace!(%target, error = %e, "tunnel ended"),
    }
}

/// The status the relay gives reqwest for a failed upstream handshake: the
/// proxy's own refusal where there was one, 502 or 504 otherwise.
fn relay_status(probe: &ProxyProbe) -> (u16, &'static str) {
    use super::proxy_probe::ProxyFailure as F;
    match &probe.failure {
        Some(F::AuthRejected { .. } | F::AuthRequired { .. } | F::AuthSchemeMismatch { .. }) => {
            (407, "Proxy Authentication Required")
        }
        Some(F::DomainBlocked { .. }) => (403, "Forbidden"),
        Some(F::Timeout { .. }) => (504, "Gateway Timeout"),
        _ => (502, "Bad Gateway"),
    }
}

async fn reply(
    client: &mut BufReader<TcpStream>,
    code: u16,
    reason: &str,
    text: &str,
) -> io::Result<()> {
    let msg = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    );
    client.get_mut().write_all(msg.as_bytes()).await?;
    client.get_mut().shutdown().await
}

fn token_matches(head: &RequestHead, expected: &SecretString) -> bool {
    let Some(got) = head.header("proxy-authorization") else {
        return false;
    };
    let want = expected.expose_secret().as_bytes();
    let got = got.as_bytes();
    got.len() == want.len() && got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// `host:port` or `[v6]:port`.
fn parse_authority(target: &str) -> Option<Authority> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some(Authority::new(host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(
            parse_authority("webexapis.com:443"),
            Some(Authority::new("webexapis.com", 443))
        );
        assert_eq!(
            parse_authority("[::1]:8443"),
            Some(Authority::new("::1", 8443))
        );
        assert_eq!(parse_authority("nohost"), None);
        assert_eq!(parse_authority(":443"), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        let expected = SecretString::from("Basic abc");
        let head = |v: &str| RequestHead {
            method: "CONNECT".into(),
            target: "h:443".into(),
            headers: vec![("Proxy-Authorization".into(), v.into())],
        };
        assert!(token_matches(&head("Basic abc"), &expected));
        assert!(!token_matches(&head("Basic abd"), &expected));
        assert!(!token_matches(&head("Basic ab"), &expected));
    }
}
