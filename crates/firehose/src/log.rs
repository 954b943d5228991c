//! The durable-log seam: where subscribers replay from, and an in-memory implementation.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Error;

/// A boxed, sendable future returned by [`EventLog`] methods.
///
/// Boxed so the trait stays object-safe: the [`Firehose`](crate::Firehose) holds an
/// `Arc<dyn EventLog>` and the store need not be a type parameter of every handler.
pub type LogFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>>;

/// One stored event: its seq and its encoded frame, exactly as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The stream sequence number.
    pub seq: u64,
    /// The complete frame (header + body) from [`Event::encode`](crate::Event::encode).
    pub frame: Arc<[u8]>,
}

/// The durable, ordered event log (the store's sequencer table).
///
/// Contract the implementation must keep (the fan-out's no-gap guarantee rests on it):
/// - seqs are assigned in commit order, inside the transaction that makes the change, so a
///   reader that sees seq `n` also sees every committed seq below `n`;
/// - [`read_after`](EventLog::read_after) returns committed events only, in increasing seq
///   order.
///
/// Async because the store's readers run on blocking threads; an implementation typically
/// wraps its query in `Box::pin(async move { store.read(..).await })`.
pub trait EventLog: Send + Sync + 'static {
    /// The highest committed seq (`None` when the log has never held an event).
    fn head_seq(&self) -> LogFuture<'_, Option<u64>>;

    /// The lowest seq still inside the backfill window (`None` if no event is inside it).
    fn oldest_seq_within_window(&self) -> LogFuture<'_, Option<u64>>;

    /// Up to `limit` events with seq > `after`, in increasing seq order.
    fn read_after(&self, after: u64, limit: usize) -> LogFuture<'_, Vec<LoggedEvent>>;
}

/// An in-memory [`EventLog`] for tests and benchmarks.
///
/// `append` plays the role of the store's sequencer commit; `prune_through` plays the window
/// pruner.
#[derive(Debug, Default)]
pub struct MemoryLog {
    // A std mutex: every critical section is a few pointer copies, never held across await.
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    events: VecDeque<LoggedEvent>,
    head: Option<u64>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Append an event; `seq` must be above every seq appended before (else it is refused
    /// with [`Error::InvalidField`]).
    pub fn append(&self, seq: u64, frame: Arc<[u8]>) -> Result<(), Error> {
        let mut inner = self.lock();
        if inner.head.is_some_and(|h| seq <= h) {
            return Err(Error::InvalidField {
                message: "log",
                field: "seq",
                reason: format!("{seq} is not above the head {:?}", inner.head),
            });
        }
        inner.head = Some(seq);
        inner.events.push_back(LoggedEvent { seq, frame });
        Ok(())
    }

    /// Drop every event with seq <= `seq` (they fall out of the backfill window).
    pub fn prune_through(&self, seq: u64) {
        let mut inner = self.lock();
        while inner.events.front().is_some_and(|e| e.seq <= seq) {
            inner.events.pop_front();
        }
    }

    /// Events currently kept.
    pub fn len(&self) -> usize {
        self.lock().events.len()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EventLog for MemoryLog {
    fn head_seq(&self) -> LogFuture<'_, Option<u64>> {
        let head = self.lock().head;
        Box::pin(async move { Ok(head) })
    }

    fn oldest_seq_within_window(&self) -> LogFuture<'_, Option<u64>> {
        let oldest = self.lock().events.front().map(|e| e.seq);
        Box::pin(async move { Ok(oldest) })
    }

    fn read_after(&self, after: u64, limit: usize) -> LogFuture<'_, Vec<LoggedEvent>> {
        let out = {
            let inner = self.lock();
            let start = inner.events.partition_point(|e| e.seq <= after);
            inner
                .events
                .range(start..)
                .take(limit)
                .cloned()
                .collect::<Vec<_>>()
        };
        Box::pin(async move { Ok(out) })
    }
}
