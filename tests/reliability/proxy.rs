//! A TCP proxy for fault tests: forwards a local port to an upstream address until it
//! is [cut](Proxy::cut) (every live connection is dropped and new ones are closed as
//! soon as they are accepted), then forwards again once [restored](Proxy::restore).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy; it stops when the runtime it was started on stops.
pub struct Proxy {
    /// The local address clients connect to.
    pub addr: SocketAddr,
    cut: watch::Sender<bool>,
    accepted: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    /// Call from within a tokio runtime.
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (cut, watch_cut) = watch::channel(false);
        let accepted = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (a, r) = (accepted.clone(), refused.clone());
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if *watch_cut.borrow() {
                    r.fetch_add(1, Ordering::Relaxed);
                    drop(client); // closed at once: the database is away
                    continue;
                }
                a.fetch_add(1, Ordering::Relaxed);
                let mut cut = watch_cut.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let mut client = client;
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|c| *c) => {} // both sockets close on drop
                    }
                });
            }
        });
        Proxy {
            addr,
            cut,
            accepted,
            refused,
        }
    }

    /// Drops every live connection and closes new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
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
