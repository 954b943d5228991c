//! Fan-out of encoded frames to subscribers, with cursor replay from the durable log.
//!
//! # Terminology
//! - *released*: an event the [`Firehose`] has put in its ring, in seq order. Every released
//!   event is committed to the [`EventLog`] (publish is called after the commit).
//! - *ring*: the newest released events, shared by all subscribers as `Arc<[u8]>` frames.
//!   Invariant: the ring holds every released event with seq > `ring.base`.
//! - *last_sent*: the seq a subscription delivered last; it only ever delivers seq > last_sent,
//!   in increasing order, so duplicates are impossible by construction.
//!
//! # Tricky bits
//! - **Hand-over without gaps.** A subscriber reads the ring when `last_sent >= ring.base`
//!   (the ring then holds everything after it) and the log otherwise. Because the log holds
//!   every committed event in order, switching between the two at any `last_sent` neither
//!   skips nor repeats an event. A log read may return events not yet released (committed,
//!   publish still on its way); delivering them early is fine, the ring copy is skipped later.
//! - **Publishes arrive out of order.** With group commit, the writers of one transaction wake
//!   in any order, so `publish(5)` can come before `publish(4)`. The release stage is
//!   serialised; a publish whose seq is not `head + 1` asks the log what was committed after
//!   the head and releases it in order (this also passes over real seq gaps, which the spec
//!   allows). A publish at or below the head is already released and ignored.
//! - **Slow subscribers cost nothing while paused.** A subscription is a position, not a
//!   queue: one that stops reading keeps no frames alive beyond the shared ring. When it
//!   resumes behind the ring it reads from the log in batches until it reaches the ring. Only
//!   when the bytes released since it subscribed, minus the bytes of those it has delivered,
//!   exceed [`Config::max_behind_bytes`] is it sent `ConsumerTooSlow` and closed. Replay of
//!   history from a cursor does not count against the cap.
//!
//! # Hacking
//! Locks: `ring` is a std `RwLock` held only for pointer copies, never across an await; the
//! release stage is a tokio mutex because it may await the log. Wake-ups go through a `watch`
//! of the released head: a subscriber marks the value seen *before* looking at the ring, so a
//! release after that look always wakes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::frame::{CONSUMER_TOO_SLOW, FUTURE_CURSOR, OUTDATED_CURSOR, encode_error, encode_info};
use crate::log::{EventLog, LoggedEvent};
use crate::{Error, Info};

/// Fan-out tuning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Most events kept in the shared in-memory ring.
    pub ring_events: usize,
    /// Most frame bytes kept in the ring (the newest event is always kept).
    pub ring_bytes: usize,
    /// Bytes a subscriber may fall behind the live stream (counted from when it subscribed)
    /// before it gets `ConsumerTooSlow`.
    pub max_behind_bytes: u64,
    /// Events per log read while replaying or catching up. Each catching-up subscriber holds
    /// one batch of frames (its own copies, read from the log), so this bounds its memory.
    pub replay_batch: usize,
    /// How long one WebSocket send may wait for a client that stopped reading before the
    /// connection is dropped. A stalled client cannot be sent `ConsumerTooSlow` (it does not
    /// read), and would otherwise hold its task and socket buffers until TCP gives up.
    pub send_timeout: Duration,
    /// Most concurrent WebSocket subscribers; further upgrade requests get 503. A soft cap
    /// (checked before subscribing), against connection floods.
    pub max_subscribers: usize,
}

impl Default for Config {
    /// 4,096 events / 64 MiB of ring, 256 MiB behind allowed, 100-event log reads, 120 s
    /// send timeout, 10,000 subscribers.
    fn default() -> Config {
        Config {
            ring_events: 4096,
            ring_bytes: 64 << 20,
            max_behind_bytes: 256 << 20,
            replay_batch: 100,
            send_timeout: Duration::from_secs(120),
            max_subscribers: 10_000,
        }
    }
}

/// The firehose: publish encoded frames after commit, subscribe with an optional cursor.
///
/// Cheap to clone (one `Arc`); every clone is the same firehose.
#[derive(Clone)]
pub struct Firehose {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Firehose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Firehose")
            .field("head", &self.head())
            .field("subscribers", &self.subscriber_count())
            .finish_non_exhaustive()
    }
}

struct Shared {
    log: Arc<dyn EventLog>,
    config: Config,
    ring: RwLock<Ring>,
    /// The released head; receivers are the subscriptions.
    head_tx: watch::Sender<u64>,
    /// Serialises the release stage of `publish` (which may await the log).
    release: tokio::sync::Mutex<()>,
    closed: AtomicBool,
}

struct Ring {
    entries: VecDeque<LoggedEvent>,
    /// Every released event with seq > base is in `entries`.
    base: u64,
    /// Highest released seq (0 before any).
    head: u64,
    /// Frame bytes in `entries`.
    bytes: usize,
    /// Frame bytes ever released (for the behind-cap arithmetic).
    total: u64,
}

impl Ring {
    fn push(&mut self, e: LoggedEvent, config: &Config) {
        let len = e.frame.len();
        self.head = e.seq;
        self.total += len as u64;
        self.bytes += len;
        self.entries.push_back(e);
        while self.entries.len() > config.ring_events.max(1)
            || (self.bytes > config.ring_bytes && self.entries.len() > 1)
        {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= old.frame.len();
            self.base = old.seq;
        }
    }
}

impl Shared {
    fn ring(&self) -> RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn ring_mut(&self) -> RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Release log events after the head up to at least `target` (or until the log has no
    /// more). Returns the released head.
    async fn release_from_log(&self, target: u64) -> u64 {
        let mut head = self.ring().head;
        while head < target {
            let batch = match self.log.read_after(head, self.config.replay_batch).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, after = head, "firehose: log read while releasing");
                    break;
                }
            };
            let new_head = {
                let mut ring = self.ring_mut();
                for e in batch {
                    if e.seq > ring.head {
                        ring.push(e, &self.config);
                    }
                }
                ring.head
            };
            if new_head == head {
                break;
            }
            head = new_head;
            self.head_tx.send_replace(head);
        }
        head
    }
}

impl Firehose {
    /// A firehose over `log`, starting after the log's current head.
    pub async fn open(log: Arc<dyn EventLog>, config: Config) -> Result<Firehose, Error> {
        let head = log.head_seq().await?.unwrap_or(0);
        let (head_tx, _) = watch::channel(head);
        Ok(Firehose {
            shared: Arc::new(Shared {
                log,
                config,
                ring: RwLock::new(Ring {
                    entries: VecDeque::new(),
                    base: head,
                    head,
                    bytes: 0,
                    total: 0,
                }),
                head_tx,
                release: tokio::sync::Mutex::new(()),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Hand a committed event to live subscribers. Call it after the transaction that stored
    /// `(seq, frame)` in the log has committed, with the same bytes (an `Arc` of them, shared
    /// by every subscriber). Calls may arrive in any order; each event is released once, in
    /// seq order. For a transaction that stored several events (account creation: identity,
    /// account, commit), publishing each works, and so does publishing only the highest: the
    /// hole before it is filled from the log.
    ///
    /// If this future is dropped before it finishes, the event reaches live subscribers only
    /// with the next publish (which fills the hole from the log); replay is unaffected. Do
    /// not race it against a client disconnect.
    pub async fn publish(&self, seq: u64, frame: Arc<[u8]>) {
        let shared = &*self.shared;
        let _order = shared.release.lock().await;
        let head = shared.ring().head;
        if seq <= head {
            return;
        }
        if seq > head.saturating_add(1) {
            // A hole before `seq`: a committed event whose publish is still on its way, or a
            // seq that never existed. The log knows which.
            shared.release_from_log(seq).await;
        }
        let released = {
            let mut ring = shared.ring_mut();
            if seq > ring.head {
                ring.push(LoggedEvent { seq, frame }, &shared.config);
                Some(seq)
            } else {
                None
            }
        };
        if let Some(seq) = released {
            shared.head_tx.send_replace(seq);
        }
    }

    /// Subscribe. `cursor`: `None` = live events only; `Some(c)` = replay every event with
    /// seq > `c` (from the oldest kept one if `c` is older than the window, after an `#info
    /// OutdatedCursor`), then live; a cursor beyond the head gets a `FutureCursor` error
    /// frame and the end of the stream.
    pub fn subscribe(&self, cursor: Option<u64>) -> Subscription {
        let (head, total) = {
            let ring = self.shared.ring();
            (ring.head, ring.total)
        };
        Subscription {
            shared: Arc::clone(&self.shared),
            head_rx: self.shared.head_tx.subscribe(),
            state: match cursor {
                None => State::Running,
                Some(c) => State::Start(c),
            },
            last_sent: head,
            start_head: head,
            start_total: total,
            live_delivered: 0,
            backlog: VecDeque::new(),
        }
    }

    /// The highest released seq (0 before any event).
    pub fn head(&self) -> u64 {
        self.shared.ring().head
    }

    /// The configuration this firehose was opened with.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Subscriptions currently alive.
    pub fn subscriber_count(&self) -> usize {
        self.shared.head_tx.receiver_count()
    }

    /// End every subscription (each returns `None` on its next read); for server shutdown.
    pub fn shutdown(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.head_tx.send_modify(|_| {});
    }
}

/// One frame for one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The event's seq (`None` for `#info` and error frames).
    pub seq: Option<u64>,
    /// The frame, shared with every other subscriber.
    pub frame: Arc<[u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A cursor still to check against the log.
    Start(u64),
    Running,
    Closed,
}

/// A subscriber's position in the stream. Read it with [`next`](Subscription::next).
///
/// Holds no frames while idle: a shared handle, a few counters and an empty queue.
pub struct Subscription {
    shared: Arc<Shared>,
    head_rx: watch::Receiver<u64>,
    state: State,
    last_sent: u64,
    /// Released head when subscribing: later events are "live" for the behind cap.
    start_head: u64,
    start_total: u64,
    live_delivered: u64,
    backlog: VecDeque<LoggedEvent>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("state", &self.state)
            .field("last_sent", &self.last_sent)
            .finish_non_exhaustive()
    }
}

enum Step {
    Deliver(LoggedEvent),
    Wait,
    ReadLog { ring_base: u64 },
    TooSlow,
}

impl Subscription {
    /// The next frame: `Ok(None)` once the stream has ended (after an error frame, on
    /// shutdown); `Err` if the event log failed (the stream has then ended too).
    ///
    /// Cancel-safe: dropping the future loses nothing (state only changes once a frame is
    /// returned), so it can sit in a `select!` with the socket's reads.
    pub async fn next(&mut self) -> Result<Option<Outgoing>, Error> {
        loop {
            match self.state {
                State::Closed => return Ok(None),
                State::Start(cursor) => match self.start(cursor).await {
                    Ok(Some(out)) => return Ok(Some(out)),
                    Ok(None) => continue,
                    Err(e) => {
                        self.state = State::Closed;
                        return Err(e);
                    }
                },
                State::Running => {}
            }
            if self.shared.closed.load(Ordering::Acquire) {
                self.state = State::Closed;
                return Ok(None);
            }
            if let Some(e) = self.backlog.pop_front() {
                if self.backlog.is_empty() {
                    // Give the batch's buffer back: thousands of subscribers that once
                    // replayed must not each keep a batch-sized allocation while idle.
                    self.backlog = VecDeque::new();
                }
                if e.seq > self.last_sent {
                    return Ok(Some(self.deliver(e)));
                }
                continue;
            }
            // Mark the head seen before looking at the ring, so a release after the look
            // makes `changed()` return at once.
            self.head_rx.borrow_and_update();
            let step = self.step();
            match step {
                Step::Deliver(e) => return Ok(Some(self.deliver(e))),
                Step::TooSlow => {
                    self.state = State::Closed;
                    return Ok(Some(control(encode_error(
                        CONSUMER_TOO_SLOW,
                        Some("Stream consumer too slow"),
                    ))));
                }
                Step::Wait => {
                    if self.head_rx.changed().await.is_err() {
                        self.state = State::Closed;
                        return Ok(None);
                    }
                }
                Step::ReadLog { ring_base } => {
                    let limit = self.shared.config.replay_batch.max(1);
                    let batch = match self.shared.log.read_after(self.last_sent, limit).await {
                        Ok(b) => b,
                        Err(e) => {
                            self.state = State::Closed;
                            return Err(e);
                        }
                    };
                    if batch.is_empty() {
                        // The log has nothing after us, yet the ring has moved past us: those
                        // events were pruned from the log and cannot be had; rejoin the ring.
                        self.last_sent = self.last_sent.max(ring_base);
                    } else {
                        self.backlog = batch.into();
                    }
                }
            }
        }
    }

    fn step(&self) -> Step {
        let ring = self.shared.ring();
        let behind = (ring.total - self.start_total).saturating_sub(self.live_delivered);
        if behind > self.shared.config.max_behind_bytes {
            return Step::TooSlow;
        }
        if self.last_sent < ring.base {
            return Step::ReadLog {
                ring_base: ring.base,
            };
        }
        let i = ring.entries.partition_point(|e| e.seq <= self.last_sent);
        match ring.entries.get(i) {
            Some(e) => Step::Deliver(e.clone()),
            None => Step::Wait,
        }
    }

    fn deliver(&mut self, e: LoggedEvent) -> Outgoing {
        if e.seq > self.start_head {
            self.live_delivered += e.frame.len() as u64;
        }
        self.last_sent = e.seq;
        Outgoing {
            seq: Some(e.seq),
            frame: e.frame,
        }
    }

    /// Apply the cursor rules. Mutates nothing until every await is done (cancel safety).
    async fn start(&mut self, cursor: u64) -> Result<Option<Outgoing>, Error> {
        let log = &self.shared.log;
        let log_head = log.head_seq().await?.unwrap_or(0);
        let oldest = log.oldest_seq_within_window().await?;
        // A subscriber may have seen a committed event through a log read before its publish
        // reached the ring, so the head is the larger of the two.
        let head = log_head.max(self.shared.ring().head);
        if cursor > head {
            self.state = State::Closed;
            return Ok(Some(control(encode_error(
                FUTURE_CURSOR,
                Some("Cursor in the future."),
            ))));
        }
        self.state = State::Running;
        let resume_after = match oldest {
            Some(o) if cursor.saturating_add(1) < o => o - 1,
            // Nothing inside the window although the log has events after the cursor: they
            // are all too old.
            None if cursor < log_head => head,
            _ => {
                self.last_sent = cursor;
                return Ok(None);
            }
        };
        self.last_sent = resume_after;
        Ok(Some(control(encode_info(&Info {
            name: OUTDATED_CURSOR.to_owned(),
            message: Some("Requested cursor exceeded limit. Possibly missing events".to_owned()),
        }))))
    }

    /// The seq delivered last (the cursor a reconnecting client would send).
    pub fn last_seq(&self) -> u64 {
        self.last_sent
    }

    /// The firehose's configuration (the WebSocket pump reads its send timeout).
    pub fn config(&self) -> &Config {
        &self.shared.config
    }
}

fn control(frame: Vec<u8>) -> Outgoing {
    Outgoing {
        seq: None,
        frame: frame.into(),
    }
}
