//! Account lifecycle tables: app passwords, email tokens, search, full deletion.

use aerie_store::{
    Store, StoreError, StoreOptions, Transaction, account, app_password, email_token, lifecycle,
    token,
};

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("aerie.sqlite"), StoreOptions::default()).unwrap()
}

fn seed(tx: &Transaction<'_>, did: &str, handle: &str, email: &str) -> Result<(), StoreError> {
    account::insert(
        tx,
        &account::NewAccount {
            did,
            handle,
            email: Some(email),
            password_hash: Some("hash"),
            signing_key: &[7u8; 32],
            created_at: "2026-01-01T00:00:00.000Z",
        },
    )?;
    token::insert(
        tx,
        &token::RefreshToken {
            id: format!("{did}-main"),
            did: did.to_owned(),
            expires_at: i64::MAX,
            app_password_name: None,
            next_id: None,
        },
    )?;
    token::insert(
        tx,
        &token::RefreshToken {
            id: format!("{did}-app"),
            did: did.to_owned(),
            expires_at: i64::MAX,
            app_password_name: Some("phone".to_owned()),
            next_id: None,
        },
    )?;
    app_password::insert(
        tx,
        did,
        &app_password::AppPassword {
            name: "phone".to_owned(),
            password_hash: "h".to_owned(),
            privileged: false,
            created_at: "2026-01-01T00:00:00.000Z".to_owned(),
        },
    )?;
    email_token::put(tx, "delete_account", did, "ABCDE-FGHIJ", 1)
}

#[tokio::test]
async fn revoking_an_app_password_revokes_only_its_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(|tx: &Transaction<'_>| seed(tx, "did:plc:aaa", "a.test", "a@x.com"))
        .await
        .unwrap();
    let dup = store
        .write(|tx: &Transaction<'_>| {
            app_password::insert(
                tx,
                "did:plc:aaa",
                &app_password::AppPassword {
                    name: "phone".to_owned(),
                    password_hash: "h2".to_owned(),
                    privileged: true,
                    created_at: "2026-01-02T00:00:00.000Z".to_owned(),
                },
            )
        })
        .await;
    assert!(matches!(
        dup,
        Err(StoreError::Conflict {
            what: "app password"
        })
    ));
    let revoked = store
        .write(|tx: &Transaction<'_>| app_password::revoke(tx, "did:plc:aaa", "phone"))
        .await
        .unwrap();
    assert!(revoked);
    let (app, main, list) = store
        .read(|c| -> Result<_, StoreError> {
            Ok((
                token::get(c, "did:plc:aaa-app")?,
                token::get(c, "did:plc:aaa-main")?,
                app_password::list(c, "did:plc:aaa")?,
            ))
        })
        .await
        .unwrap();
    assert!(app.is_none());
    assert!(main.is_some());
    assert!(list.is_empty());
}

#[tokio::test]
async fn search_matches_prefixes_literally_in_did_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(|tx: &Transaction<'_>| {
            seed(tx, "did:plc:bbb", "al_x.test", "Al@x.com")?;
            seed(tx, "did:plc:aaa", "alice.test", "alice@x.com")?;
            seed(tx, "did:plc:ccc", "bob.test", "bob@x.com")
        })
        .await
        .unwrap();
    let search =
        |q: lifecycle::Search<'static>, limit| store.read(move |c| lifecycle::search(c, q, limit));
    let al = lifecycle::Search {
        handle: Some("al"),
        ..Default::default()
    };
    assert_eq!(
        search(al, 10).await.unwrap(),
        ["did:plc:aaa", "did:plc:bbb"]
    );
    // `_` is not a wildcard.
    let underscore = lifecycle::Search {
        handle: Some("al_"),
        ..Default::default()
    };
    assert_eq!(search(underscore, 10).await.unwrap(), ["did:plc:bbb"]);
    let email = lifecycle::Search {
        email: Some("AL"),
        ..Default::default()
    };
    assert_eq!(
        search(email, 10).await.unwrap(),
        ["did:plc:aaa", "did:plc:bbb"]
    );
    let page2 = lifecycle::Search {
        after_did: Some("did:plc:aaa"),
        ..Default::default()
    };
    assert_eq!(search(page2, 1).await.unwrap(), ["did:plc:bbb"]);
}

#[tokio::test]
async fn deleting_an_account_leaves_other_accounts_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(|tx: &Transaction<'_>| {
            seed(tx, "did:plc:aaa", "a.test", "a@x.com")?;
            seed(tx, "did:plc:bbb", "b.test", "b@x.com")
        })
        .await
        .unwrap();
    let deleted = store
        .write(|tx: &Transaction<'_>| lifecycle::delete_account(tx, "did:plc:aaa"))
        .await
        .unwrap();
    assert!(deleted);
    let gone = store
        .write(|tx: &Transaction<'_>| lifecycle::delete_account(tx, "did:plc:aaa"))
        .await
        .unwrap();
    assert!(!gone);
    let state = |did: &'static str| {
        store.read(move |c| -> Result<_, StoreError> {
            Ok((
                account::by_did(c, did)?.is_some(),
                token::get(c, &format!("{did}-main"))?.is_some(),
                app_password::list(c, did)?.len(),
                email_token::get(c, "delete_account", did)?.is_some(),
            ))
        })
    };
    assert_eq!(
        state("did:plc:aaa").await.unwrap(),
        (false, false, 0, false)
    );
    assert_eq!(state("did:plc:bbb").await.unwrap(), (true, true, 1, true));
}
