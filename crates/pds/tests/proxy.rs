//! Service proxying over real HTTP: a fake AppView on loopback receives what the PDS
//! forwards for app.bsky.* methods it does not implement, with a service-auth token signed
//! by the account's key, and its answers come back unchanged.

mod server;

use std::sync::{Arc, Mutex};

use aerie_crypto::PublicKey;
use aerie_pds::ConfigArgs;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use data_encoding::BASE64URL_NOPAD;
use reqwest::StatusCode as Status;
use serde_json::{Value, json};
use server::{Server, answer, check_error};

const APPVIEW_DID: &str = "did:web:appview.test";

/// What the fake AppView saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn appview(State(log): State<Log>, req: Request) -> impl IntoResponse {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    log.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path_and_query: parts.uri.to_string(),
        headers: parts.headers,
        body: body.clone(),
    });
    match path.as_str() {
        "/xrpc/app.bsky.actor.getProfile" => (
            StatusCode::OK,
            [
                ("content-type", "application/json"),
                ("atproto-content-labelers", "did:plc:labeler"),
            ],
            json!({"did": "did:plc:someone", "handle": "someone.test", "followersCount": 7})
                .to_string(),
        )
            .into_response(),
        "/xrpc/app.bsky.feed.getTimeline" => (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json")],
            json!({"error": "InvalidRequest", "message": "Malformed cursor"}).to_string(),
        )
            .into_response(),
        // Procedures echo their body.
        _ => (StatusCode::OK, [("content-type", "application/json")], body).into_response(),
    }
}

async fn start_appview() -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new().fallback(appview).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap()
}

#[tokio::test]
async fn app_bsky_calls_go_to_the_appview_with_a_signed_service_token() {
    let dir = tempfile::tempdir().unwrap();
    let (appview_url, log) = start_appview().await;
    let s = Server::start(
        dir.path(),
        ConfigArgs {
            bsky_app_view_url: Some(appview_url),
            bsky_app_view_did: Some(APPVIEW_DID.into()),
            ..ConfigArgs::default()
        },
    )
    .await;
    let (st, acct) = s.create_account("alice.test", "alice@example.com").await;
    assert_eq!(st, Status::OK, "{acct}");
    let did = acct["did"].as_str().unwrap().to_owned();
    let token = acct["accessJwt"].as_str().unwrap().to_owned();

    // A query: answer and headers come back as the AppView sent them.
    let resp = s
        .http
        .get(format!(
            "{}/xrpc/app.bsky.actor.getProfile?actor=someone.test",
            s.url
        ))
        .bearer_auth(&token)
        .header("accept-language", "fr")
        .header("atproto-accept-labelers", "did:plc:labeler")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["atproto-content-labelers"],
        "did:plc:labeler"
    );
    let (st, body) = answer(resp).await;
    assert_eq!(st, Status::OK, "{body}");
    assert_eq!(body["followersCount"], 7);
    let seen = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.path_and_query,
        "/xrpc/app.bsky.actor.getProfile?actor=someone.test"
    );
    assert_eq!(seen.headers["accept-language"], "fr");
    assert_eq!(seen.headers["atproto-accept-labelers"], "did:plc:labeler");

    // The token: issued by the account for this method and audience, short-lived, and
    // signed by the account's current key.
    let auth = seen.headers["authorization"].to_str().unwrap();
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    assert_ne!(jwt, token, "the session token never leaves the PDS");
    let claims = claims_of(jwt);
    assert_eq!(claims["iss"], did.as_str());
    assert_eq!(claims["aud"], format!("{APPVIEW_DID}#bsky_appview"));
    assert_eq!(claims["lxm"], "app.bsky.actor.getProfile");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    let (st, creds) = s
        .get(
            "/xrpc/com.atproto.identity.getRecommendedDidCredentials",
            Some(&token),
        )
        .await;
    assert_eq!(st, Status::OK, "{creds}");
    let key = PublicKey::parse_did_key(creds["verificationMethods"]["atproto"].as_str().unwrap())
        .unwrap();
    let (signed, sig) = jwt.rsplit_once('.').unwrap();
    key.verify(
        signed.as_bytes(),
        &BASE64URL_NOPAD.decode(sig.as_bytes()).unwrap(),
    )
    .expect("token signed by the account's key");

    // A procedure: the body goes through.
    let sent = json!({"interactions": [{"item": "at://x/y/z", "event": "app.bsky.feed.defs#requestLess"}]});
    let (st, body) = s
        .post(
            "/xrpc/app.bsky.feed.sendInteractions",
            Some(&token),
            sent.clone(),
        )
        .await;
    assert_eq!(st, Status::OK, "{body}");
    assert_eq!(body, sent);
    let seen = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&seen.body).unwrap(), sent);

    // The AppView's errors come back as they are.
    let (st, body) = s
        .get("/xrpc/app.bsky.feed.getTimeline?cursor=bad", Some(&token))
        .await;
    check_error(&(st, body.clone()), 400, "InvalidRequest");
    assert_eq!(body["message"], "Malformed cursor");
    let calls = log.lock().unwrap().len();

    // Not signed in: refused here, nothing forwarded.
    let (st, _) = s.get("/xrpc/app.bsky.actor.getProfile?actor=x", None).await;
    assert_eq!(st, Status::UNAUTHORIZED);
    // Not an app.bsky method and no proxy header: not implemented here.
    check_error(
        &s.get("/xrpc/com.example.nothing", Some(&token)).await,
        501,
        "MethodNotImplemented",
    );
    // A header that is not <did>#<id>; admin methods are never proxied.
    let bad_header = s
        .http
        .get(format!("{}/xrpc/app.bsky.actor.getProfile?actor=x", s.url))
        .bearer_auth(&token)
        .header("atproto-proxy", "did:web:appview.test")
        .send()
        .await
        .unwrap();
    check_error(&answer(bad_header).await, 400, "InvalidRequest");
    let admin = s
        .http
        .get(format!("{}/xrpc/com.atproto.admin.getInviteCodes", s.url))
        .bearer_auth(&token)
        .header("atproto-proxy", format!("{APPVIEW_DID}#bsky_appview"))
        .send()
        .await
        .unwrap();
    check_error(&answer(admin).await, 400, "InvalidRequest");
    assert_eq!(
        log.lock().unwrap().len(),
        calls,
        "none of these reached the AppView"
    );
    s.stop().await;
}

#[tokio::test]
async fn without_an_appview_app_bsky_methods_are_not_implemented_and_a_dead_one_is_upstream_failure()
 {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (_, acct) = s.create_account("bob.test", "bob@example.com").await;
    let token = acct["accessJwt"].as_str().unwrap().to_owned();
    check_error(
        &s.get("/xrpc/app.bsky.actor.getProfile?actor=x", Some(&token))
            .await,
        501,
        "MethodNotImplemented",
    );
    s.stop().await;

    // An AppView that is not listening.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        ConfigArgs {
            bsky_app_view_url: Some(dead),
            bsky_app_view_did: Some(APPVIEW_DID.into()),
            ..ConfigArgs::default()
        },
    )
    .await;
    let (_, acct) = s.create_account("carl.test", "carl@example.com").await;
    let token = acct["accessJwt"].as_str().unwrap().to_owned();
    check_error(
        &s.get("/xrpc/app.bsky.actor.getProfile?actor=x", Some(&token))
            .await,
        502,
        "UpstreamFailure",
    );
    s.stop().await;
}
