//! A TCP proxy for fault tests: forwards a local port to an upstream address until it
//! is [cut](Proxy::cut) (every live connection is dropped and new ones are closed as
//! soon as they are accepted) or [stalled](Proxy::stall) (a black hole: connections
//! stay open, new ones are accepted, but not a byte moves in either direction, as when
//! a network path drops every packet), then forwards again once
//! [restored](Proxy::restore) (stalled connections carry on where they stopped).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    Cut,
    Stall,
}

/// A running proxy; it stops when the runtime it was started on stops.
pub struct Proxy {
    /// The local address clients connect to.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accepted: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    /// Call from within a tokio runtime.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, watch_mode) = watch::channel(Mode::Forward);
        let accepted = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (a, r) = (accepted.clone(), refused.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *watch_mode.borrow() == Mode::Cut {
                    r.fetch_add(1, Ordering::Relaxed);
                    drop(client); // closed at once: the database is away
                    continue;
                }
                a.fetch_add(1, Ordering::Relaxed);
                let mode = watch_mode.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    // Both directions end on a cut; all four halves close on drop.
                    tokio::join!(
                        pump(client_read, server_write, mode.clone()),
                        pump(server_read, client_write, mode),
                    );
                });
            }
        });
        Proxy {
            addr,
            mode,
            accepted,
            refused,
        }
    }

    /// Drops every live connection and closes new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.mode.send_replace(Mode::Cut);
    }

    /// Forwards nothing, in either direction, on live and new connections, and closes
    /// none, until [`restore`](Self::restore).
    pub fn stall(&self) {
        self.mode.send_replace(Mode::Stall);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.mode.send_replace(Mode::Forward);
    }

    /// Connections forwarded so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections closed at once because the proxy was cut.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Waits out a stall; false when the connection must end (cut, or proxy gone).
async fn may_move(mode: &mut watch::Receiver<Mode>) -> bool {
    match mode.wait_for(|m| *m != Mode::Stall).await {
        Ok(m) => *m == Mode::Forward,
        Err(_) => false,
    }
}

/// Copies `from` to `to` while the mode is `Forward`, holds still while it is `Stall`,
/// and returns on a cut, an end of stream or an error.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !may_move(&mut mode).await {
            return;
        }
        tokio::select! {
            read = from.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                // Data read just as the stall began is held until it ends.
                if !may_move(&mut mode).await || to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            // Reading is cancel-safe: look at the new mode, then read on.
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Splits a `postgres://[user[:pw]@]host[:port]/db[?query]` URL into its `host:port`
/// and a function that rebuilds it with another `host:port`.
pub fn pg_host_port(url: &str) -> (String, impl Fn(&str) -> String) {
    let scheme_end = url.find("://").expect("URL has a scheme") + 3;
    let rest = &url[scheme_end..];
    let auth_end = rest
        .find('/')
        .map_or(rest.len(), |i| i)
        .min(rest.find('?').unwrap_or(rest.len()));
    let authority = &rest[..auth_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host = &authority[host_start..];
    let host_port = if host.is_empty() {
        "127.0.0.1:5432".to_owned()
    } else if host.contains(':') && !host.ends_with(']') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let prefix = format!("{}{}", &url[..scheme_end], &authority[..host_start]);
    let suffix = rest[auth_end..].to_owned();
    (host_port, move |hp: &str| format!("{prefix}{hp}{suffix}"))
}
