//! The writer's contract: group commit, per-job rollback, durability before the answer.

use std::sync::mpsc;

use aerie_store::{Store, StoreError, StoreOptions, Transaction, account, invite, repo, token};

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("aerie.sqlite"), StoreOptions::default()).unwrap()
}

fn new_account<'a>(did: &'a str, handle: &'a str) -> account::NewAccount<'a> {
    account::NewAccount {
        did,
        handle,
        email: None,
        password_hash: None,
        signing_key: &[7u8; 32],
        created_at: "2026-01-01T00:00:00.000Z",
    }
}

fn insert_job(did: String) -> impl FnOnce(&Transaction<'_>) -> Result<(), StoreError> {
    move |tx| account::insert(tx, &new_account(&did, &format!("{}.test", &did[8..])))
}

/// Blocks the writer inside a job until the test says go, so that later jobs queue up.
fn hold_writer(
    store: &Store,
) -> (
    mpsc::Sender<()>,
    impl Future<Output = Result<(), StoreError>>,
) {
    let (go, wait) = mpsc::channel::<()>();
    let (started_tx, started) = mpsc::channel::<()>();
    let fut = store.write(move |_tx: &Transaction<'_>| {
        started_tx.send(()).ok();
        wait.recv().ok();
        Ok::<(), StoreError>(())
    });
    started.recv().unwrap();
    (go, fut)
}

#[tokio::test]
async fn writes_that_arrive_together_share_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (go, held) = hold_writer(&store);
    // These are queued (write() enqueues eagerly) while the writer is busy.
    let futs: Vec<_> = (0..50)
        .map(|i| store.write(insert_job(format!("did:plc:user{i:04}"))))
        .collect();
    go.send(()).unwrap();
    held.await.unwrap();
    for f in futs {
        f.await.unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.jobs, 51);
    // One transaction for the held job, one for the 50 queued behind it.
    assert_eq!(stats.transactions, 2);
    let n: i64 = store
        .read(|c| {
            c.query_row("SELECT COUNT(*) FROM account", [], |r| r.get(0))
                .map_err(StoreError::sqlite("count"))
        })
        .await
        .unwrap();
    assert_eq!(n, 50);
}

#[tokio::test]
async fn failing_job_rolls_back_alone_in_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (go, held) = hold_writer(&store);
    let a = store.write(insert_job("did:plc:aaaa".into()));
    // Writes a row, then fails: its row must vanish while its neighbours' rows stay.
    let bad = store.write(|tx: &Transaction<'_>| {
        account::insert(tx, &new_account("did:plc:bbbb", "bbbb.test"))?;
        Err::<(), _>(StoreError::Conflict { what: "test" })
    });
    let dup = store.write(|tx: &Transaction<'_>| {
        account::insert(tx, &new_account("did:plc:aaaa", "other.test"))
    });
    let c = store.write(insert_job("did:plc:cccc".into()));
    go.send(()).unwrap();
    held.await.unwrap();
    a.await.unwrap();
    assert!(matches!(
        bad.await,
        Err(StoreError::Conflict { what: "test" })
    ));
    assert!(matches!(
        dup.await,
        Err(StoreError::Conflict { what: "did" })
    ));
    c.await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.transactions, 2);
    assert_eq!(stats.failed_jobs, 2);
    let dids: Vec<String> = store
        .read(|c| {
            let mut st = c
                .prepare("SELECT did FROM account ORDER BY did")
                .map_err(StoreError::sqlite("q"))?;
            st.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(StoreError::sqlite("q"))
        })
        .await
        .unwrap();
    assert_eq!(dids, vec!["did:plc:aaaa", "did:plc:cccc"]);
}

#[tokio::test]
async fn panicking_job_is_rolled_back_and_the_writer_survives() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let r = store
        .write(|tx: &Transaction<'_>| -> Result<(), StoreError> {
            account::insert(tx, &new_account("did:plc:pppp", "pppp.test"))?;
            panic!("job bug");
        })
        .await;
    assert!(matches!(r, Err(StoreError::WriterStopped)));
    store
        .write(insert_job("did:plc:qqqq".into()))
        .await
        .unwrap();
    let got = store
        .read(|c| account::by_did(c, "did:plc:pppp"))
        .await
        .unwrap();
    assert_eq!(got, None);
}

#[tokio::test]
async fn acknowledged_writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        store
            .write(insert_job("did:plc:keep".into()))
            .await
            .unwrap();
    }
    let store = open(&dir);
    let a = store
        .read(|c| account::by_handle(c, "keep.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.did, "did:plc:keep");
    let mode: String = store
        .read(|c| {
            c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(StoreError::sqlite("q"))
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn taken_handle_and_email_are_conflicts_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(|tx: &Transaction<'_>| {
            account::insert(
                tx,
                &account::NewAccount {
                    email: Some("Alice@Example.com"),
                    ..new_account("did:plc:alice", "alice.test")
                },
            )
        })
        .await
        .unwrap();
    let r = store
        .write(|tx: &Transaction<'_>| account::insert(tx, &new_account("did:plc:x", "alice.test")))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict { what: "handle" })));
    let r = store
        .write(|tx: &Transaction<'_>| {
            account::insert(
                tx,
                &account::NewAccount {
                    email: Some("alice@example.COM"),
                    ..new_account("did:plc:y", "y.test")
                },
            )
        })
        .await;
    assert!(matches!(r, Err(StoreError::Conflict { what: "email" })));
}

#[tokio::test]
async fn invite_code_cannot_be_used_beyond_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .write(|tx: &Transaction<'_>| invite::insert(tx, "code-1", 1, "admin", "admin", "t0"))
        .await
        .unwrap();
    let usable = |s: &Store| s.read_blocking(|c| invite::is_usable(c, "code-1"));
    assert!(usable(&store).unwrap());
    store
        .write(|tx: &Transaction<'_>| invite::record_use(tx, "code-1", "did:plc:a", "t1"))
        .await
        .unwrap();
    assert!(!usable(&store).unwrap());
    assert!(
        !store
            .read_blocking(|c| invite::is_usable(c, "nope"))
            .unwrap()
    );
    let codes = store
        .read_blocking(|c| invite::for_account(c, "admin"))
        .unwrap();
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].uses.len(), 1);
}

#[tokio::test]
async fn rotated_refresh_token_expiry_only_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let t = token::RefreshToken {
        id: "jti-1".into(),
        did: "did:plc:a".into(),
        expires_at: 1_000,
        app_password_name: None,
        next_id: None,
    };
    store
        .write(move |tx: &Transaction<'_>| {
            token::insert(tx, &t)?;
            token::mark_rotated(tx, "jti-1", "jti-2", 5_000)
        })
        .await
        .unwrap();
    let got = store
        .read_blocking(|c| token::get(c, "jti-1"))
        .unwrap()
        .unwrap();
    assert_eq!(got.expires_at, 1_000);
    assert_eq!(got.next_id.as_deref(), Some("jti-2"));
}

#[tokio::test]
async fn records_list_newest_first_with_cursor_and_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let cid = aerie_data::Cid::for_cbor(b"\xa0");
    store
        .write(move |tx: &Transaction<'_>| {
            for k in ["a", "b", "c", "d"] {
                repo::put_record(tx, "did:plc:a", "app.test.post", k, &cid, "rev1")?;
            }
            repo::put_record(tx, "did:plc:a", "app.test.like", "z", &cid, "rev1")
        })
        .await
        .unwrap();
    let keys = |cursor: Option<&'static str>, reverse| {
        store
            .read_blocking(|c| {
                repo::list_records(c, "did:plc:a", "app.test.post", 2, cursor, reverse)
            })
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(None, false), ["d", "c"]);
    assert_eq!(keys(Some("c"), false), ["b", "a"]);
    assert_eq!(keys(None, true), ["a", "b"]);
    assert_eq!(keys(Some("b"), true), ["c", "d"]);
    let cols = store
        .read_blocking(|c| repo::collections(c, "did:plc:a"))
        .unwrap();
    assert_eq!(cols, ["app.test.like", "app.test.post"]);
}

#[tokio::test]
async fn blocks_since_a_rev_are_only_the_newer_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let old = aerie_data::Cid::for_cbor(b"\x01");
    let new = aerie_data::Cid::for_cbor(b"\x02");
    store
        .write(move |tx: &Transaction<'_>| {
            repo::put_blocks(tx, "did:plc:a", "3aaaaaaaaaaa2", [(old, &b"\x01"[..])])?;
            repo::put_blocks(tx, "did:plc:a", "3aaaaaaaaaaa3", [(new, &b"\x02"[..])])?;
            repo::set_root(
                tx,
                "did:plc:a",
                repo::RepoRoot {
                    commit: new,
                    rev: "3aaaaaaaaaaa3",
                    data: old,
                },
                "t",
            )
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    store
        .read_blocking(|c| {
            repo::for_each_block(c, "did:plc:a", Some("3aaaaaaaaaaa2"), |cid, _| {
                seen.push(cid);
                Ok(())
            })
        })
        .unwrap();
    assert_eq!(seen, vec![new]);
    let root = store
        .read_blocking(|c| repo::root(c, "did:plc:a"))
        .unwrap()
        .unwrap();
    assert_eq!(root.commit, new);
    assert_eq!(root.rev, "3aaaaaaaaaaa3");
}
