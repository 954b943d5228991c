//! `aerie doctor` as an operator runs it: the real binary, a temporary data directory, a
//! real SMTP server on loopback (aiosmtpd from the e2e venv, crates/mail's sink script) and
//! a one-shot HTTP responder standing in for the PLC directory's `/_health`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

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

struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Sink {
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

    fn delivered(&self) -> Vec<serde_json::Value> {
        (1..)
            .map_while(|n| std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).ok())
            .map(|t| serde_json::from_str(&t).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Answers one HTTP request with 200 `{}` on a free loopback port; returns the base URL.
fn one_shot_health() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    url
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn doctor(args: &[&str]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aerie"))
        .arg("doctor")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn line<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.get(5..).is_some_and(|rest| rest.starts_with(name)))
        .unwrap_or_else(|| panic!("no `{name}` line in:\n{stdout}"))
}

#[test]
fn doctor_passes_every_check_and_sends_the_test_mail() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let plc = one_shot_health();
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let (out, stdout) = doctor(&[
        "--data-directory",
        data.path().to_str().unwrap(),
        "--did-plc-url",
        &plc,
        "--email-smtp-url",
        &smtp,
        "--email-from-address",
        "Aerie <noreply@pds.test>",
        "--send-test-mail",
        "operator@example.com",
    ]);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "configuration",
        "data directory writable",
        "blobstore directory writable",
        "secrets",
        "mail settings",
        "database opens and migrates",
        "PLC directory reachable",
        "SMTP connects",
        "test mail",
    ] {
        assert!(line(&stdout, name).starts_with("ok "), "{stdout}");
    }
    assert!(data.path().join("aerie.sqlite").exists());
    let mail = sink.delivered();
    let test = mail.last().expect("the test mail arrived");
    assert_eq!(
        test["rcpt_tos"],
        serde_json::json!(["operator@example.com"])
    );
    assert_eq!(test["subject"], "Aerie test message");
}

#[test]
fn doctor_fails_on_unreachable_plc_and_smtp() {
    let data = tempfile::tempdir().unwrap();
    let plc = format!("http://127.0.0.1:{}", closed_port());
    let smtp = format!("smtp://127.0.0.1:{}", closed_port());
    let (out, stdout) = doctor(&[
        "--data-directory",
        data.path().to_str().unwrap(),
        "--did-plc-url",
        &plc,
        "--email-smtp-url",
        &smtp,
        "--email-from-address",
        "noreply@pds.test",
        "--send-test-mail",
        "operator@example.com",
    ]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        line(&stdout, "PLC directory reachable").starts_with("FAIL"),
        "{stdout}"
    );
    assert!(
        line(&stdout, "SMTP connects").starts_with("FAIL"),
        "{stdout}"
    );
    assert!(line(&stdout, "test mail").starts_with("FAIL"), "{stdout}");
    assert!(
        line(&stdout, "database opens and migrates").starts_with("ok "),
        "{stdout}"
    );
}

#[test]
fn doctor_reports_bad_mail_settings_and_missing_production_secrets() {
    let data = tempfile::tempdir().unwrap();
    let (out, stdout) = doctor(&[
        "--data-directory",
        data.path().to_str().unwrap(),
        "--email-smtp-url",
        "smtp://127.0.0.1:2525",
    ]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let l = line(&stdout, "mail settings");
    assert!(
        l.starts_with("FAIL") && l.contains("PDS_EMAIL_FROM_ADDRESS"),
        "{stdout}"
    );

    let (out, stdout) = doctor(&[
        "--data-directory",
        data.path().to_str().unwrap(),
        "--hostname",
        "pds.example.com",
    ]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let l = line(&stdout, "configuration");
    assert!(
        l.starts_with("FAIL") && l.contains("PDS_JWT_SECRET"),
        "{stdout}"
    );
}
