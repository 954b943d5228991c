//! The PDS's outgoing account mail: `PDS_EMAIL_SMTP_URL` + `PDS_EMAIL_FROM_ADDRESS` turned
//! into an [`Outbox`], plus the one-time codes the mail carries.
//!
//! Without SMTP the outbox cannot deliver: in dev mode it logs the whole message (code
//! included) so the flows can be completed by hand; in production it logs only that a
//! message was dropped, because a production log must not hold account codes, and start-up
//! warns about the missing setting.

use aerie_mail::{Email, MailConfig, Mailer};
use aerie_xrpc::XrpcError;

use crate::{Config, Error};

/// `email_token` purposes, named as in the reference PDS.
pub mod purpose {
    /// `requestEmailConfirmation` -> `confirmEmail`.
    pub const CONFIRM_EMAIL: &str = "confirm_email";
    /// `requestEmailUpdate` -> `updateEmail`.
    pub const UPDATE_EMAIL: &str = "update_email";
    /// `requestPasswordReset` -> `resetPassword`.
    pub const RESET_PASSWORD: &str = "reset_password";
}

/// How long a code stays valid (the reference's 15 minutes).
pub const TOKEN_TTL_SECONDS: i64 = 15 * 60;

/// Where account mail goes.
#[derive(Debug, Clone)]
pub struct Outbox {
    mailer: Option<Mailer>,
    dev_mode: bool,
}

/// The mail settings of `config`, checked: `None` when no SMTP URL is set. A URL without a
/// sender address is an error, as is a URL or address that does not parse.
pub fn mail_config(config: &Config) -> Result<Option<MailConfig>, Error> {
    let Some(url) = &config.email_smtp_url else {
        return Ok(None);
    };
    let from = config.email_from_address.as_deref().ok_or_else(|| {
        Error::Config("PDS_EMAIL_FROM_ADDRESS must be set with PDS_EMAIL_SMTP_URL".to_owned())
    })?;
    MailConfig::new(url.expose(), from)
        .map(Some)
        .map_err(|e| Error::Config(format!("mail settings: {e}")))
}

/// The SMTP mailer `config` describes, `None` when no SMTP URL is set (what `aerie doctor`
/// checks the connection with).
pub fn mailer(config: &Config) -> Result<Option<Mailer>, Error> {
    mail_config(config)?
        .map(|mc| Mailer::new(&mc).map_err(|e| Error::Config(format!("mail settings: {e}"))))
        .transpose()
}

impl Outbox {
    /// Builds the outbox for `config`; warns once when production has no SMTP.
    pub fn from_config(config: &Config) -> Result<Outbox, Error> {
        let mailer = match mailer(config)? {
            Some(m) => Some(m),
            None => {
                if !config.dev_mode {
                    tracing::warn!(
                        "PDS_EMAIL_SMTP_URL is not set: password reset, email confirmation and \
                         email update mail cannot be delivered"
                    );
                }
                None
            }
        };
        Ok(Outbox {
            mailer,
            dev_mode: config.dev_mode,
        })
    }

    /// Whether mail actually leaves the server.
    pub fn can_deliver(&self) -> bool {
        self.mailer.is_some()
    }

    /// Sends `email` to `to`. An SMTP failure is a 500 for the request that asked for the
    /// mail (the code was stored but nobody received it; asking again issues a new one).
    pub async fn send(&self, to: &str, email: Email<'_>) -> Result<(), XrpcError> {
        match &self.mailer {
            Some(m) => m.send(to, email).await.map_err(|e| {
                tracing::error!(error = %e, subject = email.subject(), "sending mail failed");
                XrpcError::internal(format!("sending mail failed: {e}"))
            }),
            None if self.dev_mode => {
                tracing::info!(
                    %to,
                    subject = email.subject(),
                    body = %email.body(),
                    "mail (dev mode, no PDS_EMAIL_SMTP_URL: logged instead of sent)"
                );
                Ok(())
            }
            None => {
                tracing::warn!(
                    subject = email.subject(),
                    "mail dropped: PDS_EMAIL_SMTP_URL is not set"
                );
                Ok(())
            }
        }
    }
}

/// A new code in the reference's shape: two groups of five base32 characters
/// (`ABCDE-FGHIJ`, 50 random bits), upper case, so users can type it from the mail.
pub fn new_token() -> Result<String, XrpcError> {
    let mut buf = [0u8; 7];
    getrandom::fill(&mut buf).map_err(XrpcError::internal)?;
    let s = data_encoding::BASE32_NOPAD.encode(&buf);
    Ok(format!("{}-{}", &s[..5], &s[5..10]))
}

/// The form codes are stored and compared in: users may type them in lower case.
pub fn normalize_token(token: &str) -> String {
    token.trim().to_ascii_uppercase()
}

/// Compares two codes without an early exit on the first differing byte.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks a stored code against the one presented: `InvalidToken` when absent or different,
/// `ExpiredToken` when older than [`TOKEN_TTL_SECONDS`] (names and messages as the
/// reference).
pub fn check_token(
    stored: Option<&aerie_store::email_token::EmailToken>,
    presented: &str,
    now: i64,
) -> Result<(), XrpcError> {
    let presented = normalize_token(presented);
    let Some(stored) = stored.filter(|t| tokens_equal(&t.token, &presented)) else {
        return Err(XrpcError::named("InvalidToken", "Token is invalid"));
    };
    if now - stored.requested_at > TOKEN_TTL_SECONDS {
        return Err(XrpcError::named("ExpiredToken", "Token is expired"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aerie_store::email_token::EmailToken;

    #[test]
    fn tokens_have_the_reference_shape() {
        let t = new_token().unwrap();
        assert_eq!(t.len(), 11);
        assert_eq!(&t[5..6], "-");
        assert!(
            t.chars()
                .all(|c| c == '-' || c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        assert_ne!(new_token().unwrap(), t);
    }

    #[test]
    fn token_check_is_case_insensitive_and_expires_after_15_minutes() {
        let stored = EmailToken {
            token: "ABCDE-FGHIJ".into(),
            requested_at: 1000,
        };
        assert!(check_token(Some(&stored), "abcde-fghij", 1000 + 60).is_ok());
        let e = check_token(Some(&stored), "ABCDE-FGHIK", 1000).unwrap_err();
        assert_eq!(e.error(), "InvalidToken");
        let e = check_token(None, "ABCDE-FGHIJ", 1000).unwrap_err();
        assert_eq!(e.error(), "InvalidToken");
        let e = check_token(Some(&stored), "ABCDE-FGHIJ", 1000 + 15 * 60 + 1).unwrap_err();
        assert_eq!(e.error(), "ExpiredToken");
    }
}
