use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::Error;

/// A PDS base URL that is safe to load: plain `http`, no credentials, no query, and (unless
/// remote hosts were allowed) a loopback host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    // Always ends in `/`, so `Url::join("xrpc/...")` keeps any path prefix.
    base: Url,
}

impl Target {
    /// Parses and checks a target URL. Loopback means `localhost`, `127.0.0.0/8` or `::1`
    /// (IPv4-mapped `::ffff:127.x.y.z` included); with `allow_remote` any host is accepted.
    ///
    /// Only `http` is supported: this build's HTTP client carries no TLS stack, and a
    /// loopback server needs none.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Target, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if base.scheme() != "http" {
            return Err(invalid("only http:// is supported"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid("credentials in the URL are not supported"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(invalid("a base URL takes no query or fragment"));
        }
        let host = base.host().ok_or_else(|| invalid("no host"))?;
        if !allow_remote && !is_loopback(&host) {
            return Err(Error::RemoteHost {
                host: host.to_string(),
            });
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Target { base })
    }

    /// The URL of an XRPC method on this server.
    pub fn xrpc(&self, nsid: &str) -> Url {
        let mut u = self.base.clone();
        let path = format!("{}xrpc/{nsid}", self.base.path());
        u.set_path(&path);
        u
    }

    /// The base URL, with a trailing `/`.
    pub fn as_url(&self) -> &Url {
        &self.base
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.as_str().trim_end_matches('/'))
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        // The URL parser lower-cases domains; a trailing dot is the same name.
        Host::Domain(d) => matches!(*d, "localhost" | "localhost."),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ipv6_is_loopback(ip),
    }
}

fn ipv6_is_loopback(ip: &Ipv6Addr) -> bool {
    ip.is_loopback()
        || ip
            .to_ipv4_mapped()
            .is_some_and(|v4: Ipv4Addr| IpAddr::V4(v4).is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(url: &str) -> bool {
        Target::parse(url, false).is_ok()
    }

    #[test]
    fn loopback_hosts_are_accepted() {
        for url in [
            "http://127.0.0.1:2583",
            "http://127.8.9.10:1/",
            "http://localhost:2583",
            "http://LOCALHOST:2583",
            "http://[::1]:2583",
            "http://[::ffff:127.0.0.1]:2583",
        ] {
            assert!(accepted(url), "{url}");
        }
    }

    #[test]
    fn remote_hosts_are_refused_without_allow_remote() {
        for url in [
            "http://example.com",
            "http://bsky.social",
            "http://10.0.0.1:2583",
            "http://0.0.0.0:2583",
            "http://[::]:2583",
            "http://[::2]:2583",
            "http://128.0.0.1",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
        ] {
            assert!(
                matches!(Target::parse(url, false), Err(Error::RemoteHost { .. })),
                "{url}"
            );
            assert!(Target::parse(url, true).is_ok(), "{url} with allow_remote");
        }
    }

    #[test]
    fn only_plain_http_base_urls_are_accepted() {
        for url in [
            "https://127.0.0.1:2583",
            "ftp://127.0.0.1",
            "http://user:pw@127.0.0.1",
            "http://127.0.0.1/?x=1",
            "127.0.0.1:2583",
            "",
        ] {
            assert!(
                matches!(Target::parse(url, true), Err(Error::InvalidUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn xrpc_urls_keep_the_base_path() {
        let t = Target::parse("http://127.0.0.1:2583/pds", false).unwrap();
        assert_eq!(
            t.xrpc("com.atproto.server.describeServer").as_str(),
            "http://127.0.0.1:2583/pds/xrpc/com.atproto.server.describeServer"
        );
        let t = Target::parse("http://127.0.0.1:2583", false).unwrap();
        assert_eq!(
            t.xrpc("_health").as_str(),
            "http://127.0.0.1:2583/xrpc/_health"
        );
        assert_eq!(t.to_string(), "http://127.0.0.1:2583");
    }
}
