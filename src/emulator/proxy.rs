//! The emulated corporate forward proxy: HTTP CONNECT with no auth, Basic or
//! Digest (MD5, qop=auth, nonce counting, stale nonces) and a host allow-list.
//!
//! It is written on plain tokio rather than an HTTP library so every byte of
//! the 407 handshake is under control, as a real proxy's would be. A
//! connection may carry several requests (a client answers a 407 on the same
//! connection); the first allowed CONNECT turns it into a blind tunnel.
//! `webexapis.com` and `idbroker.webex.com` are served from the emulator
//! itself, so a tool that insists on those hosts finds them behind the proxy.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use md5::{Digest as _, Md5};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::faults::ProxyAuthMode;
use super::state::{Counters, Shared, hex, random_hex};

/// The realm of both challenges.
pub const REALM: &str = "wxc-emulator";
/// How long a Digest nonce is fresh.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// The longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Names the proxy sends to the emulator's own HTTPS server.
const EMULATED_HOSTS: &[&str] = &["webexapis.com", "idbroker.webex.com"];

/// The proxy's fixed settings.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Schemes offered; empty means no authentication.
    pub offers: Vec<ProxyAuthMode>,
    /// The one user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Hosts CONNECT may reach, besides the emulated ones.
    pub allowed_hosts: Vec<String>,
    /// CONNECT to the emulator (by any name) is refused.
    pub block_api: bool,
    /// The emulator's HTTPS address.
    pub emulator: SocketAddr,
}

#[derive(Debug)]
struct NonceState {
    issued: Instant,
    last_nc: u32,
}

/// A running proxy's state.
#[derive(Debug)]
pub struct Proxy {
    settings: ProxySettings,
    nonces: Mutex<HashMap<String, NonceState>>,
    shared: Arc<Shared>,
}

impl Proxy {
    /// A proxy with `settings`, counting into `shared`'s counters.
    #[must_use]
    pub fn new(settings: ProxySettings, shared: Arc<Shared>) -> Self {
        Proxy {
            settings,
            nonces: Mutex::new(HashMap::new()),
            shared,
        }
    }

    fn nonces(&self) -> std::sync::MutexGuard<'_, HashMap<String, NonceState>> {
        self.nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_nonce(&self) -> String {
        let nonce = random_hex(16);
        let mut nonces = self.nonces();
        nonces.retain(|_, n| n.issued.elapsed() < NONCE_LIFETIME * 2);
        nonces.insert(
            nonce.clone(),
            NonceState {
                issued: Instant::now(),
                last_nc: 0,
            },
        );
        nonce
    }
}

/// Accepts connections until `cancel` fires.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, cancel: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let proxy = Arc::clone(&proxy);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                result = handle(stream, &proxy) => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "proxy connection ended");
                    }
                }
            }
        });
    }
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request head; `Ok(None)` at a clean end of stream.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<Option<Head>> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buffer.drain(..end + 4).collect();
            let text = String::from_utf8_lossy(&head);
            let mut lines = text.split("\r\n");
            let mut first = lines.next().unwrap_or_default().split_whitespace();
            let method = first.next().unwrap_or_default().to_owned();
            let target = first.next().unwrap_or_default().to_owned();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .collect();
            return Ok(Some(Head {
                method,
                target,
                headers,
            }));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// Writes a complete response with a text body.
async fn respond(
    stream: &mut TcpStream,
    status: &str,
    extra: &[String],
    body: &str,
) -> std::io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\nServer: wxc-emulator-proxy\r\n");
    for header in extra {
        text.push_str(header);
        text.push_str("\r\n");
    }
    let _ = write!(
        text,
        "Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).await
}

async fn handle(mut stream: TcpStream, proxy: &Proxy) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(head) = read_head(&mut stream, &mut buffer).await? {
        // A body on a proxy request (not expected on CONNECT) is read and dropped.
        let length: usize = head
            .header("content-length")
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buffer.len() < length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        buffer.drain(..length);

        let verdict = check_auth(proxy, &head);
        if let Err(challenges) = verdict {
            Counters::bump(&proxy.shared.counters.proxy_challenges);
            tracing::debug!(method = %head.method, target = %head.target, status = 407, "emulator proxy");
            respond(
                &mut stream,
                "407 Proxy Authentication Required",
                &challenges,
                "proxy authentication required\n",
            )
            .await?;
            continue;
        }
        if !head.method.eq_ignore_ascii_case("CONNECT") {
            tracing::debug!(method = %head.method, status = 501, "emulator proxy");
            respond(
                &mut stream,
                "501 Not Implemented",
                &[],
                "this proxy only tunnels (CONNECT)\n",
            )
            .await?;
            continue;
        }
        let Some((host, port)) = split_authority(&head.target) else {
            respond(
                &mut stream,
                "400 Bad Request",
                &[],
                "CONNECT needs host:port\n",
            )
            .await?;
            return Ok(());
        };
        let Some(upstream) = destination(&proxy.settings, &host, port) else {
            tracing::debug!(target = %head.target, status = 403, "emulator proxy");
            respond(
                &mut stream,
                "403 Forbidden",
                &["X-Proxy-Error: host-not-allowed".to_owned()],
                &format!("access to {host} is denied by policy\n"),
            )
            .await?;
            continue;
        };
        let connected =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(upstream)).await;
        let Ok(Ok(mut upstream)) = connected else {
            tracing::debug!(target = %head.target, status = 502, "emulator proxy");
            respond(
                &mut stream,
                "502 Bad Gateway",
                &[],
                "could not reach the host\n",
            )
            .await?;
            continue;
        };
        let _ = upstream.set_nodelay(true);
        Counters::bump(&proxy.shared.counters.proxy_tunnels);
        tracing::debug!(target = %head.target, status = 200, "emulator proxy");
        stream
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        if !buffer.is_empty() {
            upstream.write_all(&buffer).await?;
        }
        tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
        return Ok(());
    }
    Ok(())
}

/// Splits `host:port` (IPv6 in brackets).
fn split_authority(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = port.parse().ok()?;
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// Where an allowed CONNECT goes, or `None` when the allow-list refuses it.
fn destination(settings: &ProxySettings, host: &str, port: u16) -> Option<SocketAddr> {
    if settings.block_api {
        return None;
    }
    if EMULATED_HOSTS.contains(&host) {
        return Some(settings.emulator);
    }
    if !settings.allowed_hosts.iter().any(|h| h == host) {
        return None;
    }
    let ip = if host == "localhost" {
        settings.emulator.ip()
    } else {
        host.parse().ok()?
    };
    Some(SocketAddr::new(ip, port))
}

/// Checks the request's credentials; on failure returns the challenge headers.
fn check_auth(proxy: &Proxy, head: &Head) -> Result<(), Vec<String>> {
    let settings = &proxy.settings;
    if settings.offers.is_empty() {
        return Ok(());
    }
    let mut stale = false;
    for value in head.header("proxy-authorization") {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") && settings.offers.contains(&ProxyAuthMode::Basic) {
            if basic_matches(settings, rest) {
                return Ok(());
            }
        } else if scheme.eq_ignore_ascii_case("digest")
            && settings.offers.contains(&ProxyAuthMode::Digest)
        {
            match check_digest(proxy, &head.method, &head.target, rest) {
                DigestOutcome::Valid => return Ok(()),
                DigestOutcome::Stale => stale = true,
                DigestOutcome::Invalid => {}
            }
        }
    }
    Err(challenges(proxy, stale))
}

fn challenges(proxy: &Proxy, stale: bool) -> Vec<String> {
    proxy
        .settings
        .offers
        .iter()
        .filter_map(|mode| match mode {
            ProxyAuthMode::None => None,
            ProxyAuthMode::Basic => Some(format!("Proxy-Authenticate: Basic realm=\"{REALM}\"")),
            ProxyAuthMode::Digest => Some(format!(
                "Proxy-Authenticate: Digest realm=\"{REALM}\", nonce=\"{}\", qop=\"auth\", \
                 algorithm=MD5, stale={stale}",
                proxy.new_nonce()
            )),
        })
        .collect()
}

fn basic_matches(settings: &ProxySettings, encoded: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .is_some_and(|pair| pair == format!("{}:{}", settings.username, settings.password))
}

#[derive(Debug, PartialEq, Eq)]
enum DigestOutcome {
    Valid,
    /// The credentials are right but the nonce is unknown, expired or replayed.
    Stale,
    Invalid,
}

/// Parses `k=v, k="v"` pairs of a Digest credentials header.
fn digest_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..end].to_owned(),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.insert(key, value);
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    params
}

fn md5_hex(text: &str) -> String {
    hex(&Md5::digest(text.as_bytes()))
}

fn check_digest(proxy: &Proxy, method: &str, target: &str, text: &str) -> DigestOutcome {
    let settings = &proxy.settings;
    let p = digest_params(text);
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    if get("username") != settings.username
        || get("realm") != REALM
        || get("uri") != target
        || !matches!(
            p.get("algorithm").map(String::as_str),
            None | Some("MD5" | "md5")
        )
    {
        return DigestOutcome::Invalid;
    }
    let ha1 = md5_hex(&format!(
        "{}:{REALM}:{}",
        settings.username, settings.password
    ));
    let ha2 = md5_hex(&format!("{method}:{target}"));
    let nonce = get("nonce");
    let (expected, nc) = match p.get("qop").map(String::as_str) {
        Some("auth") => {
            let Ok(nc) = u32::from_str_radix(get("nc"), 16) else {
                return DigestOutcome::Invalid;
            };
            let expected = md5_hex(&format!(
                "{ha1}:{nonce}:{}:{}:auth:{ha2}",
                get("nc"),
                get("cnonce")
            ));
            (expected, Some(nc))
        }
        None => (md5_hex(&format!("{ha1}:{nonce}:{ha2}")), None),
        Some(_) => return DigestOutcome::Invalid,
    };
    if !expected.eq_ignore_ascii_case(get("response")) {
        return DigestOutcome::Invalid;
    }
    let mut nonces = proxy.nonces();
    let Some(state) = nonces.get_mut(nonce) else {
        return DigestOutcome::Stale;
    };
    if state.issued.elapsed() >= NONCE_LIFETIME {
        nonces.remove(nonce);
        return DigestOutcome::Stale;
    }
    match nc {
        Some(nc) if nc > state.last_nc => {
            state.last_nc = nc;
            DigestOutcome::Valid
        }
        Some(_) => DigestOutcome::Stale,
        // Without qop there is no counter: the nonce is good for one request.
        None => {
            nonces.remove(nonce);
            DigestOutcome::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::faults::Behaviour;
    use crate::emulator::state::{Directory, Integration, Urls, World};

    fn proxy(offers: Vec<ProxyAuthMode>) -> Proxy {
        let behaviour = Behaviour::healthy(ProxyAuthMode::None);
        let shared = Arc::new(Shared {
            directory: Directory::build(&behaviour),
            behaviour,
            integration: Integration {
                client_id: String::new(),
                client_secret: String::new(),
                redirect_uri: String::new(),
                scopes: Vec::new(),
            },
            urls: Urls {
                origin: String::new(),
                api_base: String::new(),
                xsi_actions: String::new(),
            },
            world: std::sync::Mutex::new(World::new(Duration::from_secs(1))),
            counters: Counters::default(),
        });
        Proxy::new(
            ProxySettings {
                offers,
                username: "harness".to_owned(),
                password: "s3cret".to_owned(),
                allowed_hosts: vec!["127.0.0.1".to_owned()],
                block_api: false,
                emulator: "127.0.0.1:9".parse().unwrap(),
            },
            shared,
        )
    }

    fn digest_header(nonce: &str, nc: &str, password: &str) -> String {
        let ha1 = md5_hex(&format!("harness:{REALM}:{password}"));
        let ha2 = md5_hex("CONNECT:127.0.0.1:443");
        let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}"));
        format!(
            "username=\"harness\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"127.0.0.1:443\", \
             cnonce=\"abc\", nc={nc}, qop=auth, response=\"{response}\""
        )
    }

    #[test]
    fn digest_counts_nonces_and_goes_stale() {
        let p = proxy(vec![ProxyAuthMode::Digest]);
        let nonce = p.new_nonce();
        let check = |nc: &str, pw: &str| {
            check_digest(
                &p,
                "CONNECT",
                "127.0.0.1:443",
                &digest_header(&nonce, nc, pw),
            )
        };
        assert_eq!(check("00000001", "s3cret"), DigestOutcome::Valid);
        assert_eq!(check("00000002", "s3cret"), DigestOutcome::Valid);
        assert_eq!(
            check("00000002", "s3cret"),
            DigestOutcome::Stale,
            "replayed nc"
        );
        assert_eq!(check("00000003", "wrong"), DigestOutcome::Invalid);
        let unknown = check_digest(
            &p,
            "CONNECT",
            "127.0.0.1:443",
            &digest_header("feedface", "00000001", "s3cret"),
        );
        assert_eq!(unknown, DigestOutcome::Stale);
    }

    #[test]
    fn digest_params_handle_quotes_and_commas() {
        let p = digest_params(r#"username="a,b", nc=00000001, qop=auth,response="x""#);
        assert_eq!(p["username"], "a,b");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["response"], "x");
    }

    #[test]
    fn allow_list_and_emulated_hosts() {
        let p = proxy(Vec::new());
        let s = &p.settings;
        assert_eq!(
            destination(s, "127.0.0.1", 443),
            Some("127.0.0.1:443".parse().unwrap())
        );
        assert_eq!(destination(s, "webexapis.com", 443), Some(s.emulator));
        assert_eq!(destination(s, "example.org", 443), None);
        assert_eq!(
            split_authority("[::1]:8443"),
            Some(("::1".to_owned(), 8443))
        );
        assert_eq!(split_authority("nohost"), None);
    }
}
