//! The `account` table: one row per hosted account.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::StoreError;

/// A new account row.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// The account DID.
    pub did: &'a str,
    /// Lowercased handle.
    pub handle: &'a str,
    /// Email (matched case-insensitively).
    pub email: Option<&'a str>,
    /// PHC-format password hash.
    pub password_hash: Option<&'a str>,
    /// Repo signing key (secp256k1 scalar). Stored in plain form: the database file is as
    /// sensitive as the reference PDS's key files; encrypting at rest is future work.
    pub signing_key: &'a [u8],
    /// RFC 3339 creation time.
    pub created_at: &'a str,
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account DID.
    pub did: String,
    /// Lowercased handle, if any.
    pub handle: Option<String>,
    /// Email, if any.
    pub email: Option<String>,
    /// PHC-format password hash.
    pub password_hash: Option<String>,
    /// Repo signing key bytes.
    pub signing_key: Vec<u8>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// When the email was confirmed.
    pub email_confirmed_at: Option<String>,
    /// When the account was deactivated (None = active).
    pub deactivated_at: Option<String>,
    /// Takedown reference (Some = taken down).
    pub takedown_ref: Option<String>,
}

const COLUMNS: &str = "did, handle, email, password_hash, signing_key, created_at, \
                       email_confirmed_at, deactivated_at, takedown_ref";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        did: r.get(0)?,
        handle: r.get(1)?,
        email: r.get(2)?,
        password_hash: r.get(3)?,
        signing_key: r.get(4)?,
        created_at: r.get(5)?,
        email_confirmed_at: r.get(6)?,
        deactivated_at: r.get(7)?,
        takedown_ref: r.get(8)?,
    })
}

/// Inserts an account. A taken DID, handle or email is `StoreError::Conflict` naming it.
pub fn insert(conn: &Connection, a: &NewAccount<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO account (did, handle, email, password_hash, signing_key, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.did,
            a.handle,
            a.email,
            a.password_hash,
            a.signing_key,
            a.created_at
        ])
    })
    .map_err(|e| match conflicting_column(&e) {
        Some(what) => StoreError::Conflict { what },
        None => StoreError::Sqlite {
            context: "inserting account",
            source: e,
        },
    })?;
    Ok(())
}

/// Which account column a constraint error is about ("UNIQUE constraint failed: account.x").
fn conflicting_column(e: &rusqlite::Error) -> Option<&'static str> {
    let rusqlite::Error::SqliteFailure(f, msg) = e else {
        return None;
    };
    if f.code != rusqlite::ErrorCode::ConstraintViolation {
        return None;
    }
    let msg = msg.as_deref().unwrap_or("");
    Some(if msg.contains("account.handle") {
        "handle"
    } else if msg.contains("account.email") {
        "email"
    } else {
        "did"
    })
}

fn one(conn: &Connection, column: &str, value: &str) -> Result<Option<Account>, StoreError> {
    // `column` is one of our own constants below, never caller input.
    let sql = format!("SELECT {COLUMNS} FROM account WHERE {column} = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut st| st.query_row([value], from_row).optional())
        .map_err(StoreError::sqlite("reading account"))
}

/// The account with this DID.
pub fn by_did(conn: &Connection, did: &str) -> Result<Option<Account>, StoreError> {
    one(conn, "did", did)
}

/// The account with this (lowercased) handle.
pub fn by_handle(conn: &Connection, handle: &str) -> Result<Option<Account>, StoreError> {
    one(conn, "handle", handle)
}

/// The account with this email (case-insensitive).
pub fn by_email(conn: &Connection, email: &str) -> Result<Option<Account>, StoreError> {
    one(conn, "email", email)
}

/// Changes an account's handle; `Conflict { what: "handle" }` if taken.
pub fn set_handle(conn: &Connection, did: &str, handle: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET handle = ?2 WHERE did = ?1")
        .and_then(|mut st| st.execute([did, handle]))
        .map_err(|e| match conflicting_column(&e) {
            Some(what) => StoreError::Conflict { what },
            None => StoreError::Sqlite {
                context: "updating handle",
                source: e,
            },
        })?;
    Ok(n == 1)
}

/// Marks the account's current email as confirmed at `at` (RFC 3339); false if there is no
/// such account.
pub fn set_email_confirmed(conn: &Connection, did: &str, at: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET email_confirmed_at = ?2 WHERE did = ?1")
        .and_then(|mut st| st.execute([did, at]))
        .map_err(StoreError::sqlite("confirming email"))?;
    Ok(n == 1)
}
