//! `aerie bench` run as a real binary against a real `aerie serve` on a free loopback port.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::Duration;

const ADMIN_PASSWORD: &str = "bench-admin-pw";

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
    // The port is released before the server binds it; another process taking it in between
    // would make the start fail loudly, not make the test pass wrongly.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Starts `aerie serve` in dev mode with invites required, so the bench must mint one.
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

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aerie"))
        .arg("bench")
        .args(args)
        .env_remove("AERIE_BENCH_ADMIN_PASSWORD")
        .output()
        .unwrap()
}

/// Runs a tiny bench and returns its parsed JSON report.
fn tiny_bench(url: &str, scenario: &str) -> serde_json::Value {
    let out = bench(&[
        "--url",
        url,
        "--scenario",
        scenario,
        "--accounts",
        "2",
        "--concurrency",
        "2",
        "--requests",
        "50",
        "--seed-records",
        "3",
        "--admin-password",
        ADMIN_PASSWORD,
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench {scenario} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("report is not JSON ({e}): {stdout}"))
}

fn assert_clean(report: &serde_json::Value, scenario: &str) {
    assert_eq!(report["scenario"], scenario);
    assert_eq!(report["accounts"], 2);
    assert_eq!(report["concurrency"], 2);
    assert_eq!(report["requests"], 50, "{report:#}");
    assert_eq!(report["succeeded"], 50, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report:#}");
    assert!(report["bytes_received"].as_u64().unwrap() > 0);
    let l = &report["latency_ms"];
    let (p50, p99, max) = (
        l["p50"].as_f64().unwrap(),
        l["p99"].as_f64().unwrap(),
        l["max"].as_f64().unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{l}");
}

#[test]
fn tiny_benches_against_aerie_serve_report_zero_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    for scenario in ["create-records", "get-records", "mixed"] {
        let report = tiny_bench(&server.url, scenario);
        assert_clean(&report, scenario);
    }
    // Writes carry a body; the report counts it.
    let report = tiny_bench(&server.url, "create-records");
    assert!(report["bytes_sent"].as_u64().unwrap() > 50 * 100);
}

#[test]
fn bench_needs_an_invite_or_admin_password_when_the_server_requires_invites() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let out = bench(&["--url", &server.url, "--requests", "1", "--accounts", "1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--admin-password"), "{err}");
}

#[test]
fn bench_refuses_non_loopback_urls() {
    for url in [
        "http://example.com",
        "http://10.1.2.3:2583",
        "http://[::]:2583",
    ] {
        let out = bench(&["--url", url, "--requests", "1"]);
        assert!(!out.status.success(), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not a loopback address"), "{url}: {err}");
    }
}
