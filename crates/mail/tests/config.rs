//! PDS_EMAIL_SMTP_URL / PDS_EMAIL_FROM_ADDRESS parsing and the rules that refuse unsafe
//! or impossible settings; message texts.

use aerie_mail::{Email, MailConfig, MailError, Mailer, Security, SmtpUrl};

fn parse(s: &str) -> SmtpUrl {
    SmtpUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn smtp_url_defaults_follow_nodemailer() {
    let u = parse("smtp://mail.example.com");
    assert_eq!(
        (u.host(), u.port(), u.security()),
        ("mail.example.com", 587, Security::StartTlsOpportunistic)
    );
    assert_eq!(u.user(), None);
    let s = parse("smtps://mail.example.com");
    assert_eq!((s.port(), s.security()), (465, Security::ImplicitTls));
    assert_eq!(parse("smtp://mail.example.com:2525").port(), 2525);
    assert_eq!(parse("smtp://[::1]:25").host(), "::1");
}

#[test]
fn smtp_url_tls_options() {
    let cases = [
        ("smtp://h?requireTLS=true", Security::StartTlsRequired),
        ("smtp://h?tls=required", Security::StartTlsRequired),
        ("smtp://h?ignoreTLS=true", Security::Plain),
        ("smtp://h?tls=none", Security::Plain),
        (
            "smtp://h?tls=opportunistic",
            Security::StartTlsOpportunistic,
        ),
        ("smtp://h?requireTLS=false", Security::StartTlsOpportunistic),
        ("smtp://h?pool=true", Security::StartTlsOpportunistic),
    ];
    for (url, want) in cases {
        assert_eq!(parse(url).security(), want, "{url}");
    }
}

#[test]
fn smtp_url_credentials_and_helo_name() {
    let u = parse("smtps://apikey:s%3Acr%40t@smtp.example.com:465/pds.example.com");
    assert_eq!(u.user(), Some("apikey"));
    assert_eq!(u.hello_name(), Some("pds.example.com"));
}

#[test]
fn smtp_url_never_shows_the_password() {
    let u = parse("smtps://user:hunter2@smtp.example.com");
    assert_eq!(u.to_string(), "smtps://user:***@smtp.example.com:465");
    assert!(!format!("{u:?}").contains("hunter2"));
    let config =
        MailConfig::new("smtps://user:hunter2@smtp.example.com", "a@b.test").expect("config");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn malformed_smtp_urls_are_refused_without_echoing_secrets() {
    for bad in [
        "",
        "mail.example.com",
        "http://user:hunter2@mail.example.com",
        "smtp://",
        "smtp://h?tls=maybe",
        "smtps://h?requireTLS=true",
        "smtp://user:hunter2@:25",
    ] {
        let err = SmtpUrl::parse(bad).expect_err(bad);
        assert!(
            matches!(err, MailError::InvalidSmtpUrl { .. }),
            "{bad}: {err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{bad}: {err}");
    }
}

#[test]
fn from_address_accepts_bare_and_named_forms() {
    for from in [
        "noreply@pds.example.com",
        "Aerie <noreply@pds.example.com>",
        "\"Aerie PDS\" <noreply@pds.example.com>",
    ] {
        MailConfig::new("smtp://127.0.0.1:25", from).unwrap_or_else(|e| panic!("{from}: {e}"));
    }
    for bad in ["", "noreply", "Aerie <>", "a@b\r\nBcc: x@y"] {
        let err = MailConfig::new("smtp://127.0.0.1:25", bad).expect_err(bad);
        assert!(
            matches!(err, MailError::InvalidAddress { .. }),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn password_over_certainly_plain_connection_to_remote_host_is_refused() {
    let config =
        MailConfig::new("smtp://u:pw@mail.example.com?ignoreTLS=true", "a@b.test").expect("config");
    let err = Mailer::new(&config).expect_err("plain password off the machine");
    assert!(
        matches!(err, MailError::InsecureCredentials { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("pw@"), "{err}");
    for local in [
        "smtp://u:pw@127.0.0.1:25?ignoreTLS=true",
        "smtp://u:pw@localhost:25?ignoreTLS=true",
        "smtp://u:pw@[::1]:25",
    ] {
        let config = MailConfig::new(local, "a@b.test").expect("config");
        Mailer::new(&config).unwrap_or_else(|e| panic!("{local}: {e}"));
    }
    // Without a password nothing secret travels.
    let config =
        MailConfig::new("smtp://mail.example.com?ignoreTLS=true", "a@b.test").expect("config");
    Mailer::new(&config).expect("no credentials");
}

#[cfg(not(feature = "tls"))]
#[test]
fn tls_urls_are_refused_in_a_build_without_tls() {
    for url in [
        "smtps://mail.example.com",
        "smtp://mail.example.com?requireTLS=true",
    ] {
        let config = MailConfig::new(url, "a@b.test").expect("config");
        let err = Mailer::new(&config).expect_err(url);
        assert!(
            matches!(err, MailError::TlsUnavailable { .. }),
            "{url}: {err}"
        );
    }
    // Opportunistic STARTTLS degrades to plain, so a password to a remote host is refused.
    let config = MailConfig::new("smtp://u:pw@mail.example.com", "a@b.test").expect("config");
    assert!(matches!(
        Mailer::new(&config),
        Err(MailError::InsecureCredentials { .. })
    ));
}

#[cfg(feature = "tls")]
#[test]
fn tls_urls_build_a_transport_in_a_tls_build() {
    for url in [
        "smtps://u:pw@mail.example.com",
        "smtp://u:pw@mail.example.com?requireTLS=true",
        "smtp://u:pw@mail.example.com",
    ] {
        let config = MailConfig::new(url, "a@b.test").expect("config");
        Mailer::new(&config).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

#[test]
fn message_texts_are_ascii_with_short_lines_and_carry_the_token() {
    let all = [
        Email::PasswordReset {
            handle: "alice.example.com",
            token: "AAAAA-BBBBB",
        },
        Email::ConfirmEmail {
            token: "AAAAA-BBBBB",
        },
        Email::UpdateEmail {
            token: "AAAAA-BBBBB",
        },
        Email::DeleteAccount {
            token: "AAAAA-BBBBB",
        },
        Email::PlcOperation {
            token: "AAAAA-BBBBB",
        },
        Email::Test,
    ];
    for email in all {
        let body = email.body();
        assert!(body.is_ascii(), "{email:?}");
        // Under 75 characters lettre sends ASCII text as 7bit rather than quoted-printable,
        // so the code is readable in the raw message too.
        assert!(body.lines().all(|l| l.len() <= 72), "{email:?}:\n{body}");
        assert!(!email.subject().is_empty());
        match email.token() {
            Some(t) => assert_eq!(body.matches(t).count(), 1, "{email:?}"),
            None => assert!(matches!(email, Email::Test)),
        }
    }
}
