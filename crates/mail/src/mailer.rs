use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::MailError;
use crate::message::Email;
use crate::smtp_url::{Security, SmtpUrl};

/// How long one SMTP command may take before the send fails (lettre's default is a
/// minute; a request handler waiting on mail should give up sooner).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Mail settings: `PDS_EMAIL_SMTP_URL` and `PDS_EMAIL_FROM_ADDRESS`.
#[derive(Debug, Clone)]
pub struct MailConfig {
    smtp: SmtpUrl,
    from: Mailbox,
    timeout: Duration,
}

impl MailConfig {
    /// Parses the two settings. `from` is `addr@example.com` or `Name <addr@example.com>`.
    pub fn new(smtp_url: &str, from: &str) -> Result<MailConfig, MailError> {
        let smtp = SmtpUrl::parse(smtp_url)?;
        let from = from
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| MailError::InvalidAddress {
                address: from.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(MailConfig {
            smtp,
            from,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Replaces the per-command timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> MailConfig {
        self.timeout = timeout;
        self
    }

    /// The SMTP server settings.
    pub fn smtp(&self) -> &SmtpUrl {
        &self.smtp
    }

    /// The sender address as given.
    pub fn from_address(&self) -> String {
        self.from.to_string()
    }
}

/// Sends the PDS's messages over SMTP. Cheap to clone; each message uses its own
/// connection (mail is rare: a few messages per account per year).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the transport. Fails on settings that cannot work: TLS asked for in a build
    /// without TLS, or a password that would travel unencrypted to a remote host.
    pub fn new(config: &MailConfig) -> Result<Mailer, MailError> {
        let url = &config.smtp;
        let tls_built = cfg!(feature = "tls");
        if !tls_built
            && matches!(
                url.security(),
                Security::ImplicitTls | Security::StartTlsRequired
            )
        {
            return Err(MailError::TlsUnavailable {
                url: url.to_string(),
            });
        }
        // Opportunistic STARTTLS protects the password whenever the server offers TLS
        // (nodemailer's behaviour, which the reference's URLs rely on); a connection that is
        // certainly plain must not carry one off this machine.
        let certainly_plain = match url.security() {
            Security::Plain => true,
            Security::StartTlsOpportunistic => !tls_built,
            Security::ImplicitTls | Security::StartTlsRequired => false,
        };
        if url.password().is_some() && certainly_plain && !url.is_loopback() {
            return Err(MailError::InsecureCredentials {
                url: url.to_string(),
            });
        }

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host())
            .port(url.port())
            .timeout(Some(config.timeout));
        #[cfg(feature = "tls")]
        {
            use lettre::transport::smtp::client::{Tls, TlsParameters};
            let params = || {
                TlsParameters::new(url.host().to_owned()).map_err(|source| MailError::Tls {
                    host: url.host().to_owned(),
                    source,
                })
            };
            builder = builder.tls(match url.security() {
                Security::ImplicitTls => Tls::Wrapper(params()?),
                Security::StartTlsRequired => Tls::Required(params()?),
                Security::StartTlsOpportunistic => Tls::Opportunistic(params()?),
                Security::Plain => Tls::None,
            });
        }
        if let (Some(user), Some(pass)) = (url.user(), url.password()) {
            builder = builder.credentials(Credentials::new(user.to_owned(), pass.to_owned()));
        }
        // EHLO should name this host; the sender's domain is the best stand-in the
        // settings offer unless the URL names one.
        let hello = url
            .hello_name()
            .map(str::to_owned)
            .unwrap_or_else(|| config.from.email.domain().to_owned());
        builder = builder.hello_name(ClientId::Domain(hello));

        let server = if url.host().contains(':') {
            format!("[{}]:{}", url.host(), url.port())
        } else {
            format!("{}:{}", url.host(), url.port())
        };
        Ok(Mailer {
            transport: builder.build(),
            from: config.from.clone(),
            server,
        })
    }

    /// Sends `email` to `to` (a bare address, e.g. the account's email).
    pub async fn send(&self, to: &str, email: Email<'_>) -> Result<(), MailError> {
        let to_addr = to
            .trim()
            .parse::<Address>()
            .map_err(|e| MailError::InvalidAddress {
                address: to.to_owned(),
                reason: e.to_string(),
            })?;
        let message = Message::builder()
            .message_id(self.message_id())
            .from(self.from.clone())
            .to(Mailbox::new(None, to_addr))
            .subject(email.subject())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body())?;
        self.transport
            .send(message)
            .await
            .map_err(|source| MailError::Send {
                server: self.server.clone(),
                source,
            })?;
        Ok(())
    }

    /// `<random@sender-domain>`: a Message-ID in the sender's domain reads better to spam
    /// filters than lettre's `@localhost` default (this build has no hostname lookup).
    fn message_id(&self) -> Option<String> {
        let mut random = [0u8; 16];
        // Without randomness, lettre's own generator is the fallback.
        getrandom::fill(&mut random).ok()?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Some(format!("<{hex}@{}>", self.from.email.domain()))
    }

    /// Password reset code (`requestPasswordReset`).
    pub async fn send_password_reset(
        &self,
        to: &str,
        handle: &str,
        token: &str,
    ) -> Result<(), MailError> {
        self.send(to, Email::PasswordReset { handle, token }).await
    }

    /// Email confirmation code (`requestEmailConfirmation`).
    pub async fn send_email_confirmation(&self, to: &str, token: &str) -> Result<(), MailError> {
        self.send(to, Email::ConfirmEmail { token }).await
    }

    /// Email update code (`requestEmailUpdate`), sent to the current address.
    pub async fn send_email_update(&self, to: &str, token: &str) -> Result<(), MailError> {
        self.send(to, Email::UpdateEmail { token }).await
    }

    /// Account deletion code (`requestAccountDelete`).
    pub async fn send_account_delete(&self, to: &str, token: &str) -> Result<(), MailError> {
        self.send(to, Email::DeleteAccount { token }).await
    }

    /// PLC operation signing code (`requestPlcOperationSignature`).
    pub async fn send_plc_operation(&self, to: &str, token: &str) -> Result<(), MailError> {
        self.send(to, Email::PlcOperation { token }).await
    }

    /// The `aerie doctor` test message.
    pub async fn send_test(&self, to: &str) -> Result<(), MailError> {
        self.send(to, Email::Test).await
    }

    /// Connects, greets (and authenticates, when configured) without sending anything:
    /// the configuration check of `aerie doctor`.
    pub async fn check_connection(&self) -> Result<(), MailError> {
        let send_err = |source| MailError::Send {
            server: self.server.clone(),
            source,
        };
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            // lettre reports a failed NOOP as `false`; a server that will not answer NOOP
            // will not take mail either.
            Ok(false) => Err(MailError::Unresponsive {
                server: self.server.clone(),
            }),
            Err(e) => Err(send_err(e)),
        }
    }
}
