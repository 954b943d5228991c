//! The `account_pref` table: an account's app preferences, each a JSON object named by its
//! `$type`, kept in the order the client sent them (`app.bsky.actor.putPreferences` replaces
//! them as a whole).

use rusqlite::{Connection, params};

use crate::StoreError;

/// One preference: its `$type` and its JSON text.
pub type Pref = (String, String);

/// The account's preferences, in order.
pub fn list(conn: &Connection, did: &str) -> Result<Vec<Pref>, StoreError> {
    conn.prepare_cached(
        "SELECT name, value_json FROM account_pref WHERE did = ?1 ORDER BY position",
    )
    .and_then(|mut st| {
        st.query_map([did], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(StoreError::sqlite("reading preferences"))
}

/// Replace the account's preferences with `prefs`, in order.
pub fn replace(conn: &Connection, did: &str, prefs: &[Pref]) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM account_pref WHERE did = ?1")
        .and_then(|mut st| st.execute([did]))
        .map_err(StoreError::sqlite("replacing preferences"))?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO account_pref (did, position, name, value_json) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(StoreError::sqlite("replacing preferences"))?;
    for (i, (name, json)) in prefs.iter().enumerate() {
        insert
            .execute(params![did, i as i64, name, json])
            .map_err(StoreError::sqlite("replacing preferences"))?;
    }
    Ok(())
}
