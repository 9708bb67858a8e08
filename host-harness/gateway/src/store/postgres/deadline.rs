//! A per-query deadline on every PostgreSQL connection, enforced at the
//! connection's stream (issue 30).
//!
//! A server that stops answering without closing its connections (a
//! stopped process, a hung host, a network that drops packets) leaves a
//! query waiting forever: TCP keepalive notices a vanished host only after
//! ~30 s, and never a stopped process (its kernel still acknowledges). So
//! each connection's socket is wrapped in [`Deadline`]: it arms a timer
//! when the client writes (a request goes out) and disarms it when any
//! byte of an answer arrives; when the timer fires first, the next read
//! fails with `TimedOut`. tokio-postgres then ends the connection, every
//! query waiting on it fails (`Unavailable`, 503), and the pool, seeing
//! it closed, never hands it out again. A connection with nothing
//! outstanding is never timed out: only a request arms the timer.
//!
//! Why at the stream and not `tokio::time::timeout` around store calls: a
//! timed-out call would return its connection to the pool still waiting
//! for the stuck answer, and the next caller would wait behind it; here the
//! connection itself is discarded. The server's `statement_timeout` is set
//! a little below the deadline ([`statement_timeout`]), so a query that is
//! merely slow is cancelled by the server (a clean error, the connection
//! kept) before the client gives the connection up.
//!
//! The wrapper sits under TLS (it sees ciphertext), so it counts bytes, not
//! messages: an answer that starts and then stalls mid-way is not timed out
//! by it (keepalive remains the backstop there). The gateway's queries are
//! short and each pooled connection serves one request at a time, so the
//! stall that matters (no answer at all) is always caught.
//!
//! tokio-postgres opens its own sockets in `Config::connect`, with no hook
//! to wrap them, so [`connect`] opens the socket (TCP with the config's
//! keepalives and connect timeout, or a Unix socket) and hands it, wrapped,
//! to `Config::connect_raw`; [`DeadlineConnect`] does this for the pool.

use super::tls::{MakeRustls, RustlsStream};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, Connection};

/// A connection with a deadline on its stream.
pub(super) type PgConnection = Connection<Deadline<Raw>, RustlsStream<Deadline<Raw>>>;

/// The server-side `statement_timeout` for a client deadline of `limit`:
/// 90 % of it (at least 100 ms below it), so the server cancels a slow
/// statement before the client gives the connection up.
pub(super) fn statement_timeout(limit: Duration) -> Duration {
    let tenth = (limit / 10).max(Duration::from_millis(100));
    limit.saturating_sub(tenth).max(Duration::from_millis(1))
}

/// `config` with `statement_timeout` set on the server for every session
/// (added to any `options` the URL carries).
pub(super) fn with_statement_timeout(config: &Config, limit: Duration) -> Config {
    let mut c = config.clone();
    let ms = statement_timeout(limit).as_millis();
    let ours = format!("-c statement_timeout={ms}");
    c.options(match config.get_options() {
        Some(o) if !o.trim().is_empty() => format!("{o} {ours}"),
        _ => ours,
    });
    c
}

/// The socket under a connection: TCP or a Unix socket, or the error that
/// opening it gave (see [`connect`]).
pub(super) enum Raw {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix socket (`host=/run/postgresql`).
    #[cfg(unix)]
    Unix(UnixStream),
    /// No socket could be opened. tokio-postgres's `Error` cannot be made
    /// outside it, so the failure is handed to `connect_raw` as a stream
    /// that fails at once; its error then carries this one as its source.
    Failed(io::ErrorKind, String),
}

impl Raw {
    fn failed(&self) -> io::Error {
        match self {
            Self::Failed(kind, why) => io::Error::new(*kind, why.clone()),
            _ => io::Error::other("not a failed socket"),
        }
    }
}

impl AsyncRead for Raw {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
            f @ Self::Failed(..) => Poll::Ready(Err(f.failed())),
        }
    }
}

impl AsyncWrite for Raw {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
            f @ Self::Failed(..) => Poll::Ready(Err(f.failed())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
            f @ Self::Failed(..) => Poll::Ready(Err(f.failed())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Self::Failed(..) => Poll::Ready(Ok(())),
        }
    }
}

/// A stream whose reads fail once `limit` has passed since a write with
/// no byte read in between (see the module's documentation).
pub(super) struct Deadline<S> {
    inner: S,
    /// `None`: no deadline (the migrating connection: a migration may
    /// legitimately take long).
    limit: Option<Duration>,
    /// Armed: a request went out and no answer byte came since.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> Deadline<S> {
    /// `inner` with a deadline of `limit` per request.
    pub(super) fn new(inner: S, limit: Option<Duration>) -> Self {
        Self {
            inner,
            limit,
            timer: None,
        }
    }

    /// Starts the clock (if not running: the oldest unanswered request
    /// counts) and registers this task to be woken when it runs out (the
    /// connection's task polls its reads and writes in turn, so a read
    /// already pending must still be woken).
    fn arm(&mut self, cx: &mut Context<'_>) {
        if let (None, Some(limit)) = (&self.timer, self.limit) {
            let mut t = Box::pin(tokio::time::sleep(limit));
            // Pending now (a zero limit is noticed by the next read).
            let _ = t.as_mut().poll(cx);
            self.timer = Some(t);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Deadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.timer = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let expired = this
                    .timer
                    .as_mut()
                    .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                if !expired {
                    return Poll::Pending;
                }
                let limit = this.limit.unwrap_or_default();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no answer from the server within {} ms (--pg-query-timeout): \
                         connection given up",
                        limit.as_millis()
                    ),
                )))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Deadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.arm(cx);
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Opens the socket to one host (the config's connect timeout and TCP
/// keepalives applied), or says why not.
async fn open(config: &Config, index: usize, host: &Host) -> Raw {
    let ports = config.get_ports();
    let port = ports
        .get(index)
        .or_else(|| ports.first())
        .copied()
        .unwrap_or(5432);
    let timeout = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(30));
    let opened = match host {
        Host::Tcp(name) => {
            let addr = config.get_hostaddrs().get(index).copied();
            let connecting = async {
                let s = match addr {
                    Some(ip) => TcpStream::connect((ip, port)).await?,
                    None => TcpStream::connect((name.as_str(), port)).await?,
                };
                s.set_nodelay(true)?;
                if config.get_keepalives() {
                    let mut ka =
                        socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
                    if let Some(i) = config.get_keepalives_interval() {
                        ka = ka.with_interval(i);
                    }
                    #[cfg(not(windows))]
                    if let Some(r) = config.get_keepalives_retries() {
                        ka = ka.with_retries(r);
                    }
                    socket2::SockRef::from(&s).set_tcp_keepalive(&ka)?;
                }
                Ok::<_, io::Error>(Raw::Tcp(s))
            };
            tokio::time::timeout(timeout, connecting).await
        }
        #[cfg(unix)]
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            tokio::time::timeout(timeout, async {
                Ok(Raw::Unix(UnixStream::connect(path).await?))
            })
            .await
        }
    };
    match opened {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => Raw::Failed(e.kind(), format!("cannot connect: {e}")),
        Err(_) => Raw::Failed(
            io::ErrorKind::TimedOut,
            format!("cannot connect within {} ms", timeout.as_millis()),
        ),
    }
}

/// Connects as `Config::connect` does (each host in turn, the first that
/// answers), with each socket wrapped in a [`Deadline`] of `limit`.
///
/// # Errors
/// The last host's error (a socket that could not be opened, TLS, the
/// server refusing the login).
pub(super) async fn connect(
    config: &Config,
    tls: &MakeRustls,
    limit: Option<Duration>,
) -> Result<(Client, PgConnection), tokio_postgres::Error> {
    let hosts = config.get_hosts();
    for (i, host) in hosts.iter().enumerate() {
        let name = match host {
            Host::Tcp(h) => h.as_str(),
            #[cfg(unix)]
            Host::Unix(_) => "",
        };
        let raw = open(config, i, host).await;
        let r = config
            .connect_raw(Deadline::new(raw, limit), tls.connector(name))
            .await;
        // The first host that answers; the last one's error.
        if r.is_ok() || i + 1 == hosts.len() {
            return r;
        }
    }
    let raw = Raw::Failed(io::ErrorKind::InvalidInput, "no host in the URL".into());
    config
        .connect_raw(Deadline::new(raw, limit), tls.connector(""))
        .await
}

/// The pool's way to connect: [`connect`] with the deadline, the
/// connection driven by its own task.
pub(super) struct DeadlineConnect {
    /// The TLS connector of the URL's `sslmode`.
    pub tls: MakeRustls,
    /// The per-request deadline.
    pub limit: Duration,
}

impl deadpool_postgres::Connect for DeadlineConnect {
    fn connect(
        &self,
        config: &Config,
    ) -> Pin<
        Box<
            dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>>
                + Send
                + '_,
        >,
    > {
        let config = config.clone();
        Box::pin(async move {
            let (client, conn) = connect(&config, &self.tls, Some(self.limit)).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!(error = %e, "PostgreSQL connection closed");
                }
            });
            Ok((client, task))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_server_cancels_below_the_client_deadline() {
        assert_eq!(
            statement_timeout(Duration::from_secs(5)),
            Duration::from_millis(4500)
        );
        assert_eq!(
            statement_timeout(Duration::from_millis(500)),
            Duration::from_millis(400)
        );
        let c: Config = "postgres://u@h/db?options=-c%20search_path%3Dx"
            .parse()
            .unwrap();
        let c = with_statement_timeout(&c, Duration::from_secs(2));
        assert_eq!(
            c.get_options(),
            Some("-c search_path=x -c statement_timeout=1800")
        );
    }

    /// A peer that reads but never answers fails the read after the
    /// deadline; one that answers keeps it disarmed; an idle stream is
    /// never timed out.
    #[tokio::test]
    async fn a_request_without_answer_fails_the_read() {
        let limit = Duration::from_millis(200);
        let (client, mut server) = tokio::io::duplex(64);
        let mut s = Deadline::new(client, Some(limit));
        // Idle: nothing written, nothing times out.
        let mut b = [0u8; 4];
        assert!(
            tokio::time::timeout(Duration::from_millis(400), s.read(&mut b))
                .await
                .is_err()
        );
        // Answered: disarmed.
        s.write_all(b"ping").await.unwrap();
        server.write_all(b"pong").await.unwrap();
        assert_eq!(s.read(&mut b).await.unwrap(), 4);
        assert!(
            tokio::time::timeout(Duration::from_millis(400), s.read(&mut b))
                .await
                .is_err()
        );
        // Unanswered: the read fails at the deadline.
        let t = std::time::Instant::now();
        s.write_all(b"ping").await.unwrap();
        let e = s.read(&mut b).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t.elapsed() >= limit && t.elapsed() < Duration::from_secs(2));
    }
}
