//! The `reserved_signing_key` table: repo signing keys handed out by
//! `com.atproto.server.reserveSigningKey` before the account exists (a migration puts the
//! key in the DID document first), taken by createAccount for that DID.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// Stores `key` under `key_id` (a DID, or the key's own did:key) unless one is already
/// reserved there; returns the key reserved under `key_id` afterwards.
pub fn reserve(
    conn: &Connection,
    key_id: &str,
    key: &[u8],
    now: &str,
) -> Result<Vec<u8>, StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO reserved_signing_key (key_id, signing_key, created_at) \
         VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut st| st.execute(params![key_id, key, now]))
    .map_err(StoreError::sqlite("reserving a signing key"))?;
    get(conn, key_id)?.ok_or(StoreError::Corrupt {
        table: "reserved_signing_key",
        detail: format!("reservation for {key_id} vanished"),
    })
}

/// The key reserved under `key_id`.
pub fn get(conn: &Connection, key_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT signing_key FROM reserved_signing_key WHERE key_id = ?1")
        .and_then(|mut st| st.query_row([key_id], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite("reading a reserved signing key"))
}

/// Removes the reservation (the account now holds the key).
pub fn delete(conn: &Connection, key_id: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM reserved_signing_key WHERE key_id = ?1")
        .and_then(|mut st| st.execute([key_id]))
        .map_err(StoreError::sqlite("deleting a reserved signing key"))?;
    Ok(())
}
