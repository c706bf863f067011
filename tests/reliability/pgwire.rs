//! A TCP proxy in front of PostgreSQL that reads the client side of the wire protocol and
//! counts what the server is asked: round trips (a `Sync` ends an extended-protocol
//! exchange, a simple `Query` is one on its own) and `Parse` messages (a statement
//! prepared anew). The server's side is passed through untouched, its bytes counted.
//!
//! The connection URL must carry `sslmode=disable`: an encrypted stream cannot be read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the clients of one proxy have sent so far.
#[derive(Debug, Default)]
pub struct Counts {
    round_trips: AtomicUsize,
    parses: AtomicUsize,
    connections: AtomicUsize,
    from_server: AtomicUsize,
}

/// A snapshot of [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// `Sync` plus simple `Query` messages.
    pub round_trips: usize,
    /// `Parse` messages (statements prepared).
    pub parses: usize,
    /// Connections opened.
    pub connections: usize,
}

impl Snapshot {
    /// What happened between `earlier` and this snapshot.
    pub fn since(self, earlier: Snapshot) -> Snapshot {
        Snapshot {
            round_trips: self.round_trips - earlier.round_trips,
            parses: self.parses - earlier.parses,
            connections: self.connections - earlier.connections,
        }
    }
}

/// A running counting proxy; it stops when the runtime it was started on stops.
pub struct CountingProxy {
    /// The local address clients connect to.
    pub addr: std::net::SocketAddr,
    counts: Arc<Counts>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> CountingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.connections.fetch_add(1, Ordering::SeqCst);
                let (c, upstream) = (c.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    let counted = c.clone();
                    let down = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match server_rx.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            counted.from_server.fetch_add(n, Ordering::SeqCst);
                            if client_tx.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let _ = forward_counting(&mut client_rx, &mut server_tx, &c).await;
                    down.abort();
                });
            }
        });
        CountingProxy { addr, counts }
    }

    /// Bytes the server has sent to the clients so far.
    pub fn bytes_from_server(&self) -> usize {
        self.counts.from_server.load(Ordering::SeqCst)
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            round_trips: self.counts.round_trips.load(Ordering::SeqCst),
            parses: self.counts.parses.load(Ordering::SeqCst),
            connections: self.counts.connections.load(Ordering::SeqCst),
        }
    }
}

/// Copies the client's messages to the server one by one, counting them. The first
/// message (startup) has no type byte; every later one is a type byte and a length.
async fn forward_counting(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    counts: &Counts,
) -> std::io::Result<()> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    let mut startup = vec![0u8; n.saturating_sub(4)];
    from.read_exact(&mut startup).await?;
    to.write_all(&len).await?;
    to.write_all(&startup).await?;
    let mut header = [0u8; 5];
    loop {
        from.read_exact(&mut header).await?;
        match header[0] {
            b'S' | b'Q' => {
                counts.round_trips.fetch_add(1, Ordering::SeqCst);
            }
            b'P' => {
                counts.parses.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        let n = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let mut body = vec![0u8; n.saturating_sub(4)];
        from.read_exact(&mut body).await?;
        to.write_all(&header).await?;
        to.write_all(&body).await?;
    }
}
