//! Configuration: CLI flags and the reference PDS's environment variable names.
//!
//! `ConfigArgs` is what clap parses (every flag also reads the official `PDS_*` env name);
//! `ConfigArgs::resolve` applies the dev/production rules and yields a `Config` the server
//! runs on. With nothing set we are in dev mode: localhost, port 2583, `./data`, secrets
//! generated once and kept in `<data>/secrets.json` (mode 0600), handles under `.test`.
//! Once `PDS_HOSTNAME` names a public host (and `PDS_DEV_MODE` is not set) the secrets must
//! be given explicitly and `PDS_DID_PLC_URL` defaults to the public PLC directory.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::builder::BoolishValueParser;

use crate::Error;

/// The public PLC directory the reference PDS uses by default.
pub const DEFAULT_PLC_URL: &str = "https://plc.directory";
/// The reference PDS's default port.
pub const DEFAULT_PORT: u16 = 2583;
/// The reference's default blob upload limit (bytes).
pub const DEFAULT_BLOB_UPLOAD_LIMIT: u64 = 5 * 1024 * 1024;
/// The firehose backfill window when `PDS_REPO_BACKFILL_LIMIT_MS` is unset: 72 hours (the
/// reference defaults to one day; a relay offline over a weekend should still catch up).
pub const DEFAULT_REPO_BACKFILL_LIMIT_MS: u64 = 72 * 60 * 60 * 1000;
/// How long an upload no record references is kept before the sweep removes it (6 hours:
/// long enough for a client to upload several images and then post).
pub const DEFAULT_BLOB_TEMP_GRACE_SECONDS: u64 = 6 * 60 * 60;

/// Flags and environment variables for `aerie serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// Public hostname of this PDS (no scheme); `localhost` means dev.
    #[arg(long, env = "PDS_HOSTNAME")]
    pub hostname: Option<String>,
    /// TCP port to listen on.
    #[arg(long, env = "PDS_PORT")]
    pub port: Option<u16>,
    /// Address to bind (default 0.0.0.0).
    #[arg(long, env = "PDS_BIND_HOST")]
    pub bind_host: Option<String>,
    /// Directory for the SQLite database and dev secrets.
    #[arg(long, env = "PDS_DATA_DIRECTORY")]
    pub data_directory: Option<PathBuf>,
    /// Directory for blobs (default `<data>/blocks`).
    #[arg(long, env = "PDS_BLOBSTORE_DISK_LOCATION")]
    pub blobstore_disk_location: Option<PathBuf>,
    /// The service DID (default `did:web:<hostname>`).
    #[arg(long, env = "PDS_SERVICE_DID")]
    pub service_did: Option<String>,
    /// HS256 secret for session tokens.
    #[arg(long, env = "PDS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Password for HTTP basic `admin:<password>`.
    #[arg(long, env = "PDS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// secp256k1 PLC rotation key, 64 hex characters.
    #[arg(
        long,
        env = "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
        hide_env_values = true
    )]
    pub plc_rotation_key_k256_private_key_hex: Option<String>,
    /// PLC directory URL; unset in dev mode means an in-process PLC directory.
    #[arg(long, env = "PDS_DID_PLC_URL")]
    pub did_plc_url: Option<String>,
    /// Comma-separated handle suffixes offered to users (e.g. `.example.com`).
    #[arg(long, env = "PDS_SERVICE_HANDLE_DOMAINS")]
    pub service_handle_domains: Option<String>,
    /// Require an invite code at signup.
    #[arg(long, env = "PDS_INVITE_REQUIRED", value_parser = BoolishValueParser::new())]
    pub invite_required: Option<bool>,
    /// AppView that app.bsky.* calls without an `atproto-proxy` header go to (default in
    /// production: https://api.bsky.app; none in dev mode). Needs PDS_BSKY_APP_VIEW_DID.
    #[arg(long, env = "PDS_BSKY_APP_VIEW_URL")]
    pub bsky_app_view_url: Option<String>,
    /// The AppView's DID (default in production: did:web:api.bsky.app).
    #[arg(long, env = "PDS_BSKY_APP_VIEW_DID")]
    pub bsky_app_view_did: Option<String>,
    /// Rate limits (logins, signups, handle changes, record writes, requests per IP); on by
    /// default in production, off in dev mode.
    #[arg(long, env = "PDS_RATE_LIMITS_ENABLED", value_parser = BoolishValueParser::new())]
    pub rate_limits_enabled: Option<bool>,
    /// Development mode: relaxed rules even on a public hostname.
    #[arg(long, env = "PDS_DEV_MODE", value_parser = BoolishValueParser::new())]
    pub dev_mode: Option<bool>,
    /// Largest accepted blob in bytes.
    #[arg(long, env = "PDS_BLOB_UPLOAD_LIMIT")]
    pub blob_upload_limit: Option<u64>,
    /// Contact address shown by describeServer.
    #[arg(long, env = "PDS_CONTACT_EMAIL_ADDRESS")]
    pub contact_email_address: Option<String>,
    /// Privacy policy link shown by describeServer.
    #[arg(long, env = "PDS_PRIVACY_POLICY_URL")]
    pub privacy_policy_url: Option<String>,
    /// Terms of service link shown by describeServer.
    #[arg(long, env = "PDS_TERMS_OF_SERVICE_URL")]
    pub terms_of_service_url: Option<String>,
    /// SMTP server for account mail, e.g. `smtps://user:pass@mail.example.com`.
    #[arg(long, env = "PDS_EMAIL_SMTP_URL", hide_env_values = true)]
    pub email_smtp_url: Option<String>,
    /// Sender of account mail (`addr@example.com` or `Name <addr@example.com>`).
    #[arg(long, env = "PDS_EMAIL_FROM_ADDRESS")]
    pub email_from_address: Option<String>,
    /// Seconds an uploaded blob no record references is kept before it is removed.
    #[arg(long, env = "PDS_BLOB_TEMP_GRACE_SECONDS")]
    pub blob_temp_grace_seconds: Option<u64>,
    /// Firehose backfill window in milliseconds: events older than this are pruned, and a
    /// cursor older than it gets `#info OutdatedCursor` (default 72 hours).
    #[arg(long, env = "PDS_REPO_BACKFILL_LIMIT_MS")]
    pub repo_backfill_limit_ms: Option<u64>,
    /// Comma-separated relay URLs sent `com.atproto.sync.requestCrawl` on activity (at most
    /// once per 20 minutes each), e.g. `https://bsky.network`.
    #[arg(long, env = "PDS_CRAWLERS")]
    pub crawlers: Option<String>,
    /// Bytes a firehose subscriber may fall behind the live stream before it is sent
    /// `ConsumerTooSlow` and closed (default 256 MiB); it catches up from the log until then.
    #[arg(long, env = "PDS_FIREHOSE_MAX_BEHIND_BYTES")]
    pub firehose_max_behind_bytes: Option<u64>,
    /// Events kept in the firehose's shared in-memory ring (default 4096).
    #[arg(long, env = "PDS_FIREHOSE_RING_EVENTS")]
    pub firehose_ring_events: Option<usize>,
    /// Frame bytes kept in the firehose's shared in-memory ring (default 64 MiB).
    #[arg(long, env = "PDS_FIREHOSE_RING_BYTES")]
    pub firehose_ring_bytes: Option<usize>,
    /// Most concurrent firehose subscribers; more get 503 (default 10,000).
    #[arg(long, env = "PDS_FIREHOSE_MAX_SUBSCRIBERS")]
    pub firehose_max_subscribers: Option<usize>,
}

/// A secret value whose `Debug` never shows the content.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    /// The secret itself; call sites are where it is used, so they are easy to audit.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where did:plc operations go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlcMode {
    /// Post to this PLC directory over HTTP.
    Remote(String),
    /// Dev mode without `PDS_DID_PLC_URL`: run a PLC directory inside the process.
    InProcess,
}

/// The resolved configuration the server runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Hostname, lowercase.
    pub hostname: String,
    /// Port to listen on.
    pub port: u16,
    /// Address to bind.
    pub bind_host: String,
    /// `https://<hostname>` in production, `http://<hostname>:<port>` in dev.
    pub public_url: String,
    /// The service DID (`aud` of session tokens).
    pub service_did: String,
    /// Data directory (created if missing).
    pub data_directory: PathBuf,
    /// Blob directory.
    pub blobstore_directory: PathBuf,
    /// Handle suffixes, each starting with `.`.
    pub service_handle_domains: Vec<String>,
    /// Whether signups need an invite code.
    pub invite_required: bool,
    /// True unless a public hostname is configured without `PDS_DEV_MODE`.
    pub dev_mode: bool,
    /// Whether rate limits apply (see `rate_limit`).
    pub rate_limits: bool,
    /// Default AppView for app.bsky.* calls: (origin without trailing `/`, DID).
    pub app_view: Option<(String, String)>,
    /// PLC directory.
    pub plc: PlcMode,
    /// HS256 key for session tokens.
    pub jwt_secret: Secret<Vec<u8>>,
    /// Admin basic-auth password.
    pub admin_password: Secret<String>,
    /// PLC rotation key (secp256k1 scalar, big-endian).
    pub plc_rotation_key: Secret<[u8; 32]>,
    /// Largest accepted blob.
    pub blob_upload_limit: u64,
    /// Contact address for describeServer.
    pub contact_email_address: Option<String>,
    /// Privacy policy link for describeServer.
    pub privacy_policy_url: Option<String>,
    /// Terms of service link for describeServer.
    pub terms_of_service_url: Option<String>,
    /// `PDS_EMAIL_SMTP_URL` (validated when the mailer is built); `None` = no SMTP.
    pub email_smtp_url: Option<Secret<String>>,
    /// `PDS_EMAIL_FROM_ADDRESS`.
    pub email_from_address: Option<String>,
    /// Grace period of unreferenced uploads.
    pub blob_temp_grace: std::time::Duration,
    /// Firehose backfill window (`PDS_REPO_BACKFILL_LIMIT_MS`).
    pub repo_backfill_limit: std::time::Duration,
    /// Relays to send requestCrawl to (`PDS_CRAWLERS`), without trailing `/`.
    pub crawlers: Vec<String>,
    /// Firehose fan-out tuning (ring, slow-consumer cap, subscriber cap).
    pub firehose: aerie_firehose::Config,
}

/// Secrets generated for dev mode, persisted so restarts keep sessions and DIDs valid.
#[derive(serde::Serialize, serde::Deserialize)]
struct DevSecrets {
    jwt_secret: String,
    admin_password: String,
    plc_rotation_key_k256_private_key_hex: String,
}

const SECRETS_FILE: &str = "secrets.json";

/// True for names that cannot be reached from the public internet, so dev rules are safe.
fn is_local_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "localhost"
        || [
            ".localhost",
            ".test",
            ".local",
            ".internal",
            ".invalid",
            ".example",
        ]
        .iter()
        .any(|s| host.ends_with(s))
        || host.parse::<std::net::IpAddr>().is_ok()
}

impl ConfigArgs {
    /// Applies defaults and the dev/production rules. In dev mode this creates the data
    /// directory and the secrets file if they are missing.
    pub fn resolve(self) -> Result<Config, Error> {
        let hostname = self
            .hostname
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost")
            .to_ascii_lowercase();
        if hostname.contains('/') || hostname.contains(':') || hostname.contains(' ') {
            return Err(Error::Config(format!(
                "PDS_HOSTNAME must be a bare host name (no scheme, port or path): {hostname:?}"
            )));
        }
        let dev_mode = self.dev_mode.unwrap_or(false) || is_local_host(&hostname);
        let port = self.port.unwrap_or(DEFAULT_PORT);
        let data_directory = self
            .data_directory
            .unwrap_or_else(|| PathBuf::from("./data"));
        std::fs::create_dir_all(&data_directory).map_err(|e| Error::Io {
            context: format!("creating data directory {}", data_directory.display()),
            source: e,
        })?;
        let blobstore_directory = self
            .blobstore_disk_location
            .unwrap_or_else(|| data_directory.join("blocks"));

        let dev_secrets = if dev_mode {
            Some(load_or_create_dev_secrets(&data_directory)?)
        } else {
            None
        };
        let pick = |given: Option<String>,
                    dev: Option<&String>,
                    name: &'static str|
         -> Result<String, Error> {
            match (given.filter(|s| !s.is_empty()), dev) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(Error::MissingSecret(name)),
            }
        };
        let jwt_secret = pick(
            self.jwt_secret,
            dev_secrets.as_ref().map(|d| &d.jwt_secret),
            "PDS_JWT_SECRET",
        )?;
        let admin_password = pick(
            self.admin_password,
            dev_secrets.as_ref().map(|d| &d.admin_password),
            "PDS_ADMIN_PASSWORD",
        )?;
        let rotation_hex = pick(
            self.plc_rotation_key_k256_private_key_hex,
            dev_secrets
                .as_ref()
                .map(|d| &d.plc_rotation_key_k256_private_key_hex),
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
        )?;
        let plc_rotation_key = parse_key_hex(&rotation_hex)?;

        let public_url = if dev_mode && is_local_host(&hostname) {
            format!("http://{hostname}:{port}")
        } else {
            format!("https://{hostname}")
        };
        let service_did = self
            .service_did
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("did:web:{hostname}"));
        let service_handle_domains = match self.service_handle_domains {
            Some(list) if !list.trim().is_empty() => list
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| {
                    let d = d.to_ascii_lowercase();
                    if d.starts_with('.') {
                        d
                    } else {
                        format!(".{d}")
                    }
                })
                .collect(),
            _ if hostname == "localhost" || (dev_mode && is_local_host(&hostname)) => {
                vec![".test".to_owned()]
            }
            _ => vec![format!(".{hostname}")],
        };
        let plc = match self.did_plc_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => PlcMode::Remote(url.trim().trim_end_matches('/').to_owned()),
            None if dev_mode => PlcMode::InProcess,
            None => PlcMode::Remote(DEFAULT_PLC_URL.to_owned()),
        };
        Ok(Config {
            hostname,
            port,
            bind_host: self.bind_host.unwrap_or_else(|| "0.0.0.0".to_owned()),
            public_url,
            service_did,
            data_directory,
            blobstore_directory,
            service_handle_domains,
            invite_required: self.invite_required.unwrap_or(false),
            dev_mode,
            rate_limits: self.rate_limits_enabled.unwrap_or(!dev_mode),
            app_view: match (self.bsky_app_view_url, self.bsky_app_view_did) {
                (Some(url), Some(did)) => Some((url.trim_end_matches('/').to_owned(), did)),
                (None, None) if !dev_mode => Some((
                    "https://api.bsky.app".to_owned(),
                    "did:web:api.bsky.app".to_owned(),
                )),
                (None, None) => None,
                _ => {
                    return Err(Error::Config(
                        "PDS_BSKY_APP_VIEW_URL and PDS_BSKY_APP_VIEW_DID go together".into(),
                    ));
                }
            },
            plc,
            jwt_secret: Secret::new(jwt_secret.into_bytes()),
            admin_password: Secret::new(admin_password),
            plc_rotation_key: Secret::new(plc_rotation_key),
            blob_upload_limit: self.blob_upload_limit.unwrap_or(DEFAULT_BLOB_UPLOAD_LIMIT),
            contact_email_address: self.contact_email_address,
            privacy_policy_url: self.privacy_policy_url,
            terms_of_service_url: self.terms_of_service_url,
            email_smtp_url: self
                .email_smtp_url
                .filter(|u| !u.trim().is_empty())
                .map(Secret::new),
            email_from_address: self.email_from_address.filter(|a| !a.trim().is_empty()),
            blob_temp_grace: std::time::Duration::from_secs(
                self.blob_temp_grace_seconds
                    .unwrap_or(DEFAULT_BLOB_TEMP_GRACE_SECONDS),
            ),
            repo_backfill_limit: std::time::Duration::from_millis(
                self.repo_backfill_limit_ms
                    .unwrap_or(DEFAULT_REPO_BACKFILL_LIMIT_MS),
            ),
            crawlers: self
                .crawlers
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(|u| u.trim().trim_end_matches('/'))
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect(),
            firehose: {
                let d = aerie_firehose::Config::default();
                aerie_firehose::Config {
                    max_behind_bytes: self.firehose_max_behind_bytes.unwrap_or(d.max_behind_bytes),
                    ring_events: self.firehose_ring_events.unwrap_or(d.ring_events).max(1),
                    ring_bytes: self.firehose_ring_bytes.unwrap_or(d.ring_bytes),
                    max_subscribers: self.firehose_max_subscribers.unwrap_or(d.max_subscribers),
                    ..d
                }
            },
        })
    }
}

fn parse_key_hex(hex: &str) -> Result<[u8; 32], Error> {
    let bad = || {
        Error::Config(
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX must be 64 hex characters".to_owned(),
        )
    };
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.trim().as_bytes())
        .map_err(|_| bad())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
    // The zero scalar is not a valid secp256k1 key; catching it here gives a clear message.
    if key == [0u8; 32] {
        return Err(bad());
    }
    Ok(key)
}

fn random_hex(len: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).map_err(|e| Error::Config(format!("no system randomness: {e}")))?;
    Ok(data_encoding::HEXLOWER.encode(&buf))
}

fn load_or_create_dev_secrets(dir: &Path) -> Result<DevSecrets, Error> {
    let path = dir.join(SECRETS_FILE);
    let io = |context: &str, source| Error::Io {
        context: format!("{context} {}", path.display()),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            return serde_json::from_slice(&bytes).map_err(|e| {
                Error::Config(format!(
                    "dev secrets file {} is corrupt: {e}",
                    path.display()
                ))
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading", e)),
    }
    let secrets = DevSecrets {
        jwt_secret: random_hex(32)?,
        admin_password: random_hex(16)?,
        plc_rotation_key_k256_private_key_hex: random_hex(32)?,
    };
    let json = serde_json::to_vec_pretty(&secrets)
        .map_err(|e| Error::Config(format!("encoding dev secrets: {e}")))?;
    write_private(&path, &json).map_err(|e| io("writing", e))?;
    Ok(secrets)
}

/// Writes a file readable only by its owner, via a temporary file and rename so a crash
/// never leaves half a secrets file behind.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev_args(dir: &Path) -> ConfigArgs {
        ConfigArgs {
            data_directory: Some(dir.to_path_buf()),
            ..ConfigArgs::default()
        }
    }

    #[test]
    fn nothing_set_means_dev_mode_on_localhost() {
        let dir = tempfile::tempdir().unwrap();
        let c = dev_args(dir.path()).resolve().unwrap();
        assert!(c.dev_mode);
        assert_eq!(c.hostname, "localhost");
        assert_eq!(c.port, 2583);
        assert_eq!(c.public_url, "http://localhost:2583");
        assert_eq!(c.service_did, "did:web:localhost");
        assert_eq!(c.service_handle_domains, vec![".test".to_owned()]);
        assert_eq!(c.plc, PlcMode::InProcess);
        assert_eq!(c.bind_host, "0.0.0.0");
        assert!(!c.invite_required);
        assert!(!c.rate_limits, "rate limits are off in dev mode");
        assert_eq!(
            c.app_view, None,
            "no AppView is called in dev mode unless configured"
        );
    }

    #[test]
    fn dev_secrets_are_generated_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = dev_args(dir.path()).resolve().unwrap();
        let b = dev_args(dir.path()).resolve().unwrap();
        assert_eq!(a.jwt_secret, b.jwt_secret);
        assert_eq!(a.admin_password, b.admin_password);
        assert_eq!(a.plc_rotation_key, b.plc_rotation_key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRETS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = tempfile::tempdir().unwrap();
        let c = dev_args(other.path()).resolve().unwrap();
        assert_ne!(a.jwt_secret, c.jwt_secret);
    }

    #[test]
    fn public_hostname_requires_each_secret_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = ConfigArgs {
            hostname: Some("pds.example.com".into()),
            data_directory: Some(dir.path().to_path_buf()),
            ..ConfigArgs::default()
        };
        let err = args.clone().resolve().unwrap_err();
        assert!(err.to_string().contains("PDS_JWT_SECRET"), "{err}");
        args.jwt_secret = Some("s3cret".into());
        let err = args.clone().resolve().unwrap_err();
        assert!(err.to_string().contains("PDS_ADMIN_PASSWORD"), "{err}");
        args.admin_password = Some("admin".into());
        let err = args.clone().resolve().unwrap_err();
        assert!(
            err.to_string()
                .contains("PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX"),
            "{err}"
        );
        args.plc_rotation_key_k256_private_key_hex = Some("ab".repeat(32));
        let c = args.clone().resolve().unwrap();
        assert!(!c.dev_mode);
        assert!(c.rate_limits, "rate limits are on in production");
        assert_eq!(
            c.app_view,
            Some((
                "https://api.bsky.app".to_owned(),
                "did:web:api.bsky.app".to_owned()
            ))
        );
        args.rate_limits_enabled = Some(false);
        assert!(!args.clone().resolve().unwrap().rate_limits);
        assert_eq!(c.public_url, "https://pds.example.com");
        assert_eq!(c.service_did, "did:web:pds.example.com");
        assert_eq!(c.plc, PlcMode::Remote(DEFAULT_PLC_URL.to_owned()));
        assert_eq!(
            c.service_handle_domains,
            vec![".pds.example.com".to_owned()]
        );
        assert!(!dir.path().join(SECRETS_FILE).exists());
    }

    #[test]
    fn handle_domains_get_a_leading_dot() {
        let dir = tempfile::tempdir().unwrap();
        let c = ConfigArgs {
            service_handle_domains: Some("example.com, .other.org".into()),
            ..dev_args(dir.path())
        }
        .resolve()
        .unwrap();
        assert_eq!(c.service_handle_domains, vec![".example.com", ".other.org"]);
    }

    #[test]
    fn rotation_key_must_be_64_hex_characters() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["abc", "zz".repeat(32).as_str(), "00".repeat(32).as_str()] {
            let err = ConfigArgs {
                plc_rotation_key_k256_private_key_hex: Some(bad.into()),
                ..dev_args(dir.path())
            }
            .resolve()
            .unwrap_err();
            assert!(err.to_string().contains("64 hex"), "{err}");
        }
    }

    #[test]
    fn explicit_plc_url_is_used_even_in_dev() {
        let dir = tempfile::tempdir().unwrap();
        let c = ConfigArgs {
            did_plc_url: Some("http://127.0.0.1:2582/".into()),
            ..dev_args(dir.path())
        }
        .resolve()
        .unwrap();
        assert_eq!(c.plc, PlcMode::Remote("http://127.0.0.1:2582".into()));
    }

    #[test]
    fn firehose_window_defaults_to_72_hours_and_crawlers_split_on_commas() {
        let dir = tempfile::tempdir().unwrap();
        let c = dev_args(dir.path()).resolve().unwrap();
        assert_eq!(
            c.repo_backfill_limit,
            std::time::Duration::from_secs(72 * 3600)
        );
        assert!(c.crawlers.is_empty());
        assert_eq!(c.firehose, aerie_firehose::Config::default());
        let c = ConfigArgs {
            crawlers: Some(" https://bsky.network/, ,https://relay.example ".into()),
            repo_backfill_limit_ms: Some(5000),
            firehose_max_behind_bytes: Some(1 << 20),
            firehose_ring_events: Some(0),
            ..dev_args(dir.path())
        }
        .resolve()
        .unwrap();
        assert_eq!(
            c.crawlers,
            ["https://bsky.network", "https://relay.example"]
        );
        assert_eq!(c.repo_backfill_limit, std::time::Duration::from_secs(5));
        assert_eq!(c.firehose.max_behind_bytes, 1 << 20);
        assert_eq!(
            c.firehose.ring_events, 1,
            "the ring always holds the newest event"
        );
    }

    #[test]
    fn env_names_are_the_reference_names() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: ConfigArgs,
        }
        let cmd = Wrap::command();
        let envs: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        for name in [
            "PDS_HOSTNAME",
            "PDS_PORT",
            "PDS_DATA_DIRECTORY",
            "PDS_BLOBSTORE_DISK_LOCATION",
            "PDS_JWT_SECRET",
            "PDS_ADMIN_PASSWORD",
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
            "PDS_DID_PLC_URL",
            "PDS_SERVICE_HANDLE_DOMAINS",
            "PDS_INVITE_REQUIRED",
            "PDS_DEV_MODE",
            "PDS_BIND_HOST",
            "PDS_EMAIL_SMTP_URL",
            "PDS_EMAIL_FROM_ADDRESS",
            "PDS_REPO_BACKFILL_LIMIT_MS",
            "PDS_CRAWLERS",
        ] {
            assert!(envs.iter().any(|e| e == name), "missing {name}");
        }
    }
}
