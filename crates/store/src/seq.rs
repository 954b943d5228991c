//! The `repo_seq` table: the firehose's durable event log.
//!
//! A seq is taken with [`next`] and written with [`append`] inside the same write job as the
//! change it announces. The writer thread runs jobs one at a time, so seqs are unique and
//! commit in increasing order: a reader that sees seq `n` sees every committed seq below it.
//!
//! Seqs come from a one-row counter (`repo_seq_counter`), not from `MAX(seq)`: the window
//! pruner ([`prune_before`]) and account deletion remove rows, and a seq a subscriber has
//! already seen must never be handed out again.

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// The seq for the next event (1 for a fresh log); call inside the write job that appends
/// it (a rolled-back job gives its seq back, so no gap is left behind).
pub fn next(conn: &Connection) -> Result<u64, StoreError> {
    conn.prepare_cached("UPDATE repo_seq_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq")
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

/// The highest seq ever committed (`None` before the first event), even when its row has
/// since been pruned or deleted: a cursor at or below it is never "in the future".
pub fn head(conn: &Connection) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT seq FROM repo_seq_counter WHERE id = 1")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)).optional())
        .map(|s| s.filter(|&s| s > 0).map(|s| s as u64))
        .map_err(StoreError::sqlite("reading the head seq"))
}

/// The lowest seq stored at or after `since` (a `sequenced_at` datetime string), i.e. the
/// oldest event inside a backfill window starting at `since`.
pub fn oldest_since(conn: &Connection, since: &str) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT MIN(seq) FROM repo_seq WHERE sequenced_at >= ?1")
        .and_then(|mut st| st.query_row([since], |r| r.get::<_, Option<i64>>(0)))
        .map(|s| s.map(|s| s.max(0) as u64))
        .map_err(StoreError::sqlite("reading the oldest seq in the window"))
}

/// Deletes up to `limit` of the oldest events sequenced before `before` (a datetime
/// string); returns how many went. The pruner calls it in bounded batches so one prune never
/// holds the writer for long.
pub fn prune_before(conn: &Connection, before: &str, limit: usize) -> Result<usize, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "DELETE FROM repo_seq WHERE seq IN \
         (SELECT seq FROM repo_seq WHERE sequenced_at < ?1 ORDER BY seq LIMIT ?2)",
    )
    .and_then(|mut st| st.execute(params![before, limit]))
    .map_err(StoreError::sqlite("pruning events"))
}

/// Events currently stored.
pub fn count(conn: &Connection) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT COUNT(*) FROM repo_seq")
        .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
        .map(|n| n.max(0) as u64)
        .map_err(StoreError::sqlite("counting events"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate::migrate(&mut conn).unwrap();
        conn
    }

    fn put(conn: &Connection, did: &str, at: &str) -> u64 {
        let n = next(conn).unwrap();
        append(conn, n, did, "#commit", b"frame", at).unwrap();
        n
    }

    #[test]
    fn seqs_start_at_one_and_increase() {
        let conn = db();
        assert_eq!(head(&conn).unwrap(), None);
        assert_eq!(put(&conn, "did:a", "2026-01-01T00:00:00.000Z"), 1);
        assert_eq!(put(&conn, "did:a", "2026-01-01T00:00:01.000Z"), 2);
        assert_eq!(head(&conn).unwrap(), Some(2));
    }

    #[test]
    fn a_seq_is_never_reused_after_its_row_is_deleted() {
        let conn = db();
        put(&conn, "did:a", "2026-01-01T00:00:00.000Z");
        put(&conn, "did:b", "2026-01-01T00:00:01.000Z");
        // Account deletion removes the DID's rows, here including the newest one.
        conn.execute("DELETE FROM repo_seq WHERE did = 'did:b'", [])
            .unwrap();
        assert_eq!(head(&conn).unwrap(), Some(2), "head survives the deletion");
        assert_eq!(put(&conn, "did:a", "2026-01-01T00:00:02.000Z"), 3);
    }

    #[test]
    fn pruning_everything_keeps_the_head_and_the_counter() {
        let conn = db();
        put(&conn, "did:a", "2026-01-01T00:00:00.000Z");
        put(&conn, "did:a", "2026-01-01T00:00:01.000Z");
        assert_eq!(
            prune_before(&conn, "2026-02-01T00:00:00.000Z", 100).unwrap(),
            2
        );
        assert_eq!(count(&conn).unwrap(), 0);
        assert_eq!(head(&conn).unwrap(), Some(2));
        assert_eq!(
            oldest_since(&conn, "2026-01-01T00:00:00.000Z").unwrap(),
            None
        );
        assert_eq!(put(&conn, "did:a", "2026-02-02T00:00:00.000Z"), 3);
    }

    #[test]
    fn prune_before_drops_only_older_rows_in_bounded_batches() {
        let conn = db();
        for i in 0..5 {
            put(&conn, "did:a", &format!("2026-01-01T00:00:0{i}.000Z"));
        }
        let cutoff = "2026-01-01T00:00:03.000Z";
        assert_eq!(prune_before(&conn, cutoff, 2).unwrap(), 2);
        assert_eq!(prune_before(&conn, cutoff, 2).unwrap(), 1);
        assert_eq!(prune_before(&conn, cutoff, 2).unwrap(), 0);
        assert_eq!(oldest(&conn).unwrap(), Some(4));
        assert_eq!(oldest_since(&conn, cutoff).unwrap(), Some(4));
        assert_eq!(
            oldest_since(&conn, "2026-01-01T00:00:04.000Z").unwrap(),
            Some(5)
        );
    }
}
