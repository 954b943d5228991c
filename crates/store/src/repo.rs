//! Repository tables: `repo_root` (current commit per account), `repo_block` (every block of
//! every repo, keyed by account and CID) and `record` (the record index: collection/rkey ->
//! record CID).

use aerie_data::Cid;
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// The current head of one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoRoot<'a> {
    /// CID of the signed commit block.
    pub commit: Cid,
    /// The commit's `rev` (a TID).
    pub rev: &'a str,
    /// CID of the MST root (`data` in the commit).
    pub data: Cid,
}

/// Owned form of [`RepoRoot`], as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoot {
    /// CID of the signed commit block.
    pub commit: Cid,
    /// The commit's `rev`.
    pub rev: String,
    /// CID of the MST root.
    pub data: Cid,
}

fn cid_column(bytes: &[u8], table: &'static str) -> Result<Cid, StoreError> {
    Cid::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

/// The current root of `did`'s repo.
pub fn root(conn: &Connection, did: &str) -> Result<Option<StoredRoot>, StoreError> {
    let row = conn
        .prepare_cached("SELECT cid, rev, data_cid FROM repo_root WHERE did = ?1")
        .and_then(|mut st| {
            st.query_row([did], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .optional()
        })
        .map_err(StoreError::sqlite("reading repo root"))?;
    row.map(|(c, rev, d)| {
        Ok(StoredRoot {
            commit: cid_column(&c, "repo_root")?,
            rev,
            data: cid_column(&d, "repo_root")?,
        })
    })
    .transpose()
}

/// Sets (or moves) `did`'s repo root.
pub fn set_root(
    conn: &Connection,
    did: &str,
    root: RepoRoot<'_>,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO repo_root (did, cid, rev, data_cid, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT(did) DO UPDATE SET cid = excluded.cid, rev = excluded.rev, \
         data_cid = excluded.data_cid, indexed_at = excluded.indexed_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            did,
            &root.commit.as_bytes()[..],
            root.rev,
            &root.data.as_bytes()[..],
            now
        ])
    })
    .map_err(StoreError::sqlite("writing repo root"))?;
    Ok(())
}

/// Stores blocks created by the commit `rev`; blocks already present are kept as they are
/// (same CID, same bytes).
pub fn put_blocks<'b>(
    conn: &Connection,
    did: &str,
    rev: &str,
    blocks: impl IntoIterator<Item = (Cid, &'b [u8])>,
) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO repo_block (did, cid, rev, bytes) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(StoreError::sqlite("preparing block insert"))?;
    for (cid, bytes) in blocks {
        st.execute(params![did, &cid.as_bytes()[..], rev, bytes])
            .map_err(StoreError::sqlite("inserting block"))?;
    }
    Ok(())
}

/// One block of `did`'s repo.
pub fn block(conn: &Connection, did: &str, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT bytes FROM repo_block WHERE did = ?1 AND cid = ?2")
        .and_then(|mut st| {
            st.query_row(params![did, &cid.as_bytes()[..]], |r| r.get(0))
                .optional()
        })
        .map_err(StoreError::sqlite("reading block"))
}

/// Deletes blocks no longer reachable from the repo (after a commit replaced them).
pub fn delete_blocks<'b>(
    conn: &Connection,
    did: &str,
    cids: impl IntoIterator<Item = &'b Cid>,
) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached("DELETE FROM repo_block WHERE did = ?1 AND cid = ?2")
        .map_err(StoreError::sqlite("preparing block delete"))?;
    for cid in cids {
        st.execute(params![did, &cid.as_bytes()[..]])
            .map_err(StoreError::sqlite("deleting block"))?;
    }
    Ok(())
}

/// Every block of `did`'s repo, optionally only those written after `since` (a rev), in
/// CID order. Calls `f` per block so large repos are not held in memory twice.
pub fn for_each_block(
    conn: &Connection,
    did: &str,
    since: Option<&str>,
    mut f: impl FnMut(Cid, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT cid, bytes FROM repo_block WHERE did = ?1 AND rev > ?2 ORDER BY cid",
        )
        .map_err(StoreError::sqlite("preparing block scan"))?;
    let mut rows = st
        .query(params![did, since.unwrap_or("")])
        .map_err(StoreError::sqlite("scanning blocks"))?;
    while let Some(row) = rows.next().map_err(StoreError::sqlite("scanning blocks"))? {
        let cid = row
            .get_ref(0)
            .and_then(|v| v.as_blob().map_err(Into::into))
            .map_err(StoreError::sqlite("reading block cid"))?;
        let cid = cid_column(cid, "repo_block")?;
        let bytes = row
            .get_ref(1)
            .and_then(|v| v.as_blob().map_err(Into::into))
            .map_err(StoreError::sqlite("reading block bytes"))?;
        f(cid, bytes)?;
    }
    Ok(())
}

/// Indexes (or re-points) a record.
pub fn put_record(
    conn: &Connection,
    did: &str,
    collection: &str,
    rkey: &str,
    cid: &Cid,
    rev: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO record (did, collection, rkey, cid, rev) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT(did, collection, rkey) DO UPDATE SET cid = excluded.cid, rev = excluded.rev",
    )
    .and_then(|mut st| st.execute(params![did, collection, rkey, &cid.as_bytes()[..], rev]))
    .map_err(StoreError::sqlite("indexing record"))?;
    Ok(())
}

/// Removes a record from the index; true if it was there.
pub fn delete_record(
    conn: &Connection,
    did: &str,
    collection: &str,
    rkey: &str,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM record WHERE did = ?1 AND collection = ?2 AND rkey = ?3")
        .and_then(|mut st| st.execute([did, collection, rkey]))
        .map_err(StoreError::sqlite("unindexing record"))?;
    Ok(n > 0)
}

/// The CID of one record.
pub fn record_cid(
    conn: &Connection,
    did: &str,
    collection: &str,
    rkey: &str,
) -> Result<Option<Cid>, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT cid FROM record WHERE did = ?1 AND collection = ?2 AND rkey = ?3")
        .and_then(|mut st| {
            st.query_row([did, collection, rkey], |r| r.get(0))
                .optional()
        })
        .map_err(StoreError::sqlite("reading record"))?;
    bytes.map(|b| cid_column(&b, "record")).transpose()
}

/// A page of `(rkey, cid)` in one collection: descending by rkey (newest TIDs first) unless
/// `reverse`; `cursor` is the last rkey of the previous page (exclusive).
pub fn list_records(
    conn: &Connection,
    did: &str,
    collection: &str,
    limit: u32,
    cursor: Option<&str>,
    reverse: bool,
) -> Result<Vec<(String, Cid)>, StoreError> {
    let sql = if reverse {
        "SELECT rkey, cid FROM record WHERE did = ?1 AND collection = ?2 AND rkey > ?3 \
         ORDER BY rkey ASC LIMIT ?4"
    } else {
        "SELECT rkey, cid FROM record WHERE did = ?1 AND collection = ?2 AND rkey < ?3 \
         ORDER BY rkey DESC LIMIT ?4"
    };
    // Record keys are printable ASCII, so "" sorts before and "\u{7f}" after every key.
    let bound = cursor.unwrap_or(if reverse { "" } else { "\u{7f}" });
    let rows = conn
        .prepare_cached(sql)
        .and_then(|mut st| {
            st.query_map(params![did, collection, bound, limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::sqlite("listing records"))?;
    rows.into_iter()
        .map(|(k, c)| Ok((k, cid_column(&c, "record")?)))
        .collect()
}

/// The collections `did` has records in, sorted.
pub fn collections(conn: &Connection, did: &str) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached("SELECT DISTINCT collection FROM record WHERE did = ?1 ORDER BY collection")
        .and_then(|mut st| {
            st.query_map([did], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(StoreError::sqlite("listing collections"))
}

/// Whether any record of `did` still points at `cid` (a record block may back two paths).
pub fn record_cid_in_use(conn: &Connection, did: &str, cid: &Cid) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM record WHERE did = ?1 AND cid = ?2)")
        .and_then(|mut st| st.query_row(params![did, &cid.as_bytes()[..]], |r| r.get(0)))
        .map_err(StoreError::sqlite("checking record cid"))
}

/// One page of repositories in DID order, after `cursor` (exclusive).
pub fn list_roots(
    conn: &Connection,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Vec<(String, StoredRoot)>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT did, cid, rev, data_cid FROM repo_root WHERE did > ?1 ORDER BY did LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![cursor.unwrap_or(""), limit], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::sqlite("listing repos"))?;
    rows.into_iter()
        .map(|(did, c, rev, d)| {
            Ok((
                did,
                StoredRoot {
                    commit: cid_column(&c, "repo_root")?,
                    rev,
                    data: cid_column(&d, "repo_root")?,
                },
            ))
        })
        .collect()
}

/// A [`Connection`] seen as the block store of one repository, for the MST code
/// (`aerie_repo`'s `BlockSource` is implemented over this in the PDS).
#[derive(Clone, Copy)]
pub struct RepoBlocks<'c> {
    /// The connection to read through.
    pub conn: &'c Connection,
    /// The repository.
    pub did: &'c str,
}

impl RepoBlocks<'_> {
    /// One block's bytes.
    pub fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, StoreError> {
        block(self.conn, self.did, cid)
    }
}
