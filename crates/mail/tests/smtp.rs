//! Sending to a real SMTP server on 127.0.0.1: Python's aiosmtpd, from the venv that
//! `scripts/install-e2e` creates. The server writes each delivered message as JSON; the
//! tests read the token back out of the delivered text.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use aerie_mail::{Email, MailConfig, MailError, Mailer};

const INSTALL: &str = "scripts/install-e2e";

fn venv_python() -> PathBuf {
    let base = match std::env::var_os("AERIE_E2E_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .expect("HOME or XDG_CACHE_HOME must be set to find the e2e venv");
            cache.join("aerie-e2e")
        }
    };
    base.join("venv").join("bin").join("python")
}

/// A running aiosmtpd sink; killed on drop.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start(extra: &[&str]) -> Sink {
        let python = venv_python();
        assert!(
            python.exists(),
            "the e2e Python venv is missing ({}); run `{INSTALL}` to install aiosmtpd for the mail tests",
            python.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; run `{INSTALL}`", python.display()));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read port");
        let Ok(port) = line.trim().parse::<u16>() else {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = child.kill();
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("the SMTP sink did not start (is aiosmtpd installed? run `{INSTALL}`):\n{err}");
        };
        Sink { child, port, dir }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Delivered messages, in order.
    fn delivered(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for n in 1.. {
            let path = self.dir.path().join(format!("{n}.json"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                break;
            };
            out.push(serde_json::from_str(&text).expect("sink writes JSON"));
        }
        out
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mailer(url: &str) -> Mailer {
    let config = MailConfig::new(url, "Aerie PDS <noreply@pds.test>").expect("config");
    Mailer::new(&config).expect("mailer")
}

/// The code sits alone on a line indented by four spaces.
fn token_of(body: &str) -> Option<String> {
    let mut lines = body.lines().filter_map(|l| l.strip_prefix("    "));
    let token = lines.next()?.trim().to_owned();
    assert!(lines.next().is_none(), "exactly one indented line:\n{body}");
    Some(token)
}

#[tokio::test]
async fn password_reset_mail_delivers_the_token() {
    let sink = Sink::start(&[]);
    let mailer = mailer(&sink.url());
    mailer
        .send_password_reset("alice@example.com", "alice.test", "ABCDE-FGHIJ")
        .await
        .expect("sent");

    let mail = sink.delivered();
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m["mail_from"], "noreply@pds.test");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["alice@example.com"]));
    assert_eq!(m["subject"], "Password Reset Requested");
    assert_eq!(m["from"], "Aerie PDS <noreply@pds.test>");
    assert_eq!(m["to"], "alice@example.com");
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(
        m["transfer_encoding"], "7bit",
        "ASCII text travels unencoded"
    );
    let body = m["body"].as_str().expect("body");
    assert!(body.contains("@alice.test"), "{body}");
    assert_eq!(token_of(body).as_deref(), Some("ABCDE-FGHIJ"));
    assert_eq!(
        m["login"],
        serde_json::Value::Null,
        "no credentials configured"
    );
    let raw = m["raw"].as_str().expect("raw");
    let header = |name: &str| {
        raw.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
            .map(str::to_owned)
    };
    let id = header("Message-ID").expect("Message-ID header");
    assert!(id.starts_with('<') && id.ends_with("@pds.test>"), "{id}");
    assert!(header("Date").is_some(), "Date header");
}

#[tokio::test]
async fn every_token_message_delivers_its_token_under_its_subject() {
    let sink = Sink::start(&[]);
    let mailer = mailer(&sink.url());
    mailer
        .send_email_confirmation("a@example.com", "CONF1-AAAAA")
        .await
        .expect("confirm");
    mailer
        .send_email_update("a@example.com", "UPDT2-BBBBB")
        .await
        .expect("update");
    mailer
        .send_account_delete("a@example.com", "DELE3-CCCCC")
        .await
        .expect("delete");
    mailer
        .send_plc_operation("a@example.com", "PLCO4-DDDDD")
        .await
        .expect("plc");

    let got: Vec<(String, Option<String>)> = sink
        .delivered()
        .iter()
        .map(|m| {
            let subject = m["subject"].as_str().expect("subject").to_owned();
            (subject, token_of(m["body"].as_str().expect("body")))
        })
        .collect();
    let want = [
        ("Email Confirmation", "CONF1-AAAAA"),
        ("Email Update Requested", "UPDT2-BBBBB"),
        ("Account Deletion Requested", "DELE3-CCCCC"),
        ("PLC Update Operation Requested", "PLCO4-DDDDD"),
    ]
    .map(|(s, t)| (s.to_owned(), Some(t.to_owned())));
    assert_eq!(got, want);
}

#[tokio::test]
async fn doctor_check_and_test_message_reach_the_server() {
    let sink = Sink::start(&[]);
    let mailer = mailer(&sink.url());
    mailer.check_connection().await.expect("server answers");
    assert!(sink.delivered().is_empty(), "the check sends nothing");
    mailer
        .send_test("operator@example.com")
        .await
        .expect("test mail");
    let mail = sink.delivered();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["subject"], Email::Test.subject());
    assert_eq!(token_of(mail[0]["body"].as_str().expect("body")), None);
}

#[tokio::test]
async fn url_credentials_are_percent_decoded_and_used_for_auth() {
    let sink = Sink::start(&["pds@example.com:p@ss:w/rd"]);
    let url = format!(
        "smtp://pds%40example.com:p%40ss%3Aw%2Frd@127.0.0.1:{}",
        sink.port
    );
    mailer(&url)
        .send_email_confirmation("b@example.com", "TOKEN-AUTH1")
        .await
        .expect("sent with auth");
    let mail = sink.delivered();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["login"], "pds@example.com");
}

#[tokio::test]
async fn server_requiring_auth_refuses_mail_without_credentials() {
    let sink = Sink::start(&["user:secret"]);
    let err = mailer(&sink.url())
        .send_email_confirmation("b@example.com", "NOPE1-NOPE2")
        .await
        .expect_err("auth required");
    assert!(matches!(err, MailError::Send { .. }), "{err}");
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn wrong_password_is_a_permanent_send_error() {
    let sink = Sink::start(&["user:secret"]);
    let url = format!("smtp://user:wrong@127.0.0.1:{}", sink.port);
    let err = mailer(&url)
        .send_test("b@example.com")
        .await
        .expect_err("bad password");
    assert!(matches!(err, MailError::Send { .. }), "{err}");
    assert!(!err.is_transient(), "535 is permanent: {err}");
    assert!(
        !err.to_string().contains("wrong"),
        "password not in the message: {err}"
    );
    let check = mailer(&url)
        .check_connection()
        .await
        .expect_err("doctor sees it too");
    assert!(matches!(check, MailError::Send { .. }), "{check}");
}

#[tokio::test]
async fn refused_recipient_is_a_permanent_send_error() {
    let sink = Sink::start(&["--reject-rcpt", "gone@example.com"]);
    let err = mailer(&sink.url())
        .send_test("gone@example.com")
        .await
        .expect_err("550");
    assert!(matches!(err, MailError::Send { .. }), "{err}");
    assert!(!err.is_transient(), "{err}");
    assert!(sink.delivered().is_empty());
}

#[tokio::test]
async fn unreachable_server_is_a_transient_send_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let err = mailer(&format!("smtp://127.0.0.1:{port}"))
        .send_test("c@example.com")
        .await
        .expect_err("connection refused");
    assert!(matches!(err, MailError::Send { .. }), "{err}");
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn invalid_recipient_is_refused_before_connecting() {
    // No server: the address check must come first.
    let m = mailer("smtp://127.0.0.1:1");
    for bad in [
        "",
        "not an address",
        "a@",
        "@b",
        "a@b@c",
        "a@example.com\r\nBcc: x@evil.test",
    ] {
        let err = m.send_test(bad).await.expect_err("invalid address");
        assert!(
            matches!(err, MailError::InvalidAddress { .. }),
            "{bad:?}: {err}"
        );
    }
}
