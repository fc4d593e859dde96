//! Reading HTTP/1 message heads off a raw stream, for the CONNECT handshake,
//! the relay and the small request of the TLS probe.
//!
//! Heads are read through a buffered reader and only the head's bytes are
//! consumed, so after a `200` to CONNECT whatever follows stays in the buffer
//! and belongs to the tunnel. A peer that does not answer with HTTP is told
//! apart at its first bytes, without waiting for a head that never comes.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The largest head we accept; proxies' heads are a few hundred bytes.
pub(crate) const HEAD_LIMIT: usize = 16 * 1024;

/// How much of a response body is kept as evidence.
pub(crate) const EXCERPT_LIMIT: usize = 512;

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `HTTP/1.1 407 Proxy Authentication Required`.
    pub fn status_line(&self) -> String {
        format!("HTTP/1.{} {} {}", self.version, self.status, self.reason)
            .trim_end()
            .to_owned()
    }

    /// The declared body length, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .and_then(|v| v.trim().parse().ok())
    }

    /// Whether the connection may carry another request after this response
    /// and its body.
    pub fn keeps_alive(&self) -> bool {
        let tokens = |name: &str| {
            self.all(name)
                .iter()
                .flat_map(|v| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
                .collect::<Vec<_>>()
        };
        let mut connection = tokens("connection");
        connection.extend(tokens("proxy-connection"));
        if connection.iter().any(|t| t == "close") {
            return false;
        }
        let chunked = self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let framed = self.content_length().is_some() && !chunked;
        framed && (self.version == 1 || connection.iter().any(|t| t == "keep-alive"))
    }
}

/// A parsed request head (the relay reads reqwest's CONNECT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The peer closed the connection; `received` holds what it sent first.
    Closed { received: Vec<u8> },
    /// The first bytes are not HTTP/1 (a TLS record, a SOCKS reply, ...).
    NotHttp { first_bytes: Vec<u8> },
    /// No end of head within [`HEAD_LIMIT`].
    TooLarge,
    /// The bytes look like HTTP but do not parse.
    Invalid(String),
    /// The stream failed.
    Io(io::Error),
}

/// Reads one response head. Consumes exactly the head's bytes.
pub(crate) async fn read_response_head<R>(reader: &mut R) -> Result<ResponseHead, HeadError>
where
    R: AsyncBufRead + Unpin,
{
    let raw = read_head_bytes(reader, b"HTTP/").await?;
    let mut storage = vec![httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut storage);
    match resp.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Invalid("incomplete head".into())),
        Err(e) => return Err(HeadError::Invalid(e.to_string().to_lowercase())),
    }
    Ok(ResponseHead {
        version: resp.version.unwrap_or(1),
        status: resp.code.unwrap_or(0),
        reason: resp.reason.unwrap_or("").to_owned(),
        headers: owned_headers(resp.headers),
    })
}

/// Reads one request head. Consumes exactly the head's bytes.
pub(crate) async fn read_request_head<R>(reader: &mut R) -> Result<RequestHead, HeadError>
where
    R: AsyncBufRead + Unpin,
{
    let raw = read_head_bytes(reader, b"").await?;
    let mut storage = vec![httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut storage);
    match req.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Invalid("incomplete head".into())),
        Err(e) => return Err(HeadError::Invalid(e.to_string().to_lowercase())),
    }
    Ok(RequestHead {
        method: req.method.unwrap_or("").to_owned(),
        target: req.path.unwrap_or("").to_owned(),
        headers: owned_headers(req.headers),
    })
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect()
}

/// Reads up to and including the blank line that ends a head. When `prefix`
/// is given, the first bytes must agree with it, or the read stops at once.
async fn read_head_bytes<R>(reader: &mut R, prefix: &[u8]) -> Result<Vec<u8>, HeadError>
where
    R: AsyncBufRead + Unpin,
{
    let mut acc: Vec<u8> = Vec::with_capacity(512);
    loop {
        let avail = reader.fill_buf().await.map_err(HeadError::Io)?;
        if avail.is_empty() {
            return Err(HeadError::Closed { received: acc });
        }
        let before = acc.len();
        let search_from = before.saturating_sub(3);
        acc.extend_from_slice(avail);
        let end = find_head_end(&acc[search_from..]).map(|p| search_from + p);
        let used = end.map_or(acc.len() - before, |e| e - before);
        acc.truncate(before + used);
        reader.consume(used);

        let n = acc.len().min(prefix.len());
        if acc[..n] != prefix[..n] {
            return Err(HeadError::NotHttp { first_bytes: acc });
        }
        if end.is_some() {
            return Ok(acc);
        }
        if acc.len() > HEAD_LIMIT {
            return Err(HeadError::TooLarge);
        }
    }
}

/// The index just past `\r\n\r\n` (or a bare `\n\n`), if present.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    for i in 0..bytes.len() {
        if bytes[i..].starts_with(b"\r\n\r\n") {
            return Some(i + 4);
        }
        if bytes[i..].starts_with(b"\n\n") {
            return Some(i + 2);
        }
    }
    None
}

/// Reads and discards a body of `len` bytes, keeping the first
/// [`EXCERPT_LIMIT`] as text evidence.
pub(crate) async fn drain_body<R>(reader: &mut R, len: u64) -> io::Result<String>
where
    R: AsyncBufRead + Unpin,
{
    let mut kept = Vec::new();
    let mut left = len;
    let mut chunk = [0u8; 4096];
    while left > 0 {
        let want = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        let n = reader.read(&mut chunk[..want]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let room = EXCERPT_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
        left -= n as u64;
    }
    Ok(excerpt(&kept))
}

/// A short printable rendering of bytes for evidence: text as text, the
/// rest escaped.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(EXCERPT_LIMIT)];
    cut.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    #[tokio::test]
    async fn reads_a_head_and_leaves_the_rest() {
        let data: &[u8] = b"HTTP/1.1 200 Connection established\r\nVia: 1.1 p\r\n\r\n\x16\x03rest";
        let mut r = BufReader::with_capacity(7, data);
        let head = read_response_head(&mut r).await.unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.status_line(), "HTTP/1.1 200 Connection established");
        assert_eq!(head.header("via"), Some("1.1 p"));
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"\x16\x03rest");
    }

    #[tokio::test]
    async fn tells_a_tls_alert_from_http_at_the_first_byte() {
        let data: &[u8] = b"\x15\x03\x03\x00\x02\x02\x32";
        let mut r = BufReader::new(data);
        match read_response_head(&mut r).await {
            Err(HeadError::NotHttp { first_bytes }) => assert_eq!(first_bytes[0], 0x15),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_close_before_any_byte_is_closed() {
        let data: &[u8] = b"";
        let mut r = BufReader::new(data);
        assert!(matches!(
            read_response_head(&mut r).await,
            Err(HeadError::Closed { received }) if received.is_empty()
        ));
    }

    #[tokio::test]
    async fn keep_alive_rules() {
        let parse = |s: &'static str| async move {
            let mut r = BufReader::new(s.as_bytes());
            read_response_head(&mut r).await.unwrap()
        };
        let h = parse("HTTP/1.1 407 x\r\nContent-Length: 10\r\n\r\n").await;
        assert!(h.keeps_alive());
        let h = parse("HTTP/1.1 407 x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n").await;
        assert!(!h.keeps_alive());
        let h = parse("HTTP/1.0 407 x\r\nContent-Length: 10\r\n\r\n").await;
        assert!(!h.keeps_alive());
        let h = parse("HTTP/1.1 407 x\r\n\r\n").await;
        assert!(!h.keeps_alive());
    }

    #[tokio::test]
    async fn drains_a_body_keeping_an_excerpt() {
        let body = "x".repeat(2000);
        let data = format!("{body}NEXT");
        let mut r = BufReader::new(data.as_bytes());
        let kept = drain_body(&mut r, 2000).await.unwrap();
        assert_eq!(kept.len(), EXCERPT_LIMIT);
        let mut rest = String::new();
        r.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "NEXT");
    }
}
