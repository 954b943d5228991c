//! The firehose sequencer: events are encoded once and stored with their seq inside the
//! write job that makes the change; after the commit they are published to live subscribers.
//!
//! ```text
//! write job:  persist commit ... ; seq = store::seq::next ; frame = event.encode(seq)
//!             store::seq::append(seq, frame)                      (same transaction)
//! after commit: firehose.publish(seq, frame)                      (any order; released in seq order)
//! ```

use std::sync::Arc;
use std::time::Duration;

use aerie_firehose::{
    AccountEvent, CommitEvent, Event, EventLog, IdentityEvent, LogFuture, LoggedEvent, RepoOp,
    RepoPath, SyncEvent,
};
use aerie_repo::mst::Action;
use aerie_repo::repo::CommitData;
use aerie_store::{Store, StoreError, Transaction, seq};
use aerie_syntax::{Datetime, Did, Handle};

/// An event stored in a write job, to publish once the job has committed.
#[derive(Debug, Clone)]
pub struct Sequenced {
    /// Its seq.
    pub seq: u64,
    /// The encoded frame.
    pub frame: Arc<[u8]>,
}

/// The store's `repo_seq` table as the firehose's durable log, with its backfill window
/// (`PDS_REPO_BACKFILL_LIMIT_MS`): a cursor older than the window gets `#info
/// OutdatedCursor` even while the pruner has not yet removed the rows.
pub struct StoreLog {
    store: Store,
    window: Duration,
}

impl StoreLog {
    /// The log over `store`, replaying at most `window` back.
    pub fn new(store: Store, window: Duration) -> StoreLog {
        StoreLog { store, window }
    }
}

/// The `sequenced_at` string of the instant `window` before now (the window's start).
pub fn window_start(window: Duration) -> String {
    let now = Datetime::now().to_unix_micros();
    let back = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    // Clamped to the epoch, which precedes every stored event; only instants past year 9999
    // could fail, and "" sorts before every datetime, so such a window covers everything.
    Datetime::from_unix_micros(now.saturating_sub(back).max(0))
        .map(Datetime::into_string)
        .unwrap_or_default()
}

fn log_err(e: StoreError) -> aerie_firehose::Error {
    aerie_firehose::Error::log(e)
}

impl EventLog for StoreLog {
    fn head_seq(&self) -> LogFuture<'_, Option<u64>> {
        Box::pin(async move { self.store.read(seq::head).await.map_err(log_err) })
    }

    fn oldest_seq_within_window(&self) -> LogFuture<'_, Option<u64>> {
        Box::pin(async move {
            let since = window_start(self.window);
            self.store
                .read(move |c| seq::oldest_since(c, &since))
                .await
                .map_err(log_err)
        })
    }

    fn read_after(&self, after: u64, limit: usize) -> LogFuture<'_, Vec<LoggedEvent>> {
        Box::pin(async move {
            let rows = self
                .store
                .read(move |c| seq::read_after(c, after, limit))
                .await
                .map_err(log_err)?;
            Ok(rows
                .into_iter()
                .map(|(seq, frame)| LoggedEvent {
                    seq,
                    frame: frame.into(),
                })
                .collect())
        })
    }
}

/// Encodes `event` under the next seq and stores it; call inside the write job.
pub fn append(tx: &Transaction<'_>, event: &Event) -> Result<Sequenced, StoreError> {
    let n = seq::next(tx)?;
    let frame = event.encode(n).map_err(|e| StoreError::Corrupt {
        table: "repo_seq",
        detail: format!("event does not encode: {e}"),
    })?;
    let now = Datetime::now();
    seq::append(
        tx,
        n,
        event.did().as_str(),
        event.type_name(),
        &frame,
        now.as_str(),
    )?;
    Ok(Sequenced {
        seq: n,
        frame: frame.into(),
    })
}

/// The `#commit` event of a commit.
pub fn commit_event(did: &Did, commit: &CommitData) -> Result<Event, StoreError> {
    let bad = |e: aerie_firehose::Error| StoreError::Corrupt {
        table: "repo_seq",
        detail: format!("commit op: {e}"),
    };
    let mut ops = Vec::with_capacity(commit.ops.len());
    for op in &commit.ops {
        let path = RepoPath::parse(op.path.as_str()).map_err(bad)?;
        ops.push(RepoOp {
            action: match op.action {
                Action::Create => aerie_firehose::Action::Create,
                Action::Update => aerie_firehose::Action::Update,
                Action::Delete => aerie_firehose::Action::Delete,
            },
            path,
            cid: op.cid,
            prev: op.prev,
        });
    }
    Ok(Event::Commit(CommitEvent::new(
        did.clone(),
        commit.cid,
        commit.rev,
        commit.since,
        commit.car_slice(),
        ops,
        commit.prev_data,
        Datetime::now(),
    )))
}

/// The `#sync` event of `commit` (a repository's state at this commit, without a diff):
/// its blocks are a CAR holding only the commit block.
pub fn sync_event(did: &Did, commit: &CommitData) -> Result<Event, StoreError> {
    let block = commit
        .new_blocks
        .iter()
        .find(|(c, _)| *c == commit.cid)
        .ok_or_else(|| StoreError::Corrupt {
            table: "repo_seq",
            detail: format!("commit {} lacks its own block", commit.cid),
        })?;
    Ok(Event::Sync(SyncEvent {
        did: did.clone(),
        rev: commit.rev,
        blocks: aerie_repo::car::write_car(&[commit.cid], [(&block.0, &block.1[..])]),
        time: Datetime::now(),
    }))
}

/// The `#identity` event announcing `did`'s (new) handle.
pub fn identity_event(did: &Did, handle: Option<&Handle>) -> Event {
    Event::Identity(IdentityEvent {
        did: did.clone(),
        handle: handle.cloned(),
        time: Datetime::now(),
    })
}

/// The `#account` event of an active account.
pub fn active_event(did: &Did) -> Event {
    Event::Account(AccountEvent {
        did: did.clone(),
        active: true,
        status: None,
        time: Datetime::now(),
    })
}

/// Publishes stored events to live subscribers (after their job committed).
pub async fn publish(firehose: &aerie_firehose::Firehose, events: Vec<Sequenced>) {
    for e in events {
        firehose.publish(e.seq, e.frame).await;
    }
}
