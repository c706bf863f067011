//! No TLS to a PostgreSQL server on this machine, unless the URL asks for it.
//!
//! libpq's default `sslmode=prefer` negotiates TLS whenever the server offers it, also
//! over loopback, where encryption protects nothing (the traffic never leaves the
//! kernel) and costs every statement its encryption on both sides (measured: the
//! retrieve statement under pgbench made 6,065 tps with TLS and 7,354 without). So a
//! URL whose every host is loopback (`127.0.0.0/8`, `::1`, `localhost`, a Unix socket
//! directory, or none: libpq's default socket) gets `sslmode=disable` added. Anything
//! that says how TLS should be done is left as it is: an `ssl...` parameter in the URL
//! (`sslmode=require` wins), a `service` (its file may set one), or libpq's
//! `PGSSLMODE`, `PGREQUIRESSL` or `PGSERVICE` in the environment.

use std::net::IpAddr;

/// `url` with `sslmode=disable` added when every host it names is on this machine and
/// nothing in it or in the environment says how to do TLS; otherwise `url` as it is.
pub fn without_tls_on_loopback(url: &str) -> String {
    let env = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty()).is_some();
    let decided_by_env = env("PGSSLMODE") || env("PGREQUIRESSL") || env("PGSERVICE");
    if decided_by_env || !is_loopback_only(url, std::env::var("PGHOST").ok().as_deref()) {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// Whether every host `url` connects to is on this machine and the URL leaves TLS to
/// libpq's default. `pghost` is the `PGHOST` environment variable, used when the URL
/// names no host.
fn is_loopback_only(url: &str, pghost: Option<&str>) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let params: Vec<(&str, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k, super::percent_decode_lossy(v))
        })
        .collect();
    if params
        .iter()
        .any(|(k, _)| k.starts_with("ssl") || *k == "requiressl" || *k == "service")
    {
        return false;
    }
    let authority = before_query.split('/').next().unwrap_or("");
    let hostspec = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let mut hosts: Vec<String> = hostspec
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| super::percent_decode_lossy(strip_port(h)))
        .collect();
    if hosts.is_empty() {
        // The last `host` parameter counts, as in libpq; then PGHOST; then the socket.
        let named = params
            .iter()
            .rev()
            .find(|(k, _)| *k == "host")
            .map(|(_, v)| v.as_str())
            .or(pghost)
            .unwrap_or("");
        hosts = named.split(',').map(str::to_owned).collect();
    }
    // libpq connects to `hostaddr` instead of resolving `host`.
    let addresses = params
        .iter()
        .rev()
        .find(|(k, _)| *k == "hostaddr")
        .map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .unwrap_or_default();
    hosts.iter().all(|h| is_loopback_host(h)) && addresses.iter().all(|a| is_loopback_address(a))
}

/// `host[:port]` or `[v6][:port]` → the host part.
fn strip_port(hostport: &str) -> &str {
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split_once(']').map_or(v6, |(h, _)| h);
    }
    hostport.split_once(':').map_or(hostport, |(h, _)| h)
}

/// A host name libpq reaches on this machine: empty (the default socket), a socket
/// directory (absolute path or abstract `@name`), `localhost` or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    host.is_empty()
        || host.starts_with('/')
        || host.starts_with('@')
        || host.eq_ignore_ascii_case("localhost")
        || is_loopback_address(host)
}

fn is_loopback_address(address: &str) -> bool {
    address
        .trim()
        .parse::<IpAddr>()
        .is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_only;

    #[test]
    fn loopback_hosts_without_a_tls_setting_are_loopback_only() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://u:p@127.1.2.3/db?connect_timeout=2",
            "postgresql://localhost/db",
            "postgres://LOCALHOST:5433/db",
            "postgres://[::1]:5432/db",
            "postgres://%2Fvar%2Frun%2Fpostgresql/db",
            "postgres:///db",
            "postgres:///db?host=/tmp",
            "postgres:///db?host=%2Fvar%2Frun%2Fpostgresql",
            "postgres://127.0.0.1,localhost:5433/db",
            "postgres://localhost/db?hostaddr=127.0.0.1",
        ] {
            assert!(is_loopback_only(url, None), "{url}");
        }
    }

    #[test]
    fn other_hosts_or_any_tls_setting_keep_libpq_s_default() {
        for url in [
            "postgres://db.example.org/db",
            "postgres://10.0.0.5:5432/db",
            "postgres://[2001:db8::1]/db",
            "postgres://127.0.0.1,db.example.org/db",
            "postgres://localhost/db?hostaddr=10.0.0.5",
            "postgres:///db?host=db.example.org",
            "postgres://127.0.0.1/db?sslmode=require",
            "postgres://127.0.0.1/db?sslmode=prefer",
            "postgres://localhost/db?sslrootcert=system",
            "postgres://localhost/db?requiressl=1",
            "postgres://localhost/db?service=site",
            "not a url",
        ] {
            assert!(!is_loopback_only(url, None), "{url}");
        }
    }

    #[test]
    fn a_url_without_host_follows_pghost() {
        assert!(is_loopback_only("postgres:///db", Some("/run/postgresql")));
        assert!(is_loopback_only("postgres:///db", Some("127.0.0.1")));
        assert!(!is_loopback_only("postgres:///db", Some("db.example.org")));
        // A host in the URL wins over PGHOST.
        assert!(is_loopback_only(
            "postgres://localhost/db",
            Some("db.example.org")
        ));
    }
}
