/// Why mail could not be configured or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// `PDS_EMAIL_SMTP_URL` is malformed. The reason never contains the password.
    #[error("invalid SMTP URL: {reason}")]
    InvalidSmtpUrl {
        /// What is wrong.
        reason: String,
    },
    /// The URL asks for TLS but this build has no TLS support (the `tls` feature).
    #[error("{url} needs TLS, but this build of aerie-mail has no TLS support (feature `tls`)")]
    TlsUnavailable {
        /// The URL, password redacted.
        url: String,
    },
    /// The URL carries a password that would cross the network unencrypted.
    #[error(
        "{url} would send the SMTP password without TLS to a non-loopback host; use smtps:// or ?requireTLS=true"
    )]
    InsecureCredentials {
        /// The URL, password redacted.
        url: String,
    },
    /// A sender or recipient address is not a valid mailbox.
    #[error("invalid email address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The message could not be assembled (should not happen with the built-in texts).
    #[error("could not build the message: {0}")]
    Build(#[from] lettre::error::Error),
    /// Setting up TLS parameters failed.
    #[error("TLS setup for {host} failed: {source}")]
    Tls {
        /// The SMTP host.
        host: String,
        /// What lettre reported.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The SMTP exchange failed: connection refused, timeout, TLS, authentication, or the
    /// server refused the message. [`MailError::is_transient`] tells whether a retry may
    /// succeed.
    #[error("sending mail via {server} failed: {source}")]
    Send {
        /// `host:port` of the SMTP server.
        server: String,
        /// What lettre reported (includes the server's reply when there was one).
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The server accepted the connection but did not answer NOOP.
    #[error("{server} accepted the connection but did not answer NOOP")]
    Unresponsive {
        /// `host:port` of the SMTP server.
        server: String,
    },
}

impl MailError {
    /// Whether the failure is worth retrying later: a 4xx reply, a timeout, or a
    /// connection problem, as opposed to a 5xx refusal or a configuration mistake.
    pub fn is_transient(&self) -> bool {
        match self {
            MailError::Send { source, .. } => !source.is_permanent(),
            _ => false,
        }
    }
}
