//! The caching resolver: DIDs to documents, handles to DIDs, and the bidirectional check.

use std::sync::Arc;

use aerie_crypto::PublicKey;
use aerie_syntax::{Did, Handle};
use hickory_resolver::TokioResolver;

use crate::cache::{Freshness, TtlCache};
use crate::fetch::{Clients, check_scheme, get_bounded};
use crate::service_auth::KeySource;
use crate::{DidDocument, IdentityError, ResolverConfig, dns};

/// Longest `/.well-known/atproto-did` body read: a DID is at most 2,048 bytes, and the body
/// may carry surrounding whitespace.
const MAX_WELL_KNOWN_BYTES: usize = 4096;

/// A DID with its document and, when verified both ways, its handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The DID.
    pub did: Did,
    /// The handle, only if the document claims it *and* it resolves back to `did`;
    /// `None` is shown to users as `handle.invalid`.
    pub handle: Option<Handle>,
    /// The DID document.
    pub doc: Arc<DidDocument>,
}

/// Resolves DIDs (`did:plc`, `did:web`) and handles (DNS TXT and HTTPS well-known), with
/// caches in front.
///
/// A cheap handle: clones share the clients and caches. Cached answers are served for
/// [`ResolverConfig::fresh_for`], then for up to [`ResolverConfig::stale_for`] more while a
/// background task refetches them. Failures are never cached. `refresh_*` methods bypass
/// the cache (after a signature fails, in case the key was rotated).
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    config: ResolverConfig,
    clients: Clients,
    dns: TokioResolver,
    docs: TtlCache<Did, Arc<DidDocument>>,
    handles: TtlCache<Handle, Did>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("plc_url", &self.inner.config.plc_url)
            .field("dns", &self.inner.config.dns)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver with `config`'s network settings and empty caches. Must be called inside
    /// a tokio runtime when DNS is [`crate::DnsConfig::System`] (hickory reads the system
    /// configuration here).
    pub fn new(config: ResolverConfig) -> Result<Resolver, IdentityError> {
        check_scheme(&config.plc_url)
            .map_err(|_| IdentityError::Config(format!("PLC URL {:?}", config.plc_url)))?;
        for (host, origin) in &config.origin_overrides {
            if crate::doc::bare_origin(origin).is_none() {
                return Err(IdentityError::Config(format!(
                    "origin override for {host:?} must be a bare http(s) origin, got {origin:?}"
                )));
            }
        }
        let clients = Clients::new(&config)?;
        let dns = dns::build(&config)?;
        Ok(Resolver {
            inner: Arc::new(Inner {
                docs: TtlCache::new(config.cache_capacity),
                handles: TtlCache::new(config.cache_capacity),
                config,
                clients,
                dns,
            }),
        })
    }

    /// The configuration this resolver was built with.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// `did`'s document, from the cache when fresh enough.
    pub async fn resolve_did(&self, did: &Did) -> Result<Arc<DidDocument>, IdentityError> {
        let config = &self.inner.config;
        match self.inner.docs.get(did, config.fresh_for, config.stale_for) {
            Freshness::Fresh(doc) => Ok(doc),
            Freshness::Stale(doc) => {
                if self.inner.docs.start_revalidating(did) {
                    let this = self.clone();
                    let did = did.clone();
                    tokio::spawn(async move {
                        if let Err(e) = this.refresh_did(&did).await {
                            tracing::debug!(%did, error = %e, "background DID refresh failed");
                        }
                        this.inner.docs.done_revalidating(&did);
                    });
                }
                Ok(doc)
            }
            Freshness::Missing => {
                self.inner
                    .docs
                    .fill(did, || async { self.fetch_did(did).await.map(Arc::new) })
                    .await
            }
        }
    }

    /// Fetches `did`'s document anew and caches it. A DID found gone is dropped from the
    /// cache; on a network failure the cached copy is kept.
    pub async fn refresh_did(&self, did: &Did) -> Result<Arc<DidDocument>, IdentityError> {
        match self.fetch_did(did).await {
            Ok(doc) => {
                let doc = Arc::new(doc);
                self.inner.docs.put(did.clone(), doc.clone());
                Ok(doc)
            }
            Err(e) => {
                if e.is_not_found() {
                    self.inner.docs.remove(did);
                }
                Err(e)
            }
        }
    }

    /// Drops `did`'s cached document (after a `#identity` event, say).
    pub fn forget_did(&self, did: &Did) {
        self.inner.docs.remove(did);
    }

    /// Drops `handle`'s cached DID.
    pub fn forget_handle(&self, handle: &Handle) {
        self.inner.handles.remove(handle);
    }

    /// The URL `did`'s document is fetched from.
    pub fn did_document_url(&self, did: &Did) -> Result<reqwest::Url, IdentityError> {
        let config = &self.inner.config;
        let url = match did.method() {
            "plc" => {
                // 24 characters of lowercase base32, as derived from the genesis operation;
                // anything else cannot exist and is not worth a request.
                let id = did.identifier();
                if id.len() != 24 || !id.bytes().all(|b| matches!(b, b'a'..=b'z' | b'2'..=b'7')) {
                    return Err(IdentityError::DidNotFound {
                        did: did.to_string(),
                    });
                }
                format!("{}/{}", config.plc_url.trim_end_matches('/'), did.as_str())
            }
            "web" => self.did_web_url(did)?,
            _ => {
                return Err(IdentityError::UnsupportedDidMethod {
                    did: did.to_string(),
                });
            }
        };
        check_scheme(&url)
    }

    /// The did.json URL of a hostname `did:web`.
    fn did_web_url(&self, did: &Did) -> Result<String, IdentityError> {
        let config = &self.inner.config;
        let invalid = |reason| IdentityError::InvalidDidWeb {
            did: did.to_string(),
            reason,
        };
        let id = did.identifier();
        if id.contains(':') {
            return Err(invalid("only hostname did:web is supported, not paths"));
        }
        // The only percent-escape a hostname did:web may carry is the port's colon.
        let decoded = id.replace("%3A", ":").replace("%3a", ":");
        if decoded.contains('%') {
            return Err(invalid("unexpected percent-encoding"));
        }
        let (host, port) = match decoded.split_once(':') {
            Some((host, port)) => {
                if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid("port must be digits"));
                }
                (host, Some(port))
            }
            None => (decoded.as_str(), None),
        };
        if host == "localhost" || host == "127.0.0.1" {
            if !config.allow_localhost_did_web {
                return Err(invalid("localhost is only resolved in development"));
            }
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            return Ok(format!("http://{host}{port}/.well-known/did.json"));
        }
        if port.is_some() {
            return Err(invalid("ports are only allowed for localhost"));
        }
        let hostname = Handle::parse(host).map_err(|_| invalid("not a valid hostname"))?;
        if hostname.has_disallowed_tld(config.allow_test_tld) {
            return Err(invalid("disallowed top-level domain"));
        }
        Ok(format!(
            "{}/.well-known/did.json",
            config.origin_for(hostname.as_str())
        ))
    }

    async fn fetch_did(&self, did: &Did) -> Result<DidDocument, IdentityError> {
        let url = self.did_document_url(did)?;
        let shown = url.to_string();
        let (status, body) = get_bounded(
            &self.inner.clients.no_redirect,
            url,
            "application/did+ld+json, application/json",
            self.inner.config.max_response_bytes,
        )
        .await?;
        match status {
            200 => DidDocument::from_json(did, &body),
            404 => Err(IdentityError::DidNotFound {
                did: did.to_string(),
            }),
            410 if did.method() == "plc" => Err(IdentityError::DidDeactivated {
                did: did.to_string(),
            }),
            _ => Err(IdentityError::Http {
                url: shown,
                reason: format!("status {status}"),
            }),
        }
    }

    /// The DID `handle` points to, from the cache when fresh enough. Unverified: the DID
    /// document may not claim the handle ([`Resolver::verify_handle`] checks both ways).
    pub async fn resolve_handle(&self, handle: &Handle) -> Result<Did, IdentityError> {
        let config = &self.inner.config;
        match self
            .inner
            .handles
            .get(handle, config.fresh_for, config.stale_for)
        {
            Freshness::Fresh(did) => Ok(did),
            Freshness::Stale(did) => {
                if self.inner.handles.start_revalidating(handle) {
                    let this = self.clone();
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        if let Err(e) = this.refresh_handle(&handle).await {
                            tracing::debug!(%handle, error = %e, "background handle refresh failed");
                        }
                        this.inner.handles.done_revalidating(&handle);
                    });
                }
                Ok(did)
            }
            Freshness::Missing => {
                self.inner
                    .handles
                    .fill(handle, || self.lookup_handle(handle))
                    .await
            }
        }
    }

    /// Resolves `handle` anew (DNS and HTTPS in parallel, DNS preferred) and caches the
    /// answer; a handle that no longer resolves is dropped from the cache.
    pub async fn refresh_handle(&self, handle: &Handle) -> Result<Did, IdentityError> {
        match self.lookup_handle(handle).await {
            Ok(did) => {
                self.inner.handles.put(handle.clone(), did.clone());
                Ok(did)
            }
            Err(e) => {
                self.inner.handles.remove(handle);
                Err(e)
            }
        }
    }

    async fn lookup_handle(&self, handle: &Handle) -> Result<Did, IdentityError> {
        if handle.has_disallowed_tld(self.inner.config.allow_test_tld) {
            return Err(IdentityError::DisallowedHandle {
                handle: handle.to_string(),
            });
        }
        let dns = self.resolve_handle_dns(handle);
        let http = self.resolve_handle_http(handle);
        tokio::pin!(dns, http);
        // Both lookups run at once; DNS wins whenever it has an answer, and a quick DNS
        // answer does not wait for a slow web server.
        let (dns, http) = tokio::select! {
            biased;
            d = &mut dns => {
                if let Ok(Some(did)) = d {
                    return Ok(did);
                }
                if let Err(e @ IdentityError::AmbiguousHandle { .. }) = d {
                    return Err(e);
                }
                (d, http.await)
            }
            h = &mut http => (dns.await, h),
        };
        match (dns, http) {
            (Ok(Some(did)), _) => Ok(did),
            (Err(e @ IdentityError::AmbiguousHandle { .. }), _) => Err(e),
            (_, Ok(Some(did))) => Ok(did),
            (dns, http) => {
                // A handle without a web server fails the HTTPS lookup with a connection
                // error; that is "not found", like an empty DNS answer.
                tracing::debug!(%handle, ?dns, ?http, "handle did not resolve");
                Err(IdentityError::HandleNotFound {
                    handle: handle.to_string(),
                })
            }
        }
    }

    /// The DID in `_atproto.<handle>` TXT records (uncached). `Ok(None)` when there is no
    /// such record; an error when several records name different DIDs.
    pub async fn resolve_handle_dns(&self, handle: &Handle) -> Result<Option<Did>, IdentityError> {
        dns::lookup(&self.inner.dns, handle).await
    }

    /// The DID served at `https://<handle>/.well-known/atproto-did` (uncached). `Ok(None)`
    /// for a non-2xx answer or a body that is not a DID.
    pub async fn resolve_handle_http(&self, handle: &Handle) -> Result<Option<Did>, IdentityError> {
        let origin = self.inner.config.origin_for(handle.as_str());
        let url = check_scheme(&format!("{origin}/.well-known/atproto-did"))?;
        let (status, body) = get_bounded(
            &self.inner.clients.bounded_redirect,
            url,
            "text/plain",
            MAX_WELL_KNOWN_BYTES,
        )
        .await?;
        if !(200..300).contains(&status) {
            return Ok(None);
        }
        let did = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| Did::parse(text.trim()).ok());
        Ok(did)
    }

    /// `did`'s document and, if the document claims a handle that resolves back to `did`,
    /// that handle.
    pub async fn resolve_identity(&self, did: &Did) -> Result<Identity, IdentityError> {
        let doc = self.resolve_did(did).await?;
        let handle = match doc.handle() {
            Some(handle) => match self.resolve_handle(&handle).await {
                Ok(back) if &back == did => Some(handle),
                _ => None,
            },
            None => None,
        };
        Ok(Identity {
            did: did.clone(),
            handle,
            doc,
        })
    }

    /// Resolves `handle` and checks the DID document claims it back
    /// ([`IdentityError::HandleMismatch`] otherwise).
    pub async fn verify_handle(&self, handle: &Handle) -> Result<Identity, IdentityError> {
        let did = self.resolve_handle(handle).await?;
        let doc = self.resolve_did(&did).await?;
        if doc.handle().as_ref() != Some(handle) {
            return Err(IdentityError::HandleMismatch {
                handle: handle.to_string(),
                did: did.to_string(),
            });
        }
        Ok(Identity {
            did,
            handle: Some(handle.clone()),
            doc,
        })
    }

    /// `did`'s atproto signing key; with `force_refresh`, from a refetched document
    /// unless the cached one is younger than [`ResolverConfig::min_refresh_interval`]
    /// (which stops a stream of bad signatures from turning into a stream of fetches).
    pub async fn signing_key(
        &self,
        did: &Did,
        force_refresh: bool,
    ) -> Result<PublicKey, IdentityError> {
        let recent = self
            .inner
            .docs
            .age(did)
            .is_some_and(|age| age < self.inner.config.min_refresh_interval);
        let doc = if force_refresh && !recent {
            self.refresh_did(did).await?
        } else {
            self.resolve_did(did).await?
        };
        doc.signing_key()
    }
}

impl KeySource for Resolver {
    async fn signing_key(
        &self,
        did: &Did,
        force_refresh: bool,
    ) -> Result<PublicKey, IdentityError> {
        Resolver::signing_key(self, did, force_refresh).await
    }
}
