//! Real peers on loopback for the network tests, each started by the test
//! that uses it and stopped when its guard drops: Squid (no auth, Basic,
//! Digest, both, an ACL), a DNS server on hickory-proto, TLS origins signed
//! by a test CA, a port with nothing listening, and a listener that accepts
//! and never answers. A few small in-process peers stand in for what no
//! Debian package gives cheaply: a SOCKS greeting, a web server that is not
//! a proxy, and a proxy that declares a Digest nonce stale.
//!
//! Everything binds 127.0.0.1 (or `::1`); nothing here asks the machine's
//! DNS servers anything.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use url::Url;
use wxc_preflight::net::{
    DnsSettings, ProxyAuthMode, ProxySettings, Resolver, TlsSettings, TlsTrust,
};

/// The user and password every authenticating Squid knows.
pub const USER: &str = "alice";
/// Alice's password.
pub const PASSWORD: &str = "s3cret";

/// Aborts a spawned peer task when dropped.
struct TaskGuard(JoinHandle<()>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---------------------------------------------------------------- TLS CA

/// A test certificate authority (rcgen, ring), its root written as PEM.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
    /// The root's subject, as the tool renders it.
    pub subject: String,
}

impl TestCa {
    /// A new CA named `cn`.
    pub fn new(cn: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
        Self {
            issuer,
            dir,
            subject: format!("CN={cn}"),
        }
    }

    /// The root certificate's PEM file.
    pub fn pem_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for these names, signed by this CA.
    pub fn leaf(&self, names: &[&str]) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "rig origin");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }

    /// The tool's trust store with this CA's root and no system roots.
    pub fn trust(&self) -> TlsTrust {
        TlsTrust::load(&TlsSettings {
            ca_file: Some(self.pem_path()),
            without_system_roots: true,
        })
        .unwrap()
    }
}

// ---------------------------------------------------------------- TLS origin

/// An HTTPS origin: TLS with a leaf of the given CA, then one HTTP/1.1
/// response per connection with a `Date` header (shifted on request).
pub struct TlsOrigin {
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    _task: TaskGuard,
}

/// The names on every origin certificate.
pub const ORIGIN_NAMES: &[&str] = &[
    "origin.test",
    "origin.localhost",
    "localhost",
    "127.0.0.1",
    "::1",
];

impl TlsOrigin {
    /// Starts an origin whose certificate `ca` signed, its clock shifted by
    /// `date_offset_secs`.
    pub async fn start(ca: &TestCa, date_offset_secs: i64) -> Self {
        wxc_preflight::net::install_crypto_provider();
        let (chain, key) = ca.leaf(ORIGIN_NAMES);
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let accept = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp));
                    let Ok(Ok(mut tls)) = accept.await else {
                        return;
                    };
                    let Some(head) = read_head(&mut tls).await else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let is_head = head.starts_with("HEAD ");
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let body = format!("hello from origin, path {path}\n");
                    let date =
                        jiff::Timestamp::now() + jiff::SignedDuration::from_secs(date_offset_secs);
                    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
                        .timestamp_to_rfc9110_string(&date)
                        .unwrap();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nDate: {date}\r\nServer: rig-origin\r\n\
                         Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                        body.len(),
                        if is_head { "" } else { body.as_str() }
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self {
            addr,
            hits,
            _task: TaskGuard(task),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// How many requests it answered.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Reads a request head (up to the blank line) as text.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte))
            .await
            .ok()?
            .ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

// ---------------------------------------------------------------- DNS

/// A DNS server on 127.0.0.1 (UDP) answering by the name's first label:
/// `silent` never answers, `nx` NXDOMAIN, `servfail` SERVFAIL, `refused`
/// REFUSED, `nodata` NOERROR without records, `v4only` an A record only,
/// `_xsi-client` two SRV records, anything else A 127.0.0.1 and AAAA `::1`.
pub struct DnsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    _task: TaskGuard,
}

impl DnsServer {
    /// Starts the answering server.
    pub async fn start() -> Self {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                if let Some(resp) = answer(&req) {
                    let _ = socket.send_to(&resp.to_vec().unwrap(), peer).await;
                }
            }
        });
        Self {
            addr,
            queries,
            _task: TaskGuard(task),
        }
    }

    /// A server that binds its port and never answers anything.
    pub async fn silent() -> Self {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while socket.recv_from(&mut buf).await.is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            addr,
            queries,
            _task: TaskGuard(task),
        }
    }

    /// How many queries arrived.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

fn answer(req: &Message) -> Option<Message> {
    let q = req.queries.first()?;
    let name = q.name.to_string().to_lowercase();
    let first = name.split('.').next().unwrap_or("");
    if first == "silent" {
        return None;
    }
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.authoritative = true;
    resp.queries.clone_from(&req.queries);
    let record = |data: RData| Record::from_rdata(q.name.clone(), 60, data);
    let qt = q.query_type;
    match first {
        "nx" => resp.metadata.response_code = ResponseCode::NXDomain,
        "servfail" => resp.metadata.response_code = ResponseCode::ServFail,
        "refused" => resp.metadata.response_code = ResponseCode::Refused,
        "nodata" => {}
        "_xsi-client" if qt == RecordType::SRV => {
            for (prio, weight, target) in [
                (20, 40, "xsp2.example.test."),
                (10, 60, "xsp1.example.test."),
            ] {
                let target = Name::from_ascii(target).unwrap();
                resp.answers
                    .push(record(RData::SRV(SRV::new(prio, weight, 443, target))));
            }
        }
        "v4only" if qt == RecordType::AAAA => {}
        _ if qt == RecordType::A => resp.answers.push(record(RData::A(A(Ipv4Addr::LOCALHOST)))),
        _ if qt == RecordType::AAAA => {
            resp.answers
                .push(record(RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))));
        }
        _ => {}
    }
    Some(resp)
}

/// The tool's resolver pointed at these servers: `timeout_ms` per query,
/// one try.
pub fn resolver(servers: &[SocketAddr], timeout_ms: u64) -> Resolver {
    Resolver::new(&DnsSettings {
        servers: servers.to_vec(),
        timeout: Duration::from_millis(timeout_ms),
        attempts: 1,
    })
    .unwrap()
}

// ---------------------------------------------------------------- plain TCP peers

/// A loopback port where nothing listens.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// A listener that accepts connections and never says or reads anything.
pub struct SilentListener {
    /// Where it listens.
    pub addr: SocketAddr,
    _task: TaskGuard,
}

impl SilentListener {
    /// Starts it.
    pub async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        Self {
            addr,
            _task: TaskGuard(task),
        }
    }
}

/// A scripted peer: for each connection, `serve` gets the stream.
pub struct ScriptedPeer {
    /// Where it listens.
    pub addr: SocketAddr,
    _task: TaskGuard,
}

impl ScriptedPeer {
    async fn start<F, Fut>(serve: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = Arc::new(serve);
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s));
            }
        });
        Self {
            addr,
            _task: TaskGuard(task),
        }
    }

    /// A SOCKS5 server: answers a greeting with "no acceptable methods",
    /// closes on anything else, as SOCKS servers do with HTTP.
    pub async fn socks5() -> Self {
        Self::start(|mut s: TcpStream| async move {
            let mut first = [0u8; 3];
            if s.read_exact(&mut first).await.is_ok() && first[0] == 0x05 {
                let _ = s.write_all(&[0x05, 0xFF]).await;
            }
        })
        .await
    }

    /// A web server that is no proxy: 405 with a page to anything.
    pub async fn web_server() -> Self {
        Self::start(|mut s: TcpStream| async move {
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
            let page = "<h1>method not allowed</h1>\n";
            let resp = format!(
                "HTTP/1.1 405 Method Not Allowed\r\nServer: rig-web\r\nContent-Type: text/html\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        })
        .await
    }

    /// A proxy that challenges with Digest nonce `n1`, calls `n1` stale and
    /// offers `n2`, then opens the tunnel for an answer to `n2`, all on one
    /// keep-alive connection.
    pub async fn stale_digest_proxy() -> Self {
        Self::start(|mut s: TcpStream| async move {
            loop {
                let Some(head) = read_head(&mut s).await else {
                    return;
                };
                let auth = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
                    .unwrap_or("");
                let reply = if auth.contains("nonce=\"n2\"") && auth.contains("nc=00000001") {
                    "HTTP/1.1 200 Connection established\r\n\r\n".to_owned()
                } else {
                    let (nonce, stale) = if auth.contains("nonce=\"n1\"") {
                        ("n2", "true")
                    } else {
                        ("n1", "false")
                    };
                    format!(
                        "HTTP/1.1 407 Proxy Authentication Required\r\nServer: rig-stale\r\n\
                         Proxy-Authenticate: Digest realm=\"rig\", nonce=\"{nonce}\", \
                         qop=\"auth\", stale={stale}\r\nContent-Length: 0\r\n\r\n"
                    )
                };
                if s.write_all(reply.as_bytes()).await.is_err() || reply.contains(" 200 ") {
                    return;
                }
            }
        })
        .await
    }
}

// ---------------------------------------------------------------- Squid

/// Squid's authentication setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SquidAuth {
    /// No authentication.
    None,
    /// Basic, `basic_ncsa_auth` with an htpasswd file.
    Basic,
    /// Digest, `digest_file_auth` with a plaintext file.
    Digest,
    /// Digest and Basic on one port (Digest offered first).
    Both,
}

/// A Squid 5 process with its own config in a temp dir, loopback only,
/// killed when dropped. Names resolve from its private hosts file:
/// `localhost`, `origin.test`, `blocked.test`, `nx.origin.test` (which our
/// DNS server calls NXDOMAIN), `origin.localhost` and `blocked.localhost`
/// are 127.0.0.1.
pub struct Squid {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn squid_binary() -> PathBuf {
    for p in ["/usr/sbin/squid", "/usr/bin/squid"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "squid is not installed, and the proxy tests need it\n\
         run scripts/test, which installs the Debian packages the tests use"
    );
}

/// The uid and gid of Debian's `proxy` user, when we run as root and Squid
/// will switch to it.
fn proxy_owner(dir: &Path) -> Option<(u32, u32)> {
    let probe = dir.join(".owner");
    std::fs::write(&probe, b"").unwrap();
    let uid = std::fs::metadata(&probe).unwrap().uid();
    if uid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with("proxy:"))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f[2].parse().ok()?, f[3].parse().ok()?))
}

fn apr1_hash(password: &str) -> String {
    let out = Command::new("openssl")
        .args(["passwd", "-apr1", "-salt", "rigsalt", password])
        .output()
        .expect("openssl is needed to hash the Basic password: run scripts/test");
    assert!(out.status.success(), "openssl passwd failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl Squid {
    /// Starts Squid with this authentication and, optionally, an ACL that
    /// denies CONNECT to one domain.
    pub async fn start(auth: SquidAuth, deny: Option<&str>) -> Self {
        // The port is chosen free, then given to Squid: another peer may
        // take it in between. A start that fails is tried again on a new
        // port, and the third failure is reported with Squid's own words.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(auth, deny).await {
                Ok(squid) => return squid,
                Err(why) => last = why,
            }
        }
        panic!("squid did not start\n{last}");
    }

    async fn try_start(auth: SquidAuth, deny: Option<&str>) -> Result<Self, String> {
        let binary = squid_binary();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let port = free_port();

        std::fs::write(
            dir.path().join("hosts"),
            "127.0.0.1 localhost origin.test blocked.test nx.origin.test origin.localhost \
             blocked.localhost\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("basic.htpasswd"),
            format!("{USER}:{}\n", apr1_hash(PASSWORD)),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("digest.passwd"),
            format!("{USER}:{PASSWORD}\n"),
        )
        .unwrap();

        let mut conf = format!(
            "http_port 127.0.0.1:{port}\n\
             visible_hostname rig-squid\n\
             pid_filename {d}/squid.pid\n\
             cache_log {d}/cache.log\n\
             access_log stdio:{d}/access.log\n\
             coredump_dir {d}\n\
             dns_nameservers 127.0.0.1\n\
             dns_timeout 2 seconds\n\
             hosts_file {d}/hosts\n\
             netdb_filename none\n\
             pinger_enable off\n\
             cache deny all\n\
             cache_mem 4 MB\n\
             shutdown_lifetime 0 seconds\n"
        );
        if let Some(domain) = deny {
            let _ = writeln!(
                conf,
                "acl blocked dstdomain {domain}\nhttp_access deny blocked"
            );
        }
        if matches!(auth, SquidAuth::Digest | SquidAuth::Both) {
            let _ = write!(
                conf,
                "auth_param digest program /usr/lib/squid/digest_file_auth {d}/digest.passwd\n\
                 auth_param digest children 2 startup=1 idle=1\n\
                 auth_param digest realm rig-digest\n\
                 auth_param digest nonce_max_count 50\n"
            );
        }
        if matches!(auth, SquidAuth::Basic | SquidAuth::Both) {
            let _ = write!(
                conf,
                "auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/basic.htpasswd\n\
                 auth_param basic children 2 startup=1 idle=1\n\
                 auth_param basic realm rig-basic\n\
                 auth_param basic credentialsttl 1 minute\n"
            );
        }
        if auth == SquidAuth::None {
            conf.push_str("http_access allow localhost\nhttp_access deny all\n");
        } else {
            conf.push_str(
                "acl authed proxy_auth REQUIRED\n\
                 http_access deny !localhost\n\
                 http_access allow authed\n\
                 http_access deny all\n",
            );
        }
        let conf_path = dir.path().join("squid.conf");
        std::fs::write(&conf_path, conf).unwrap();

        if let Some((uid, gid)) = proxy_owner(dir.path()) {
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                std::os::unix::fs::chown(entry.unwrap().path(), Some(uid), Some(gid)).unwrap();
            }
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }

        let out = std::fs::File::create(dir.path().join("squid.out")).unwrap();
        let child = Command::new(binary)
            .arg("-N")
            .arg("-f")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("cannot start squid");
        let mut squid = Self { child, port, dir };
        squid.wait_ready().await?;
        Ok(squid)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        for _ in 0..500 {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "squid exited ({status}) before listening\n{}\n{}",
                    self.file("squid.out"),
                    self.file("cache.log")
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!(
            "squid did not listen within 10 s\n{}",
            self.file("cache.log")
        ))
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Squid's access log so far.
    pub fn access_log(&self) -> String {
        self.file("access.log")
    }

    /// The proxy URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}", self.port)).unwrap()
    }

    /// Settings for this proxy with a mode and alice's password (or another).
    pub fn settings(&self, auth: ProxyAuthMode, password: Option<&str>) -> ProxySettings {
        proxy_settings(self.url(), auth, password)
    }
}

/// Proxy settings: user alice with the given password, when one is given.
pub fn proxy_settings(url: Url, auth: ProxyAuthMode, password: Option<&str>) -> ProxySettings {
    ProxySettings {
        url,
        auth,
        username: password.map(|_| USER.to_owned()),
        password: password.map(|p| SecretString::from(p.to_owned())),
    }
}

fn free_port() -> u16 {
    closed_port()
}
