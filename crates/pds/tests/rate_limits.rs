//! Rate limits over HTTP (`PDS_RATE_LIMITS_ENABLED`): logins per account whichever
//! identifier names it, record writes per account in points, and the 429 the clients see.

mod server;

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::json;
use server::{Server, answer};

const PASSWORD: &str = "hunter2hunter2";

async fn start(dir: &std::path::Path) -> Server {
    Server::start(
        dir,
        ConfigArgs {
            rate_limits_enabled: Some(true),
            ..ConfigArgs::default()
        },
    )
    .await
}

async fn signup(s: &Server, handle: &str) -> (String, String) {
    let (st, body) = s
        .create_account(handle, &format!("{handle}@example.com"))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
    )
}

async fn login(s: &Server, identifier: &str, password: &str) -> reqwest::Response {
    s.http
        .post(format!("{}/xrpc/com.atproto.server.createSession", s.url))
        .json(&json!({"identifier": identifier, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn logins_are_limited_per_account_with_the_reference_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, _) = signup(&s, "target.test").await;
    signup(&s, "bystander.test").await;
    // 30 attempts in five minutes, spread over every name of the account.
    for i in 0..30 {
        let ident = match i % 3 {
            0 => "target.test".to_owned(),
            1 => "target.test@example.com".to_owned(),
            _ => did.clone(),
        };
        let (st, body) = answer(login(&s, &ident, "wrong").await).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}: {body}");
    }
    // The 31st is refused before the password is looked at, even the right one.
    let refused = login(&s, "TARGET.test", PASSWORD).await;
    let h = refused.headers().clone();
    let (st, body) = answer(refused).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(
        body,
        json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"})
    );
    assert_eq!(h["ratelimit-limit"], "30");
    assert_eq!(h["ratelimit-remaining"], "0");
    assert_eq!(h["ratelimit-policy"], "30;w=300");
    let reset: u64 = h["ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset > now && reset <= now + 301,
        "reset {reset}, now {now}"
    );
    // Someone else's account is not affected.
    let (st, body) = answer(login(&s, "bystander.test", PASSWORD).await).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn record_writes_are_limited_per_account_in_points() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, token) = signup(&s, "busy.test").await;
    // Deletes of records that do not exist cost 1 point each and change nothing: 25 batches
    // of 200 use the hour's 5000 points exactly.
    let batch: Vec<_> = (0..200)
        .map(|i| {
            json!({"$type": "com.atproto.repo.applyWrites#delete",
                   "collection": "com.example.note", "rkey": format!("k{i}")})
        })
        .collect();
    for n in 0..25 {
        let (st, body) = s
            .post(
                "/xrpc/com.atproto.repo.applyWrites",
                Some(&token),
                json!({"repo": did, "writes": batch}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "batch {n}: {body}");
    }
    // A create costs 3 more: over the hour's points.
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&token),
            json!({"repo": did, "collection": "com.example.note",
                   "record": {"text": "one too many"}}),
        )
        .await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "RateLimitExceeded");
    // Another account writes freely.
    let (other, other_token) = signup(&s, "calm.test").await;
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&other_token),
            json!({"repo": other, "collection": "com.example.note",
                   "record": {"text": "fine"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s.stop().await;
}
