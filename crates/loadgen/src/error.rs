use std::fmt;

/// Everything that stops a benchmark before or while it sets up. Failures of measured
/// requests are not errors: they are counted in the [`crate::Report`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target URL does not parse or uses something other than plain `http`.
    #[error("invalid target URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The target host is not loopback and remote targets were not allowed.
    #[error(
        "refusing to load {host:?}: not a loopback address (127.0.0.0/8, ::1, localhost); \
         pass --allow-remote only for a server you run"
    )]
    RemoteHost {
        /// The host part of the URL.
        host: String,
    },
    /// A parameter is out of range or a combination makes no sense.
    #[error("invalid {field}: {reason}")]
    InvalidConfig {
        /// The offending parameter.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A setup request (describeServer, invite code, account, login, seed write) failed.
    #[error("setup step {step} failed: {failure}")]
    Setup {
        /// Which step, e.g. `createAccount lb3k9x0.test`.
        step: String,
        /// What the server or the transport said.
        failure: Failure,
    },
    /// The operating system's random source failed (needed for handles and passwords).
    #[error("random source unavailable: {0}")]
    Random(String),
}

/// How one request failed: an XRPC error from the server, an unexpected response, or the
/// transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A non-2xx response; `name` is the XRPC `error` field, or `HTTP <status>` without one.
    Xrpc {
        /// HTTP status.
        status: u16,
        /// XRPC error name.
        name: String,
        /// XRPC error message, if any.
        message: String,
    },
    /// A 2xx response whose body is not what the method promises.
    BadResponse(String),
    /// Connect, timeout or I/O failure.
    Transport(String),
}

impl Failure {
    /// The key under which the report counts this failure.
    pub fn name(&self) -> String {
        match self {
            Failure::Xrpc { name, .. } => name.clone(),
            Failure::BadResponse(what) => format!("BadResponse: {what}"),
            Failure::Transport(kind) => format!("Transport: {kind}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Xrpc {
                status,
                name,
                message,
            } => write!(f, "HTTP {status} {name}: {message}"),
            Failure::BadResponse(what) => write!(f, "unexpected response: {what}"),
            Failure::Transport(what) => write!(f, "transport error: {what}"),
        }
    }
}
