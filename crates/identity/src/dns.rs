//! Handle resolution by DNS: TXT records at `_atproto.<handle>` holding `did=<DID>`.

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig as HickoryConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use aerie_syntax::{Did, Handle};

use crate::{DnsConfig, IdentityError, ResolverConfig};

pub(crate) fn build(config: &ResolverConfig) -> Result<TokioResolver, IdentityError> {
    let mut builder = match &config.dns {
        DnsConfig::System => TokioResolver::builder_tokio()
            .map_err(|e| IdentityError::Config(format!("system DNS configuration: {e}")))?,
        DnsConfig::Servers(servers) => {
            let name_servers = servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                HickoryConfig::from_name_servers(name_servers),
                TokioRuntimeProvider::default(),
            )
        }
    };
    let opts = builder.options_mut();
    opts.timeout = config.dns_timeout;
    opts.attempts = 2;
    // Handles are always absolute names; never try them under the host's search domains.
    opts.ndots = 0;
    builder
        .build()
        .map_err(|e| IdentityError::Config(format!("DNS resolver: {e}")))
}

/// The DID named by `_atproto.<handle>`: `None` when there is no such name or no `did=`
/// record; an error when the records name several distinct DIDs or the lookup failed.
pub(crate) async fn lookup(
    resolver: &TokioResolver,
    handle: &Handle,
) -> Result<Option<Did>, IdentityError> {
    // The trailing dot makes the name fully qualified, so no search domain is appended.
    let name = format!("_atproto.{}.", handle.as_str());
    let lookup = match resolver.txt_lookup(name.as_str()).await {
        Ok(lookup) => lookup,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(None),
        Err(e) => {
            return Err(IdentityError::Dns {
                name,
                reason: e.to_string(),
            });
        }
    };
    let mut dids: Vec<Did> = Vec::new();
    for record in lookup.answers() {
        let RData::TXT(txt) = &record.data else {
            continue;
        };
        // A TXT record is one or more character-strings of at most 255 bytes each; a long
        // value is split across them and means their concatenation.
        let value: Vec<u8> = txt
            .txt_data
            .iter()
            .flat_map(|s| s.iter().copied())
            .collect();
        let Ok(value) = std::str::from_utf8(&value) else {
            continue;
        };
        let Some(did) = value.strip_prefix("did=").and_then(|d| Did::parse(d).ok()) else {
            continue;
        };
        if !dids.contains(&did) {
            dids.push(did);
        }
    }
    match dids.len() {
        0 => Ok(None),
        1 => Ok(dids.pop()),
        _ => Err(IdentityError::AmbiguousHandle {
            handle: handle.to_string(),
            dids: dids.into_iter().map(Did::into_string).collect(),
        }),
    }
}
