//! A did:web account brought by its owner: the owner's own web host serves
//! `/.well-known/did.json` for `did:web:localhost%3A<port>` (resolved over plain HTTP because
//! the PDS runs in dev mode), proves control with a service-auth token signed by the key in
//! that document, then points the document at the PDS and activates.

mod server;

use std::sync::{Arc, Mutex};

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_identity::service_auth::{MintRequest, mint};
use aerie_pds::ConfigArgs;
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car};
use aerie_syntax::{Did, Nsid};
use axum::extract::State;
use serde_json::{Value, json};
use server::{Server, check_error};
use tokio::net::TcpListener;

const CREATE_ACCOUNT: &str = "com.atproto.server.createAccount";
const HANDLE: &str = "webby.test";

/// The owner's web host: serves whatever document the test last put in `doc`.
async fn start_web_host() -> (u16, Arc<Mutex<Value>>) {
    let doc = Arc::new(Mutex::new(Value::Null));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new()
        .route(
            "/.well-known/did.json",
            axum::routing::get(|State(doc): State<Arc<Mutex<Value>>>| async move {
                axum::Json(doc.lock().unwrap().clone())
            }),
        )
        .with_state(doc.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (port, doc)
}

/// A did.json naming `handle`, `key` as the atproto key and `endpoint` as the PDS.
fn did_json(did: &str, handle: &str, key: &PublicKey, endpoint: &str) -> Value {
    json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
        ],
        "id": did,
        "alsoKnownAs": [format!("at://{handle}")],
        "verificationMethod": [{
            "id": format!("{did}#atproto"),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": endpoint,
        }],
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn create_account_token(key: &SigningKey, did: &Did, aud: &str) -> String {
    let lxm = Nsid::parse(CREATE_ACCOUNT).unwrap();
    let now = unix_now();
    mint(
        key,
        &MintRequest {
            iss: did,
            aud,
            lxm: Some(&lxm),
            iat: now,
            exp: now + 60,
        },
    )
    .unwrap()
}

#[tokio::test]
async fn did_web_owner_creates_points_activates_and_the_repo_verifies_with_the_documents_key() {
    let dir = tempfile::tempdir().unwrap();
    let pds = Server::start(dir.path(), ConfigArgs::default()).await;
    let (port, doc) = start_web_host().await;
    let did_s = format!("did:web:localhost%3A{port}");
    let did = Did::parse(&did_s).unwrap();
    // In a query string the DID's own `%` must be escaped, else `%3A` decodes to `:`.
    let did_q = did_s.replace('%', "%25");

    // The owner's key is in the document; the PDS is not named yet.
    let owner = SigningKey::generate(KeyType::K256).unwrap();
    *doc.lock().unwrap() = did_json(
        &did_s,
        HANDLE,
        &owner.public_key(),
        "https://old-host.example",
    );

    let (status, desc) = pds
        .get("/xrpc/com.atproto.server.describeServer", None)
        .await;
    assert_eq!(status, 200, "{desc}");
    let aud = format!("{}#atproto_pds", desc["did"].as_str().unwrap());
    let signup = json!({
        "did": did_s, "handle": HANDLE, "email": "webby@example.com",
        "password": "web-password-1",
    });

    // A token signed by a key the document does not name proves nothing.
    let stranger = SigningKey::generate(KeyType::K256).unwrap();
    let forged = create_account_token(&stranger, &did, &aud);
    check_error(
        &pds.post(
            "/xrpc/com.atproto.server.createAccount",
            Some(&forged),
            signup.clone(),
        )
        .await,
        401,
        "BadJwtSignature",
    );

    let (status, reserved) = pds
        .post(
            "/xrpc/com.atproto.server.reserveSigningKey",
            None,
            json!({"did": did_s}),
        )
        .await;
    assert_eq!(status, 200, "{reserved}");
    let token = create_account_token(&owner, &did, &aud);
    let (status, created) = pds
        .post(
            "/xrpc/com.atproto.server.createAccount",
            Some(&token),
            signup,
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["did"], did_s.as_str());
    assert_eq!(created["handle"], HANDLE);
    let access = created["accessJwt"].as_str().unwrap().to_owned();
    let (_, session) = pds
        .get("/xrpc/com.atproto.server.getSession", Some(&access))
        .await;
    assert_eq!(session["active"], false, "{session}");

    // The credentials to publish: the reserved key and this PDS.
    let (status, creds) = pds
        .get(
            "/xrpc/com.atproto.identity.getRecommendedDidCredentials",
            Some(&access),
        )
        .await;
    assert_eq!(status, 200, "{creds}");
    assert_eq!(
        creds["verificationMethods"]["atproto"],
        reserved["signingKey"]
    );
    let endpoint = creds["services"]["atproto_pds"]["endpoint"]
        .as_str()
        .unwrap()
        .to_owned();

    // Activation is refused while the document still names the old host.
    check_error(
        &pds.post(
            "/xrpc/com.atproto.server.activateAccount",
            Some(&access),
            json!({}),
        )
        .await,
        400,
        "InvalidRequest",
    );

    // The owner publishes the PDS's key and endpoint; activation now succeeds.
    let pds_key =
        PublicKey::parse_did_key(creds["verificationMethods"]["atproto"].as_str().unwrap())
            .unwrap();
    *doc.lock().unwrap() = did_json(&did_s, HANDLE, &pds_key, &endpoint);
    let (status, out) = pds
        .post(
            "/xrpc/com.atproto.server.activateAccount",
            Some(&access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{out}");

    let (status, out) = pds
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            json!({
                "repo": did_s,
                "collection": "app.bsky.feed.post",
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": "hello from my own domain",
                    "createdAt": "2026-01-01T00:00:00.000Z",
                },
            }),
        )
        .await;
    assert_eq!(status, 200, "{out}");

    // The repo verifies with the key read back from the served did.json.
    let served = doc.lock().unwrap().clone();
    let doc_key = PublicKey::parse_multikey(
        served["verificationMethod"][0]["publicKeyMultibase"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let resp = pds
        .http
        .get(format!(
            "{}/xrpc/com.atproto.sync.getRepo?did={did_q}",
            pds.url
        ))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let car = resp.bytes().await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&car));
    let verified = verify_car(
        &car[..],
        &VerifyOptions {
            key: Some(doc_key),
            did: Some(did.clone()),
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(verified.report.signature, SignatureCheck::Valid);
    assert_eq!(verified.report.records, 1);

    // describeRepo shows the did:web document and a handle it confirms.
    let (status, described) = pds
        .get(
            &format!("/xrpc/com.atproto.repo.describeRepo?repo={did_q}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{described}");
    assert_eq!(described["did"], did_s.as_str());
    assert_eq!(described["handle"], HANDLE);
    assert_eq!(described["collections"], json!(["app.bsky.feed.post"]));
    assert_eq!(described["didDoc"]["id"], did_s.as_str(), "{described}");
    assert_eq!(described["handleIsCorrect"], true, "{described}");

    let (status, resolved) = pds
        .get(
            &format!("/xrpc/com.atproto.identity.resolveHandle?handle={HANDLE}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["did"], did_s.as_str());

    let (_, session) = pds
        .get("/xrpc/com.atproto.server.getSession", Some(&access))
        .await;
    assert_eq!(session["active"], true, "{session}");
    assert_eq!(session["didDoc"]["id"], did_s.as_str(), "{session}");

    // A new handle is taken only once the owner's document names it (no PLC to update).
    const NEW_HANDLE: &str = "webby2.test";
    check_error(
        &pds.post(
            "/xrpc/com.atproto.identity.updateHandle",
            Some(&access),
            json!({"handle": NEW_HANDLE}),
        )
        .await,
        400,
        "InvalidRequest",
    );
    *doc.lock().unwrap() = did_json(&did_s, NEW_HANDLE, &pds_key, &endpoint);
    let (status, out) = pds
        .post(
            "/xrpc/com.atproto.identity.updateHandle",
            Some(&access),
            json!({"handle": NEW_HANDLE}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, resolved) = pds
        .get(
            &format!("/xrpc/com.atproto.identity.resolveHandle?handle={NEW_HANDLE}"),
            None,
        )
        .await;
    assert_eq!(resolved["did"], did_s.as_str(), "{resolved}");

    pds.stop().await;
}
