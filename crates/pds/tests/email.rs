//! The account mail flows end to end: the real server sends through a real SMTP server on
//! loopback (aiosmtpd from the e2e venv, via crates/mail's `smtp_sink.py`), the test reads
//! the code from the delivered mail and completes each flow over HTTP.

mod server;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, check_error};

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

/// A running aiosmtpd sink; stopped on drop.
pub struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    pub fn start() -> Sink {
        let python = venv_python();
        assert!(
            python.exists(),
            "the e2e Python venv is missing ({}); run `{INSTALL}` (it installs aiosmtpd)",
            python.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mail/tests/smtp_sink.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; run `{INSTALL}`", python.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse::<u16>() else {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = child.kill();
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("the SMTP sink did not start (run `{INSTALL}`):\n{err}");
        };
        Sink { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Delivered messages, in order (the sink writes each before it answers 250, so a
    /// request that returned after sending has its mail here).
    pub fn delivered(&self) -> Vec<Value> {
        (1..)
            .map_while(|n| std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).ok())
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect()
    }

    /// The code in the last delivered mail, checked to have gone to `to` with `subject`.
    pub fn last_token(&self, to: &str, subject: &str) -> String {
        let mail = self.delivered();
        let m = mail.last().expect("a mail was delivered");
        assert_eq!(m["rcpt_tos"], json!([to]), "{m}");
        assert_eq!(m["subject"], subject, "{m}");
        let body = m["body"].as_str().unwrap();
        body.lines()
            .filter_map(|l| l.strip_prefix("    "))
            .map(str::trim)
            .find(|l| l.len() == 11 && l.as_bytes()[5] == b'-')
            .unwrap_or_else(|| panic!("no code in the mail:\n{body}"))
            .to_owned()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mail_args(sink: &Sink) -> ConfigArgs {
    ConfigArgs {
        email_smtp_url: Some(sink.url()),
        email_from_address: Some("Aerie <noreply@pds.test>".into()),
        ..ConfigArgs::default()
    }
}

async fn signup(s: &Server, handle: &str, email: &str) -> (String, String) {
    let (st, body) = s.create_account(handle, email).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
    )
}

async fn login(s: &Server, ident: &str, password: &str) -> (StatusCode, Value) {
    s.post(
        "/xrpc/com.atproto.server.createSession",
        None,
        json!({"identifier": ident, "password": password}),
    )
    .await
}

#[tokio::test]
async fn password_reset_mails_a_single_use_code_and_ends_old_sessions() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), mail_args(&sink)).await;
    signup(&s, "alice.test", "alice@example.com").await;
    let (_, session) = login(&s, "alice.test", "hunter2hunter2").await;
    let old_refresh = session["refreshJwt"].as_str().unwrap().to_owned();

    // Unknown addresses get the same 200 and no mail.
    let (st, _) = s
        .post(
            "/xrpc/com.atproto.server.requestPasswordReset",
            None,
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(sink.delivered().is_empty());

    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.requestPasswordReset",
            None,
            json!({"email": "ALICE@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let token = sink.last_token("alice@example.com", "Password Reset Requested");
    assert!(
        sink.delivered()[0]["body"]
            .as_str()
            .unwrap()
            .contains("alice.test")
    );

    let wrong = s
        .post(
            "/xrpc/com.atproto.server.resetPassword",
            None,
            json!({"token": "AAAAA-AAAAA", "password": "new-password-1"}),
        )
        .await;
    check_error(&wrong, 400, "InvalidToken");

    // Codes are accepted in lower case, as users type them.
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.resetPassword",
            None,
            json!({"token": token.to_lowercase(), "password": "new-password-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");

    check_error(
        &login(&s, "alice.test", "hunter2hunter2").await,
        401,
        "AuthenticationRequired",
    );
    let (st, _) = login(&s, "alice.test", "new-password-1").await;
    assert_eq!(st, StatusCode::OK);
    let refreshed = s
        .post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(&old_refresh),
            json!({}),
        )
        .await;
    assert_ne!(
        refreshed.0,
        StatusCode::OK,
        "old sessions end: {}",
        refreshed.1
    );

    let again = s
        .post(
            "/xrpc/com.atproto.server.resetPassword",
            None,
            json!({"token": token, "password": "new-password-2"}),
        )
        .await;
    check_error(&again, 400, "InvalidToken");
    s.stop().await;
}

#[tokio::test]
async fn email_confirmation_then_update_needs_a_code_sent_to_the_old_address() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), mail_args(&sink)).await;
    let (_, access) = signup(&s, "bob.test", "bob@example.com").await;
    let (_, sess) = s
        .get("/xrpc/com.atproto.server.getSession", Some(&access))
        .await;
    assert_eq!(sess["email"], "bob@example.com");
    assert_eq!(sess["emailConfirmed"], false);

    // Unconfirmed: an update needs no code.
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.requestEmailUpdate",
            Some(&access),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["tokenRequired"], false);

    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.requestEmailConfirmation",
            Some(&access),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let token = sink.last_token("bob@example.com", "Email Confirmation");

    let wrong_email = s
        .post(
            "/xrpc/com.atproto.server.confirmEmail",
            Some(&access),
            json!({"email": "other@example.com", "token": token}),
        )
        .await;
    check_error(&wrong_email, 400, "InvalidEmail");
    let wrong_token = s
        .post(
            "/xrpc/com.atproto.server.confirmEmail",
            Some(&access),
            json!({"email": "bob@example.com", "token": "BBBBB-BBBBB"}),
        )
        .await;
    check_error(&wrong_token, 400, "InvalidToken");
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.confirmEmail",
            Some(&access),
            json!({"email": "Bob@Example.com", "token": token}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, sess) = s
        .get("/xrpc/com.atproto.server.getSession", Some(&access))
        .await;
    assert_eq!(sess["emailConfirmed"], true);

    // Confirmed: the update needs a code mailed to the current address.
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.requestEmailUpdate",
            Some(&access),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["tokenRequired"], true);
    let token = sink.last_token("bob@example.com", "Email Update Requested");

    let no_token = s
        .post(
            "/xrpc/com.atproto.server.updateEmail",
            Some(&access),
            json!({"email": "bob2@example.com"}),
        )
        .await;
    check_error(&no_token, 400, "TokenRequired");
    let bad = s
        .post(
            "/xrpc/com.atproto.server.updateEmail",
            Some(&access),
            json!({"email": "not-an-email", "token": token}),
        )
        .await;
    check_error(&bad, 400, "InvalidRequest");
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.updateEmail",
            Some(&access),
            json!({"email": "bob2@example.com", "token": token}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, sess) = s
        .get("/xrpc/com.atproto.server.getSession", Some(&access))
        .await;
    assert_eq!(sess["email"], "bob2@example.com");
    assert_eq!(
        sess["emailConfirmed"], false,
        "a new address starts unconfirmed"
    );

    // The code was single use, and the old address no longer logs in.
    let reuse = s
        .post(
            "/xrpc/com.atproto.server.updateEmail",
            Some(&access),
            json!({"email": "bob3@example.com", "token": token}),
        )
        .await;
    assert_eq!(reuse.0, StatusCode::OK, "unconfirmed again: no code needed");
    let (st, _) = login(&s, "bob3@example.com", "hunter2hunter2").await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn update_email_refuses_an_address_another_account_uses() {
    let sink = Sink::start();
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), mail_args(&sink)).await;
    signup(&s, "carol.test", "carol@example.com").await;
    let (_, access) = signup(&s, "dave.test", "dave@example.com").await;
    let taken = s
        .post(
            "/xrpc/com.atproto.server.updateEmail",
            Some(&access),
            json!({"email": "CAROL@example.com"}),
        )
        .await;
    check_error(&taken, 400, "InvalidRequest");
    let unauth = s
        .post(
            "/xrpc/com.atproto.server.requestEmailConfirmation",
            None,
            json!({}),
        )
        .await;
    check_error(&unauth, 401, "AuthMissing");
    s.stop().await;
}

#[tokio::test]
async fn smtp_url_without_sender_address_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = ConfigArgs {
        data_directory: Some(dir.path().to_path_buf()),
        email_smtp_url: Some("smtp://127.0.0.1:2525".into()),
        ..ConfigArgs::default()
    }
    .resolve()
    .unwrap();
    let err = aerie_pds::serve::open(config).await.err().unwrap();
    assert!(err.to_string().contains("PDS_EMAIL_FROM_ADDRESS"), "{err}");
}
