//! The `invite_code` and `invite_code_use` tables.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// An invite code with its uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteCode {
    /// The code itself.
    pub code: String,
    /// How many accounts may use it.
    pub available: i64,
    /// Disabled by an admin.
    pub disabled: bool,
    /// The account it was issued to (`admin` for admin-issued codes).
    pub for_account: String,
    /// Who created it.
    pub created_by: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Accounts that used it.
    pub uses: Vec<InviteUse>,
}

/// One use of an invite code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteUse {
    /// The DID that signed up with it.
    pub used_by: String,
    /// RFC 3339 time of use.
    pub used_at: String,
}

/// Stores a new code.
pub fn insert(
    conn: &Connection,
    code: &str,
    available: i64,
    for_account: &str,
    created_by: &str,
    created_at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO invite_code (code, available_uses, for_account, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            code,
            available,
            for_account,
            created_by,
            created_at
        ])
    })
    .map_err(StoreError::unique("inserting invite code", "invite code"))?;
    Ok(())
}

/// Whether `code` exists, is enabled and has uses left.
pub fn is_usable(conn: &Connection, code: &str) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT c.available_uses > (SELECT COUNT(*) FROM invite_code_use u WHERE u.code = c.code) \
         AND c.disabled = 0 FROM invite_code c WHERE c.code = ?1",
    )
    .and_then(|mut st| st.query_row([code], |r| r.get::<_, bool>(0)).optional())
    .map(|o| o.unwrap_or(false))
    .map_err(StoreError::sqlite("checking invite code"))
}

/// Records a use. Call inside the same write job as the account insert, after
/// [`is_usable`], so two signups cannot both take the last use.
pub fn record_use(
    conn: &Connection,
    code: &str,
    used_by: &str,
    used_at: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO invite_code_use (code, used_by, used_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute([code, used_by, used_at]))
        .map_err(StoreError::unique("recording invite use", "invite use"))?;
    Ok(())
}

/// Codes issued to an account, newest first, with their uses.
pub fn for_account(conn: &Connection, did: &str) -> Result<Vec<InviteCode>, StoreError> {
    let err = StoreError::sqlite("listing invite codes");
    let mut codes = conn
        .prepare_cached(
            "SELECT code, available_uses, disabled, for_account, created_by, created_at \
             FROM invite_code WHERE for_account = ?1 ORDER BY created_at DESC, code",
        )
        .and_then(|mut st| {
            st.query_map([did], |r| {
                Ok(InviteCode {
                    code: r.get(0)?,
                    available: r.get(1)?,
                    disabled: r.get(2)?,
                    for_account: r.get(3)?,
                    created_by: r.get(4)?,
                    created_at: r.get(5)?,
                    uses: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(err)?;
    for c in &mut codes {
        c.uses = conn
            .prepare_cached(
                "SELECT used_by, used_at FROM invite_code_use WHERE code = ?1 ORDER BY used_at",
            )
            .and_then(|mut st| {
                st.query_map([&c.code], |r| {
                    Ok(InviteUse {
                        used_by: r.get(0)?,
                        used_at: r.get(1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(StoreError::sqlite("listing invite uses"))?;
    }
    Ok(codes)
}
