//! The `app_password` table: named passwords an account hands to apps instead of its main
//! password. Only argon2 hashes are stored; revoking one also revokes the refresh tokens
//! issued for it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// A stored app password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    /// Its name, unique per account.
    pub name: String,
    /// PHC-format argon2 hash.
    pub password_hash: String,
    /// Privileged passwords get the `com.atproto.appPassPrivileged` scope.
    pub privileged: bool,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Stores a new app password; a name the account already uses is `Conflict { what:
/// "app password" }`.
pub fn insert(conn: &Connection, did: &str, p: &AppPassword) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO app_password (did, name, password_hash, privileged, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            did,
            p.name,
            p.password_hash,
            p.privileged,
            p.created_at
        ])
    })
    .map_err(StoreError::unique("inserting app password", "app password"))?;
    Ok(())
}

/// An account's app passwords, oldest first.
pub fn list(conn: &Connection, did: &str) -> Result<Vec<AppPassword>, StoreError> {
    conn.prepare_cached(
        "SELECT name, password_hash, privileged, created_at FROM app_password \
         WHERE did = ?1 ORDER BY created_at, name",
    )
    .and_then(|mut st| {
        st.query_map([did], |r| {
            Ok(AppPassword {
                name: r.get(0)?,
                password_hash: r.get(1)?,
                privileged: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect()
    })
    .map_err(StoreError::sqlite("listing app passwords"))
}

/// One app password by name.
pub fn get(conn: &Connection, did: &str, name: &str) -> Result<Option<AppPassword>, StoreError> {
    conn.prepare_cached(
        "SELECT name, password_hash, privileged, created_at FROM app_password \
         WHERE did = ?1 AND name = ?2",
    )
    .and_then(|mut st| {
        st.query_row([did, name], |r| {
            Ok(AppPassword {
                name: r.get(0)?,
                password_hash: r.get(1)?,
                privileged: r.get(2)?,
                created_at: r.get(3)?,
            })
        })
        .optional()
    })
    .map_err(StoreError::sqlite("reading app password"))
}

/// Deletes an app password and every refresh token issued for it; true if it existed.
pub fn revoke(conn: &Connection, did: &str, name: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM refresh_token WHERE did = ?1 AND app_password_name = ?2")
        .and_then(|mut st| st.execute([did, name]))
        .map_err(StoreError::sqlite("revoking app password tokens"))?;
    let n = conn
        .prepare_cached("DELETE FROM app_password WHERE did = ?1 AND name = ?2")
        .and_then(|mut st| st.execute([did, name]))
        .map_err(StoreError::sqlite("deleting app password"))?;
    Ok(n > 0)
}
