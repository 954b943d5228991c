//! The blob lifecycle.
//!
//! ```text
//! uploadBlob -> row in `blob`, bytes on disk, no reference: temporary
//! commit referencing it (mimeType must match) -> `record_blob` row: permanent, served
//! last reference deleted or updated away -> row deleted in the same write job as the
//!     commit, bytes removed after it commits
//! never referenced for PDS_BLOB_TEMP_GRACE_SECONDS -> removed by the sweep task
//! ```
//! Rows go first, inside a write job, and files after the job committed: a crash in
//! between leaves an orphan file, never a row whose bytes are gone.
//!
//! Known gap: re-uploading a blob at the very moment the sweep removes it can leave a row
//! whose bytes were just deleted (the upload path does not serialise with the sweep).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aerie_data::{Cid, drisl};
use aerie_store::{Connection, StoreError, Transaction, blob};
use aerie_syntax::Datetime;
use aerie_xrpc::XrpcError;

use crate::AppState;
use crate::error::JobError;

/// Most blobs one sweep job removes; the next sweep continues.
const SWEEP_BATCH: u32 = 500;
/// Longest pause between sweeps.
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Checks every blob ref in a record about to be written against the upload: the blob must
/// exist in this repo (`BlobNotFound`), with the same MIME type (`InvalidMimeType`, the
/// reference's check) and, when the ref states one, the same size (`InvalidBlob`).
pub(crate) fn verify_refs(conn: &Connection, did: &str, record: &[u8]) -> Result<(), JobError> {
    let value = drisl::decode(record).map_err(XrpcError::internal)?;
    let refs = value
        .blob_refs()
        .map_err(|e| XrpcError::invalid_request(format!("Invalid blob reference: {e}")))?;
    for r in refs {
        let found = blob::get(conn, did, r.cid())?.ok_or_else(|| {
            XrpcError::named("BlobNotFound", format!("Could not find blob: {}", r.cid()))
        })?;
        if r.mime_type() != found.mime_type {
            return Err(XrpcError::named(
                "InvalidMimeType",
                format!(
                    "Referenced Mimetype does not match stored blob. Expected: {}, Got: {}",
                    found.mime_type,
                    r.mime_type()
                ),
            )
            .into());
        }
        if let Some(size) = r.size()
            && size != found.size
        {
            return Err(XrpcError::named(
                "InvalidBlob",
                format!(
                    "Referenced blob size does not match stored blob. Expected: {}, Got: {size}",
                    found.size
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// Inside a commit's write job: replaces the blob references of each written record path
/// and deletes the rows of blobs that lost their last reference. Returns those blobs, whose
/// bytes [`remove_files`] deletes once the job committed. Fails with `BlobNotFound` if a
/// referenced blob vanished since the commit was built (the sweep ran in between).
pub(crate) fn update_refs(
    tx: &Transaction<'_>,
    did: &str,
    refs: &[(String, Vec<Cid>)],
) -> Result<Vec<Cid>, JobError> {
    let mut maybe_released = Vec::new();
    for (path, blobs) in refs {
        for cid in blobs {
            if blob::get(tx, did, cid)?.is_none() {
                return Err(XrpcError::named(
                    "BlobNotFound",
                    format!("Could not find blob: {cid}"),
                )
                .into());
            }
        }
        let before = blob::record_blobs(tx, did, path)?;
        blob::set_record_blobs(tx, did, path, blobs)?;
        maybe_released.extend(before.into_iter().filter(|c| !blobs.contains(c)));
    }
    maybe_released.sort();
    maybe_released.dedup();
    let mut released = Vec::new();
    for cid in maybe_released {
        if !blob::is_referenced(tx, did, &cid)? && blob::delete(tx, did, &cid)? {
            released.push(cid);
        }
    }
    Ok(released)
}

/// Removes the bytes of blobs whose rows are gone. Failures are logged, not returned: the
/// commit already happened, and a leftover file is harmless.
pub(crate) async fn remove_files(st: &AppState, did: &str, cids: &[Cid]) {
    for cid in cids {
        if let Err(e) = st.blobs().delete(did, cid).await {
            tracing::warn!(%did, %cid, error = %e, "could not remove an unreferenced blob file");
        }
    }
}

fn datetime_at(t: SystemTime) -> String {
    let micros = t
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Datetime::from_unix_micros(micros)
        .map(Datetime::into_string)
        .unwrap_or_else(|_| "0000-01-01T00:00:00.000Z".to_owned())
}

/// One sweep as if the clock read `now`: removes every blob uploaded before `now - grace`
/// that no record references. Returns how many were removed.
pub async fn sweep(st: &AppState, now: SystemTime) -> Result<usize, XrpcError> {
    let cutoff = datetime_at(
        now.checked_sub(st.config().blob_temp_grace)
            .unwrap_or(UNIX_EPOCH),
    );
    let mut total = 0;
    loop {
        let c = cutoff.clone();
        // Listing and deleting in one write job: a commit referencing one of these blobs
        // cannot slip in between the check and the delete.
        let removed = st
            .store()
            .write(move |tx: &Transaction<'_>| -> Result<_, StoreError> {
                let stale = blob::unreferenced_before(tx, &c, SWEEP_BATCH)?;
                for (did, cid) in &stale {
                    blob::delete(tx, did, cid)?;
                }
                Ok(stale)
            })
            .await
            .map_err(crate::error::store_error)?;
        for (did, cid) in &removed {
            remove_files(st, did, std::slice::from_ref(cid)).await;
        }
        total += removed.len();
        if removed.len() < SWEEP_BATCH as usize {
            return Ok(total);
        }
    }
}

/// The background sweep; stops when dropped.
#[derive(Debug)]
pub struct Sweeper {
    task: tokio::task::JoinHandle<()>,
}

impl Sweeper {
    /// Sweeps every grace/4 (at least every second, at most every 15 minutes), first one
    /// interval after start.
    pub fn start(st: AppState) -> Sweeper {
        let every =
            (st.config().blob_temp_grace / 4).clamp(Duration::from_secs(1), MAX_SWEEP_INTERVAL);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match sweep(&st, SystemTime::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "swept unreferenced blobs"),
                    Err(e) => tracing::warn!(error = ?e, "blob sweep failed"),
                }
            }
        });
        Sweeper { task }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_datetimes_sort_like_stored_created_at() {
        let a = datetime_at(UNIX_EPOCH + Duration::from_millis(1_700_000_000_123));
        assert_eq!(a, "2023-11-14T22:13:20.123Z");
        let b = datetime_at(UNIX_EPOCH + Duration::from_millis(1_700_000_000_124));
        assert!(a < b);
    }
}
