//! Account lifecycle and administration on the `account` table and everything keyed by an
//! account's DID: activation, takedown, credentials, invite rights, search, and full deletion.

use aerie_data::Cid;
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// Sets or clears `deactivated_at` (and the optional `delete_after` the owner asked for);
/// false if there is no such account.
pub fn set_deactivated(
    conn: &Connection,
    did: &str,
    deactivated_at: Option<&str>,
    delete_after: Option<&str>,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET deactivated_at = ?2, delete_after = ?3 WHERE did = ?1")
        .and_then(|mut st| st.execute(params![did, deactivated_at, delete_after]))
        .map_err(StoreError::sqlite("updating deactivation"))?;
    Ok(n == 1)
}

/// Deactivated accounts whose owner asked for deletion: `(did, delete_after)` pairs. The
/// caller compares the times, since `delete_after` is stored as the client wrote it (any
/// RFC 3339 offset), which does not sort as text. Taken-down accounts are left out: an
/// operator's takedown keeps the data for moderation until it is lifted.
pub fn scheduled_deletions(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    conn.prepare_cached(
        "SELECT did, delete_after FROM account
         WHERE deactivated_at IS NOT NULL AND delete_after IS NOT NULL
           AND takedown_ref IS NULL",
    )
    .and_then(|mut st| {
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(StoreError::sqlite("listing scheduled deletions"))
}

/// Takes blob `cid` of `did` down (Some(ref)) or lifts its takedown (None).
pub fn set_blob_takedown(
    conn: &Connection,
    did: &str,
    cid: &Cid,
    takedown_ref: Option<&str>,
) -> Result<(), StoreError> {
    let key = &cid.as_bytes()[..];
    match takedown_ref {
        Some(r) => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO blob_takedown (did, cid, takedown_ref) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![did, key, r])),
        None => conn
            .prepare_cached("DELETE FROM blob_takedown WHERE did = ?1 AND cid = ?2")
            .and_then(|mut st| st.execute(params![did, key])),
    }
    .map_err(StoreError::sqlite("updating blob takedown"))?;
    Ok(())
}

/// The takedown reference of blob `cid` of `did`, if it is taken down.
pub fn blob_takedown(
    conn: &Connection,
    did: &str,
    cid: &Cid,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT takedown_ref FROM blob_takedown WHERE did = ?1 AND cid = ?2")
        .and_then(|mut st| {
            st.query_row(params![did, &cid.as_bytes()[..]], |r| r.get(0))
                .optional()
        })
        .map_err(StoreError::sqlite("reading blob takedown"))
}

/// Takes record `collection/rkey` of `did` down (Some(ref)) or lifts its takedown (None).
/// Keyed by path, as the reference does: a rewrite of the record stays taken down.
pub fn set_record_takedown(
    conn: &Connection,
    did: &str,
    collection: &str,
    rkey: &str,
    takedown_ref: Option<&str>,
) -> Result<(), StoreError> {
    match takedown_ref {
        Some(r) => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO record_takedown (did, collection, rkey, takedown_ref) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| st.execute(params![did, collection, rkey, r])),
        None => conn
            .prepare_cached(
                "DELETE FROM record_takedown WHERE did = ?1 AND collection = ?2 AND rkey = ?3",
            )
            .and_then(|mut st| st.execute(params![did, collection, rkey])),
    }
    .map_err(StoreError::sqlite("updating record takedown"))?;
    Ok(())
}

/// The takedown reference of record `collection/rkey` of `did`, if it is taken down.
pub fn record_takedown(
    conn: &Connection,
    did: &str,
    collection: &str,
    rkey: &str,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(
        "SELECT takedown_ref FROM record_takedown WHERE did = ?1 AND collection = ?2 AND rkey = ?3",
    )
    .and_then(|mut st| {
        st.query_row(params![did, collection, rkey], |r| r.get(0))
            .optional()
    })
    .map_err(StoreError::sqlite("reading record takedown"))
}

/// Sets (Some) or lifts (None) a takedown; false if there is no such account.
pub fn set_takedown(
    conn: &Connection,
    did: &str,
    takedown_ref: Option<&str>,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET takedown_ref = ?2 WHERE did = ?1")
        .and_then(|mut st| st.execute(params![did, takedown_ref]))
        .map_err(StoreError::sqlite("updating takedown"))?;
    Ok(n == 1)
}

/// Changes the email (unconfirming it); `Conflict { what: "email" }` if another account
/// has it.
pub fn set_email(conn: &Connection, did: &str, email: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET email = ?2, email_confirmed_at = NULL WHERE did = ?1")
        .and_then(|mut st| st.execute([did, email]))
        .map_err(StoreError::unique("updating email", "email"))?;
    Ok(n == 1)
}

/// Replaces the password hash and revokes every refresh token of the account, so sessions
/// opened with the old password end.
pub fn set_password(conn: &Connection, did: &str, password_hash: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET password_hash = ?2 WHERE did = ?1")
        .and_then(|mut st| st.execute([did, password_hash]))
        .map_err(StoreError::sqlite("updating password"))?;
    revoke_sessions(conn, did)?;
    Ok(n == 1)
}

/// Deletes every refresh token of the account.
pub fn revoke_sessions(conn: &Connection, did: &str) -> Result<usize, StoreError> {
    conn.prepare_cached("DELETE FROM refresh_token WHERE did = ?1")
        .and_then(|mut st| st.execute([did]))
        .map_err(StoreError::sqlite("revoking refresh tokens"))
}

/// Allows or forbids the account to create invite codes.
pub fn set_invites_disabled(
    conn: &Connection,
    did: &str,
    disabled: bool,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("UPDATE account SET invites_disabled = ?2 WHERE did = ?1")
        .and_then(|mut st| st.execute(params![did, disabled]))
        .map_err(StoreError::sqlite("updating invite rights"))?;
    Ok(n == 1)
}

/// Administrative details the `Account` row type does not carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminDetails {
    /// Whether the account may create invite codes.
    pub invites_disabled: bool,
    /// When the owner asked the account to be deleted after deactivation.
    pub delete_after: Option<String>,
    /// The invite code the account signed up with.
    pub invited_by: Option<String>,
}

/// The administrative details of an account, if it exists.
pub fn admin_details(conn: &Connection, did: &str) -> Result<Option<AdminDetails>, StoreError> {
    let row = conn
        .prepare_cached("SELECT invites_disabled, delete_after FROM account WHERE did = ?1")
        .and_then(|mut st| {
            st.query_row([did], |r| {
                Ok((r.get::<_, bool>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()
        })
        .map_err(StoreError::sqlite("reading account details"))?;
    let Some((invites_disabled, delete_after)) = row else {
        return Ok(None);
    };
    let invited_by = conn
        .prepare_cached("SELECT code FROM invite_code_use WHERE used_by = ?1 LIMIT 1")
        .and_then(|mut st| st.query_row([did], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite("reading invite use"))?;
    Ok(Some(AdminDetails {
        invites_disabled,
        delete_after,
        invited_by,
    }))
}

/// Which accounts a search matches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Search<'a> {
    /// Email prefix (case-insensitive).
    pub email: Option<&'a str>,
    /// Handle prefix.
    pub handle: Option<&'a str>,
    /// Only DIDs after this one (the previous page's cursor).
    pub after_did: Option<&'a str>,
}

/// Escapes `%`, `_` and `\` so a prefix is matched literally by `LIKE ... ESCAPE '\'`.
fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// DIDs of matching accounts in DID order, at most `limit`.
pub fn search(conn: &Connection, q: Search<'_>, limit: u32) -> Result<Vec<String>, StoreError> {
    let email = q.email.map(like_prefix);
    let handle = q.handle.map(|h| like_prefix(&h.to_ascii_lowercase()));
    conn.prepare_cached(
        "SELECT did FROM account WHERE did > ?1 \
         AND (?2 IS NULL OR email LIKE ?2 ESCAPE '\\') \
         AND (?3 IS NULL OR handle LIKE ?3 ESCAPE '\\') \
         ORDER BY did LIMIT ?4",
    )
    .and_then(|mut st| {
        st.query_map(
            params![q.after_did.unwrap_or(""), email, handle, i64::from(limit)],
            |r| r.get(0),
        )?
        .collect()
    })
    .map_err(StoreError::sqlite("searching accounts"))
}

/// Counts used by checkAccountStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RepoCounts {
    /// Blocks stored for the repo.
    pub blocks: i64,
    /// Records indexed.
    pub records: i64,
    /// Distinct blobs the records reference.
    pub expected_blobs: i64,
    /// Blobs stored for the account.
    pub imported_blobs: i64,
}

/// The repo and blob counts of an account.
pub fn repo_counts(conn: &Connection, did: &str) -> Result<RepoCounts, StoreError> {
    let count = |sql: &str| -> Result<i64, StoreError> {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.query_row([did], |r| r.get(0)))
            .map_err(StoreError::sqlite("counting repo contents"))
    };
    Ok(RepoCounts {
        blocks: count("SELECT COUNT(*) FROM repo_block WHERE did = ?1")?,
        records: count("SELECT COUNT(*) FROM record WHERE did = ?1")?,
        expected_blobs: count("SELECT COUNT(DISTINCT blob_cid) FROM record_blob WHERE did = ?1")?,
        imported_blobs: count("SELECT COUNT(*) FROM blob WHERE did = ?1")?,
    })
}

/// Deletes the account and everything stored under its DID: repo blocks, root, records,
/// blob metadata and references, sessions, app passwords, email tokens, preferences and its
/// firehose events (the caller appends the final `#account` deleted event afterwards, as the
/// reference keeps only that one). Invite codes it used stay, so their use counts hold.
pub fn delete_account(conn: &Connection, did: &str) -> Result<bool, StoreError> {
    for sql in [
        "DELETE FROM repo_block WHERE did = ?1",
        "DELETE FROM repo_root WHERE did = ?1",
        "DELETE FROM record WHERE did = ?1",
        "DELETE FROM record_blob WHERE did = ?1",
        "DELETE FROM blob WHERE did = ?1",
        "DELETE FROM blob_takedown WHERE did = ?1",
        "DELETE FROM record_takedown WHERE did = ?1",
        "DELETE FROM refresh_token WHERE did = ?1",
        "DELETE FROM app_password WHERE did = ?1",
        "DELETE FROM email_token WHERE did = ?1",
        "DELETE FROM account_pref WHERE did = ?1",
        "DELETE FROM repo_seq WHERE did = ?1",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute([did]))
            .map_err(StoreError::sqlite("deleting account data"))?;
    }
    let n = conn
        .prepare_cached("DELETE FROM account WHERE did = ?1")
        .and_then(|mut st| st.execute([did]))
        .map_err(StoreError::sqlite("deleting account"))?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_wildcards_in_a_prefix_are_literal() {
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(like_prefix(""), "%");
    }
}
