//! The application state shared by every handler: a cheap `Arc` handle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aerie_crypto::{KeyType, SigningKey};
use aerie_store::Store;
use aerie_xrpc::{AdminPassword, AuthKeys};
use axum::extract::FromRef;

use aerie_firehose::Firehose;
use aerie_identity::{Resolver, ResolverConfig};

use crate::blobstore::DiskBlobs;
use crate::config::Config;
use crate::plc::PlcClient;
use crate::sequencer::StoreLog;
use crate::{Error, config::PlcMode};

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    keys: AuthKeys,
    admin: AdminPassword,
    plc: PlcClient,
    rotation_key: SigningKey,
    repo_locks: RepoLocks,
    blobs: DiskBlobs,
    firehose: Firehose,
    resolver: Resolver,
    outbox: crate::mail::Outbox,
    rate_limits: crate::rate_limit::RateLimits,
    proxy_http: reqwest::Client,
}

impl AppState {
    /// Builds the state from a resolved config and an opened store (the firehose starts
    /// after the store's last event).
    pub async fn new(config: Config, store: Store) -> Result<AppState, Error> {
        let firehose = Firehose::open(
            Arc::new(StoreLog::new(store.clone(), config.repo_backfill_limit)),
            config.firehose.clone(),
        )
        .await
        .map_err(|e| Error::Store(format!("opening the firehose: {e}")))?;
        let rotation_key = SigningKey::from_bytes(KeyType::K256, config.plc_rotation_key.expose())
            .map_err(|e| Error::Config(format!("PLC rotation key: {e}")))?;
        let plc = match &config.plc {
            PlcMode::Remote(url) => PlcClient::remote(url),
            PlcMode::InProcess => PlcClient::in_process(&config.data_directory)?,
        };
        let blobs = DiskBlobs::open(config.blobstore_directory.clone())
            .await
            .map_err(|e| Error::Config(format!("blob store: {e}")))?;
        let outbox = crate::mail::Outbox::from_config(&config)?;
        let resolver = Resolver::new(resolver_config(&config))
            .map_err(|e| Error::Config(format!("identity resolver: {e}")))?;
        let config_rate_limits = config.rate_limits;
        // Proxied XRPC calls: no redirects (a service answers for itself), bounded waits.
        let proxy_http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .user_agent(concat!("aerie/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        Ok(AppState {
            inner: Arc::new(Inner {
                keys: AuthKeys::new(config.jwt_secret.expose(), &config.service_did),
                admin: AdminPassword(config.admin_password.expose().as_str().into()),
                config,
                store,
                plc,
                rotation_key,
                repo_locks: RepoLocks::default(),
                blobs,
                firehose,
                resolver,
                outbox,
                rate_limits: crate::rate_limit::RateLimits::new(config_rate_limits),
                proxy_http,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Session token keys.
    pub fn keys(&self) -> &AuthKeys {
        &self.inner.keys
    }

    /// Where DID operations go.
    pub fn plc(&self) -> &PlcClient {
        &self.inner.plc
    }

    /// The PDS's PLC rotation key.
    pub fn rotation_key(&self) -> &SigningKey {
        &self.inner.rotation_key
    }

    /// DID and handle resolution (DNS, HTTPS, PLC), cached.
    pub fn resolver(&self) -> &Resolver {
        &self.inner.resolver
    }

    /// Account mail (SMTP, or logged in dev mode).
    pub fn outbox(&self) -> &crate::mail::Outbox {
        &self.inner.outbox
    }

    /// The HTTP client for proxied XRPC calls.
    pub fn proxy_http(&self) -> &reqwest::Client {
        &self.inner.proxy_http
    }

    /// The rate-limit counters.
    pub fn rate_limits(&self) -> &crate::rate_limit::RateLimits {
        &self.inner.rate_limits
    }

    /// The firehose.
    pub fn firehose(&self) -> &Firehose {
        &self.inner.firehose
    }

    /// The blob store.
    pub fn blobs(&self) -> &DiskBlobs {
        &self.inner.blobs
    }

    /// The per-repository write lock.
    pub fn repo_locks(&self) -> &RepoLocks {
        &self.inner.repo_locks
    }
}

/// Production resolves over HTTPS and public DNS only; dev mode also reaches `.test` handles,
/// localhost did:web and private addresses, and uses the in-process PLC directory.
fn resolver_config(config: &Config) -> ResolverConfig {
    let plc_url = match &config.plc {
        PlcMode::Remote(url) => url.clone(),
        PlcMode::InProcess => config.public_url.clone(),
    };
    ResolverConfig {
        plc_url,
        allow_test_tld: config.dev_mode,
        allow_localhost_did_web: config.dev_mode,
        allow_private_addresses: config.dev_mode,
        ..ResolverConfig::default()
    }
}

impl FromRef<AppState> for AuthKeys {
    fn from_ref(s: &AppState) -> AuthKeys {
        s.inner.keys.clone()
    }
}

impl FromRef<AppState> for Firehose {
    fn from_ref(s: &AppState) -> Firehose {
        s.inner.firehose.clone()
    }
}

impl FromRef<AppState> for AdminPassword {
    fn from_ref(s: &AppState) -> AdminPassword {
        s.inner.admin.clone()
    }
}

/// One async mutex per DID: "read the repo root, build the next commit, write it" runs under
/// it, so two writes to one repo never both build on the same root (no forked commit chain).
/// Writes to different repos do not contend here and meet again only in the store's group
/// commit.
#[derive(Default)]
pub struct RepoLocks {
    // A std mutex guards only the map; the per-DID lock is tokio's because it is held across
    // the awaited store write.
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl RepoLocks {
    /// Waits for and holds `did`'s lock.
    pub async fn lock(&self, did: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            // Drop entries nobody holds or waits for, so the map stays as small as the
            // number of repos being written right now.
            if map.len() > 1024 {
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(did.to_owned()).or_default().clone()
        };
        m.lock_owned().await
    }
}
