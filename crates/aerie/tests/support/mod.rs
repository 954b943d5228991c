//! The real `aerie serve` binary as a child process over a temp data directory, for the
//! end-to-end and crash tests, plus the paths of the official-client harness (e2e/).
#![allow(dead_code)] // each test file uses a different subset

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

pub const ADMIN_PASSWORD: &str = "e2e-admin-password";
pub const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdef";

/// A running `aerie serve`; killed by its own PID (SIGKILL) when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    data: PathBuf,
    log: PathBuf,
}

/// A loopback port that was free a moment ago (released before the server binds it; a
/// race makes the start fail loudly, never pass wrongly).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    l.local_addr().expect("local address").port()
}

impl Server {
    /// Starts `aerie serve` in dev mode (in-process PLC on the same origin) with the known
    /// admin password and JWT secret, and waits until `/xrpc/_health` answers 200.
    /// `extra` adds environment variables. The server's stderr is appended to
    /// `<dir>/serve.log`, so a restart on the same directory keeps the earlier log.
    pub fn start(dir: &Path, port: u16, extra: &[(&str, &str)]) -> Server {
        let data = dir.join("pds");
        let log = dir.join("serve.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("opening the server log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aerie"));
        cmd.arg("serve");
        // Hermetic: nothing from the caller's environment may switch modes or directories.
        for name in [
            "PDS_HOSTNAME",
            "PDS_DEV_MODE",
            "PDS_DID_PLC_URL",
            "PDS_BLOBSTORE_DISK_LOCATION",
            "PDS_SERVICE_HANDLE_DOMAINS",
            "PDS_INVITE_REQUIRED",
            "PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX",
            "PDS_EMAIL_SMTP_URL",
        ] {
            cmd.env_remove(name);
        }
        cmd.env("PDS_PORT", port.to_string())
            .env("PDS_BIND_HOST", "127.0.0.1")
            .env("PDS_DATA_DIRECTORY", &data)
            .env("PDS_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("PDS_JWT_SECRET", JWT_SECRET)
            .env("RUST_LOG", "warn");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawning aerie serve");
        let mut server = Server {
            child: Some(child),
            port,
            url: format!("http://127.0.0.1:{port}"),
            data,
            log,
        };
        server.wait_healthy();
        server
    }

    /// Starts again on the same data directory and port (the DID documents name the port).
    pub fn restart(dir: &Path, port: u16, extra: &[(&str, &str)]) -> Server {
        Server::start(dir, port, extra)
    }

    /// Readiness wait, not a timing assertion: polls `_health` for up to a minute.
    fn wait_healthy(&mut self) {
        for _ in 0..1200 {
            if health_ok(self.port) {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("aerie serve exited with {status}:\n{}", self.log());
            }
            sleep(Duration::from_millis(50));
        }
        panic!(
            "aerie serve never answered /xrpc/_health on {}:\n{}",
            self.url,
            self.log()
        );
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs, no buffers flush.
    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL aerie serve");
            let status = child.wait().expect("reaping aerie serve");
            assert!(
                !status.success(),
                "the server exited on its own before the kill"
            );
        }
    }

    /// Everything the server (and earlier runs on this directory) logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One plain HTTP/1.1 request to `/xrpc/_health`: true on a 200 answer.
fn health_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = "GET /xrpc/_health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200")
}

/// The workspace's `e2e/` directory.
pub fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e")
}

/// The Node 22 binary the harness installed, located by `e2e/paths.sh` itself so the rules
/// (AERIE_E2E_DIR, arch, stamps) live in one place. Not installed -> a failure that says
/// how to install it: these tests are never skipped.
pub fn e2e_node() -> PathBuf {
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#". "$1/paths.sh" && e2e_installed && printf %s "$E2E_NODE""#)
        .arg("paths")
        .arg(e2e_dir())
        .output()
        .expect("running bash for e2e/paths.sh");
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{}",
        install_hint()
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn install_hint() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    format!(
        "the end-to-end harness (Node 22 + @atproto packages, Python atproto SDK) is not \
         installed or is out of date; install it with: {}/scripts/install-e2e",
        root.display()
    )
}

/// A child process (a client load) killed by its own PID if the test ends early.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
