//! app.bsky.actor.getPreferences / putPreferences over HTTP: kept by the PDS per account, in
//! order, app.bsky namespace only, replaced as a whole, and the personal-details preference
//! hidden from and kept safe against app-password sessions.

mod server;

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, check_error};

async fn signup(s: &Server, handle: &str) -> String {
    let (st, body) = s
        .create_account(handle, &format!("{handle}@example.com"))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["accessJwt"].as_str().unwrap().to_owned()
}

async fn get(s: &Server, token: &str) -> Value {
    let (st, body) = s
        .get("/xrpc/app.bsky.actor.getPreferences", Some(token))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    body["preferences"].clone()
}

async fn put(s: &Server, token: &str, prefs: Value) -> (StatusCode, Value) {
    s.post(
        "/xrpc/app.bsky.actor.putPreferences",
        Some(token),
        json!({"preferences": prefs}),
    )
    .await
}

#[tokio::test]
async fn preferences_are_kept_in_order_replaced_whole_and_namespaced() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let alice = signup(&s, "alice.test").await;
    let bob = signup(&s, "bob.test").await;
    assert_eq!(get(&s, &alice).await, json!([]));

    let prefs = json!([
        {"$type": "app.bsky.actor.defs#savedFeedsPrefV2",
         "items": [{"id": "3l6oveex3ii2l", "type": "timeline", "value": "following", "pinned": true}]},
        {"$type": "app.bsky.actor.defs#adultContentPref", "enabled": false},
        {"$type": "app.bsky.actor.defs#personalDetailsPref", "birthDate": "1990-01-01T00:00:00.000Z"}
    ]);
    let (st, body) = put(&s, &alice, prefs.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(get(&s, &alice).await, prefs);
    assert_eq!(get(&s, &bob).await, json!([]), "per account");

    // A put replaces everything.
    let fewer = json!([{"$type": "app.bsky.actor.defs#adultContentPref", "enabled": true}]);
    let (st, body) = put(&s, &alice, fewer.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(get(&s, &alice).await, fewer);

    // Outside app.bsky, or without a $type: refused, nothing changed.
    let (st, body) = put(&s, &alice, json!([{"$type": "com.example.pref", "x": 1}])).await;
    check_error(&(st, body), 400, "InvalidRequest");
    let (st, body) = put(&s, &alice, json!([{"enabled": true}])).await;
    check_error(&(st, body), 400, "InvalidRequest");
    assert_eq!(get(&s, &alice).await, fewer);

    // Signed-in only.
    let (st, _) = s.get("/xrpc/app.bsky.actor.getPreferences", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn app_password_sessions_neither_see_nor_lose_personal_details() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let full = signup(&s, "carol.test").await;
    let details = json!({"$type": "app.bsky.actor.defs#personalDetailsPref", "birthDate": "1990-01-01T00:00:00.000Z"});
    let adult = json!({"$type": "app.bsky.actor.defs#adultContentPref", "enabled": false});
    let (st, body) = put(&s, &full, json!([details, adult])).await;
    assert_eq!(st, StatusCode::OK, "{body}");

    let (st, created) = s
        .post(
            "/xrpc/com.atproto.server.createAppPassword",
            Some(&full),
            json!({"name": "phone"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{created}");
    let (st, sess) = s
        .post(
            "/xrpc/com.atproto.server.createSession",
            None,
            json!({"identifier": "carol.test", "password": created["password"]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{sess}");
    let app = sess["accessJwt"].as_str().unwrap().to_owned();

    assert_eq!(get(&s, &app).await, json!([adult]));
    let (st, body) = put(&s, &app, json!([details])).await;
    check_error(&(st, body), 400, "InvalidRequest");
    let muted = json!({"$type": "app.bsky.actor.defs#mutedWordsPref", "items": []});
    let (st, body) = put(&s, &app, json!([muted])).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // The full session still has the birth date, next to what the app session wrote.
    assert_eq!(get(&s, &full).await, json!([muted, details]));
    s.stop().await;
}
