//! `aerie repo import` as the real binary against a real `aerie serve`.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, Server, free_port};

fn aerie(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aerie"))
        .args(args)
        .env_remove("PDS_ADMIN_PASSWORD")
        .output()
        .unwrap()
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = http.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json::<Value>().await.unwrap()
}

#[tokio::test]
async fn repo_import_restores_a_backup_into_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), free_port(), &[]);
    let http = reqwest::Client::new();
    let acct = post(
        &http,
        &server.url,
        "/xrpc/com.atproto.server.createAccount",
        None,
        json!({"handle": "alice.test", "email": "alice@example.com", "password": "alice-pass-1"}),
    )
    .await;
    let did = acct["did"].as_str().unwrap().to_owned();
    let token = acct["accessJwt"].as_str().unwrap().to_owned();
    let record = |text: &str| {
        json!({"repo": did, "collection": "app.bsky.feed.post",
               "record": {"text": text, "createdAt": "2026-01-01T00:00:00.000Z"}})
    };
    post(
        &http,
        &server.url,
        "/xrpc/com.atproto.repo.createRecord",
        Some(&token),
        record("kept"),
    )
    .await;
    let backup = http
        .get(format!(
            "{}/xrpc/com.atproto.sync.getRepo?did={did}",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let file = dir.path().join("backup.car");
    std::fs::write(&file, &backup).unwrap();
    post(
        &http,
        &server.url,
        "/xrpc/com.atproto.repo.createRecord",
        Some(&token),
        record("dropped"),
    )
    .await;

    let file_s = file.to_str().unwrap();
    // A wrong password: refused by the server, non-zero exit, the reason printed.
    let out = aerie(&[
        "repo",
        "import",
        file_s,
        "--did",
        &did,
        "--url",
        &server.url,
        "--admin-password",
        "nope",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AuthenticationRequired"));
    // A damaged file never reaches the server.
    let mut damaged = backup.to_vec();
    let at = damaged.len() - 2;
    damaged[at] ^= 1;
    let bad = dir.path().join("damaged.car");
    std::fs::write(&bad, damaged).unwrap();
    let out = aerie(&[
        "repo",
        "import",
        bad.to_str().unwrap(),
        "--did",
        &did,
        "--url",
        &server.url,
        "--admin-password",
        ADMIN_PASSWORD,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid repository"));

    let out = aerie(&[
        "repo",
        "import",
        file_s,
        "--did",
        &did,
        "--url",
        &server.url,
        "--admin-password",
        ADMIN_PASSWORD,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 1 records"));
    let list: Value = http
        .get(format!(
            "{}/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = list["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{list}");
    assert_eq!(records[0]["value"]["text"], "kept");
}
