//! The real server on 127.0.0.1 with a temporary data directory, driven over HTTP.

mod server;

use std::path::Path;

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, answer, check_error};

fn dev_secret(dir: &Path, key: &str) -> String {
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("secrets.json")).unwrap()).unwrap();
    json[key].as_str().unwrap().to_owned()
}

fn jti(refresh_jwt: &str) -> String {
    let body = refresh_jwt.split('.').nth(1).unwrap();
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(body.as_bytes())
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn health_and_describe_server_in_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (st, body) = s.get("/xrpc/_health", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(body["version"].is_string());
    let (st, body) = s.get("/xrpc/com.atproto.server.describeServer", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(body["did"], "did:web:localhost");
    assert_eq!(body["availableUserDomains"], json!([".test"]));
    assert_eq!(body["inviteCodeRequired"], false);
    s.stop().await;
}

#[tokio::test]
async fn xrpc_errors_for_unknown_and_misused_methods() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    check_error(
        &s.get("/xrpc/com.example.nope", None).await,
        501,
        "MethodNotImplemented",
    );
    check_error(
        &s.get("/xrpc/com.atproto.server.createSession", None).await,
        400,
        "InvalidRequest",
    );
    check_error(
        &s.get("/xrpc/com.atproto.server.getSession", None).await,
        401,
        "AuthMissing",
    );
    check_error(
        &s.get("/xrpc/com.atproto.server.getSession", Some("nonsense"))
            .await,
        400,
        "InvalidToken",
    );
    let resp = s
        .http
        .post(format!("{}/xrpc/com.atproto.server.createSession", s.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    check_error(&answer(resp).await, 400, "InvalidRequest");
    let huge = "x".repeat(aerie_pds_body_limit() + 1);
    let got = s
        .post(
            "/xrpc/com.atproto.server.createSession",
            None,
            json!({"identifier": huge, "password": "x"}),
        )
        .await;
    check_error(&got, 413, "PayloadTooLarge");
    s.stop().await;
}

fn aerie_pds_body_limit() -> usize {
    256 * 1024
}

#[tokio::test]
async fn signup_login_refresh_logout_journey() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (st, acct) = s.create_account("Alice.test", "alice@example.com").await;
    assert_eq!(st, StatusCode::OK, "{acct}");
    assert_eq!(acct["handle"], "alice.test");
    let did = acct["did"].as_str().unwrap().to_owned();
    assert!(did.starts_with("did:plc:"), "{did}");
    assert_eq!(acct["didDoc"]["id"], did);
    assert_eq!(acct["didDoc"]["alsoKnownAs"], json!(["at://alice.test"]));

    // The in-process PLC directory serves the DID document at the same origin.
    let (st, doc) = s.get(&format!("/{did}"), None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        doc["service"][0]["serviceEndpoint"],
        format!("http://localhost:{}", s.url.rsplit(':').next().unwrap())
    );

    let access = acct["accessJwt"].as_str().unwrap();
    let (st, me) = s
        .get("/xrpc/com.atproto.server.getSession", Some(access))
        .await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["did"], did);
    assert_eq!(me["handle"], "alice.test");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["active"], true);

    // Login by handle, email (any case) and DID; a wrong password is 401.
    for ident in ["alice.test", "ALICE@example.com", did.as_str()] {
        let (st, body) = s
            .post(
                "/xrpc/com.atproto.server.createSession",
                None,
                json!({"identifier": ident, "password": "hunter2hunter2"}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{ident}: {body}");
        assert_eq!(body["did"], did);
    }
    for (ident, pw) in [("alice.test", "wrong"), ("nobody.test", "hunter2hunter2")] {
        let got = s
            .post(
                "/xrpc/com.atproto.server.createSession",
                None,
                json!({"identifier": ident, "password": pw}),
            )
            .await;
        check_error(&got, 401, "AuthenticationRequired");
    }

    // Refresh rotates; replaying the old token within the grace period yields the same
    // next token id; the access token cannot refresh and the refresh token cannot access.
    let refresh = acct["refreshJwt"].as_str().unwrap();
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(access),
            json!({}),
        )
        .await,
        400,
        "InvalidToken",
    );
    check_error(
        &s.get("/xrpc/com.atproto.server.getSession", Some(refresh))
            .await,
        400,
        "InvalidToken",
    );
    let (st, r1) = s
        .post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(refresh),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r1}");
    let next = r1["refreshJwt"].as_str().unwrap().to_owned();
    assert_ne!(jti(&next), jti(refresh));
    let (st, r2) = s
        .post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(refresh),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{r2}");
    assert_eq!(jti(r2["refreshJwt"].as_str().unwrap()), jti(&next));
    let (st, me) = s
        .get(
            "/xrpc/com.atproto.server.getSession",
            r1["accessJwt"].as_str(),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{me}");

    // Logout revokes the refresh token.
    let (st, _) = s
        .post(
            "/xrpc/com.atproto.server.deleteSession",
            Some(&next),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(&next),
            json!({}),
        )
        .await,
        400,
        "ExpiredToken",
    );
    s.stop().await;
}

#[tokio::test]
async fn signup_rejects_bad_and_taken_handles_and_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    assert_eq!(
        s.create_account("bob.test", "bob@example.com").await.0,
        StatusCode::OK
    );
    check_error(
        &s.create_account("bob.test", "bob2@example.com").await,
        400,
        "HandleNotAvailable",
    );
    check_error(
        &s.create_account("BOB.test", "bob3@example.com").await,
        400,
        "HandleNotAvailable",
    );
    check_error(
        &s.create_account("bobby.test", "BOB@example.com").await,
        400,
        "InvalidRequest",
    );
    check_error(
        &s.create_account("bo.test", "b@example.com").await,
        400,
        "InvalidHandle",
    );
    check_error(
        &s.create_account("x y.test", "c@example.com").await,
        400,
        "InvalidHandle",
    );
    check_error(
        &s.create_account("carol.example.com", "d@example.com").await,
        400,
        "UnsupportedDomain",
    );
    let got = s
        .post(
            "/xrpc/com.atproto.server.createAccount",
            None,
            json!({"handle": "dave.test", "password": "pw"}),
        )
        .await;
    check_error(&got, 400, "InvalidRequest");
    let got = s
        .post(
            "/xrpc/com.atproto.server.createAccount",
            None,
            json!({"handle": "dave.test", "email": "dave@example.com"}),
        )
        .await;
    check_error(&got, 400, "InvalidRequest");
    s.stop().await;
}

#[tokio::test]
async fn invite_codes_gate_signup_when_required() {
    let dir = tempfile::tempdir().unwrap();
    let args = ConfigArgs {
        invite_required: Some(true),
        ..ConfigArgs::default()
    };
    let s = Server::start(dir.path(), args).await;
    let admin = dev_secret(dir.path(), "admin_password");
    check_error(
        &s.create_account("erin.test", "erin@example.com").await,
        400,
        "InvalidInviteCode",
    );
    let got = s
        .admin_post(
            "/xrpc/com.atproto.server.createInviteCode",
            "wrong",
            json!({"useCount": 1}),
        )
        .await;
    check_error(&got, 401, "AuthenticationRequired");
    let (st, body) = s
        .admin_post(
            "/xrpc/com.atproto.server.createInviteCode",
            &admin,
            json!({"useCount": 1}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let code = body["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with("localhost-"), "{code}");
    let signup = |handle: &'static str, email: &'static str, code: String| {
        s.post(
            "/xrpc/com.atproto.server.createAccount",
            None,
            json!({"handle": handle, "email": email, "password": "pw-pw-pw", "inviteCode": code}),
        )
    };
    check_error(
        &signup("erin.test", "erin@example.com", "bogus".into()).await,
        400,
        "InvalidInviteCode",
    );
    let (st, body) = signup("erin.test", "erin@example.com", code.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    check_error(
        &signup("frank.test", "frank@example.com", code).await,
        400,
        "InvalidInviteCode",
    );

    let (st, body) = s
        .admin_post(
            "/xrpc/com.atproto.server.createInviteCodes",
            &admin,
            json!({"useCount": 2, "codeCount": 3, "forAccounts": [body["did"]]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["codes"][0]["codes"].as_array().unwrap().len(), 3);
    let (_, login) = s
        .post(
            "/xrpc/com.atproto.server.createSession",
            None,
            json!({"identifier": "erin.test", "password": "pw-pw-pw"}),
        )
        .await;
    let (st, mine) = s
        .get(
            "/xrpc/com.atproto.server.getAccountInviteCodes",
            login["accessJwt"].as_str(),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{mine}");
    assert_eq!(mine["codes"].as_array().unwrap().len(), 3);
    assert_eq!(mine["codes"][0]["available"], 2);
    s.stop().await;
}

#[tokio::test]
async fn hosted_handles_resolve_locally_and_by_well_known() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (_, acct) = s.create_account("gina.test", "gina@example.com").await;
    let did = acct["did"].as_str().unwrap();
    let (st, body) = s
        .get(
            "/xrpc/com.atproto.identity.resolveHandle?handle=Gina.test",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["did"], did);
    check_error(
        &s.get(
            "/xrpc/com.atproto.identity.resolveHandle?handle=nobody.test",
            None,
        )
        .await,
        400,
        "HandleNotFound",
    );
    check_error(
        &s.get("/xrpc/com.atproto.identity.resolveHandle", None)
            .await,
        400,
        "InvalidRequest",
    );
    let resp = s
        .http
        .get(format!("{}/.well-known/atproto-did", s.url))
        .header("host", "gina.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), did);
    let resp = s
        .http
        .get(format!("{}/.well-known/atproto-did", s.url))
        .header("host", "nobody.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    s.stop().await;
}

#[tokio::test]
async fn accounts_and_sessions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (_, acct) = s.create_account("hank.test", "hank@example.com").await;
    s.stop().await;
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (st, me) = s
        .get(
            "/xrpc/com.atproto.server.getSession",
            acct["accessJwt"].as_str(),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me["did"], acct["did"]);
    let (st, doc) = s
        .get(&format!("/{}", acct["did"].as_str().unwrap()), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{doc}");
    s.stop().await;
}
