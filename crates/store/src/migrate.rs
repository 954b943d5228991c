//! Numbered schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each entry runs once, in order, inside one transaction with the version bump. Never edit
//! a shipped migration: append a new one.

use rusqlite::Connection;

use crate::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, sessions, invites, repositories.
    r#"
    CREATE TABLE account (
        did            TEXT PRIMARY KEY,
        handle         TEXT UNIQUE,
        email          TEXT UNIQUE COLLATE NOCASE,
        password_hash  TEXT,
        signing_key    BLOB NOT NULL,
        created_at     TEXT NOT NULL,
        email_confirmed_at TEXT,
        deactivated_at TEXT,
        takedown_ref   TEXT,
        invites_disabled INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE refresh_token (
        id          TEXT PRIMARY KEY,
        did         TEXT NOT NULL,
        expires_at  INTEGER NOT NULL,
        app_password_name TEXT,
        next_id     TEXT
    ) STRICT;
    CREATE INDEX refresh_token_did ON refresh_token(did);

    CREATE TABLE invite_code (
        code            TEXT PRIMARY KEY,
        available_uses  INTEGER NOT NULL,
        disabled        INTEGER NOT NULL DEFAULT 0,
        for_account     TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_at      TEXT NOT NULL
    ) STRICT;
    CREATE INDEX invite_code_for_account ON invite_code(for_account);

    CREATE TABLE invite_code_use (
        code     TEXT NOT NULL,
        used_by  TEXT NOT NULL,
        used_at  TEXT NOT NULL,
        PRIMARY KEY (code, used_by)
    ) STRICT;

    CREATE TABLE repo_root (
        did       TEXT PRIMARY KEY,
        cid       BLOB NOT NULL,
        rev       TEXT NOT NULL,
        data_cid  BLOB NOT NULL,
        indexed_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE repo_block (
        did   TEXT NOT NULL,
        cid   BLOB NOT NULL,
        rev   TEXT NOT NULL,
        bytes BLOB NOT NULL,
        PRIMARY KEY (did, cid)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX repo_block_rev ON repo_block(did, rev);

    CREATE TABLE record (
        did        TEXT NOT NULL,
        collection TEXT NOT NULL,
        rkey       TEXT NOT NULL,
        cid        BLOB NOT NULL,
        rev        TEXT NOT NULL,
        PRIMARY KEY (did, collection, rkey)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 2: blobs (metadata; bytes live in the blob store) and which records reference them.
    r#"
    CREATE TABLE blob (
        did        TEXT NOT NULL,
        cid        BLOB NOT NULL,
        mime_type  TEXT NOT NULL,
        size       INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (did, cid)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE record_blob (
        did        TEXT NOT NULL,
        blob_cid   BLOB NOT NULL,
        record_path TEXT NOT NULL,
        PRIMARY KEY (did, blob_cid, record_path)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX record_blob_path ON record_blob(did, record_path);
    "#,
    // 3: the firehose sequencer log: encoded frames, seq assigned in the write transaction.
    r#"
    CREATE TABLE repo_seq (
        seq          INTEGER PRIMARY KEY,
        did          TEXT NOT NULL,
        event_type   TEXT NOT NULL,
        frame        BLOB NOT NULL,
        sequenced_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX repo_seq_did ON repo_seq(did);
    "#,
    // 4: app passwords, email tokens (account deletion etc.), requested deletion date.
    r#"
    CREATE TABLE app_password (
        did           TEXT NOT NULL,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        privileged    INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        PRIMARY KEY (did, name)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE email_token (
        purpose      TEXT NOT NULL,
        did          TEXT NOT NULL,
        token        TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        PRIMARY KEY (purpose, did)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX email_token_did ON email_token(did);

    ALTER TABLE account ADD COLUMN delete_after TEXT;
    "#,
    // 5: the firehose's seq counter, kept apart from repo_seq so pruning old events or
    // deleting an account's events can never bring a seq back; index for the window pruner.
    r#"
    CREATE TABLE repo_seq_counter (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
    ) STRICT;
    INSERT INTO repo_seq_counter (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM repo_seq;
    CREATE INDEX repo_seq_sequenced_at ON repo_seq(sequenced_at);
    "#,
    // 6: signing keys reserved for incoming accounts (reserveSigningKey), by DID (or by the
    // key's own did:key when no DID was given), taken by createAccount.
    r#"
    CREATE TABLE reserved_signing_key (
        key_id      TEXT PRIMARY KEY,
        signing_key BLOB NOT NULL,
        created_at  TEXT NOT NULL
    ) STRICT;
    "#,
    // Takedowns of single blobs and records (com.atproto.admin.updateSubjectStatus). Kept
    // apart from `blob` and `record` so rewriting those rows cannot drop a takedown.
    r#"
    CREATE TABLE blob_takedown (
        did          TEXT NOT NULL,
        cid          BLOB NOT NULL,
        takedown_ref TEXT NOT NULL,
        PRIMARY KEY (did, cid)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE record_takedown (
        did          TEXT NOT NULL,
        collection   TEXT NOT NULL,
        rkey         TEXT NOT NULL,
        takedown_ref TEXT NOT NULL,
        PRIMARY KEY (did, collection, rkey)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 8: app preferences (app.bsky.actor.putPreferences), one row per preference in the
    // order the client sent them.
    r#"
    CREATE TABLE account_pref (
        did        TEXT NOT NULL,
        position   INTEGER NOT NULL,
        name       TEXT NOT NULL,
        value_json TEXT NOT NULL,
        PRIMARY KEY (did, position)
    ) STRICT, WITHOUT ROWID;
    "#,
];

/// The schema version this build creates.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`]; refuses a database from a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(StoreError::sqlite("reading user_version"))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction()
            .map_err(StoreError::sqlite("starting migration"))?;
        tx.execute_batch(sql)
            .map_err(StoreError::sqlite("running migration"))?;
        // PRAGMA takes no bound parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(StoreError::sqlite("setting user_version"))?;
        tx.commit()
            .map_err(StoreError::sqlite("committing migration"))?;
    }
    Ok(())
}
