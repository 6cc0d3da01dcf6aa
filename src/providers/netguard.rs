//! Which URLs an untrusted fetch may reach. Pages named by search results,
//! by plan text or by a redirect are fetched only from public addresses:
//! never loopback, private, link-local (cloud metadata at 169.254.169.254),
//! shared (CGNAT), documentation, multicast or reserved ones, in IPv4 or any
//! IPv6 form that embeds them. Configured `base_url`s do not come through here.
//!
//! The rule is enforced where the connection is made, so neither a redirect
//! nor a name that resolves differently the second time (DNS rebinding) gets
//! round it: `PublicResolver` is the DNS resolver of the client that fetches
//! untrusted URLs and drops every address that is not public, and
//! `check_url` is called on the first URL and on every redirect hop, because
//! a literal IP address in a URL is connected to without any resolution.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Why a URL is not fetched.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotPublic {
    #[error("{host} is {what}")]
    Address { host: String, what: &'static str },
    #[error("`{host}` is a local or internal name")]
    Name { host: String },
    #[error("`{host}` resolves to no public address (only {addrs})")]
    Resolved { host: String, addrs: String },
    #[error("only http and https URLs are fetched, not `{scheme}:`")]
    Scheme { scheme: String },
    #[error("the URL has no host")]
    NoHost,
}

/// IPv4 blocks that are not public, with what to call an address in them.
/// The IANA special-purpose registry, less the few globally reachable entries.
const V4_BLOCKED: &[(Ipv4Net, &str)] = &[
    (
        v4(0, 0, 0, 0, 8),
        "an unspecified (\"this network\") address",
    ),
    (v4(10, 0, 0, 0, 8), "a private address"),
    (
        v4(100, 64, 0, 0, 10),
        "a shared (carrier-grade NAT) address",
    ),
    (v4(127, 0, 0, 0, 8), "a loopback address"),
    (v4(169, 254, 0, 0, 16), "a link-local address"),
    (v4(172, 16, 0, 0, 12), "a private address"),
    (v4(192, 0, 0, 0, 24), "an IETF protocol address"),
    (v4(192, 0, 2, 0, 24), "a documentation address"),
    (v4(192, 88, 99, 0, 24), "a 6to4 relay address"),
    (v4(192, 168, 0, 0, 16), "a private address"),
    (v4(198, 18, 0, 0, 15), "a benchmarking address"),
    (v4(198, 51, 100, 0, 24), "a documentation address"),
    (v4(203, 0, 113, 0, 24), "a documentation address"),
    (v4(224, 0, 0, 0, 4), "a multicast address"),
    (v4(240, 0, 0, 0, 4), "a reserved or broadcast address"),
];

/// IPv6 blocks inside global unicast (2000::/3) that are not public; every
/// address outside 2000::/3 is not public either, except the forms that
/// embed an IPv4 address, which are judged by that address.
const V6_BLOCKED: &[(Ipv6Net, &str)] = &[
    (v6(0x2001, 0, 23), "an IETF protocol address"),
    (v6(0x2001, 0x0db8, 32), "a documentation address"),
    (v6(0x3fff, 0, 20), "a documentation address"),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(a: u16, b: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, 0, 0, 0, 0, 0, 0), len)
}

/// `None` when `ip` is a public unicast address, else what kind it is.
pub fn not_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => V4_BLOCKED
            .iter()
            .find(|(net, _)| net.contains(&v4))
            .map(|(_, what)| *what),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return not_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            if v6.is_unspecified() {
                return Some("an unspecified address");
            }
            if v6.is_loopback() {
                return Some("a loopback address");
            }
            match seg[0] {
                s if s & 0xfe00 == 0xfc00 => return Some("a unique-local address"),
                s if s & 0xffc0 == 0xfe80 => return Some("a link-local address"),
                s if s & 0xffc0 == 0xfec0 => return Some("a site-local address"),
                s if s & 0xff00 == 0xff00 => return Some("a multicast address"),
                s if s & 0xe000 != 0x2000 => return Some("a reserved address"),
                _ => {}
            }
            V6_BLOCKED
                .iter()
                .find(|(net, _)| net.contains(&v6))
                .map(|(_, what)| *what)
        }
    }
}

/// The IPv4 address inside an IPv6 form that carries one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`)
/// and 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        // `::` and `::1` are judged as themselves, not as 0.0.0.0 and 0.0.0.1.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

/// Host names that never name a public host, whatever they resolve to:
/// `localhost` and its subdomains, cloud metadata names, the special-use
/// and customary private suffixes, and single-label names (which a resolver
/// completes with the local search domain).
pub fn local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    const NAMES: &[&str] = &["localhost", "metadata.google.internal"];
    const SUFFIXES: &[&str] = &[
        ".localhost",
        ".local",
        ".localdomain",
        ".internal",
        ".intranet",
        ".private",
        ".corp",
        ".home",
        ".lan",
        ".arpa",
    ];
    !host.contains('.')
        || NAMES.contains(&host.as_str())
        || SUFFIXES.iter().any(|s| host.ends_with(s))
}

/// May `url` be fetched by an untrusted request? Literal addresses are judged
/// here; names are judged here and again, by their addresses, at connect
/// time by `PublicResolver`. `exempt` holds socket addresses treated as
/// public (tests whose "public" server runs on loopback).
pub fn check_url(url: &reqwest::Url, exempt: &[SocketAddr]) -> Result<(), NotPublic> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NotPublic::Scheme {
            scheme: url.scheme().to_string(),
        });
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let ip = match url.host() {
        None => return Err(NotPublic::NoHost),
        Some(url::Host::Domain(d)) => {
            if local_name(d) {
                return Err(NotPublic::Name {
                    host: d.to_string(),
                });
            }
            return Ok(());
        }
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
    };
    if exempt.contains(&SocketAddr::new(ip, port)) {
        return Ok(());
    }
    match not_public(ip) {
        None => Ok(()),
        Some(what) => Err(NotPublic::Address {
            host: ip.to_string(),
            what,
        }),
    }
}

/// The DNS resolver of the untrusted-fetch client: the system's answer with
/// every address that is not public removed, an error when none is left.
/// It judges addresses only; names were judged by `check_url` on the same
/// URL before any connection, so a name that passed and resolves privately
/// (rebinding, a public name pointing inward) is stopped here.
#[derive(Debug, Default)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (public, private) = split_public(all);
            if public.is_empty() {
                let addrs = private
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(NotPublic::Resolved { host, addrs }) as _);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `(public, not public)` addresses of a resolver's answer.
fn split_public(addrs: Vec<SocketAddr>) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
    addrs
        .into_iter()
        .partition(|a| not_public(a.ip()).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.170",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "100::1",
            "1::1",
        ] {
            assert!(not_public(ip(a)).is_some(), "{a} is public?");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(not_public(ip(a)), None, "{a}");
        }
    }

    #[test]
    fn urls_are_judged_by_literal_host_and_name() {
        let bad = [
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://127.0.0.1./",
            "http://[0:0:0:0:0:ffff:127.0.0.1]/",
            "http://user:pw@10.0.0.8/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:3000/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://printer.local/",
            "http://intranet/",
            "http://router.home.arpa/",
            "file:///etc/passwd",
            "ftp://example.com/",
        ];
        for u in bad {
            let url = reqwest::Url::parse(u).unwrap();
            assert!(check_url(&url, &[]).is_err(), "{u} passed");
        }
        for u in [
            "https://docs.rs/clap",
            "http://93.184.216.34/",
            "https://[2606:4700::1111]/",
        ] {
            check_url(&reqwest::Url::parse(u).unwrap(), &[]).unwrap();
        }
        let lo: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let url = reqwest::Url::parse("http://127.0.0.1:4000/p").unwrap();
        check_url(&url, &[lo]).unwrap();
        let other = reqwest::Url::parse("http://127.0.0.1:4001/p").unwrap();
        assert!(
            check_url(&other, &[lo]).is_err(),
            "the exemption is per port"
        );
    }

    #[test]
    fn resolver_keeps_only_public_answers() {
        let a = |s: &str| SocketAddr::new(ip(s), 0);
        let (public, private) = split_public(vec![a("127.0.0.1"), a("8.8.8.8"), a("::1")]);
        assert_eq!(public, vec![a("8.8.8.8")]);
        assert_eq!(private.len(), 2);
    }

    #[tokio::test]
    async fn resolver_refuses_names_that_resolve_only_privately() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let r = PublicResolver;
        for host in ["localhost", "127.0.0.1", "::1"] {
            let name = reqwest::dns::Name::from_str(host).unwrap();
            let e = match r.resolve(name).await {
                Ok(addrs) => panic!("{host} resolved to {:?}", addrs.collect::<Vec<_>>()),
                Err(e) => e,
            };
            assert!(e.downcast_ref::<NotPublic>().is_some(), "{host}: {e}");
        }
    }
}
