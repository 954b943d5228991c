//! Issue 6, part 8: the official clients, unmodified, against the real `aerie serve`.
//! `e2e/run-against` runs the `@atproto/api` journey (getRepo verified with
//! `@atproto/repo`, the firehose replayed with `@atproto/sync`) and the Python `atproto`
//! SDK journey; every check must pass. A missing harness is a failure with the install
//! command, never a skip.

mod support;

use std::process::Command;

use support::{ADMIN_PASSWORD, JWT_SECRET, Server, e2e_dir, free_port, install_hint};

#[test]
fn official_node_and_python_clients_pass_their_journeys() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), free_port(), &[]);
    let url = server.url.as_str();
    // The in-process PLC directory of dev mode answers on the PDS's own origin.
    let out = Command::new(e2e_dir().join("run-against"))
        .args([url, "--admin-password", ADMIN_PASSWORD])
        .args(["--jwt-secret", JWT_SECRET, "--plc", url, "--firehose"])
        .output()
        .expect("running e2e/run-against");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {
            // The journeys print one line per check; show the summary in the test output.
            for line in stdout.lines().filter(|l| l.contains("passed")) {
                println!("{line}");
            }
        }
        Some(3) => panic!("{}\n{stderr}", install_hint()),
        code => panic!(
            "e2e/run-against exited with {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
            server.log()
        ),
    }
}
