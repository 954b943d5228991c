//! The `blob` table (metadata of uploaded blobs; the bytes live in a blob store) and
//! `record_blob` (which record paths reference which blob).

use aerie_data::Cid;
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;

/// Metadata of one stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// MIME type (sniffed or declared at upload).
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// Records an uploaded blob; uploading the same bytes again keeps the first row.
pub fn insert(
    conn: &Connection,
    did: &str,
    cid: &Cid,
    meta: &BlobMeta,
    now: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO blob (did, cid, mime_type, size, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            did,
            &cid.as_bytes()[..],
            meta.mime_type,
            meta.size as i64,
            now
        ])
    })
    .map_err(StoreError::sqlite("inserting blob"))?;
    Ok(())
}

/// The metadata of `did`'s blob `cid`.
pub fn get(conn: &Connection, did: &str, cid: &Cid) -> Result<Option<BlobMeta>, StoreError> {
    conn.prepare_cached("SELECT mime_type, size FROM blob WHERE did = ?1 AND cid = ?2")
        .and_then(|mut st| {
            st.query_row(params![did, &cid.as_bytes()[..]], |r| {
                Ok(BlobMeta {
                    mime_type: r.get(0)?,
                    size: r.get::<_, i64>(1)?.max(0) as u64,
                })
            })
            .optional()
        })
        .map_err(StoreError::sqlite("reading blob"))
}

/// Whether any record of `did` references blob `cid`.
pub fn is_referenced(conn: &Connection, did: &str, cid: &Cid) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM record_blob WHERE did = ?1 AND blob_cid = ?2)",
    )
    .and_then(|mut st| st.query_row(params![did, &cid.as_bytes()[..]], |r| r.get(0)))
    .map_err(StoreError::sqlite("checking blob references"))
}

/// Replaces the blob references of the record at `path` (`collection/rkey`); an empty list
/// (or a deleted record) clears them.
pub fn set_record_blobs(
    conn: &Connection,
    did: &str,
    path: &str,
    blobs: &[Cid],
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM record_blob WHERE did = ?1 AND record_path = ?2")
        .and_then(|mut st| st.execute([did, path]))
        .map_err(StoreError::sqlite("clearing record blobs"))?;
    let mut st = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO record_blob (did, blob_cid, record_path) VALUES (?1, ?2, ?3)",
        )
        .map_err(StoreError::sqlite("preparing record blob insert"))?;
    for cid in blobs {
        st.execute(params![did, &cid.as_bytes()[..], path])
            .map_err(StoreError::sqlite("inserting record blob"))?;
    }
    Ok(())
}

/// A page of the blobs `did`'s records reference, in CID byte order after `cursor`.
pub fn list_referenced(
    conn: &Connection,
    did: &str,
    cursor: Option<&Cid>,
    limit: u32,
) -> Result<Vec<Cid>, StoreError> {
    let after: Vec<u8> = cursor.map(|c| c.as_bytes().to_vec()).unwrap_or_default();
    let rows = conn
        .prepare_cached(
            "SELECT DISTINCT blob_cid FROM record_blob WHERE did = ?1 AND blob_cid > ?2 \
             ORDER BY blob_cid LIMIT ?3",
        )
        .and_then(|mut st| {
            st.query_map(params![did, after, limit], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::sqlite("listing blobs"))?;
    rows.iter()
        .map(|b| {
            Cid::from_bytes(b).map_err(|e| StoreError::Corrupt {
                table: "record_blob",
                detail: e.to_string(),
            })
        })
        .collect()
}

/// The record paths (`collection/rkey`) of `did` that reference blob `cid`, in path order.
pub fn record_paths(conn: &Connection, did: &str, cid: &Cid) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached(
        "SELECT record_path FROM record_blob WHERE did = ?1 AND blob_cid = ?2 ORDER BY record_path",
    )
    .and_then(|mut st| {
        st.query_map(params![did, &cid.as_bytes()[..]], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()
    })
    .map_err(StoreError::sqlite("listing record paths of a blob"))
}

/// The blobs the record at `path` references now (read before its references change, to
/// learn which blobs may lose their last reference).
pub fn record_blobs(conn: &Connection, did: &str, path: &str) -> Result<Vec<Cid>, StoreError> {
    let rows = conn
        .prepare_cached("SELECT blob_cid FROM record_blob WHERE did = ?1 AND record_path = ?2")
        .and_then(|mut st| {
            st.query_map([did, path], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::sqlite("reading record blobs"))?;
    rows.iter()
        .map(|b| {
            Cid::from_bytes(b).map_err(|e| StoreError::Corrupt {
                table: "record_blob",
                detail: e.to_string(),
            })
        })
        .collect()
}

/// Deletes the metadata row of `did`'s blob `cid`; true if it existed. The caller removes
/// the bytes after the transaction commits.
pub fn delete(conn: &Connection, did: &str, cid: &Cid) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM blob WHERE did = ?1 AND cid = ?2")
        .and_then(|mut st| st.execute(params![did, &cid.as_bytes()[..]]))
        .map_err(StoreError::sqlite("deleting blob"))?;
    Ok(n > 0)
}

/// Up to `limit` blobs (any account) that no record references and that were uploaded
/// before `before` (RFC 3339, compared as text like `created_at`), oldest first.
pub fn unreferenced_before(
    conn: &Connection,
    before: &str,
    limit: u32,
) -> Result<Vec<(String, Cid)>, StoreError> {
    let rows = conn
        .prepare_cached(
            "SELECT b.did, b.cid FROM blob b WHERE b.created_at < ?1 AND NOT EXISTS \
             (SELECT 1 FROM record_blob r WHERE r.did = b.did AND r.blob_cid = b.cid) \
             ORDER BY b.created_at LIMIT ?2",
        )
        .and_then(|mut st| {
            st.query_map(params![before, limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(StoreError::sqlite("listing unreferenced blobs"))?;
    rows.into_iter()
        .map(|(did, b)| {
            Cid::from_bytes(&b)
                .map(|c| (did, c))
                .map_err(|e| StoreError::Corrupt {
                    table: "blob",
                    detail: e.to_string(),
                })
        })
        .collect()
}
