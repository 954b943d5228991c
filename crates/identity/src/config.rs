use std::net::SocketAddr;
use std::time::Duration;

/// The public PLC directory, the reference PDS's default for `PDS_DID_PLC_URL`.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";

/// Where DNS questions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsConfig {
    /// The operating system's resolvers (`/etc/resolv.conf`).
    System,
    /// These servers, over UDP with TCP fallback; a port other than 53 is allowed, so tests
    /// can run a DNS server on `127.0.0.1:<ephemeral>`.
    Servers(Vec<SocketAddr>),
}

/// How a [`crate::Resolver`] reaches the network, and how long it remembers answers.
///
/// `Default` is production: the public PLC directory, system DNS, HTTPS only.
#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// Base URL of the PLC directory; `GET <plc_url>/<did>` returns the document.
    pub plc_url: String,
    /// DNS servers for `_atproto.<handle>` TXT lookups.
    pub dns: DnsConfig,
    /// Whether `did:web:localhost%3A<port>` / `did:web:127.0.0.1%3A<port>` resolve, over
    /// plain HTTP. For development and tests only: the spec reserves these for local work.
    pub allow_localhost_did_web: bool,
    /// Whether handles under `.test` are resolved (development networks use them).
    pub allow_test_tld: bool,
    /// Hosts served by a fixed origin instead of `https://<host>`, like `curl --resolve`:
    /// an entry `("test", "http://127.0.0.1:2583")` fetches the well-known documents of
    /// every handle and `did:web` host equal to or ending in `.test` from
    /// `http://<host>:2583/…`, connecting to 127.0.0.1. The request keeps the real host
    /// name (so a server can tell accounts apart by `Host`). This is operator configuration
    /// (dev networks, tests), so plain http is allowed here.
    pub origin_overrides: Vec<(String, String)>,
    /// Whether handles, did:web hosts and redirects may lead to loopback, private or
    /// link-local addresses. Off in production (a handle must not make the server probe
    /// its own network); hosts named in `plc_url` and `origin_overrides`, and `localhost`
    /// when `allow_localhost_did_web`, are trusted either way.
    pub allow_private_addresses: bool,
    /// Timeout of each HTTP request, connection included.
    pub http_timeout: Duration,
    /// Timeout of each DNS lookup.
    pub dns_timeout: Duration,
    /// Largest HTTP answer read, in bytes (DID documents, `atproto-did` bodies).
    pub max_response_bytes: usize,
    /// Most redirects followed by a handle's `/.well-known/atproto-did` lookup. DID
    /// documents are fetched without following redirects.
    pub max_redirects: usize,
    /// Entries kept in each cache (DID documents, handles).
    pub cache_capacity: usize,
    /// How long a cached answer is served without a refetch.
    pub fresh_for: Duration,
    /// After `fresh_for`, how long a cached answer is still served while a background task
    /// refetches it (stale-while-revalidate); past it, callers wait for the refetch.
    pub stale_for: Duration,
    /// A forced refresh of a DID document younger than this is served from the cache
    /// instead ([`crate::Resolver::signing_key`]); tests set it to zero.
    pub min_refresh_interval: Duration,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            plc_url: DEFAULT_PLC_URL.to_owned(),
            dns: DnsConfig::System,
            allow_localhost_did_web: false,
            allow_test_tld: false,
            origin_overrides: Vec::new(),
            allow_private_addresses: false,
            http_timeout: Duration::from_secs(10),
            dns_timeout: Duration::from_secs(3),
            max_response_bytes: crate::MAX_DOCUMENT_BYTES,
            max_redirects: 5,
            cache_capacity: 10_000,
            fresh_for: Duration::from_secs(60 * 60),
            stale_for: Duration::from_secs(24 * 60 * 60),
            min_refresh_interval: Duration::from_secs(5),
            user_agent: concat!("aerie/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ResolverConfig {
    /// The origin override whose suffix covers `host`, if one does.
    fn origin_override(&self, host: &str) -> Option<&str> {
        self.origin_overrides.iter().find_map(|(suffix, origin)| {
            let matches = host == suffix
                || host
                    .strip_suffix(suffix.as_str())
                    .is_some_and(|rest| rest.ends_with('.'));
            matches.then_some(origin.as_str())
        })
    }

    /// The origin `host`'s well-known documents are fetched from: `https://<host>`, or for
    /// an overridden host the override's scheme and port with `host` kept as the name.
    pub(crate) fn origin_for(&self, host: &str) -> String {
        let Some(parsed) = self
            .origin_override(host)
            .and_then(|o| reqwest::Url::parse(o).ok())
        else {
            return format!("https://{host}");
        };
        match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        }
    }

    /// For an overridden host, the host (name or address) to connect to instead.
    pub(crate) fn connect_host(&self, host: &str) -> Option<String> {
        let parsed = reqwest::Url::parse(self.origin_override(host)?).ok()?;
        match parsed.host()? {
            url::Host::Domain(d) => Some(d.to_ascii_lowercase()),
            url::Host::Ipv4(ip) => Some(ip.to_string()),
            url::Host::Ipv6(ip) => Some(ip.to_string()),
        }
    }
}
