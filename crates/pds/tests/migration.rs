//! Account migration between two Aerie servers sharing one PLC directory, by the official
//! sequence, and the service-auth and import rules on the way.

mod server;

use std::path::Path;

use aerie_crypto::PublicKey;
use aerie_pds::ConfigArgs;
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, answer, check_error};
use tokio::net::TcpListener;

/// A PLC directory on 127.0.0.1:0 (both servers use it through PDS_DID_PLC_URL).
async fn start_plc(dir: &Path) -> String {
    let state = aerie_plc::server::PlcState::open(dir).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        axum::serve(listener, aerie_plc::server::router(state))
            .await
            .unwrap();
    });
    url
}

async fn start_pds(dir: &Path, plc: &str, service_did: &str) -> Server {
    let args = ConfigArgs {
        did_plc_url: Some(plc.to_owned()),
        service_did: Some(service_did.to_owned()),
        ..ConfigArgs::default()
    };
    Server::start(dir, args).await
}

async fn get_bytes(s: &Server, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = s.http.get(format!("{}{path}", s.url)).send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

async fn post_bytes(
    s: &Server,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let resp = s
        .http
        .post(format!("{}{path}", s.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    answer(resp).await
}

async fn service_token(s: &Server, access: &str, aud: &str, lxm: &str) -> String {
    let (status, body) = s
        .get(
            &format!("/xrpc/com.atproto.server.getServiceAuth?aud={aud}&lxm={lxm}"),
            Some(access),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn plc_token(data_dir: &Path, did: &str) -> String {
    let conn = aerie_store::Connection::open(data_dir.join(aerie_pds::serve::DB_FILE)).unwrap();
    aerie_store::email_token::get(&conn, aerie_pds::PLC_TOKEN_PURPOSE, did)
        .unwrap()
        .expect("a PLC operation code was stored")
        .token
}

/// The firehose event types `data_dir`'s server logged for `did`, in seq order.
fn event_types(data_dir: &Path, did: &str) -> Vec<String> {
    let conn = aerie_store::Connection::open(data_dir.join(aerie_pds::serve::DB_FILE)).unwrap();
    let mut st = conn
        .prepare("SELECT event_type FROM repo_seq WHERE did = ?1 ORDER BY seq")
        .unwrap();
    st.query_map([did], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-migration-test-image-bytes-0123456789";
const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";

#[tokio::test]
async fn account_moves_between_two_aerie_servers_and_verifies_on_the_new_host() {
    let (plc_dir, dir_a, dir_b) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let plc = start_plc(plc_dir.path()).await;
    let a = start_pds(dir_a.path(), &plc, "did:web:a.example").await;
    let b = start_pds(dir_b.path(), &plc, "did:web:b.example").await;

    // The account on A: records, one of them referencing an uploaded image.
    let (status, acct) = a.create_account("alice.test", "alice@example.com").await;
    assert_eq!(status, 200, "{acct}");
    let did = acct["did"].as_str().unwrap().to_owned();
    let access_a = acct["accessJwt"].as_str().unwrap().to_owned();
    let (status, up) = post_bytes(
        &a,
        "/xrpc/com.atproto.repo.uploadBlob",
        &access_a,
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(status, 200, "{up}");
    let image = up["blob"].clone();
    let blob_cid = image["ref"]["$link"].as_str().unwrap().to_owned();
    let mut uris = Vec::new();
    for i in 0..5 {
        let mut record = json!({
            "$type": "app.bsky.feed.post",
            "text": format!("post {i}"),
            "createdAt": "2026-01-01T00:00:00.000Z",
        });
        if i == 0 {
            record["embed"] = json!({
                "$type": "app.bsky.embed.images",
                "images": [{"alt": "", "image": image}],
            });
        }
        let (status, out) = a
            .post(
                "/xrpc/com.atproto.repo.createRecord",
                Some(&access_a),
                json!({"repo": did, "collection": "app.bsky.feed.post", "record": record}),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        uris.push(out["uri"].as_str().unwrap().to_owned());
    }

    // Service auth: protected methods are refused, a past exp is BadExpiration.
    check_error(
        &a.get(
            "/xrpc/com.atproto.server.getServiceAuth?aud=did:web:b.example&lxm=com.atproto.server.getSession",
            Some(&access_a),
        )
        .await,
        400,
        "InvalidRequest",
    );
    check_error(
        &a.get(
            "/xrpc/com.atproto.server.getServiceAuth?aud=did:web:b.example&exp=1000",
            Some(&access_a),
        )
        .await,
        400,
        "BadExpiration",
    );

    // createAccount on B with the DID: no token, a token for another audience and a token
    // for another method are refused; the right one works.
    let signup = json!({
        "did": did, "handle": "alice.test", "email": "alice@example.com",
        "password": "new-password-1",
    });
    check_error(
        &b.post(
            "/xrpc/com.atproto.server.createAccount",
            None,
            signup.clone(),
        )
        .await,
        401,
        "AuthenticationRequired",
    );
    let wrong_aud = service_token(&a, &access_a, "did:web:a.example", CREATE_ACCOUNT).await;
    check_error(
        &b.post(
            "/xrpc/com.atproto.server.createAccount",
            Some(&wrong_aud),
            signup.clone(),
        )
        .await,
        401,
        "BadJwtAudience",
    );
    let wrong_lxm = service_token(
        &a,
        &access_a,
        "did:web:b.example",
        "com.atproto.repo.uploadBlob",
    )
    .await;
    check_error(
        &b.post(
            "/xrpc/com.atproto.server.createAccount",
            Some(&wrong_lxm),
            signup.clone(),
        )
        .await,
        401,
        "BadJwtLexiconMethod",
    );
    // B reserves the key the account will sign with; asking twice gives the same key.
    let (status, reserved) = b
        .post(
            "/xrpc/com.atproto.server.reserveSigningKey",
            None,
            json!({"did": did}),
        )
        .await;
    assert_eq!(status, 200, "{reserved}");
    let (_, again) = b
        .post(
            "/xrpc/com.atproto.server.reserveSigningKey",
            None,
            json!({"did": did}),
        )
        .await;
    assert_eq!(again, reserved);
    let token = service_token(&a, &access_a, "did:web:b.example", CREATE_ACCOUNT).await;
    let (status, created) = b
        .post(
            "/xrpc/com.atproto.server.createAccount",
            Some(&token),
            signup.clone(),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["did"], did.as_str());
    let access_b = created["accessJwt"].as_str().unwrap().to_owned();
    let (_, session) = b
        .get("/xrpc/com.atproto.server.getSession", Some(&access_b))
        .await;
    assert_eq!(session["active"], false, "{session}");
    assert_eq!(session["status"], "deactivated", "{session}");

    // Import: a damaged CAR is refused with a 400 and changes nothing; the real one works.
    let (status, car) = get_bytes(&a, &format!("/xrpc/com.atproto.sync.getRepo?did={did}")).await;
    assert_eq!(status, 200);
    let mut damaged = car.clone();
    let last = damaged.len() - 3;
    damaged[last] ^= 0x55;
    let (status, err) = post_bytes(
        &b,
        "/xrpc/com.atproto.repo.importRepo",
        &access_b,
        "application/vnd.ipld.car",
        damaged,
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"], "InvalidRequest", "{err}");
    let (status, out) = post_bytes(
        &b,
        "/xrpc/com.atproto.repo.importRepo",
        &access_b,
        "application/vnd.ipld.car",
        car.clone(),
    )
    .await;
    assert_eq!(status, 200, "{out}");

    // Blobs: the image is missing until uploaded again.
    let (_, missing) = b
        .get("/xrpc/com.atproto.repo.listMissingBlobs", Some(&access_b))
        .await;
    assert_eq!(missing["blobs"].as_array().unwrap().len(), 1, "{missing}");
    assert_eq!(missing["blobs"][0]["cid"], blob_cid.as_str());
    assert_eq!(missing["blobs"][0]["recordUri"], uris[0].as_str());
    let (status, bytes) = get_bytes(
        &a,
        &format!("/xrpc/com.atproto.sync.getBlob?did={did}&cid={blob_cid}"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, up) = post_bytes(
        &b,
        "/xrpc/com.atproto.repo.uploadBlob",
        &access_b,
        "image/png",
        bytes,
    )
    .await;
    assert_eq!(status, 200, "{up}");
    let (_, missing) = b
        .get("/xrpc/com.atproto.repo.listMissingBlobs", Some(&access_b))
        .await;
    assert_eq!(missing["blobs"], json!([]), "{missing}");

    // The DID moves: B's recommended credentials, signed by A with the emailed code,
    // submitted through B. A wrong code is refused.
    let (status, creds) = b
        .get(
            "/xrpc/com.atproto.identity.getRecommendedDidCredentials",
            Some(&access_b),
        )
        .await;
    assert_eq!(status, 200, "{creds}");
    assert_eq!(
        creds["verificationMethods"]["atproto"], reserved["signingKey"],
        "createAccount used the reserved key"
    );
    let (status, _) = a
        .post(
            "/xrpc/com.atproto.identity.requestPlcOperationSignature",
            Some(&access_a),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let mut sign = creds.clone();
    sign["token"] = json!("WRONG-CODES");
    check_error(
        &a.post(
            "/xrpc/com.atproto.identity.signPlcOperation",
            Some(&access_a),
            sign.clone(),
        )
        .await,
        400,
        "InvalidToken",
    );
    sign["token"] = json!(plc_token(dir_a.path(), &did));
    let (status, signed) = a
        .post(
            "/xrpc/com.atproto.identity.signPlcOperation",
            Some(&access_a),
            sign,
        )
        .await;
    assert_eq!(status, 200, "{signed}");
    // Activating before the DID points here is refused.
    check_error(
        &b.post(
            "/xrpc/com.atproto.server.activateAccount",
            Some(&access_b),
            json!({}),
        )
        .await,
        400,
        "InvalidRequest",
    );
    // An operation that would take B's rotation key or endpoint away is not forwarded.
    for (field, value) in [
        ("rotationKeys", json!([])),
        (
            "services",
            json!({"atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://elsewhere.example"}}),
        ),
    ] {
        let mut op = signed["operation"].clone();
        op[field] = value;
        check_error(
            &b.post(
                "/xrpc/com.atproto.identity.submitPlcOperation",
                Some(&access_b),
                json!({ "operation": op }),
            )
            .await,
            400,
            "InvalidRequest",
        );
    }
    let (status, out) = b
        .post(
            "/xrpc/com.atproto.identity.submitPlcOperation",
            Some(&access_b),
            json!({"operation": signed["operation"]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (status, out) = b
        .post(
            "/xrpc/com.atproto.server.activateAccount",
            Some(&access_b),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{out}");

    // B announced nothing while the account was arriving; activation sent #identity,
    // #account and #sync, in that order.
    assert_eq!(
        event_types(dir_b.path(), &did),
        ["#identity", "#account", "#sync"]
    );

    // B's repo verifies with the new key, holds every record, serves the image.
    let new_key =
        PublicKey::parse_did_key(creds["verificationMethods"]["atproto"].as_str().unwrap())
            .unwrap();
    let (status, car_b) = get_bytes(&b, &format!("/xrpc/com.atproto.sync.getRepo?did={did}")).await;
    assert_eq!(status, 200);
    let verified = verify_car(
        car_b.as_slice(),
        &VerifyOptions {
            key: Some(new_key),
            did: Some(aerie_syntax::Did::parse(&did).unwrap()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(verified.report.signature, SignatureCheck::Valid);
    assert_eq!(verified.report.records, 5);
    let old = verify_car(car.as_slice(), &VerifyOptions::default()).unwrap();
    assert_eq!(verified.report.data, old.report.data, "same tree");
    assert!(
        verified.report.rev > old.report.rev,
        "re-signed under a newer rev"
    );
    for uri in &uris {
        let rkey = uri.rsplit('/').next().unwrap();
        let (status, rec) = b
            .get(
                &format!(
                    "/xrpc/com.atproto.repo.getRecord?repo={did}&collection=app.bsky.feed.post&rkey={rkey}"
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{rec}");
    }
    let (status, bytes) = get_bytes(
        &b,
        &format!("/xrpc/com.atproto.sync.getBlob?did={did}&cid={blob_cid}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(bytes, PNG);
    let (_, session) = b
        .get("/xrpc/com.atproto.server.getSession", Some(&access_b))
        .await;
    assert_eq!(session["active"], true, "{session}");
    // New writes on B chain on the re-signed commit.
    let (status, out) = b
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access_b),
            json!({"repo": did, "collection": "app.bsky.feed.post",
                   "record": {"text": "hello from B", "createdAt": "2026-01-02T00:00:00.000Z"}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");

    // Last step: the old server deactivates its copy and stops serving it.
    let (status, out) = a
        .post(
            "/xrpc/com.atproto.server.deactivateAccount",
            Some(&access_a),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    check_error(
        &a.get(&format!("/xrpc/com.atproto.sync.getRepo?did={did}"), None)
            .await,
        400,
        "RepoDeactivated",
    );

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn import_is_refused_for_active_accounts_and_foreign_repos() {
    let (plc_dir, dir_a) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plc = start_plc(plc_dir.path()).await;
    let a = start_pds(dir_a.path(), &plc, "did:web:a.example").await;
    let (_, alice) = a.create_account("alice.test", "alice@example.com").await;
    let (_, bob) = a.create_account("bobby.test", "bob@example.com").await;
    let alice_did = alice["did"].as_str().unwrap();
    let (_, car) = get_bytes(
        &a,
        &format!("/xrpc/com.atproto.sync.getRepo?did={alice_did}"),
    )
    .await;
    // Bob is active: no import at all, not even of someone else's repo.
    let (status, err) = post_bytes(
        &a,
        "/xrpc/com.atproto.repo.importRepo",
        bob["accessJwt"].as_str().unwrap(),
        "application/vnd.ipld.car",
        car,
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("deactivated"),
        "{err}"
    );
    a.stop().await;
}

#[tokio::test]
async fn operator_import_restores_an_active_account_and_announces_it() {
    let (plc_dir, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plc = start_plc(plc_dir.path()).await;
    let s = start_pds(dir.path(), &plc, "did:web:a.example").await;
    let (_, alice) = s.create_account("alice.test", "alice@example.com").await;
    let did = alice["did"].as_str().unwrap().to_owned();
    let access = alice["accessJwt"].as_str().unwrap().to_owned();
    let post = |text: &str| {
        json!({"repo": did, "collection": "app.bsky.feed.post",
               "record": {"text": text, "createdAt": "2026-01-01T00:00:00.000Z"}})
    };
    let (status, _) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            post("kept"),
        )
        .await;
    assert_eq!(status, 200);
    let (_, backup) = get_bytes(&s, &format!("/xrpc/com.atproto.sync.getRepo?did={did}")).await;
    let (status, _) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            post("dropped"),
        )
        .await;
    assert_eq!(status, 200);

    let secrets: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("secrets.json")).unwrap()).unwrap();
    let admin = secrets["admin_password"].as_str().unwrap();
    let import = |password: &str| {
        s.http
            .post(format!(
                "{}/xrpc/com.atproto.repo.importRepo?did={did}",
                s.url
            ))
            .basic_auth("admin", Some(password))
            .header("content-type", "application/vnd.ipld.car")
            .body(backup.clone())
            .send()
    };
    let wrong = answer(import("wrong").await.unwrap()).await;
    check_error(&wrong, 401, "AuthenticationRequired");
    let (status, out) = answer(import(admin).await.unwrap()).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["records"], 1);

    let (_, list) = s
        .get(
            &format!("/xrpc/com.atproto.repo.listRecords?repo={did}&collection=app.bsky.feed.post"),
            None,
        )
        .await;
    let texts: Vec<&str> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["kept"]);
    assert_eq!(event_types(dir.path(), &did).last().unwrap(), "#sync");
    // The restored repo is re-signed under a rev after everything it replaced.
    let (_, latest) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
            None,
        )
        .await;
    assert_eq!(latest["rev"], out["rev"]);
    let old = verify_car(backup.as_slice(), &VerifyOptions::default()).unwrap();
    assert!(out["rev"].as_str().unwrap() > old.report.rev.as_str());
    // Writes continue on top of the restored commit.
    let (status, out) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            post("after"),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    s.stop().await;
}
