//! com.atproto.admin.updateSubjectStatus / getSubjectStatus for blob (`#repoBlobRef`) and
//! record (`strongRef`) subjects, and what a takedown hides: sync.getBlob, repo.getRecord
//! and repo.listRecords.

mod server;

use std::path::{Path, PathBuf};

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, answer, check_error};

const ADMIN: &str = "admin-secret";
const COLLECTION: &str = "com.example.attachment";

async fn start(dir: &Path) -> Server {
    Server::start(
        dir,
        ConfigArgs {
            admin_password: Some(ADMIN.into()),
            ..ConfigArgs::default()
        },
    )
    .await
}

async fn admin_get(s: &Server, path: &str) -> (StatusCode, Value) {
    let req = s
        .http
        .get(format!("{}{path}", s.url))
        .basic_auth("admin", Some(ADMIN));
    answer(req.send().await.unwrap()).await
}

async fn update(s: &Server, subject: Value, takedown: Value) -> (StatusCode, Value) {
    s.admin_post(
        "/xrpc/com.atproto.admin.updateSubjectStatus",
        ADMIN,
        json!({"subject": subject, "takedown": takedown}),
    )
    .await
}

async fn account(s: &Server, handle: &str) -> (String, String) {
    let (st, body) = s
        .create_account(handle, &format!("{}@example.com", handle.replace('.', "-")))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
    )
}

async fn put(s: &Server, token: &str, did: &str, rkey: &str, blob: Option<&Value>) -> Value {
    let mut record = json!({"$type": COLLECTION, "note": rkey});
    if let Some(b) = blob {
        record["file"] = b.clone();
    }
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.putRecord",
            Some(token),
            json!({"repo": did, "collection": COLLECTION, "rkey": rkey, "record": record}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body
}

async fn get_blob_status(s: &Server, did: &str, cid: &str) -> StatusCode {
    s.http
        .get(format!(
            "{}/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}",
            s.url
        ))
        .send()
        .await
        .unwrap()
        .status()
}

fn blob_file(dir: &Path, area: &str, did: &str, cid: &str) -> PathBuf {
    // <data>/blocks is the blob store root; aerie-blob keeps served blobs in `blocks` and
    // taken-down ones in `quarantine`.
    dir.join("blocks").join(area).join(did).join(cid)
}

#[tokio::test]
async fn taken_down_blob_is_not_served_and_is_quarantined_until_reversed() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, token) = account(&s, "alice.test").await;
    let req = s
        .http
        .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(b"\x89PNG\r\n\x1a\nsome picture bytes".to_vec());
    let (st, up) = answer(req.send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{up}");
    let cid = up["blob"]["ref"]["$link"].as_str().unwrap().to_owned();
    put(&s, &token, &did, "a", Some(&up["blob"])).await;
    assert_eq!(get_blob_status(&s, &did, &cid).await, StatusCode::OK);

    let subject = json!({"$type": "com.atproto.admin.defs#repoBlobRef", "did": did, "cid": cid});
    let status_path = format!("/xrpc/com.atproto.admin.getSubjectStatus?did={did}&blob={cid}");
    let (st, body) = admin_get(&s, &status_path).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["takedown"], json!({"applied": false}));
    assert_eq!(body["subject"], subject);

    let (st, body) = update(
        &s,
        subject.clone(),
        json!({"applied": true, "ref": "mod-1"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["takedown"], json!({"applied": true, "ref": "mod-1"}));
    assert_eq!(
        get_blob_status(&s, &did, &cid).await,
        StatusCode::BAD_REQUEST
    );
    check_error(
        &s.get(
            &format!("/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}"),
            None,
        )
        .await,
        400,
        "BlobNotFound",
    );
    assert!(!blob_file(dir.path(), "blocks", &did, &cid).exists());
    assert!(blob_file(dir.path(), "quarantine", &did, &cid).exists());
    let (_, body) = admin_get(&s, &status_path).await;
    assert_eq!(body["takedown"], json!({"applied": true, "ref": "mod-1"}));

    let (st, body) = update(&s, subject, json!({"applied": false})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(get_blob_status(&s, &did, &cid).await, StatusCode::OK);
    assert!(blob_file(dir.path(), "blocks", &did, &cid).exists());
    let (_, body) = admin_get(&s, &status_path).await;
    assert_eq!(body["takedown"], json!({"applied": false}));
}

#[tokio::test]
async fn taken_down_record_is_hidden_from_get_and_list_until_reversed() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, token) = account(&s, "bob.test").await;
    let hidden = put(&s, &token, &did, "hidden", None).await;
    put(&s, &token, &did, "shown", None).await;
    let uri = hidden["uri"].as_str().unwrap().to_owned();
    let cid = hidden["cid"].as_str().unwrap().to_owned();
    let get_path =
        format!("/xrpc/com.atproto.repo.getRecord?repo={did}&collection={COLLECTION}&rkey=hidden");
    let list_path =
        format!("/xrpc/com.atproto.repo.listRecords?repo={did}&collection={COLLECTION}");
    let listed = |body: &Value| -> Vec<String> {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["uri"].as_str().unwrap().to_owned())
            .collect()
    };

    let subject = json!({"$type": "com.atproto.repo.strongRef", "uri": uri, "cid": cid});
    let (st, body) = update(&s, subject.clone(), json!({"applied": true})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["takedown"]["applied"], true);
    check_error(&s.get(&get_path, None).await, 400, "RecordNotFound");
    let (_, body) = s.get(&list_path, None).await;
    assert_eq!(
        listed(&body),
        vec![format!("at://{did}/{COLLECTION}/shown")]
    );
    let (st, body) = admin_get(
        &s,
        &format!("/xrpc/com.atproto.admin.getSubjectStatus?uri={uri}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["subject"], subject);
    assert_eq!(body["takedown"]["applied"], true);
    assert!(body["takedown"]["ref"].is_string());

    let (st, body) = update(&s, subject, json!({"applied": false})).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, body) = s.get(&get_path, None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, body) = s.get(&list_path, None).await;
    assert_eq!(listed(&body).len(), 2);
}

#[tokio::test]
async fn subjects_that_do_not_exist_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, _) = account(&s, "carol.test").await;
    let cid = "bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy";
    check_error(
        &update(
            &s,
            json!({"$type": "com.atproto.admin.defs#repoBlobRef", "did": did, "cid": cid}),
            json!({"applied": true}),
        )
        .await,
        400,
        "NotFound",
    );
    check_error(
        &admin_get(
            &s,
            &format!("/xrpc/com.atproto.admin.getSubjectStatus?uri=at://{did}/{COLLECTION}/nope"),
        )
        .await,
        400,
        "NotFound",
    );
    check_error(
        &update(
            &s,
            json!({"$type": "com.atproto.repo.strongRef", "uri": "not-a-uri", "cid": cid}),
            json!({"applied": true}),
        )
        .await,
        400,
        "InvalidRequest",
    );
}
