//! The HTTP side of resolution: building the two clients, keeping them off private
//! networks, and reading bounded bodies.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

use crate::{IdentityError, ResolverConfig};

/// The clients a resolver uses. DID documents are fetched without redirects (a PLC
/// directory or did:web host has no reason to redirect, and following one would let the
/// host point us anywhere); the handle well-known lookup follows a bounded number, never
/// downgrading https to http.
pub(crate) struct Clients {
    pub(crate) no_redirect: reqwest::Client,
    pub(crate) bounded_redirect: reqwest::Client,
}

impl Clients {
    pub(crate) fn new(config: &ResolverConfig) -> Result<Clients, IdentityError> {
        let guard = AddressGuard::new(config);
        let base = || {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .timeout(config.http_timeout)
                .connect_timeout(config.http_timeout)
                .dns_resolver(guard.clone())
        };
        let max = config.max_redirects;
        let redirect_guard = guard.clone();
        let policy = Policy::custom(move |attempt| {
            let downgrade = attempt.url().scheme() != "https"
                && attempt
                    .previous()
                    .last()
                    .is_some_and(|prev| prev.scheme() == "https");
            // Names are checked when resolved; an address written into the URL is not
            // resolved, so it is checked here.
            let private_literal = redirect_guard.filter && {
                match attempt.url().host() {
                    Some(url::Host::Ipv4(ip)) => !redirect_guard.allows(IpAddr::V4(ip)),
                    Some(url::Host::Ipv6(ip)) => !redirect_guard.allows(IpAddr::V6(ip)),
                    _ => false,
                }
            };
            if attempt.previous().len() > max {
                attempt.error("too many redirects")
            } else if !matches!(attempt.url().scheme(), "http" | "https") || downgrade {
                attempt.error("redirect to a refused scheme")
            } else if private_literal {
                attempt.error("redirect to a non-public address")
            } else {
                attempt.follow()
            }
        });
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| IdentityError::Config(format!("HTTP client: {e}")))
        };
        Ok(Clients {
            no_redirect: build(base().redirect(Policy::none()))?,
            bounded_redirect: build(base().redirect(policy))?,
        })
    }
}

/// Checks that `url` is http(s) before anything is sent: the only schemes resolution
/// ever needs.
pub(crate) fn check_scheme(url: &str) -> Result<reqwest::Url, IdentityError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| IdentityError::RefusedUrl {
        url: url.to_owned(),
        reason: "not a URL",
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(IdentityError::RefusedUrl {
            url: url.to_owned(),
            reason: "only http and https are fetched",
        });
    }
    Ok(parsed)
}

/// A GET's status and body, the body cut off with an error past `limit` bytes.
pub(crate) async fn get_bounded(
    client: &reqwest::Client,
    url: reqwest::Url,
    accept: &str,
    limit: usize,
) -> Result<(u16, Vec<u8>), IdentityError> {
    let shown = url.to_string();
    let http_err = |reason: String| IdentityError::Http {
        url: shown.clone(),
        reason,
    };
    let mut resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, accept)
        .send()
        .await
        .map_err(|e| http_err(error_chain(&e)))?;
    let status = resp.status().as_u16();
    let too_big = || http_err(format!("response larger than {limit} bytes"));
    if resp.content_length().is_some_and(|len| len > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_err(error_chain(&e)))? {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// reqwest's top-level messages ("error sending request") hide the cause; the chain names
/// it (connection refused, timeout, certificate).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The DNS resolver of both clients. It applies origin overrides (an overridden host
/// connects to the override's host instead), and for fetches named by strangers (handles,
/// did:web hosts, redirects) drops every address that is not publicly routable, so a handle
/// cannot make the server request its own loopback, private network or cloud metadata
/// endpoint. Names the operator configured (the PLC directory, override targets, and
/// `localhost` when local did:web is allowed) resolve unfiltered.
#[derive(Clone)]
struct AddressGuard {
    config: Arc<ResolverConfig>,
    trusted: Arc<HashSet<String>>,
    filter: bool,
}

impl AddressGuard {
    fn new(config: &ResolverConfig) -> AddressGuard {
        let mut trusted = HashSet::new();
        let configured = std::iter::once(config.plc_url.as_str())
            .chain(config.origin_overrides.iter().map(|(_, o)| o.as_str()));
        for url in configured {
            if let Some(host) = reqwest::Url::parse(url).ok().and_then(|u| host_of(&u)) {
                trusted.insert(host);
            }
        }
        if config.allow_localhost_did_web {
            trusted.insert("localhost".to_owned());
            trusted.insert("127.0.0.1".to_owned());
        }
        AddressGuard {
            config: Arc::new(config.clone()),
            trusted: Arc::new(trusted),
            filter: !config.allow_private_addresses,
        }
    }

    /// Whether an address written into a redirect URL may be contacted.
    fn allows(&self, ip: IpAddr) -> bool {
        !self.filter || is_public(ip) || self.trusted.contains(&ip.to_string())
    }
}

/// The host of `url` as written, without IPv6 brackets.
fn host_of(url: &reqwest::Url) -> Option<String> {
    Some(match url.host()? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    })
}

impl Resolve for AddressGuard {
    fn resolve(&self, name: Name) -> Resolving {
        let asked = name.as_str().to_ascii_lowercase();
        let (host, trusted) = match self.config.connect_host(&asked) {
            Some(target) => (target, true),
            None => {
                let trusted = !self.filter || self.trusted.contains(&asked);
                (asked, trusted)
            }
        };
        Box::pin(async move {
            let found: Vec<SocketAddr> = match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, 0)],
                Err(_) => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| trusted || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// Whether `ip` is globally routable: not loopback, private, link-local, shared (CGNAT),
/// multicast, documentation, benchmarking or reserved; IPv6 unique-local and link-local
/// excluded too, and IPv4-mapped / NAT64 addresses judged by the IPv4 address inside.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::UNSPECIFIED)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_globally_routable_addresses_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "203.0.113.5",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
