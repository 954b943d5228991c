//! com.atproto.admin over HTTP (basic auth) against a real server: account views, search,
//! takedowns and their effects, credentials, handles, invite rights, deletion.

mod server;

use aerie_pds::ConfigArgs;
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, answer, check_error};

const ADMIN: &str = "admin-secret";
const PASSWORD: &str = "hunter2hunter2";

async fn start(dir: &std::path::Path) -> Server {
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

async fn signup(s: &Server, handle: &str) -> (String, String, String) {
    let (st, body) = s
        .create_account(handle, &format!("{handle}@example.com"))
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    (
        body["did"].as_str().unwrap().to_owned(),
        body["accessJwt"].as_str().unwrap().to_owned(),
        body["refreshJwt"].as_str().unwrap().to_owned(),
    )
}

/// `(active, status)` of the last `#account` event of `did` in the stored firehose log.
fn last_account_status(dir: &std::path::Path, did: &str) -> (bool, Option<String>) {
    let conn = aerie_store::Connection::open(dir.join(aerie_pds::serve::DB_FILE)).unwrap();
    let frame: Vec<u8> = conn
        .query_row(
            "SELECT frame FROM repo_seq WHERE did = ?1 ORDER BY seq DESC LIMIT 1",
            [did],
            |r| r.get(0),
        )
        .unwrap();
    match aerie_firehose::decode_frame(&frame).unwrap() {
        aerie_firehose::Frame::Event {
            event: aerie_firehose::Event::Account(a),
            ..
        } => (a.active, a.status.map(|s| s.as_str().to_owned())),
        other => panic!("last event is not #account: {other:?}"),
    }
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
async fn admin_routes_need_the_admin_password() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, access, _) = signup(&s, "alice.test").await;
    let path = format!("/xrpc/com.atproto.admin.getAccountInfo?did={did}");
    check_error(&s.get(&path, None).await, 401, "AuthMissing");
    // A user's session is not admin auth.
    check_error(
        &s.get(&path, Some(&access)).await,
        401,
        "AuthenticationRequired",
    );
    let wrong = s
        .http
        .get(format!("{}{path}", s.url))
        .basic_auth("admin", Some("nope"));
    check_error(
        &answer(wrong.send().await.unwrap()).await,
        401,
        "AuthenticationRequired",
    );
    check_error(
        &s.admin_post(
            "/xrpc/com.atproto.admin.deleteAccount",
            "nope",
            json!({"did": did}),
        )
        .await,
        401,
        "AuthenticationRequired",
    );
    let (st, _) = admin_get(&s, &path).await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn account_views_search_and_invite_rights() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (alice, _, _) = signup(&s, "alice.test").await;
    let (bob, _, _) = signup(&s, "bob.test").await;
    let (carol, _, _) = signup(&s, "albert.test").await;

    let (st, info) = admin_get(
        &s,
        &format!("/xrpc/com.atproto.admin.getAccountInfo?did={alice}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["did"], alice);
    assert_eq!(info["handle"], "alice.test");
    assert_eq!(info["email"], "alice.test@example.com");
    assert_eq!(info["invitesDisabled"], false);
    assert!(info["indexedAt"].is_string());
    check_error(
        &admin_get(
            &s,
            "/xrpc/com.atproto.admin.getAccountInfo?did=did:plc:nobody",
        )
        .await,
        400,
        "AccountNotFound",
    );

    let (st, infos) = admin_get(
        &s,
        &format!(
            "/xrpc/com.atproto.admin.getAccountInfos?dids={alice}&dids={bob}&dids=did:plc:nobody"
        ),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{infos}");
    let got: Vec<&str> = infos["infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["did"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![alice.as_str(), bob.as_str()]);

    // Handle prefix "al" finds alice and albert; paging by one walks both.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/xrpc/com.atproto.admin.searchAccounts?handle=al&limit=1".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (st, page) = admin_get(&s, &path).await;
        assert_eq!(st, StatusCode::OK, "{page}");
        for a in page["accounts"].as_array().unwrap() {
            seen.push(a["did"].as_str().unwrap().to_owned());
        }
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 3, "paging does not end");
    }
    let mut want = vec![alice.clone(), carol.clone()];
    want.sort();
    assert_eq!(seen, want);
    let (_, page) = admin_get(&s, "/xrpc/com.atproto.admin.searchAccounts?email=BOB.").await;
    assert_eq!(page["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(page["accounts"][0]["did"], bob);
    let (_, page) = admin_get(&s, "/xrpc/com.atproto.admin.searchAccounts").await;
    assert_eq!(page["accounts"].as_array().unwrap().len(), 3);

    let (st, _) = s
        .admin_post(
            "/xrpc/com.atproto.admin.disableAccountInvites",
            ADMIN,
            json!({"account": "bob.test"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, info) = admin_get(
        &s,
        &format!("/xrpc/com.atproto.admin.getAccountInfo?did={bob}"),
    )
    .await;
    assert_eq!(info["invitesDisabled"], true);
    s.admin_post(
        "/xrpc/com.atproto.admin.enableAccountInvites",
        ADMIN,
        json!({"account": bob}),
    )
    .await;
    let (_, info) = admin_get(
        &s,
        &format!("/xrpc/com.atproto.admin.getAccountInfo?did={bob}"),
    )
    .await;
    assert_eq!(info["invitesDisabled"], false);
    s.stop().await;
}

#[tokio::test]
async fn takedown_closes_sync_endpoints_and_sessions_until_reversed() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, access, refresh) = signup(&s, "mallory.test").await;
    let (st, rec) = s
        .post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            json!({"repo": did, "collection": "app.bsky.feed.post", "rkey": "3jzfcijpj2z2a",
                   "record": {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2024-01-01T00:00:00.000Z"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{rec}");
    let commit_cid = rec["commit"]["cid"].as_str().unwrap().to_owned();

    let subject = json!({"$type": "com.atproto.admin.defs#repoRef", "did": did});
    let (st, out) = s
        .admin_post(
            "/xrpc/com.atproto.admin.updateSubjectStatus",
            ADMIN,
            json!({"subject": subject, "takedown": {"applied": true, "ref": "case-1"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
    assert_eq!(out["takedown"]["applied"], true);
    let (_, got) = admin_get(
        &s,
        &format!("/xrpc/com.atproto.admin.getSubjectStatus?did={did}"),
    )
    .await;
    assert_eq!(got["takedown"], json!({"applied": true, "ref": "case-1"}));
    assert_eq!(got["subject"]["did"], did);

    let (_, status) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getRepoStatus?did={did}"),
            None,
        )
        .await;
    assert_eq!(status["active"], false);
    assert_eq!(status["status"], "takendown");
    for path in [
        format!("/xrpc/com.atproto.sync.getRepo?did={did}"),
        format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
        format!(
            "/xrpc/com.atproto.sync.getRecord?did={did}&collection=app.bsky.feed.post&rkey=3jzfcijpj2z2a"
        ),
        format!("/xrpc/com.atproto.sync.getBlocks?did={did}&cids={commit_cid}"),
        format!("/xrpc/com.atproto.sync.listBlobs?did={did}"),
        format!(
            "/xrpc/com.atproto.sync.getBlob?did={did}&cid=bafkreibme22gw2h7y2h7tg2fhqotaqjucnbc24deqo72b6mkl2egezxhvy"
        ),
    ] {
        check_error(&s.get(&path, None).await, 400, "RepoTakendown");
    }
    // The account itself and the admin may still read it (an owner can export their data),
    // as in the reference.
    let latest = format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}");
    let (st, body) = s.get(&latest, Some(&access)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["cid"], commit_cid.as_str());
    let (st, body) = admin_get(&s, &latest).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let car = s
        .http
        .get(format!("{}/xrpc/com.atproto.sync.getRepo?did={did}", s.url))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(car.status(), StatusCode::OK);
    assert!(!car.bytes().await.unwrap().is_empty());
    check_error(
        &login(&s, "mallory.test", PASSWORD).await,
        401,
        "AccountTakedown",
    );
    assert_eq!(
        last_account_status(dir.path(), &did),
        (false, Some("takendown".to_owned()))
    );
    // An access token issued before the takedown cannot change the repo: 401
    // AccountTakedown, as the reference answers.
    check_error(
        &s.post(
            "/xrpc/com.atproto.repo.createRecord",
            Some(&access),
            json!({"repo": did, "collection": "app.bsky.feed.post",
                   "record": {"$type": "app.bsky.feed.post", "text": "y", "createdAt": "2024-01-01T00:00:00.000Z"}}),
        )
        .await,
        401,
        "AccountTakedown",
    );
    // Existing refresh tokens were revoked with the takedown.
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(&refresh),
            json!({}),
        )
        .await,
        400,
        "ExpiredToken",
    );

    let (st, _) = s
        .admin_post(
            "/xrpc/com.atproto.admin.updateSubjectStatus",
            ADMIN,
            json!({"subject": subject, "takedown": {"applied": false}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, status) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getRepoStatus?did={did}"),
            None,
        )
        .await;
    assert_eq!(status["active"], true);
    let (st, _) = s
        .get(
            &format!("/xrpc/com.atproto.sync.getLatestCommit?did={did}"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = login(&s, "mallory.test", PASSWORD).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(last_account_status(dir.path(), &did), (true, None));

    // Subjects of an unknown type are refused rather than silently ignored (record and blob
    // subjects: tests/subject_takedown.rs).
    check_error(
        &s.admin_post(
            "/xrpc/com.atproto.admin.updateSubjectStatus",
            ADMIN,
            json!({"subject": {"$type": "com.example.subject", "did": did, "cid": commit_cid},
                   "takedown": {"applied": true}}),
        )
        .await,
        400,
        "InvalidRequest",
    );
    s.stop().await;
}

#[tokio::test]
async fn admin_changes_password_email_handle_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path()).await;
    let (did, _, refresh) = signup(&s, "erin.test").await;
    signup(&s, "frank.test").await;

    let (st, _) = s
        .admin_post(
            "/xrpc/com.atproto.admin.updateAccountPassword",
            ADMIN,
            json!({"did": did, "password": "new-password-1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    check_error(
        &login(&s, "erin.test", PASSWORD).await,
        401,
        "AuthenticationRequired",
    );
    let (st, _) = login(&s, "erin.test", "new-password-1").await;
    assert_eq!(st, StatusCode::OK);
    check_error(
        &s.post(
            "/xrpc/com.atproto.server.refreshSession",
            Some(&refresh),
            json!({}),
        )
        .await,
        400,
        "ExpiredToken",
    );

    let (st, _) = s
        .admin_post(
            "/xrpc/com.atproto.admin.updateAccountEmail",
            ADMIN,
            json!({"account": did, "email": "erin@new.example"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    check_error(
        &s.admin_post(
            "/xrpc/com.atproto.admin.updateAccountEmail",
            ADMIN,
            json!({"account": did, "email": "frank.test@example.com"}),
        )
        .await,
        400,
        "InvalidRequest",
    );
    let (_, info) = admin_get(
        &s,
        &format!("/xrpc/com.atproto.admin.getAccountInfo?did={did}"),
    )
    .await;
    assert_eq!(info["email"], "erin@new.example");

    let (st, body) = s
        .admin_post(
            "/xrpc/com.atproto.admin.updateAccountHandle",
            ADMIN,
            json!({"did": did, "handle": "erin2.test"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, resolved) = s
        .get(
            "/xrpc/com.atproto.identity.resolveHandle?handle=erin2.test",
            None,
        )
        .await;
    assert_eq!(resolved["did"], did);
    check_error(
        &s.admin_post(
            "/xrpc/com.atproto.admin.updateAccountHandle",
            ADMIN,
            json!({"did": did, "handle": "frank.test"}),
        )
        .await,
        400,
        "HandleNotAvailable",
    );

    let (st, _) = s
        .admin_post(
            "/xrpc/com.atproto.admin.deleteAccount",
            ADMIN,
            json!({"did": did}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    check_error(
        &admin_get(
            &s,
            &format!("/xrpc/com.atproto.admin.getAccountInfo?did={did}"),
        )
        .await,
        400,
        "AccountNotFound",
    );
    check_error(
        &s.get(
            &format!("/xrpc/com.atproto.sync.getRepoStatus?did={did}"),
            None,
        )
        .await,
        400,
        "RepoNotFound",
    );
    s.stop().await;
}
