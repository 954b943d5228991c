//! Start-up and service errors of the PDS crate (request errors are `aerie_xrpc::XrpcError`).

/// Why the PDS could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A production deployment is missing a secret; names the environment variable.
    #[error("{0} must be set when PDS_HOSTNAME is a public host (or set PDS_DEV_MODE=true)")]
    MissingSecret(&'static str),
    /// A configuration value is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// File system or socket failure, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
