//! Who is on the other end: the client's address, believing forwarding headers only
//! from the reverse proxies the operator trusts (`SODARCACHE_TRUSTED_PROXIES`).
//!
//! Without trusted proxies, the client is the TCP peer and `Forwarded` /
//! `X-Forwarded-For` are ignored (anyone can send them). When the peer is a trusted
//! proxy, the client is the rightmost address of `Forwarded` (RFC 7239, preferred) or
//! else `X-Forwarded-For` that is not itself a trusted proxy: each proxy appends the
//! address it saw, so entries left of the first untrusted one are the client's claims.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;

/// Addresses and CIDR networks of trusted reverse proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses a comma- or space-separated list of addresses (`10.0.0.1`, `::1`) and
    /// networks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in list
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("\"{item}\" is not an IP address or network"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("\"{item}\" has an invalid prefix length"))?,
            };
            nets.push((ip, bits));
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether none are configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of them or in one of their networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|&(net, bits)| in_network(ip, canonical(net), bits))
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |a: u128, width: u32| {
        let bits = u32::from(bits);
        if bits == 0 { 0 } else { a >> (width - bits) }
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            prefix(u128::from(u32::from(a)), 32) == prefix(u128::from(u32::from(n)), 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(u128::from(a), 128) == prefix(u128::from(n), 128),
        _ => false,
    }
}

/// Whether the request came through a trusted proxy (its forwarding headers count).
pub fn from_trusted_proxy(req: &HttpRequest, trusted: &TrustedProxies) -> bool {
    req.peer_addr()
        .is_some_and(|peer| trusted.contains(peer.ip()))
}

/// The client's address (see the module documentation); `None` only without a peer
/// (never for a TCP connection).
pub fn client_ip(req: &HttpRequest, trusted: &TrustedProxies) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    if !trusted.contains(peer) {
        return Some(peer);
    }
    Some(forwarded_client(req.headers(), trusted).unwrap_or(peer))
}

/// The rightmost untrusted hop of the forwarding headers; `None` when there are none.
/// An entry that cannot be read ends the walk: the hop right of it is the client.
fn forwarded_client(headers: &HeaderMap, trusted: &TrustedProxies) -> Option<IpAddr> {
    let hops: Vec<Option<IpAddr>> = if headers.contains_key("forwarded") {
        header_list(headers, "forwarded")
            .iter()
            .map(|element| forwarded_for(element))
            .collect()
    } else {
        header_list(headers, "x-forwarded-for")
            .iter()
            .map(|s| parse_node(s))
            .collect()
    };
    let mut client = None;
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop else { break };
        let ip = canonical(ip);
        client = Some(ip);
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// Every comma-separated entry of every instance of header `name`, in order.
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .flat_map(|v| {
            v.to_str()
                .unwrap_or("\u{0}")
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The `for=` node of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v.trim().trim_matches('"')))
            .flatten()
    })
}

/// `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]`, `[::1]:80`.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    s.rsplit_once(':')
        .and_then(|(ip, port)| port.parse::<u16>().ok().and_then(|_| ip.parse().ok()))
}

/// The scheme, host and port (and any path prefix) absolute links start with, without
/// a trailing slash: `SODARCACHE_PUBLIC_URL` when set; else, from a trusted proxy, its
/// `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host`; else `http` and the request's
/// `Host` when that is a well-formed host, or the address the server listens on.
pub fn base_url(req: &HttpRequest, settings: &crate::settings::Settings) -> String {
    if let Some(url) = &settings.public_url {
        return url.clone();
    }
    let trusted = from_trusted_proxy(req, &settings.trusted_proxies);
    let forwarded = |key: &str, x_header: &str| -> Option<String> {
        if !trusted {
            return None;
        }
        let from_forwarded = header_list(req.headers(), "forwarded")
            .first()
            .and_then(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case(key)
                        .then(|| v.trim().trim_matches('"').to_owned())
                })
            });
        from_forwarded.or_else(|| header_list(req.headers(), x_header).first().cloned())
    };
    let scheme = forwarded("proto", "x-forwarded-proto")
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| "http".to_owned());
    let host = forwarded("host", "x-forwarded-host")
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .filter(|h| is_host(h))
        .unwrap_or_else(|| req.app_config().local_addr().to_string());
    format!("{scheme}://{host}")
}

/// `name`, `name:port`, `1.2.3.4:port` or `[v6]:port`, and nothing else.
fn is_host(h: &str) -> bool {
    let (host, port) = match h.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (h, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    port_ok && host_ok
}

/// Checks `SODARCACHE_PUBLIC_URL`: `http(s)://host[:port][/prefix]`, no query, fragment,
/// quotes or spaces; returned without a trailing slash.
pub fn parse_public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("\"{url}\" must start with http:// or https://"))?;
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b));
    if !is_host(host) || !path_ok {
        return Err(format!(
            "\"{url}\" is not an absolute URL like https://cache.example.org or https://example.org/prefix"
        ));
    }
    Ok(url.to_owned())
}

/// `s` quoted for a POSIX shell: in single quotes, each `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn networks_and_addresses_parse_and_match() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7 fd00::/8").unwrap();
        assert!(t.contains("10.200.3.4".parse().unwrap()));
        assert!(t.contains("::ffff:10.1.1.1".parse().unwrap()));
        assert!(t.contains("192.168.1.7".parse().unwrap()));
        assert!(!t.contains("192.168.1.8".parse().unwrap()));
        assert!(t.contains("fd12::1".parse().unwrap()));
        assert!(!t.contains("fe80::1".parse().unwrap()));
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        for bad in ["10.0.0.0/33", "proxy.local", "::1/129", "1.2.3.4/x"] {
            assert!(TrustedProxies::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn hosts_public_urls_and_shell_quoting() {
        for good in [
            "example.org",
            "example.org:8000",
            "127.0.0.1:80",
            "[::1]:8000",
            "localhost",
        ] {
            assert!(is_host(good), "{good}");
        }
        for bad in [
            "evil';id;echo '",
            "a b",
            "x:port",
            "",
            "[::1",
            "a/b",
            "x:123456",
        ] {
            assert!(!is_host(bad), "{bad}");
        }
        assert_eq!(
            parse_public_url("https://cache.example.org/").unwrap(),
            "https://cache.example.org"
        );
        assert_eq!(
            parse_public_url("http://h:8000/sub").unwrap(),
            "http://h:8000/sub"
        );
        for bad in [
            "cache.example.org",
            "ftp://x",
            "https://x/?q=1",
            "https://a'b",
            "https://x/#f",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
        assert_eq!(shell_quote("a'b"), r#"'a'\''b'"#);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        assert_eq!(forwarded_client(&h, &t), Some("1.2.3.4".parse().unwrap()));
        // Forwarded wins over X-Forwarded-For; ports and brackets are understood.
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::5]:4711\";proto=https",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(
            forwarded_client(&h, &t),
            Some("2001:db8::5".parse().unwrap())
        );
        // Garbage ends the walk at the hop right of it.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, evil, 10.0.0.9")]);
        assert_eq!(forwarded_client(&h, &t), Some("10.0.0.9".parse().unwrap()));
        assert_eq!(forwarded_client(&headers(&[]), &t), None);
        let h = headers(&[("x-forwarded-for", "5.5.5.5:1234")]);
        assert_eq!(forwarded_client(&h, &t), Some("5.5.5.5".parse().unwrap()));
    }
}
