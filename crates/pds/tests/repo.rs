//! Record writes and reads, and sync exports, over HTTP against the real server.

mod server;

use aerie_crypto::PublicKey;
use aerie_pds::ConfigArgs;
use aerie_repo::car::CarLimits;
use aerie_repo::mst::Key;
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car};
use aerie_syntax::Did;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, check_error};

struct Account {
    did: String,
    access: String,
    key: PublicKey,
}

async fn signup(s: &Server, handle: &str) -> Account {
    let (st, acct) = s
        .create_account(handle, &format!("{handle}@example.com"))
        .await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    let multikey = acct["didDoc"]["verificationMethod"][0]["publicKeyMultibase"]
        .as_str()
        .unwrap();
    Account {
        did: acct["did"].as_str().unwrap().to_owned(),
        access: acct["accessJwt"].as_str().unwrap().to_owned(),
        key: PublicKey::parse_multikey(multikey).unwrap(),
    }
}

fn post_record(text: &str) -> Value {
    json!({"$type": "com.example.note", "text": text, "createdAt": "2026-11-25T00:00:00.000Z"})
}

async fn car(s: &Server, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
    let status = resp.status();
    (status, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn create_get_list_put_delete_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let a = signup(&s, "alice.test").await;
    let auth = Some(a.access.as_str());

    let mut uris = Vec::new();
    for i in 0..5 {
        let (st, out) = s
            .post(
                "/xrpc/com.atproto.repo.createRecord",
                auth,
                json!({"repo": a.did, "collection": "com.example.note", "record": post_record(&format!("post {i}"))}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{out}");
        assert!(
            out["uri"]
                .as_str()
                .unwrap()
                .starts_with(&format!("at://{}/com.example.note/", a.did))
        );
        assert!(out["commit"]["rev"].is_string());
        assert_eq!(out["validationStatus"], "unknown");
        uris.push(out["uri"].as_str().unwrap().to_owned());
    }
    let rkey = |uri: &str| uri.rsplit('/').next().unwrap().to_owned();

    // getRecord by DID and by handle; a missing one is RecordNotFound.
    let first = rkey(&uris[0]);
    let (st, rec) = s
        .get(&format!("/xrpc/com.atproto.repo.getRecord?repo=alice.test&collection=com.example.note&rkey={first}"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{rec}");
    assert_eq!(rec["value"]["text"], "post 0");
    assert_eq!(rec["uri"], uris[0]);
    check_error(
        &s.get(
            &format!(
                "/xrpc/com.atproto.repo.getRecord?repo={}&collection=com.example.note&rkey=nope",
                a.did
            ),
            None,
        )
        .await,
        400,
        "RecordNotFound",
    );

    // listRecords pages newest first; reverse gives oldest first.
    let sr = &s;
    let list = |q: String| {
        let path = format!(
            "/xrpc/com.atproto.repo.listRecords?repo={}&collection=com.example.note{q}",
            a.did
        );
        async move { sr.get(&path, None).await }
    };
    let (st, page1) = list("&limit=2".into()).await;
    assert_eq!(st, StatusCode::OK, "{page1}");
    assert_eq!(page1["records"][0]["value"]["text"], "post 4");
    assert_eq!(page1["records"][1]["value"]["text"], "post 3");
    let cursor = page1["cursor"].as_str().unwrap();
    let (_, page2) = list(format!("&limit=2&cursor={cursor}")).await;
    assert_eq!(page2["records"][0]["value"]["text"], "post 2");
    let (_, rev) = list("&limit=1&reverse=true".into()).await;
    assert_eq!(rev["records"][0]["value"]["text"], "post 0");
    check_error(&list("&limit=0".into()).await, 400, "InvalidRequest");
    check_error(&list("&limit=101".into()).await, 400, "InvalidRequest");

    // Creating over an existing rkey is a clean 400.
    let got = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": first, "record": post_record("dup")}),
        )
        .await;
    check_error(&got, 400, "InvalidRequest");

    // putRecord replaces; swapRecord must match; swapRecord null means "must not exist".
    let (st, put) = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": first, "record": post_record("edited"), "swapRecord": rec["cid"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{put}");
    let got = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": first, "record": post_record("again"), "swapRecord": rec["cid"]}),
        )
        .await;
    check_error(&got, 400, "InvalidSwap");
    let got = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": first, "record": post_record("again"), "swapRecord": null}),
        )
        .await;
    check_error(&got, 400, "InvalidSwap");
    let (st, _) = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            auth,
            json!({"repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self", "record": {"displayName": "Alice"}, "swapRecord": null}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);

    // swapCommit against a stale commit fails.
    let got = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "record": post_record("x"), "swapCommit": put["commit"]["cid"]}),
        )
        .await;
    check_error(&got, 400, "InvalidSwap");

    // deleteRecord; deleting again is a no-op without a commit.
    let (st, del) = s
        .post(
            "/xrpc/com.atproto.repo.deleteRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": first}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{del}");
    assert!(del["commit"]["cid"].is_string());
    let (st, del) = s
        .post(
            "/xrpc/com.atproto.repo.deleteRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": first}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(del, json!({}));

    let (st, desc) = s
        .get(
            &format!("/xrpc/com.atproto.repo.describeRepo?repo={}", a.did),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{desc}");
    assert_eq!(
        desc["collections"],
        json!(["app.bsky.actor.profile", "com.example.note"])
    );
    assert_eq!(desc["handleIsCorrect"], true);
    s.stop().await;
}

#[tokio::test]
async fn record_rules_type_syntax_and_ownership() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let a = signup(&s, "alice.test").await;
    let b = signup(&s, "bob.test").await;
    let sr = &s;
    let create = move |auth: &str, body: Value| {
        let auth = auth.to_owned();
        async move {
            sr.post("/xrpc/com.atproto.repo.createRecord", Some(&auth), body)
                .await
        }
    };
    let got = create(&a.access, json!({"repo": a.did, "collection": "com.example.note", "record": {"$type": "app.bsky.feed.like"}})).await;
    check_error(&got, 400, "InvalidRequest");
    let got = create(
        &a.access,
        json!({"repo": a.did, "collection": "not an nsid", "record": {}}),
    )
    .await;
    check_error(&got, 400, "InvalidRequest");
    let got = create(
        &a.access,
        json!({"repo": a.did, "collection": "com.example.note", "rkey": "bad/key", "record": {}}),
    )
    .await;
    check_error(&got, 400, "InvalidRequest");
    let got = create(
        &a.access,
        json!({"repo": a.did, "collection": "com.example.note", "record": {"n": 1.5}}),
    )
    .await;
    check_error(&got, 400, "InvalidRequest");
    let got = create(
        &b.access,
        json!({"repo": a.did, "collection": "com.example.note", "record": {}}),
    )
    .await;
    check_error(&got, 401, "AuthenticationRequired");
    let got = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            None,
            json!({"repo": a.did, "collection": "com.example.note", "record": {}}),
        )
        .await;
    check_error(&got, 401, "AuthMissing");
    // Known record types are validated against their lexicon, including the key type.
    let post = |rkey: Option<&str>, record: Value| {
        let mut body = json!({"repo": a.did, "collection": "app.bsky.feed.post", "record": record});
        if let Some(k) = rkey {
            body["rkey"] = json!(k);
        }
        body
    };
    let good = json!({"text": "hi", "createdAt": "2026-11-25T00:00:00.000Z"});
    let got = create(&a.access, post(Some("not-a-tid"), good.clone())).await;
    check_error(&got, 400, "InvalidRequest");
    let got = create(
        &a.access,
        post(None, json!({"createdAt": "2026-11-25T00:00:00.000Z"})),
    )
    .await;
    check_error(&got, 400, "InvalidRequest");
    let (st, out) = create(&a.access, post(None, good)).await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(out["validationStatus"], "valid");
    // $type defaults to the collection.
    let (st, out) = create(&a.access, json!({"repo": a.did, "collection": "com.example.note", "rkey": "k1", "record": {"text": "t"}})).await;
    assert_eq!(st, StatusCode::OK, "{out}");
    let (_, rec) = s
        .get(
            &format!(
                "/xrpc/com.atproto.repo.getRecord?repo={}&collection=com.example.note&rkey=k1",
                a.did
            ),
            None,
        )
        .await;
    assert_eq!(rec["value"]["$type"], "com.example.note");
    s.stop().await;
}

#[tokio::test]
async fn apply_writes_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let a = signup(&s, "alice.test").await;
    let auth = Some(a.access.as_str());
    let w = |ty: &str, rkey: &str, text: &str| json!({"$type": format!("com.atproto.repo.applyWrites#{ty}"), "collection": "com.example.note", "rkey": rkey, "value": post_record(text)});
    let (st, out) = s
        .post(
            "/xrpc/com.atproto.repo.applyWrites",
            auth,
            json!({"repo": a.did, "writes": [w("create", "a", "A"), w("create", "b", "B")]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(
        out["results"][0]["$type"],
        "com.atproto.repo.applyWrites#createResult"
    );
    assert!(out["commit"]["cid"].is_string());
    // An update of a missing record fails the whole batch: "c" must not appear.
    let got = s
        .post(
            "/xrpc/com.atproto.repo.applyWrites",
            auth,
            json!({"repo": a.did, "writes": [w("create", "c", "C"), w("update", "zzz", "Z")]}),
        )
        .await;
    assert_eq!(got.0.as_u16(), 400, "{}", got.1);
    let (_, list) = s
        .get(
            &format!(
                "/xrpc/com.atproto.repo.listRecords?repo={}&collection=com.example.note",
                a.did
            ),
            None,
        )
        .await;
    assert_eq!(list["records"].as_array().unwrap().len(), 2);
    let (st, out) = s
        .post(
            "/xrpc/com.atproto.repo.applyWrites",
            auth,
            json!({"repo": a.did, "writes": [w("update", "a", "A2"), {"$type": "com.atproto.repo.applyWrites#delete", "collection": "com.example.note", "rkey": "b"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(
        out["results"][1]["$type"],
        "com.atproto.repo.applyWrites#deleteResult"
    );
    let too_many: Vec<Value> = (0..201)
        .map(|i| w("create", &format!("k{i}"), "x"))
        .collect();
    let got = s
        .post(
            "/xrpc/com.atproto.repo.applyWrites",
            auth,
            json!({"repo": a.did, "writes": too_many}),
        )
        .await;
    check_error(&got, 400, "InvalidRequest");
    s.stop().await;
}

#[tokio::test]
async fn sync_exports_verify_and_match_the_latest_commit() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let a = signup(&s, "alice.test").await;
    let auth = Some(a.access.as_str());
    let (_, first) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            auth,
            json!({"repo": a.did, "collection": "com.example.note", "rkey": "r1", "record": post_record("one")}),
        )
        .await;
    let since = first["commit"]["rev"].as_str().unwrap().to_owned();
    for i in 2..=30 {
        let (st, _) = s
            .post(
                "/xrpc/com.atproto.repo.createRecord",
                auth,
                json!({"repo": a.did, "collection": "com.example.note", "rkey": format!("r{i}"), "record": post_record(&format!("n{i}"))}),
            )
            .await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, latest) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getLatestCommit?did={}", a.did),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{latest}");

    let (st, bytes) = car(&s, &format!("/xrpc/com.atproto.sync.getRepo?did={}", a.did)).await;
    assert_eq!(st, StatusCode::OK);
    let verified = verify_car(
        bytes.as_slice(),
        &VerifyOptions {
            key: Some(a.key),
            did: Some(Did::parse(&a.did).unwrap()),
            limits: CarLimits::DEFAULT,
            threads: None,
        },
    )
    .unwrap();
    assert_eq!(verified.report.signature, SignatureCheck::Valid);
    assert_eq!(verified.report.records, 30);
    assert_eq!(verified.report.commit_cid.to_string(), latest["cid"]);
    assert_eq!(verified.report.rev.as_str(), latest["rev"]);

    // `since` returns only newer blocks: smaller, same root.
    let (st, partial) = car(
        &s,
        &format!("/xrpc/com.atproto.sync.getRepo?did={}&since={since}", a.did),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(partial.len() < bytes.len());

    // Record proofs, for presence and absence.
    let did = Did::parse(&a.did).unwrap();
    let (st, proof) = car(
        &s,
        &format!(
            "/xrpc/com.atproto.sync.getRecord?did={}&collection=com.example.note&rkey=r7",
            a.did
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let key = Key::parse("com.example.note/r7").unwrap();
    assert!(
        aerie_repo::sync::verify_record_proof(&proof, Some(&did), &a.key, &key)
            .unwrap()
            .is_some()
    );
    let (_, proof) = car(
        &s,
        &format!(
            "/xrpc/com.atproto.sync.getRecord?did={}&collection=com.example.note&rkey=absent",
            a.did
        ),
    )
    .await;
    let key = Key::parse("com.example.note/absent").unwrap();
    assert!(
        aerie_repo::sync::verify_record_proof(&proof, Some(&did), &a.key, &key)
            .unwrap()
            .is_none()
    );

    // getBlocks returns exactly the asked blocks; getHead, getRepoStatus, listRepos agree.
    let (st, blocks) = car(
        &s,
        &format!(
            "/xrpc/com.atproto.sync.getBlocks?did={}&cids={}",
            a.did,
            latest["cid"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let contents = aerie_repo::car::read_car(blocks.as_slice(), CarLimits::DEFAULT).unwrap();
    assert!(
        contents
            .blocks
            .get(&latest["cid"].as_str().unwrap().parse().unwrap())
            .is_some()
    );
    let (_, head) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getHead?did={}", a.did),
            None,
        )
        .await;
    assert_eq!(head["root"], latest["cid"]);
    let (_, status) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getRepoStatus?did={}", a.did),
            None,
        )
        .await;
    assert_eq!(
        status,
        json!({"did": a.did, "active": true, "rev": latest["rev"]})
    );
    let (_, repos) = s.get("/xrpc/com.atproto.sync.listRepos", None).await;
    assert_eq!(repos["repos"][0]["head"], latest["cid"]);
    check_error(
        &s.get("/xrpc/com.atproto.sync.listRepos?limit=0", None)
            .await,
        400,
        "InvalidRequest",
    );
    check_error(
        &s.get(
            "/xrpc/com.atproto.sync.getLatestCommit?did=did:plc:unknown",
            None,
        )
        .await,
        400,
        "RepoNotFound",
    );
    check_error(
        &s.get(
            "/xrpc/com.atproto.sync.getRepoStatus?did=did:plc:unknown",
            None,
        )
        .await,
        400,
        "RepoNotFound",
    );
    s.stop().await;
}

#[tokio::test]
async fn concurrent_writers_never_fork_a_repo() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let a = signup(&s, "alice.test").await;
    let b = signup(&s, "bob.test").await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (url, acct) = if i % 2 == 0 {
            (s.url.clone(), (&a.did, &a.access))
        } else {
            (s.url.clone(), (&b.did, &b.access))
        };
        let (did, access) = (acct.0.clone(), acct.1.clone());
        let http = s.http.clone();
        tasks.push(tokio::spawn(async move {
            http.post(format!("{url}/xrpc/com.atproto.repo.createRecord"))
                .bearer_auth(access)
                .json(&json!({"repo": did, "collection": "com.example.note", "record": post_record(&format!("c{i}"))}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    for acct in [&a, &b] {
        let (_, bytes) = car(
            &s,
            &format!("/xrpc/com.atproto.sync.getRepo?did={}", acct.did),
        )
        .await;
        let v = verify_car(
            bytes.as_slice(),
            &VerifyOptions {
                key: Some(acct.key),
                ..VerifyOptions::default()
            },
        )
        .unwrap();
        assert_eq!(v.report.records, 20);
    }
    s.stop().await;
}

#[tokio::test]
async fn blobs_upload_reference_serve_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let args = ConfigArgs {
        blob_upload_limit: Some(1000),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let a = signup(&s, "alice.test").await;
    let png: Vec<u8> = [&b"\x89PNG\r\n\x1a\n"[..], &[7u8; 40][..]].concat();
    let upload = |bytes: Vec<u8>, ct: &'static str| {
        s.http
            .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
            .bearer_auth(&a.access)
            .header("content-type", ct)
            .body(bytes)
            .send()
    };
    // The Python SDK sends */*: the type is sniffed.
    let (st, up) = server::answer(upload(png.clone(), "*/*").await.unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{up}");
    let cid = aerie_data::Cid::for_raw(&png).to_string();
    assert_eq!(
        up["blob"],
        json!({"$type": "blob", "ref": {"$link": cid}, "mimeType": "image/png", "size": png.len()})
    );
    let got = server::answer(upload(vec![0u8; 1001], "image/png").await.unwrap()).await;
    check_error(&got, 413, "PayloadTooLarge");

    // Not served until a record references it.
    let get_blob = format!("/xrpc/com.atproto.sync.getBlob?did={}&cid={cid}", a.did);
    check_error(&s.get(&get_blob, None).await, 400, "BlobNotFound");
    let (st, out) = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            Some(&a.access),
            json!({"repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                   "record": {"displayName": "A", "avatar": up["blob"]}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    let resp = s
        .http
        .get(format!("{}{get_blob}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), png);
    let (_, listed) = s
        .get(
            &format!("/xrpc/com.atproto.sync.listBlobs?did={}", a.did),
            None,
        )
        .await;
    assert_eq!(listed["cids"], json!([cid]));

    // A record pointing at a blob never uploaded is refused.
    let stranger = aerie_data::Cid::for_raw(b"never uploaded").to_string();
    let got = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            Some(&a.access),
            json!({"repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                   "record": {"avatar": {"$type": "blob", "ref": {"$link": stranger}, "mimeType": "image/png", "size": 3}}}),
        )
        .await;
    check_error(&got, 400, "BlobNotFound");

    // Dropping the reference stops serving it.
    let (st, _) = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            Some(&a.access),
            json!({"repo": a.did, "collection": "app.bsky.actor.profile", "rkey": "self", "record": {"displayName": "A"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    check_error(&s.get(&get_blob, None).await, 400, "BlobNotFound");
    s.stop().await;
}
