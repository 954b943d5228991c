//! aerie-mail: the PDS's outgoing mail over SMTP.
//!
//! Configured like the reference PDS: `PDS_EMAIL_SMTP_URL` (see [`SmtpUrl`] for the URL
//! forms and their nodemailer-compatible defaults) and `PDS_EMAIL_FROM_ADDRESS`. A
//! [`Mailer`] sends the token messages of the account flows ([`Email`]): password reset,
//! email confirmation, email update, account deletion, PLC operation signing, plus a test
//! message and a connection check for `aerie doctor`.
//!
//! ```no_run
//! use aerie_mail::{MailConfig, Mailer};
//! # async fn demo() -> Result<(), aerie_mail::MailError> {
//! let config = MailConfig::new("smtp://127.0.0.1:2525", "Aerie <noreply@pds.example.com>")?;
//! let mailer = Mailer::new(&config)?;
//! mailer.send_password_reset("alice@example.com", "alice.example.com", "ABCDE-FGHIJ").await?;
//! # Ok(())
//! # }
//! ```
//!
//! TLS (`smtps://`, STARTTLS) needs the `tls` feature (rustls with the webpki roots).
//! Without it, TLS URLs are refused with [`MailError::TlsUnavailable`], and a password is
//! only sent in the clear to a loopback server.
//!
//! Architecture invariant: this crate formats and sends; it never creates, stores or checks
//! tokens (the PDS does), and it never logs message bodies, which carry those tokens.
#![deny(missing_docs)]

mod error;
mod mailer;
mod message;
mod smtp_url;

pub use error::MailError;
pub use mailer::{DEFAULT_TIMEOUT, MailConfig, Mailer};
pub use message::Email;
pub use smtp_url::{Security, SmtpUrl};
