//! App passwords and the owner's account lifecycle over HTTP against a real server.

mod server;

use std::path::Path;

use aerie_firehose::{Event, Frame, decode_frame};
use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, check_error};

const PASSWORD: &str = "hunter2hunter2";

fn claims(jwt: &str) -> Value {
    let body = jwt.split('.').nth(1).unwrap();
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(body.as_bytes())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn db(dir: &Path) -> aerie_store::Connection {
    aerie_store::Connection::open(dir.join(aerie_pds::serve::DB_FILE)).unwrap()
}

/// The firehose log of `did` as stored: (event type, account status) per event.
fn logged_events(dir: &Path, did: &str) -> Vec<(String, Option<String>)> {
    let conn = db(dir);
    let mut st = conn
        .prepare("SELECT frame FROM repo_seq WHERE did = ?1 ORDER BY seq")
        .unwrap();
    let frames: Vec<Vec<u8>> = st
        .query_map([did], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    frames
        .iter()
        .map(|f| match decode_frame(f).unwrap() {
            Frame::Event {
                event: Event::Account(a),
                ..
            } => (
                "account".to_owned(),
                a.status.map(|s| s.as_str().to_owned()),
            ),
            Frame::Event { event, .. } => (event.type_name().to_owned(), None),
            other => panic!("unexpected frame {other:?}"),
        })
        .collect()
}

fn email_token(dir: &Path, purpose: &str, did: &str) -> String {
    db(dir)
        .query_row(
            "SELECT token FROM email_token WHERE purpose = ?1 AND did = ?2",
            [purpose, did],
            |r| r.get(0),
        )
        .unwrap()
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

async fn login(s: &Server, ident: &str, password: &str) -> (StatusCode, Value) {
    s.post(
        "/xrpc/com.atproto.server.createSession",
        None,
        json!({"identifier": ident, "password": password}),
    )
    .await
}

#[tokio::test]
async fn app_password_sessions_are_scoped_and_end_when_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, full) = signup(&s, "alice.test").await;

    let (st, created) = s
        .post(
            "/xrpc/com.atproto.server.createAppPassword",
            Some(&full),
            json!({"name": "phone"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{created}");
    assert_eq!(created["name"], "phone");
    assert_eq!(created["privileged"], false);
    assert!(created["createdAt"].is_string());
    let app_pw = created["password"].as_str().unwrap().to_owned();
    assert_eq!(app_pw.len(), 19);
    assert_eq!(app_pw.split('-').count(), 4);

    // A second password of the same name is refused.
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.createAppPassword",
            Some(&full),
            json!({"name": "phone"}),
        )
        .await,
        400,
        "InvalidRequest",
    );

    let (st, sess) = login(&s, "alice.test", &app_pw).await;
    assert_eq!(st, StatusCode::OK, "{sess}");
    let access = sess["accessJwt"].as_str().unwrap().to_owned();
    let refresh = sess["refreshJwt"].as_str().unwrap().to_owned();
    assert_eq!(claims(&access)["scope"], "com.atproto.appPass");
    assert_eq!(sess["did"], did);

    // The app-password session works for ordinary calls and listing...
    let (st, _) = s
        .get("/xrpc/com.atproto.server.getSession", Some(&access))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, list) = s
        .get("/xrpc/com.atproto.server.listAppPasswords", Some(&access))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["passwords"][0]["name"], "phone");
    assert!(list["passwords"][0].get("password").is_none());
    let (st, _) = s
        .get("/xrpc/com.atproto.server.checkAccountStatus", Some(&access))
        .await;
    assert_eq!(st, StatusCode::OK);

    // ...but not for account and auth settings.
    for (path, body) in [
        (
            "/xrpc/com.atproto.server.createAppPassword",
            json!({"name": "x"}),
        ),
        (
            "/xrpc/com.atproto.server.revokeAppPassword",
            json!({"name": "phone"}),
        ),
        ("/xrpc/com.atproto.server.deactivateAccount", json!({})),
        ("/xrpc/com.atproto.server.requestAccountDelete", json!({})),
    ] {
        check_error(
            &s.post(path, Some(&access), body).await,
            400,
            "InvalidToken",
        );
    }

    // Refreshing keeps the app-password scope.
    let (st, refreshed) = s
        .post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(&refresh),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{refreshed}");
    assert_eq!(
        claims(refreshed["accessJwt"].as_str().unwrap())["scope"],
        "com.atproto.appPass"
    );
    let refresh2 = refreshed["refreshJwt"].as_str().unwrap().to_owned();

    // A privileged one gets the privileged scope.
    let (_, priv_pw) = s
        .post(
            "/xrpc/com.atproto.server.createAppPassword",
            Some(&full),
            json!({"name": "trusted", "privileged": true}),
        )
        .await;
    assert_eq!(priv_pw["privileged"], true);
    let (st, sess) = login(&s, &did, priv_pw["password"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        claims(sess["accessJwt"].as_str().unwrap())["scope"],
        "com.atproto.appPassPrivileged"
    );

    // Revoking ends the password and its sessions; the other password is untouched.
    let (st, _) = s
        .post(
            "/xrpc/com.atproto.server.revokeAppPassword",
            Some(&full),
            json!({"name": "phone"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    check_error(
        &login(&s, "alice.test", &app_pw).await,
        401,
        "AuthenticationRequired",
    );
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(&refresh2),
            json!({}),
        )
        .await,
        400,
        "ExpiredToken",
    );
    let (_, list) = s
        .get("/xrpc/com.atproto.server.listAppPasswords", Some(&full))
        .await;
    assert_eq!(list["passwords"].as_array().unwrap().len(), 1);
    assert_eq!(list["passwords"][0]["name"], "trusted");
    // The account password still logs in with full access.
    let (st, sess) = login(&s, "alice.test", PASSWORD).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        claims(sess["accessJwt"].as_str().unwrap())["scope"],
        "com.atproto.access"
    );
    s.stop().await;
}

#[tokio::test]
async fn deactivation_hides_the_repo_and_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, full) = signup(&s, "bob.test").await;

    let (st, status) = s
        .get("/xrpc/com.atproto.server.checkAccountStatus", Some(&full))
        .await;
    assert_eq!(st, StatusCode::OK, "{status}");
    assert_eq!(status["activated"], true);
    assert_eq!(status["validDid"], true);
    assert!(status["repoCommit"].is_string());
    assert!(status["repoRev"].is_string());
    assert!(status["repoBlocks"].as_i64().unwrap() >= 1);
    assert_eq!(status["indexedRecords"], 0);
    assert_eq!(status["privateStateValues"], 0);
    assert_eq!(status["expectedBlobs"], 0);
    assert_eq!(status["importedBlobs"], 0);

    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.deactivateAccount",
            Some(&full),
            json!({"deleteAfter": "2030-01-01T00:00:00.000Z"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");

    let (_, repo_status) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getRepoStatus?did={did}"),
            None,
        )
        .await;
    assert_eq!(repo_status["active"], false);
    assert_eq!(repo_status["status"], "deactivated");
    check_error(
        &s.get(
            &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
            None,
        )
        .await,
        400,
        "RepoDeactivated",
    );
    check_error(
        &s.get(&format!("/xrpc/com.atproto.sync.getRepo?did={did}"), None)
            .await,
        400,
        "RepoDeactivated",
    );
    // The owner may still read their own repo.
    let (st, body) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
            Some(&full),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Writes wait for reactivation: 401 AccountDeactivated, as the reference answers.
    check_error(
        &s.post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&full),
            json!({"repo": did, "collection": "app.bsky.feed.post",
                   "record": {"$type": "app.bsky.feed.post", "text": "x",
                              "createdAt": "2024-01-01T00:00:00.000Z"}}),
        )
        .await,
        401,
        "AccountDeactivated",
    );
    // The owner can still log in (to reactivate), and is told the state.
    let (st, sess) = login(&s, "bob.test", PASSWORD).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(sess["active"], false);
    assert_eq!(sess["status"], "deactivated");
    let (_, status) = s
        .get("/xrpc/com.atproto.server.checkAccountStatus", Some(&full))
        .await;
    assert_eq!(status["activated"], false);

    let events = logged_events(dir.path(), &did);
    assert_eq!(
        events.last().unwrap(),
        &("account".to_owned(), Some("deactivated".to_owned()))
    );
    s.stop().await;
}

#[tokio::test]
async fn account_deletion_needs_password_and_mailed_token_and_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), ConfigArgs::default()).await;
    let (did, full) = signup(&s, "carol.test").await;
    let (_, other_access) = signup(&s, "dave.test").await;
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&full),
            json!({"repo": did, "collection": "app.bsky.feed.post",
                   "record": {"$type": "app.bsky.feed.post", "text": "bye", "createdAt": "2024-01-01T00:00:00.000Z"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let upload = s
        .http
        .post(format!("{}/xrpc/com.atproto.repo.uploadBlob", s.url))
        .bearer_auth(&full)
        .header("content-type", "image/png")
        .body(b"\x89PNG\r\n\x1a\n not really".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::OK);
    assert!(blob_dir_exists(dir.path(), &did));

    // Nothing to quote yet.
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.deleteAccount",
            None,
            json!({"did": did, "password": PASSWORD, "token": "AAAAA-BBBBB"}),
        )
        .await,
        400,
        "InvalidToken",
    );
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.requestAccountDelete",
            Some(&full),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let token = email_token(dir.path(), "delete_account", &did);

    check_error(
        &s.post(
            "/xrpc/com.atproto.server.deleteAccount",
            None,
            json!({"did": did, "password": "wrong-password", "token": token}),
        )
        .await,
        401,
        "AuthenticationRequired",
    );
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.deleteAccount",
            None,
            json!({"did": did, "password": PASSWORD, "token": "AAAAA-BBBBB"}),
        )
        .await,
        400,
        "InvalidToken",
    );
    let (st, body) = s
        .post(
            "/xrpc/com.atproto.server.deleteAccount",
            None,
            json!({"did": did, "password": PASSWORD, "token": token.to_lowercase()}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");

    check_error(
        &s.get(
            &format!("/xrpc/com.atproto.sync.getRepoStatus?did={did}"),
            None,
        )
        .await,
        400,
        "RepoNotFound",
    );
    check_error(
        &login(&s, "carol.test", PASSWORD).await,
        401,
        "AuthenticationRequired",
    );
    check_error(
        &s.get("/xrpc/com.atproto.server.getSession", Some(&full))
            .await,
        400,
        "InvalidRequest",
    );
    // Only the #account deleted event of the DID remains in the log.
    assert_eq!(
        logged_events(dir.path(), &did),
        vec![("account".to_owned(), Some("deleted".to_owned()))]
    );
    let conn = db(dir.path());
    for table in [
        "repo_block",
        "record",
        "blob",
        "record_blob",
        "refresh_token",
        "email_token",
    ] {
        let n: i64 = conn
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE did = ?1"),
                [&did],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    assert!(!blob_dir_exists(dir.path(), &did));
    // The other account is untouched.
    let (st, _) = s
        .get("/xrpc/com.atproto.server.getSession", Some(&other_access))
        .await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

/// Whether any directory named after `did` exists under the data directory (the blob store
/// keeps one per account).
fn blob_dir_exists(dir: &Path, did: &str) -> bool {
    fn walk(p: &Path, name: &str, depth: u32) -> bool {
        let Ok(rd) = std::fs::read_dir(p) else {
            return false;
        };
        rd.flatten().any(|e| {
            let path = e.path();
            path.is_dir() && (e.file_name() == name || (depth < 3 && walk(&path, name, depth + 1)))
        })
    }
    walk(dir, did, 0)
}
