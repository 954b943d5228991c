//! Blob lifecycle over HTTP against the real server: a blob is served while records
//! reference it, removed (row and file) when the last reference goes, refs must match the
//! upload, and uploads nobody references are swept after the grace period.

mod server;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aerie_pds::{AppState, ConfigArgs, blob_gc, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, answer, check_error};
use tokio::net::TcpListener;

const COLLECTION: &str = "com.example.attachment";

/// A PNG header plus `n` distinct bytes.
fn png(n: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend(std::iter::repeat_n(n, 64));
    b
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

async fn upload(s: &Server, token: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let req = s
        .http
        .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
        .bearer_auth(token)
        .header("content-type", "image/png")
        .body(bytes);
    answer(req.send().await.unwrap()).await
}

async fn put(
    s: &Server,
    token: &str,
    did: &str,
    rkey: &str,
    blob: Option<&Value>,
) -> (StatusCode, Value) {
    let mut record = json!({"$type": COLLECTION, "note": rkey});
    if let Some(b) = blob {
        record["file"] = b.clone();
    }
    s.post(
        "/xrpc/com.atproto.repo.putRecord",
        Some(token),
        json!({"repo": did, "collection": COLLECTION, "rkey": rkey, "record": record}),
    )
    .await
}

async fn delete(s: &Server, token: &str, did: &str, rkey: &str) {
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.deleteRecord",
            Some(token),
            json!({"repo": did, "collection": COLLECTION, "rkey": rkey}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
}

async fn get_blob(s: &Server, did: &str, cid: &str) -> reqwest::Response {
    s.http
        .get(format!(
            "{}/xrpc/com.atproto.sync.getBlob?did={did}&cid={cid}",
            s.url
        ))
        .send()
        .await
        .unwrap()
}

fn blob_file(dir: &Path, did: &str, cid: &str) -> PathBuf {
    // <data>/blocks is PDS_BLOBSTORE_DISK_LOCATION; aerie-blob keeps permanent blobs in
    // its `blocks` directory.
    dir.join("blocks").join("blocks").join(did).join(cid)
}

fn cid_of(blob: &Value) -> String {
    blob["ref"]["$link"].as_str().unwrap().to_owned()
}

/// A blob many read buffers long comes back whole and in order, with its length announced
/// up front (getBlob streams it from disk in read-buffer chunks).
#[tokio::test]
async fn a_large_blob_is_streamed_back_whole_with_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, token) = account(&s, "large.test").await;
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    bytes.extend((0..3_000_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    let (st, up) = upload(&s, &token, bytes.clone()).await;
    assert_eq!(st, StatusCode::OK, "{up}");
    let blob = up["blob"].clone();
    let (st, body) = put(&s, &token, &did, "big", Some(&blob)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let r = get_blob(&s, &did, &cid_of(&blob)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(r.headers()["content-type"], "image/png");
    let got = r.bytes().await.unwrap();
    assert!(got.as_ref() == bytes.as_slice(), "{} bytes back", got.len());
}

#[tokio::test]
async fn referenced_blob_is_served_with_safety_headers_and_removed_with_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, token) = account(&s, "alice.test").await;
    let (st, up) = upload(&s, &token, png(1)).await;
    assert_eq!(st, StatusCode::OK, "{up}");
    let blob = up["blob"].clone();
    let cid = cid_of(&blob);

    // Not yet referenced: not served.
    let r = get_blob(&s, &did, &cid).await;
    check_error(&answer(r).await, 400, "BlobNotFound");

    let (st, body) = put(&s, &token, &did, "one", Some(&blob)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let r = get_blob(&s, &did, &cid).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(
        h["content-disposition"],
        format!("attachment; filename=\"{cid}\"").as_str()
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), png(1).as_slice());

    delete(&s, &token, &did, "one").await;
    check_error(
        &answer(get_blob(&s, &did, &cid).await).await,
        400,
        "BlobNotFound",
    );
    assert!(!blob_file(dir.path(), &did, &cid).exists(), "bytes removed");
    let (_, listed) = s
        .get(&format!("/xrpc/com.atproto.sync.listBlobs?did={did}"), None)
        .await;
    assert_eq!(listed["cids"], json!([]));
    // The row went too: referencing it again is refused.
    check_error(
        &put(&s, &token, &did, "two", Some(&blob)).await,
        400,
        "BlobNotFound",
    );
    s.stop().await;
}

#[tokio::test]
async fn shared_blob_stays_until_the_last_reference_goes_including_updates() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, token) = account(&s, "bob.test").await;
    let (_, up) = upload(&s, &token, png(2)).await;
    let blob = up["blob"].clone();
    let cid = cid_of(&blob);
    assert_eq!(
        put(&s, &token, &did, "a", Some(&blob)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        put(&s, &token, &did, "b", Some(&blob)).await.0,
        StatusCode::OK
    );

    delete(&s, &token, &did, "a").await;
    assert_eq!(get_blob(&s, &did, &cid).await.status(), StatusCode::OK);
    assert!(blob_file(dir.path(), &did, &cid).exists());

    // Updating the last referencing record to drop the blob removes it.
    assert_eq!(put(&s, &token, &did, "b", None).await.0, StatusCode::OK);
    check_error(
        &answer(get_blob(&s, &did, &cid).await).await,
        400,
        "BlobNotFound",
    );
    assert!(!blob_file(dir.path(), &did, &cid).exists());
    s.stop().await;
}

#[tokio::test]
async fn blob_refs_must_match_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, token) = account(&s, "carol.test").await;
    let (_, up) = upload(&s, &token, png(3)).await;
    let blob = up["blob"].clone();

    let mut wrong_mime = blob.clone();
    wrong_mime["mimeType"] = json!("image/jpeg");
    check_error(
        &put(&s, &token, &did, "m", Some(&wrong_mime)).await,
        400,
        "InvalidMimeType",
    );

    let mut wrong_size = blob.clone();
    wrong_size["size"] = json!(1);
    check_error(
        &put(&s, &token, &did, "s", Some(&wrong_size)).await,
        400,
        "InvalidBlob",
    );

    let mut unknown = blob.clone();
    unknown["ref"]["$link"] = json!("bafkreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm");
    check_error(
        &put(&s, &token, &did, "u", Some(&unknown)).await,
        400,
        "BlobNotFound",
    );

    // Another account's upload is not this repo's blob.
    let (did2, token2) = account(&s, "dave.test").await;
    check_error(
        &put(&s, &token2, &did2, "x", Some(&blob)).await,
        400,
        "BlobNotFound",
    );
    s.stop().await;
}

#[tokio::test]
async fn upload_over_the_limit_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let args = ConfigArgs {
        blob_upload_limit: Some(100),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let (_, token) = account(&s, "erin.test").await;
    let (st, _) = upload(&s, &token, vec![7u8; 101]).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    let (st, body) = upload(&s, &token, vec![7u8; 100]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s.stop().await;
}

/// A server whose state the test keeps, to trigger sweeps with a chosen clock.
async fn start_with_state(dir: &Path) -> (Server, AppState) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = ConfigArgs {
        data_directory: Some(dir.to_path_buf()),
        port: Some(port),
        blob_temp_grace_seconds: Some(3600),
        ..ConfigArgs::default()
    }
    .resolve()
    .unwrap();
    let state = serve::open(config).await.unwrap();
    let kept = state.clone();
    tokio::spawn(async move {
        serve::serve(listener, state, std::future::pending())
            .await
            .unwrap();
    });
    (Server::attach(format!("http://127.0.0.1:{port}")), kept)
}

#[tokio::test]
async fn unreferenced_uploads_are_swept_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let (s, state) = start_with_state(dir.path()).await;
    let (did, token) = account(&s, "frank.test").await;
    let (_, kept) = upload(&s, &token, png(4)).await;
    let (_, dropped) = upload(&s, &token, png(5)).await;
    let kept_blob = kept["blob"].clone();
    assert_eq!(
        put(&s, &token, &did, "k", Some(&kept_blob)).await.0,
        StatusCode::OK
    );

    // Within the grace period nothing goes.
    assert_eq!(blob_gc::sweep(&state, SystemTime::now()).await.unwrap(), 0);
    let dropped_cid = cid_of(&dropped["blob"]);
    assert!(blob_file(dir.path(), &did, &dropped_cid).exists());

    let later = SystemTime::now() + Duration::from_secs(3601);
    assert_eq!(blob_gc::sweep(&state, later).await.unwrap(), 1);
    assert!(!blob_file(dir.path(), &did, &dropped_cid).exists());
    check_error(
        &put(&s, &token, &did, "d", Some(&dropped["blob"])).await,
        400,
        "BlobNotFound",
    );
    // The referenced one survives any sweep.
    assert_eq!(blob_gc::sweep(&state, later).await.unwrap(), 0);
    let kept_cid = cid_of(&kept_blob);
    assert_eq!(get_blob(&s, &did, &kept_cid).await.status(), StatusCode::OK);
}
