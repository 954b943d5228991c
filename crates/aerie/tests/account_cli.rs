//! `aerie account ...` and `aerie invite create` as real binaries against a real
//! `aerie serve` on a free loopback port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::Duration;

const ADMIN_PASSWORD: &str = "cli-admin-pw";

/// A running `aerie serve`; killed (by its own PID) when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // Released before the server binds it; a race makes the start fail loudly.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `aerie serve` in dev mode with invites required, so `account create` must mint one.
fn start_server(data: &Path) -> Server {
    let port = free_port();
    let log = std::fs::File::create(data.join("serve.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_aerie"))
        .arg("serve")
        .env("PDS_PORT", port.to_string())
        .env("PDS_BIND_HOST", "127.0.0.1")
        .env("PDS_DATA_DIRECTORY", data.join("pds"))
        .env("PDS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("PDS_INVITE_REQUIRED", "true")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Readiness wait, not a timing assertion: poll until the listener accepts.
    for _ in 0..600 {
        if TcpStream::connect(addr).is_ok() {
            return server;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(data.join("serve.log")).unwrap_or_default();
            panic!("aerie serve exited with {status}:\n{log}");
        }
        sleep(Duration::from_millis(50));
    }
    panic!("aerie serve did not listen on {addr}");
}

/// The HTTP status of createSession for ops.test with `password`.
fn login(url: &str, password: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/xrpc/com.atproto.server.createSession"))
            .json(&serde_json::json!({"identifier": "ops.test", "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

/// Runs `aerie <args>` with no admin settings inherited from the environment.
fn aerie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aerie"))
        .args(args)
        .env_remove("PDS_ADMIN_PASSWORD")
        .env_remove("PDS_DATA_DIRECTORY")
        .env_remove("AERIE_URL")
        .output()
        .unwrap()
}

/// Runs an admin command against `url`; asserts success and returns stdout.
fn ok(url: &str, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["--url", url, "--admin-password", ADMIN_PASSWORD]);
    let out = aerie(&all);
    assert!(
        out.status.success(),
        "aerie {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn operator_commands_manage_accounts_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let url = server.url.as_str();

    let code = ok(url, &["invite", "create", "--uses", "3"]);
    assert!(
        code.trim().starts_with("127-0-0-1-") || code.trim().contains('-'),
        "{code}"
    );

    let created = ok(
        url,
        &[
            "account",
            "create",
            "--handle",
            "ops.test",
            "--email",
            "ops@example.com",
            "--password",
            "first-password",
        ],
    );
    let (did, handle) = created.trim().split_once('\t').unwrap();
    assert!(did.starts_with("did:plc:"), "{created}");
    assert_eq!(handle, "ops.test");

    let list = ok(url, &["account", "list"]);
    assert!(
        list.contains(did) && list.contains("ops@example.com"),
        "{list}"
    );

    let info: serde_json::Value =
        serde_json::from_str(&ok(url, &["account", "info", "ops.test"])).unwrap();
    assert_eq!(info["did"], did);
    assert_eq!(info["takedown"]["applied"], false);

    ok(url, &["account", "takedown", did, "--ref", "ticket-7"]);
    let info: serde_json::Value =
        serde_json::from_str(&ok(url, &["account", "info", did])).unwrap();
    assert_eq!(info["takedown"]["applied"], true);
    assert_eq!(info["takedown"]["ref"], "ticket-7");
    ok(url, &["account", "takedown", did, "--reverse"]);
    let info: serde_json::Value =
        serde_json::from_str(&ok(url, &["account", "info", did])).unwrap();
    assert_eq!(info["takedown"]["applied"], false);

    // A generated password is printed and works; the old one does not.
    let new_pw = ok(url, &["account", "reset-password", did])
        .trim()
        .to_owned();
    assert_eq!(new_pw.len(), 24, "{new_pw}");
    assert_eq!(login(url, &new_pw), 200);
    assert_eq!(login(url, "first-password"), 401);
}

#[test]
fn operator_commands_fail_clearly_without_valid_admin_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());

    let out = aerie(&["account", "list", "--url", &server.url]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin password"), "{err}");

    let out = aerie(&[
        "account",
        "list",
        "--url",
        &server.url,
        "--admin-password",
        "wrong",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AuthenticationRequired"), "{err}");

    let out = aerie(&[
        "invite",
        "create",
        "--url",
        "http://127.0.0.1:9",
        "--admin-password",
        "x",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not reach the PDS"), "{err}");
}
