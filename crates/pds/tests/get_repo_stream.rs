//! com.atproto.sync.getRepo is streamed from a read snapshot: a repo large enough to span
//! many chunks (5,000 records) must come out complete, verified, in the spec's streamable
//! order and byte-identical to the CAR the repository writes in memory; `since` still
//! returns only the newer blocks.

mod server;

use std::collections::BTreeMap;

use aerie_crypto::PublicKey;
use aerie_pds::ConfigArgs;
use aerie_repo::car::{CarLimits, read_car_slice};
use aerie_repo::repo::Repo;
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car_bytes};
use aerie_syntax::Did;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, check_error};

const RECORDS: usize = 5_000;
const BATCH: usize = 200; // applyWrites' limit

fn record(i: usize) -> Value {
    // ~300 bytes each, so the CAR is well over a megabyte: many body chunks.
    json!({"$type": "com.example.note", "text": format!("{i:05} {}", "x".repeat(250)), "createdAt": "2026-11-26T00:00:00.000Z"})
}

async fn car(s: &Server, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn streamed_get_repo_of_5000_records_verifies_and_equals_the_in_memory_car() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (st, acct) = s.create_account("big.test", "big@example.com").await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    let did = acct["did"].as_str().unwrap().to_owned();
    let access = acct["accessJwt"].as_str().unwrap().to_owned();
    let key = PublicKey::parse_multikey(
        acct["didDoc"]["verificationMethod"][0]["publicKeyMultibase"]
            .as_str()
            .unwrap(),
    )
    .unwrap();

    let mut expected = BTreeMap::new();
    let mut last_batch_cids = Vec::new();
    let mut since = String::new();
    for start in (0..RECORDS).step_by(BATCH) {
        let writes: Vec<Value> = (start..start + BATCH)
            .map(|i| json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.note", "rkey": format!("r{i:05}"), "value": record(i)}))
            .collect();
        if start + BATCH == RECORDS {
            // `since` = the revision before the last batch.
            let (_, latest) = s
                .get(
                    &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
                    None,
                )
                .await;
            since = latest["rev"].as_str().unwrap().to_owned();
        }
        let (st, out) = s
            .post(
                "/xrpc/com.atproto.repo.applyWrites",
                Some(&access),
                json!({"repo": did, "writes": writes}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{out}");
        for (i, r) in out["results"].as_array().unwrap().iter().enumerate() {
            let cid = r["cid"].as_str().unwrap().to_owned();
            expected.insert(format!("com.example.note/r{:05}", start + i), cid.clone());
            if start + BATCH == RECORDS {
                last_batch_cids.push(cid);
            }
        }
    }

    let resp = s
        .http
        .get(format!("{}/xrpc/com.atproto.sync.getRepo?did={did}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/vnd.ipld.car");
    // Streamed: the length is not known up front (chunked), unlike a body built in memory.
    assert!(resp.headers().get("content-length").is_none());
    let bytes = resp.bytes().await.unwrap().to_vec();
    assert!(bytes.len() > 1_500_000, "{} bytes", bytes.len());
    let verified = verify_car_bytes(
        &bytes,
        &VerifyOptions {
            key: Some(key),
            did: Some(Did::parse(&did).unwrap()),
            limits: CarLimits::DEFAULT,
            threads: None,
        },
    )
    .unwrap();
    assert_eq!(verified.report.signature, SignatureCheck::Valid);
    assert_eq!(verified.report.records, RECORDS as u64);
    assert_eq!(verified.report.duplicate_blocks, 0);
    assert_eq!(verified.report.unreferenced_blocks, 0);
    let got: BTreeMap<String, String> = verified
        .entries
        .iter()
        .map(|(k, c)| (k.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, expected);

    // The in-memory writer over the same blocks gives the same bytes: same order, nothing
    // lost or added at chunk boundaries.
    let repo = Repo::load(&verified.blocks, verified.report.commit_cid).unwrap();
    let in_memory = repo.write_car(&verified.blocks, Vec::new()).unwrap();
    assert!(
        in_memory == bytes,
        "streamed CAR differs from the in-memory CAR"
    );

    // `since`: the latest commit as root, only blocks of the last batch's commit (its
    // records among them), all of them in the full export, in CID order as before.
    let (st, partial) = car(
        &s,
        &format!("/xrpc/com.atproto.sync.getRepo?did={did}&since={since}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(partial.len() < bytes.len() / 5, "{} bytes", partial.len());
    let p = read_car_slice(&partial, CarLimits::DEFAULT).unwrap();
    assert_eq!(p.roots, vec![verified.report.commit_cid]);
    let full = read_car_slice(&bytes, CarLimits::DEFAULT).unwrap();
    let cids: Vec<String> = p.blocks.iter().map(|(c, _)| c.to_string()).collect();
    for cid in &last_batch_cids {
        assert!(cids.contains(cid), "record {cid} missing from since CAR");
    }
    assert!(cids.contains(&verified.report.commit_cid.to_string()));
    for (cid, data) in p.blocks.iter() {
        assert_eq!(full.blocks.get(&cid), Some(data), "{cid}");
    }
    let raw: Vec<_> = p.blocks.iter().map(|(c, _)| *c.as_bytes()).collect();
    assert!(
        raw.windows(2).all(|w| w[0] < w[1]),
        "since blocks not in CID order"
    );

    // Errors are still answered before any byte is streamed.
    let got = s
        .get(
            "/xrpc/com.atproto.sync.getRepo?did=did:plc:unknownunknown",
            None,
        )
        .await;
    check_error(&got, 400, "RepoNotFound");
    s.stop().await;
}

#[tokio::test]
async fn get_repo_exports_one_snapshot_while_writes_delete_blocks_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (st, acct) = s.create_account("snap.test", "snap@example.com").await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    let did = acct["did"].as_str().unwrap().to_owned();
    let access = acct["accessJwt"].as_str().unwrap().to_owned();
    let key = PublicKey::parse_multikey(
        acct["didDoc"]["verificationMethod"][0]["publicKeyMultibase"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    // ~15 MB of records: far more than the socket buffers and the chunk queue hold, so the
    // walk is still running when the deletes commit.
    let count = 3_000;
    let big = |i: usize| json!({"$type": "com.example.note", "text": format!("{i:05} {}", "y".repeat(5_000)), "createdAt": "2026-11-26T00:00:00.000Z"});
    for start in (0..count).step_by(BATCH / 2) {
        let writes: Vec<Value> = (start..start + BATCH / 2)
            .map(|i| json!({"$type": "com.atproto.repo.applyWrites#create", "collection": "com.example.note", "rkey": format!("r{i:05}"), "value": big(i)}))
            .collect();
        let (st, out) = s
            .post(
                "/xrpc/com.atproto.repo.applyWrites",
                Some(&access),
                json!({"repo": did, "writes": writes}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{out}");
    }
    let (_, before) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
            None,
        )
        .await;

    // Start the download and take one chunk, then delete the records the walk reaches last
    // (their record blocks and MST nodes leave the store) before reading the rest.
    let mut resp = s
        .http
        .get(format!("{}/xrpc/com.atproto.sync.getRepo?did={did}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut bytes = resp.chunk().await.unwrap().unwrap().to_vec();
    let deletes: Vec<Value> = (count - BATCH..count)
        .map(|i| json!({"$type": "com.atproto.repo.applyWrites#delete", "collection": "com.example.note", "rkey": format!("r{i:05}")}))
        .collect();
    let (st, out) = s
        .post(
            "/xrpc/com.atproto.repo.applyWrites",
            Some(&access),
            json!({"repo": did, "writes": deletes}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    while let Some(chunk) = resp.chunk().await.unwrap() {
        bytes.extend_from_slice(&chunk);
    }

    // The export is the repo as of its start: complete, signed, every record there.
    let verified = verify_car_bytes(
        &bytes,
        &VerifyOptions {
            key: Some(key),
            did: Some(Did::parse(&did).unwrap()),
            limits: CarLimits::DEFAULT,
            threads: None,
        },
    )
    .unwrap();
    assert_eq!(verified.report.commit_cid.to_string(), before["cid"]);
    assert_eq!(verified.report.records, count as u64);
    // And the next export shows the deletes.
    let (_, after) = car(&s, &format!("/xrpc/com.atproto.sync.getRepo?did={did}")).await;
    let verified = verify_car_bytes(
        &after,
        &VerifyOptions {
            key: Some(key),
            did: None,
            limits: CarLimits::DEFAULT,
            threads: None,
        },
    )
    .unwrap();
    assert_eq!(verified.report.records, (count - BATCH) as u64);
    s.stop().await;
}
