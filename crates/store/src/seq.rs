//! The `repo_seq` table: the firehose's durable event log.
//!
//! A seq is taken with [`next`] and written with [`append`] inside the same write job as the
//! change it announces. The writer thread runs jobs one at a time, so `MAX(seq) + 1` is
//! unique and seqs commit in increasing order: a reader that sees seq `n` sees every
//! committed seq below it.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// The seq for the next event (1 for an empty log).
pub fn next(conn: &Connection) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM repo_seq")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
        .map(|s| s.max(1) as u64)
        .map_err(StoreError::sqlite("taking the next seq"))
}

/// Stores an encoded frame under `seq`.
pub fn append(
    conn: &Connection,
    seq: u64,
    did: &str,
    event_type: &str,
    frame: &[u8],
    now: &str,
) -> Result<(), StoreError> {
    let seq = i64::try_from(seq).map_err(|_| StoreError::Corrupt {
        table: "repo_seq",
        detail: format!("seq {seq} out of range"),
    })?;
    conn.prepare_cached(
        "INSERT INTO repo_seq (seq, did, event_type, frame, sequenced_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| st.execute(params![seq, did, event_type, frame, now]))
    .map_err(StoreError::unique("appending event", "seq"))?;
    Ok(())
}

/// The highest committed seq.
pub fn head(conn: &Connection) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT MAX(seq) FROM repo_seq")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, Option<i64>>(0)))
        .map(|s| s.map(|s| s.max(0) as u64))
        .map_err(StoreError::sqlite("reading the head seq"))
}

/// The lowest seq still stored (the backfill window is everything kept).
pub fn oldest(conn: &Connection) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT MIN(seq) FROM repo_seq")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, Option<i64>>(0)))
        .map(|s| s.map(|s| s.max(0) as u64))
        .map_err(StoreError::sqlite("reading the oldest seq"))
}

/// Up to `limit` `(seq, frame)` pairs after `after`, in seq order.
pub fn read_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.prepare_cached("SELECT seq, frame FROM repo_seq WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .and_then(|mut st| {
            st.query_map(params![after, limit], |r| {
                Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect()
        })
        .map_err(StoreError::sqlite("reading events"))
}

/// The frame stored under `seq`.
pub fn get(conn: &Connection, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    conn.prepare_cached("SELECT frame FROM repo_seq WHERE seq = ?1")
        .and_then(|mut st| st.query_row([seq], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite("reading event"))
}
