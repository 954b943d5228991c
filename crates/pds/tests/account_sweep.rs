//! deactivateAccount {deleteAfter}: the deletion sweep removes the account once the time has
//! passed, and never touches accounts reactivated since, deactivated without a deadline, or
//! taken down by the operator (until the takedown is lifted).

mod server;

use std::path::Path;
use std::time::{Duration, SystemTime};

use aerie_pds::{AppState, ConfigArgs, account_sweep, serve};
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::{Server, check_error};
use tokio::net::TcpListener;

/// A server whose state the test keeps, to trigger sweeps with a chosen clock.
const ADMIN: &str = "admin-secret";

async fn start_with_state(dir: &Path) -> (Server, AppState) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = ConfigArgs {
        data_directory: Some(dir.to_path_buf()),
        port: Some(port),
        admin_password: Some(ADMIN.into()),
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

async fn deactivate(s: &Server, token: &str, body: Value) {
    let (st, out) = s
        .post(
            "/xrpc/com.atproto.server.deactivateAccount",
            Some(token),
            body,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
}

async fn repo_status(s: &Server, did: &str) -> (StatusCode, Value) {
    s.get(
        &format!("/xrpc/com.atproto.sync.getRepoStatus?did={did}"),
        None,
    )
    .await
}

#[tokio::test]
async fn accounts_past_delete_after_are_deleted_and_others_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (s, state) = start_with_state(dir.path()).await;
    let (due, due_token) = account(&s, "due.test").await;
    let (back, back_token) = account(&s, "back.test").await;
    let (plain, plain_token) = account(&s, "plain.test").await;

    // An offset other than Z: the sweep compares times, not strings.
    deactivate(
        &s,
        &due_token,
        json!({"deleteAfter": "2030-01-01T01:00:00+01:00"}),
    )
    .await;
    deactivate(
        &s,
        &back_token,
        json!({"deleteAfter": "2030-01-01T00:00:00Z"}),
    )
    .await;
    deactivate(&s, &plain_token, json!({})).await;
    // Reactivating cancels the scheduled deletion.
    let (st, out) = s
        .post(
            "/xrpc/com.atproto.server.activateAccount",
            Some(&back_token),
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");

    // 2030-01-01T00:00:00Z is exactly due's deadline; a second before it nothing goes.
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_secs(1_893_456_000);
    let before = deadline - Duration::from_secs(1);
    assert_eq!(account_sweep::sweep(&state, before).await.unwrap(), 0);
    assert_eq!(repo_status(&s, &due).await.0, StatusCode::OK);

    assert_eq!(account_sweep::sweep(&state, deadline).await.unwrap(), 1);
    check_error(&repo_status(&s, &due).await, 400, "RepoNotFound");
    let (st, body) = repo_status(&s, &back).await;
    assert_eq!(
        (st, &body["active"]),
        (StatusCode::OK, &json!(true)),
        "{body}"
    );
    let (st, body) = repo_status(&s, &plain).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "deactivated");

    // Nothing left to delete, however late.
    let much_later = deadline + Duration::from_secs(10 * 365 * 24 * 3600);
    assert_eq!(account_sweep::sweep(&state, much_later).await.unwrap(), 0);
}

async fn takedown(s: &Server, did: &str, applied: bool) {
    let (st, out) = s
        .admin_post(
            "/xrpc/com.atproto.admin.updateSubjectStatus",
            ADMIN,
            json!({"subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did},
                   "takedown": {"applied": applied, "ref": "case-7"}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{out}");
}

#[tokio::test]
async fn a_taken_down_account_is_kept_past_its_deadline_until_the_takedown_is_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let (s, state) = start_with_state(dir.path()).await;
    let (held, token) = account(&s, "held.test").await;
    deactivate(&s, &token, json!({"deleteAfter": "2030-01-01T00:00:00Z"})).await;
    takedown(&s, &held, true).await;
    let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000);
    assert_eq!(account_sweep::sweep(&state, later).await.unwrap(), 0);
    let (st, body) = repo_status(&s, &held).await;
    assert_eq!(
        (st, &body["status"]),
        (StatusCode::OK, &json!("takendown")),
        "{body}"
    );

    // Lifted: still deactivated and past the owner's deadline, so the next sweep deletes it.
    takedown(&s, &held, false).await;
    assert_eq!(account_sweep::sweep(&state, later).await.unwrap(), 1);
    check_error(&repo_status(&s, &held).await, 400, "RepoNotFound");
}
