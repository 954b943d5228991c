//! The `refresh_token` table: server-side state of rotating refresh tokens.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// A stored refresh token (its `jti`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The token id (`jti` claim).
    pub id: String,
    /// The account it belongs to.
    pub did: String,
    /// Unix seconds after which it is no longer accepted.
    pub expires_at: i64,
    /// The app password it was created with, if any.
    pub app_password_name: Option<String>,
    /// Set once rotated: the id of the token that replaced it.
    pub next_id: Option<String>,
}

/// Stores a new refresh token.
pub fn insert(conn: &Connection, t: &RefreshToken) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO refresh_token (id, did, expires_at, app_password_name, next_id) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            t.id,
            t.did,
            t.expires_at,
            t.app_password_name,
            t.next_id
        ])
    })
    .map_err(StoreError::unique(
        "inserting refresh token",
        "refresh token",
    ))?;
    Ok(())
}

/// The token with this id.
pub fn get(conn: &Connection, id: &str) -> Result<Option<RefreshToken>, StoreError> {
    conn.prepare_cached(
        "SELECT id, did, expires_at, app_password_name, next_id FROM refresh_token WHERE id = ?1",
    )
    .and_then(|mut st| {
        st.query_row([id], |r| {
            Ok(RefreshToken {
                id: r.get(0)?,
                did: r.get(1)?,
                expires_at: r.get(2)?,
                app_password_name: r.get(3)?,
                next_id: r.get(4)?,
            })
        })
        .optional()
    })
    .map_err(StoreError::sqlite("reading refresh token"))
}

/// Marks `id` as replaced by `next_id` and cuts its expiry to `expires_at` (the grace
/// period during which a client that lost the response may retry).
pub fn mark_rotated(
    conn: &Connection,
    id: &str,
    next_id: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE refresh_token SET next_id = ?2, expires_at = MIN(expires_at, ?3) WHERE id = ?1",
    )
    .and_then(|mut st| st.execute(params![id, next_id, expires_at]))
    .map_err(StoreError::sqlite("rotating refresh token"))?;
    Ok(())
}

/// Revokes one token; true if it existed.
pub fn delete(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM refresh_token WHERE id = ?1")
        .and_then(|mut st| st.execute([id]))
        .map_err(StoreError::sqlite("deleting refresh token"))?;
    Ok(n > 0)
}

/// Drops an account's tokens that expired before `now` (unix seconds).
pub fn delete_expired(conn: &Connection, did: &str, now: i64) -> Result<usize, StoreError> {
    conn.prepare_cached("DELETE FROM refresh_token WHERE did = ?1 AND expires_at <= ?2")
        .and_then(|mut st| st.execute(params![did, now]))
        .map_err(StoreError::sqlite("pruning refresh tokens"))
}
