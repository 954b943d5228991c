//! Issue 6, part 8: the crash test. Writes under load, SIGKILL of the real `aerie serve`
//! mid-load, restart on the same data directory, then every acknowledged write must be
//! there and every repo must verify against its account's signing key. A write is
//! acknowledged only after its transaction is fsynced, so a process kill may lose only the
//! one unacknowledged write in flight per writer, entirely or not at all.
//!
//! Two drivers: the official client (`e2e/node/crash.mjs`, `@atproto/api` + `@atproto/repo`)
//! and a Rust-only one (reqwest) that needs no Node.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use aerie_crypto::PublicKey;
use aerie_data::{Cid, drisl, json::from_json};
use aerie_repo::car::CarLimits;
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car_bytes};
use aerie_syntax::Did;
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, ChildGuard, Server, e2e_dir, e2e_node, free_port};

/// Acknowledged writes (all accounts together) before the kill: enough that the kill lands
/// in the middle of a steady load, few enough to keep the test short.
const NODE_MIN_ACKS: usize = 150;
const RUST_MIN_ACKS: usize = 200;
/// Rust driver: accounts writing at once (one write in flight each) and writes per account.
const RUST_ACCOUNTS: usize = 8;
const RUST_MAX_WRITES: usize = 500;
const COLLECTION: &str = "com.example.aerie.crash";

fn count_acks(journal: &Path) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(r#""t":"ack""#))
        .count()
}

#[test]
fn acknowledged_writes_of_the_official_client_survive_sigkill() {
    let node = e2e_node();
    let script = e2e_dir().join("node/crash.mjs");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Server::start(dir.path(), port, &[]);
    let url = server.url.clone();
    let journal = dir.path().join("journal.ndjson");
    let load_log = dir.path().join("load.log");
    let log_file = std::fs::File::create(&load_log).unwrap();
    let mut load = ChildGuard(
        Command::new(&node)
            .arg(&script)
            .args(["load", &url, "--journal"])
            .arg(&journal)
            .args(["--accounts", "6", "--admin-password", ADMIN_PASSWORD])
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("spawning node crash.mjs load"),
    );
    let read_log = || std::fs::read_to_string(&load_log).unwrap_or_default();

    // Readiness wait, not a timing assertion: up to two minutes for the load to get going.
    let mut acks = 0;
    for _ in 0..2400 {
        acks = count_acks(&journal);
        if acks >= NODE_MIN_ACKS {
            break;
        }
        if let Ok(Some(status)) = load.0.try_wait() {
            panic!(
                "the load stopped before the kill ({status}):\n{}",
                read_log()
            );
        }
        sleep(Duration::from_millis(50));
    }
    assert!(
        acks >= NODE_MIN_ACKS,
        "only {acks} writes acknowledged:\n{}\n{}",
        read_log(),
        server.log()
    );
    server.sigkill();
    // The load ends by itself once every account's connection is gone; a write the server
    // refused with an error answer (rather than a dropped connection) fails it.
    let status = load.0.wait().unwrap();
    assert!(status.success(), "load failed ({status}):\n{}", read_log());

    let server = Server::restart(dir.path(), port, &[]);
    let out = Command::new(&node)
        .arg(&script)
        .args(["verify", &url, "--journal"])
        .arg(&journal)
        .args(["--plc", &url])
        .output()
        .expect("running node crash.mjs verify");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify failed ({}):\n{stdout}\n{}\n--- load\n{}\n--- server\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        read_log(),
        server.log()
    );
    println!("{acks}+ acknowledged before SIGKILL; {}", stdout.trim());
}

/// One account of the Rust driver.
struct Account {
    did: String,
    access: String,
}

/// What one writer saw: acknowledged `rkey -> cid`, and the write in flight at the kill.
#[derive(Default)]
struct Written {
    acked: BTreeMap<String, Cid>,
    pending: Option<(String, Cid)>,
}

/// The CID the server must report for `record`: DAG-CBOR of the JSON as sent.
fn expected_cid(record: &Value) -> Cid {
    Cid::for_cbor(&drisl::encode(&from_json(record).unwrap()))
}

async fn create_account(http: &reqwest::Client, url: &str, i: usize) -> Account {
    let handle = format!("crash{i}.test");
    let resp = http
        .post(format!("{url}/xrpc/com.atproto.server.createAccount"))
        .json(&json!({"handle": handle, "email": format!("{handle}@example.com"), "password": "crash-password-1"}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "createAccount: {status} {body}");
    Account {
        did: body["did"].as_str().unwrap().to_owned(),
        access: body["accessJwt"].as_str().unwrap().to_owned(),
    }
}

/// Writes until `RUST_MAX_WRITES` or the server goes away. An error answer (the server is
/// up but refused) is a failure; no answer at all ends the loop with the write pending.
async fn write_loop(
    http: reqwest::Client,
    url: String,
    acct: Account,
    acks: Arc<AtomicUsize>,
) -> Result<Written, String> {
    let mut out = Written::default();
    for seq in 0..RUST_MAX_WRITES {
        let rkey = format!("w{seq:05}");
        let record = json!({"$type": COLLECTION, "seq": seq, "text": format!("write {seq} of {}", acct.did)});
        let cid = expected_cid(&record);
        out.pending = Some((rkey.clone(), cid));
        let sent = http
            .post(format!("{url}/xrpc/com.atproto.repo.createRecord"))
            .bearer_auth(&acct.access)
            .json(&json!({"repo": acct.did, "collection": COLLECTION, "rkey": rkey, "record": record}))
            .send()
            .await;
        let Ok(resp) = sent else { return Ok(out) };
        let status = resp.status();
        let Ok(text) = resp.text().await else {
            return Ok(out);
        };
        if !status.is_success() {
            return Err(format!("{} write {seq} refused: {status} {text}", acct.did));
        }
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if body["cid"] != cid.to_string() {
            return Err(format!(
                "{} write {seq}: cid {} != {cid}",
                acct.did, body["cid"]
            ));
        }
        out.pending = None;
        out.acked.insert(rkey, cid);
        acks.fetch_add(1, Ordering::Relaxed);
    }
    Ok(out)
}

/// The account's `#atproto` key from the PLC directory (in-process, on the PDS origin).
async fn signing_key(http: &reqwest::Client, url: &str, did: &str) -> PublicKey {
    let doc: Value = http
        .get(format!("{url}/{did}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = doc["verificationMethod"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let method = methods
        .iter()
        .find(|m| m["id"].as_str().is_some_and(|id| id.ends_with("#atproto")))
        .unwrap_or_else(|| panic!("no #atproto key in {doc}"));
    PublicKey::parse_multikey(method["publicKeyMultibase"].as_str().unwrap()).unwrap()
}

/// After the restart: every acknowledged record is served with its CID, and getRepo
/// verifies and holds exactly the acknowledged records, plus the pending one if it landed.
async fn check_account(http: &reqwest::Client, url: &str, did: &str, w: &Written) {
    for (rkey, cid) in &w.acked {
        let resp = http
            .get(format!(
                "{url}/xrpc/com.atproto.repo.getRecord?repo={did}&collection={COLLECTION}&rkey={rkey}"
            ))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{did} {rkey} lost: {status} {body}");
        assert_eq!(body["cid"], cid.to_string(), "{did} {rkey}");
    }
    let key = signing_key(http, url, did).await;
    let resp = http
        .get(format!("{url}/xrpc/com.atproto.sync.getRepo?did={did}"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "getRepo {did}: {}",
        resp.status()
    );
    let car = resp.bytes().await.unwrap();
    let verified = verify_car_bytes(
        &car,
        &VerifyOptions {
            key: Some(key),
            did: Some(Did::parse(did).unwrap()),
            limits: CarLimits::DEFAULT,
            threads: None,
        },
    )
    .unwrap_or_else(|e| panic!("{did}: the repo does not verify: {e}"));
    assert_eq!(verified.report.signature, SignatureCheck::Valid, "{did}");
    let got: BTreeMap<String, Cid> = verified
        .entries
        .iter()
        .map(|(path, cid)| {
            assert_eq!(path.collection(), COLLECTION);
            (path.rkey().to_owned(), *cid)
        })
        .collect();
    let mut with_pending = w.acked.clone();
    if let Some((rkey, cid)) = &w.pending {
        with_pending.insert(rkey.clone(), *cid);
    }
    assert!(
        got == w.acked || got == with_pending,
        "{did}: repo holds {} records, {} acknowledged (pending {:?})",
        got.len(),
        w.acked.len(),
        w.pending
    );
}

#[test]
fn acknowledged_creates_survive_sigkill_and_every_repo_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = [("PDS_INVITE_REQUIRED", "false")];
    let mut server = Server::start(dir.path(), port, &env);
    let url = server.url.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // One connection pool per writer, so each account is its own concurrent client.
    let accounts = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut v = Vec::new();
        for i in 0..RUST_ACCOUNTS {
            v.push(create_account(&http, &url, i).await);
        }
        v
    });
    let dids: Vec<String> = accounts.iter().map(|a| a.did.clone()).collect();
    let acks = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = accounts
        .into_iter()
        .map(|a| {
            rt.spawn(write_loop(
                reqwest::Client::new(),
                url.clone(),
                a,
                acks.clone(),
            ))
        })
        .collect();
    // Readiness wait, not a timing assertion: up to two minutes to reach the kill point.
    for _ in 0..6000 {
        if acks.load(Ordering::Relaxed) >= RUST_MIN_ACKS || writers.iter().all(|w| w.is_finished())
        {
            break;
        }
        sleep(Duration::from_millis(20));
    }
    let at_kill = acks.load(Ordering::Relaxed);
    server.sigkill();
    let written: Vec<Written> = rt.block_on(async {
        let mut v = Vec::new();
        for w in writers {
            v.push(w.await.unwrap().unwrap_or_else(|e| panic!("{e}")));
        }
        v
    });
    assert!(
        at_kill >= RUST_MIN_ACKS,
        "only {at_kill} writes acknowledged before the kill:\n{}",
        server.log()
    );
    let total: usize = written.iter().map(|w| w.acked.len()).sum();
    let pending = written.iter().filter(|w| w.pending.is_some()).count();

    let server = Server::restart(dir.path(), port, &env);
    rt.block_on(async {
        let http = reqwest::Client::new();
        for (did, w) in dids.iter().zip(&written) {
            check_account(&http, &server.url, did, w).await;
        }
    });
    println!(
        "{total} acknowledged writes ({pending} in flight at the SIGKILL) all present after restart"
    );
}
