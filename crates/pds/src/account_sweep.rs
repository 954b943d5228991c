//! Deletes accounts whose owner deactivated them with a `deleteAfter` time that has passed
//! (com.atproto.server.deactivateAccount), through the same full-deletion path as
//! deleteAccount. Reactivating clears `delete_after`, so only still-deactivated accounts go.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aerie_store::lifecycle;
use aerie_syntax::{Datetime, Did};
use aerie_xrpc::XrpcError;

use crate::AppState;
use crate::api::account::delete_account_everywhere;

/// Pause between sweeps; `deleteAfter` is a coarse request, minutes late is fine.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// One sweep as if the clock read `now`: deletes every deactivated account whose
/// `delete_after` is at or before `now`. Returns how many were deleted. A stored time that
/// no longer parses is skipped (logged), never treated as due.
pub async fn sweep(st: &AppState, now: SystemTime) -> Result<usize, XrpcError> {
    let now_micros = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let scheduled = st
        .store()
        .read(lifecycle::scheduled_deletions)
        .await
        .map_err(crate::error::store_error)?;
    let mut deleted = 0;
    for (did, after) in scheduled {
        let due = match Datetime::parse(&after) {
            Ok(t) => t.to_unix_micros() <= now_micros,
            Err(_) => {
                tracing::warn!(%did, delete_after = %after, "unparsable delete_after skipped");
                false
            }
        };
        if !due {
            continue;
        }
        let Ok(parsed) = Did::parse(&did) else {
            tracing::warn!(%did, "account with an invalid DID skipped by the deletion sweep");
            continue;
        };
        match delete_account_everywhere(st, &parsed).await {
            Ok(()) => deleted += 1,
            // Deleted by someone else in between: nothing left to do.
            Err(e) => tracing::warn!(%did, error = ?e, "scheduled account deletion failed"),
        }
    }
    Ok(deleted)
}

/// The background deletion sweep; stops when dropped.
#[derive(Debug)]
pub struct Sweeper {
    task: tokio::task::JoinHandle<()>,
}

impl Sweeper {
    /// Sweeps every five minutes, the first time one interval after start.
    pub fn start(st: AppState) -> Sweeper {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                match sweep(&st, SystemTime::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "deleted accounts past deleteAfter"),
                    Err(e) => tracing::warn!(error = ?e, "account deletion sweep failed"),
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
