//! The `email_token` table: one outstanding token per (purpose, account), e.g. the code an
//! account deletion must quote. Requesting a new token replaces the old one.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    /// The token text the user must send back.
    pub token: String,
    /// Unix seconds when it was requested (tokens expire relative to this).
    pub requested_at: i64,
}

/// Stores `token` for `(purpose, did)`, replacing any earlier one.
pub fn put(
    conn: &Connection,
    purpose: &str,
    did: &str,
    token: &str,
    requested_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO email_token (purpose, did, token, requested_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (purpose, did) DO UPDATE SET token = ?3, requested_at = ?4",
    )
    .and_then(|mut st| st.execute(params![purpose, did, token, requested_at]))
    .map_err(StoreError::sqlite("storing email token"))?;
    Ok(())
}

/// The outstanding token for `(purpose, did)`.
pub fn get(conn: &Connection, purpose: &str, did: &str) -> Result<Option<EmailToken>, StoreError> {
    conn.prepare_cached(
        "SELECT token, requested_at FROM email_token WHERE purpose = ?1 AND did = ?2",
    )
    .and_then(|mut st| {
        st.query_row([purpose, did], |r| {
            Ok(EmailToken {
                token: r.get(0)?,
                requested_at: r.get(1)?,
            })
        })
        .optional()
    })
    .map_err(StoreError::sqlite("reading email token"))
}

/// Deletes the token for `(purpose, did)` (once used).
pub fn delete(conn: &Connection, purpose: &str, did: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM email_token WHERE purpose = ?1 AND did = ?2")
        .and_then(|mut st| st.execute([purpose, did]))
        .map_err(StoreError::sqlite("deleting email token"))?;
    Ok(())
}

/// The account holding `token` for `purpose` (password reset is keyed by the token alone),
/// with the stored token.
pub fn find_by_token(
    conn: &Connection,
    purpose: &str,
    token: &str,
) -> Result<Option<(String, EmailToken)>, StoreError> {
    conn.prepare_cached(
        "SELECT did, token, requested_at FROM email_token WHERE purpose = ?1 AND token = ?2",
    )
    .and_then(|mut st| {
        st.query_row([purpose, token], |r| {
            Ok((
                r.get(0)?,
                EmailToken {
                    token: r.get(1)?,
                    requested_at: r.get(2)?,
                },
            ))
        })
        .optional()
    })
    .map_err(StoreError::sqlite("finding email token"))
}
