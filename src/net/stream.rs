//! Streams: TCP connection with a deadline and a classification of why it
//! failed, a boxed stream type for "TCP or TLS", and a wrapper that keeps
//! the first bytes a peer sent (to tell what protocol it speaks when a
//! handshake fails).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// A byte stream: plain TCP, TLS over TCP, or a tunnel.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed [`Io`].
pub(crate) type BoxIo = Box<dyn Io>;

/// Why a TCP connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum ConnectFailure {
    /// Every address refused (nothing listens on the port).
    Refused,
    /// No address answered before the deadline.
    Timeout,
    /// No route, host unreachable, or another error.
    Unreachable(String),
    /// There were no addresses to try.
    NoAddresses,
}

/// Connects to the first address that accepts, trying them in order; each
/// gets an equal share of the time left to the deadline.
pub(crate) async fn connect(
    addrs: &[SocketAddr],
    end: Instant,
) -> Result<(TcpStream, SocketAddr), ConnectFailure> {
    let mut last = ConnectFailure::NoAddresses;
    let mut refused = 0usize;
    for (i, addr) in addrs.iter().enumerate() {
        let left = end.saturating_duration_since(Instant::now());
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(1);
        match tokio::time::timeout(share, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, *addr));
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                refused += 1;
                last = ConnectFailure::Refused;
            }
            Ok(Err(e)) => last = ConnectFailure::Unreachable(super::io_message(&e)),
            Err(_) => last = ConnectFailure::Timeout,
        }
    }
    if refused == addrs.len() && refused > 0 {
        return Err(ConnectFailure::Refused);
    }
    Err(last)
}

/// Passes bytes through and keeps the first few the peer sent.
pub(crate) struct FirstBytes<S> {
    inner: S,
    seen: Arc<Mutex<Vec<u8>>>,
}

/// How many first bytes are kept.
const KEEP: usize = 32;

impl<S> FirstBytes<S> {
    /// Wraps a stream; the handle reads what was kept.
    pub(crate) fn new(inner: S) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

/// A copy of the bytes kept so far.
pub(crate) fn kept(handle: &Arc<Mutex<Vec<u8>>>) -> Vec<u8> {
    handle
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

impl<S: AsyncRead + Unpin> AsyncRead for FirstBytes<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            let room = KEEP.saturating_sub(seen.len());
            seen.extend_from_slice(&new[..new.len().min(room)]);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FirstBytes<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
