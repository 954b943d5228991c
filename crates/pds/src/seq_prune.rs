//! The backfill-window pruner: a background task deleting firehose events older than
//! `PDS_REPO_BACKFILL_LIMIT_MS` from the store.
//!
//! Correctness does not depend on it: the log's `oldest_seq_within_window` already answers by
//! time, so an old cursor gets `#info OutdatedCursor` whether or not its rows are gone yet.
//! The pruner only bounds the table's size. Seqs come from a separate counter, so deleting
//! every row (a PDS quiet for longer than the window) never lets a seq be reused.

use std::time::Duration;

use aerie_store::{Store, StoreError, seq};

use crate::sequencer::window_start;

/// Rows deleted per write job: keeps each prune job short so it never holds up commits.
const BATCH: usize = 5_000;

/// Deletes every event sequenced more than `window` ago, in bounded write jobs; returns how
/// many rows went.
pub async fn prune_once(store: &Store, window: Duration) -> Result<u64, StoreError> {
    let before = window_start(window);
    let mut total = 0u64;
    loop {
        let before = before.clone();
        let n = store
            .write(move |tx| seq::prune_before(tx, &before, BATCH))
            .await?;
        total += n as u64;
        if n < BATCH {
            return Ok(total);
        }
    }
}

/// How often the pruner runs for a window: a quarter of it, between 1 second and 10 minutes.
pub fn interval_for(window: Duration) -> Duration {
    (window / 4).clamp(Duration::from_secs(1), Duration::from_secs(600))
}

/// The running pruner; dropping it stops the task.
#[derive(Debug)]
pub struct PrunerGuard(tokio::task::JoinHandle<()>);

impl Drop for PrunerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the pruner on the current tokio runtime (first pass right away).
pub fn spawn(store: Store, window: Duration) -> PrunerGuard {
    let every = interval_for(window);
    PrunerGuard(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match prune_once(&store, window).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "firehose: pruned events outside the window"),
                Err(e) => tracing::warn!(error = %e, "firehose: pruning the event log"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_a_quarter_of_the_window_within_bounds() {
        assert_eq!(
            interval_for(Duration::from_secs(40)),
            Duration::from_secs(10)
        );
        assert_eq!(
            interval_for(Duration::from_millis(10)),
            Duration::from_secs(1)
        );
        assert_eq!(
            interval_for(Duration::from_secs(72 * 3600)),
            Duration::from_secs(600)
        );
    }
}
