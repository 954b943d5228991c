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
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(String),
    /// File system or socket failure, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The error of a request's storage job: a store failure or a decided client answer.
/// (The orphan rule keeps `From<StoreError>` off `XrpcError`; this type bridges them.)
#[derive(Debug)]
pub(crate) enum JobError {
    /// The store failed or refused a row.
    Store(aerie_store::StoreError),
    /// The job decided the answer itself (e.g. the invite code ran out).
    Xrpc(aerie_xrpc::XrpcError),
}

impl From<aerie_store::StoreError> for JobError {
    fn from(e: aerie_store::StoreError) -> Self {
        JobError::Store(e)
    }
}

impl From<aerie_xrpc::XrpcError> for JobError {
    fn from(e: aerie_xrpc::XrpcError) -> Self {
        JobError::Xrpc(e)
    }
}

impl From<JobError> for aerie_xrpc::XrpcError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Xrpc(x) => x,
            JobError::Store(s) => store_error(s),
        }
    }
}

/// Maps a store error to the answer: taken handles and emails are the client's problem,
/// anything else is ours (logged, hidden).
pub(crate) fn store_error(e: aerie_store::StoreError) -> aerie_xrpc::XrpcError {
    use aerie_xrpc::XrpcError;
    match e {
        aerie_store::StoreError::Conflict { what: "handle" } => {
            XrpcError::named("HandleNotAvailable", "Handle already taken")
        }
        aerie_store::StoreError::Conflict { what: "email" } => {
            XrpcError::invalid_request("Email already taken")
        }
        other => XrpcError::internal(other),
    }
}
