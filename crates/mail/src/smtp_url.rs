use std::fmt;
use std::net::IpAddr;

use crate::error::MailError;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Security {
    /// `smtps://`: TLS from the first byte (implicit TLS, port 465 by default).
    ImplicitTls,
    /// `smtp://…?requireTLS=true` (or `?tls=required`): STARTTLS, refusing servers that
    /// do not offer it.
    StartTlsRequired,
    /// `smtp://`: STARTTLS when the server offers it, plain otherwise (nodemailer's
    /// default, which the reference PDS's URLs assume). Without the `tls` feature this is
    /// plain.
    StartTlsOpportunistic,
    /// `smtp://…?ignoreTLS=true` (or `?tls=none`): never TLS.
    Plain,
}

/// A parsed `PDS_EMAIL_SMTP_URL`: `smtp[s]://[user[:password]@]host[:port][/helo-name][?options]`.
///
/// The reference PDS hands the URL to nodemailer, so the same defaults apply: port 587
/// for `smtp://`, 465 for `smtps://`; user and password are percent-decoded. Options
/// understood: `requireTLS=true` / `ignoreTLS=true` (nodemailer) and `tls=required` /
/// `tls=opportunistic` / `tls=none` (lettre); others are ignored as nodemailer transport
/// options that have no meaning here. A path names the EHLO client name.
///
/// `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    hello_name: Option<String>,
}

impl SmtpUrl {
    /// Parses and checks a connection URL.
    pub fn parse(s: &str) -> Result<SmtpUrl, MailError> {
        let invalid = |reason: &str| MailError::InvalidSmtpUrl {
            reason: reason.to_owned(),
        };
        // The url crate's messages never echo the input, so the password cannot leak here.
        let url = url::Url::parse(s).map_err(|e| invalid(&e.to_string()))?;
        let mut security = match url.scheme() {
            "smtps" => Security::ImplicitTls,
            "smtp" => Security::StartTlsOpportunistic,
            other => {
                return Err(invalid(&format!(
                    "scheme must be smtp or smtps, not {other:?}"
                )));
            }
        };
        for (key, value) in url.query_pairs() {
            let on = value.eq_ignore_ascii_case("true") || value == "1";
            match (&*key, &*value) {
                ("requireTLS", _) if on => security = Security::StartTlsRequired,
                ("ignoreTLS", _) if on => security = Security::Plain,
                ("tls", "required") => security = Security::StartTlsRequired,
                ("tls", "opportunistic") => security = Security::StartTlsOpportunistic,
                ("tls", "none") => security = Security::Plain,
                ("tls", other) => return Err(invalid(&format!("unknown tls option {other:?}"))),
                _ => {}
            }
        }
        if url.scheme() == "smtps" && security != Security::ImplicitTls {
            return Err(invalid(
                "smtps:// is always TLS; STARTTLS options belong to smtp://",
            ));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(invalid("no host")),
        };
        let port = url.port().unwrap_or(match security {
            Security::ImplicitTls => 465,
            _ => 587,
        });
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user =
                percent_decode(url.username()).ok_or_else(|| invalid("user name is not UTF-8"))?;
            let pass = percent_decode(url.password().unwrap_or(""))
                .ok_or_else(|| invalid("password is not UTF-8"))?;
            Some((user, pass))
        };
        let path = url.path().trim_matches('/');
        let hello_name = (!path.is_empty()).then(|| path.to_owned());
        Ok(SmtpUrl {
            host,
            port,
            security,
            credentials,
            hello_name,
        })
    }

    /// The server's host name or IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the connection is protected.
    pub fn security(&self) -> Security {
        self.security
    }

    /// The user name, when the URL has credentials.
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(u, _)| u.as_str())
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(_, p)| p.as_str())
    }

    /// The EHLO name given in the URL's path, if any.
    pub fn hello_name(&self) -> Option<&str> {
        self.hello_name.as_deref()
    }

    /// Whether the host is a loopback address or `localhost`, where sending a password
    /// without TLS exposes it to nobody else.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            Security::ImplicitTls => "smtps",
            _ => "smtp",
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = self.user() {
            write!(f, "{user}:***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        match self.security {
            Security::StartTlsRequired => f.write_str("?requireTLS=true"),
            Security::Plain => f.write_str("?ignoreTLS=true"),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// Percent-decoding of URL user info; `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}
