//! aerie-firehose: the `com.atproto.sync.subscribeRepos` event stream.
//!
//! - **Wire forms** ([`Event`], [`CommitEvent`], [`SyncEvent`], [`IdentityEvent`],
//!   [`AccountEvent`], [`Info`]): [`Event::encode`] turns an event and its seq into one
//!   complete frame (DRISL header `{t, op: 1}` + body), enforcing the protocol's size limits;
//!   [`decode_frame`] reads any frame back strictly.
//! - **The durable-log seam** ([`EventLog`]): the store's sequencer table, read for replay.
//!   [`MemoryLog`] implements it for tests.
//! - **Fan-out** ([`Firehose`], [`Subscription`]): encoded frames are shared as `Arc<[u8]>`
//!   by every subscriber; cursors replay from the log; slow subscribers catch up from the
//!   log instead of being dropped at a small buffer.
//! - **WebSocket** ([`subscribe_repos`]): the axum handler.
//!
//! # How the PDS drives it
//! 1. In the write transaction: assign `seq`, then `frame = event.encode(seq)?` and store
//!    `(seq, frame)` in the event log table (encode once; these bytes are what every
//!    subscriber receives).
//! 2. After the transaction commits: `firehose.publish(seq, frame.into()).await`.
//! 3. Route `/xrpc/com.atproto.sync.subscribeRepos` to [`subscribe_repos`].
//!
//! The store's side of the contract ([`EventLog`]): seqs are assigned in commit order and never
//! reused (SQLite `AUTOINCREMENT`, so deleting an account's rows cannot bring a seq back);
//! `read_after` returns committed rows in seq order; pruning drops rows older than the window
//! and `oldest_seq_within_window` reports the first row inside it.
//!
//! ```
//! use std::sync::Arc;
//! use aerie_firehose::{Config, Event, Firehose, IdentityEvent, MemoryLog, Frame, decode_frame};
//! use aerie_syntax::{Datetime, Did};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let log = Arc::new(MemoryLog::new());
//! let firehose = Firehose::open(log.clone(), Config::default()).await?;
//! let mut sub = firehose.subscribe(Some(0));
//!
//! let event = Event::Identity(IdentityEvent {
//!     did: Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap(),
//!     handle: None,
//!     time: Datetime::parse("2026-11-25T23:00:00.000Z").unwrap(),
//! });
//! let frame: Arc<[u8]> = event.encode(1)?.into();
//! log.append(1, frame.clone())?; // the store's transaction
//! firehose.publish(1, frame).await; // after commit
//!
//! let out = sub.next().await?.expect("one frame");
//! assert_eq!(decode_frame(&out.frame)?, Frame::Event { seq: 1, event });
//! # Ok::<(), aerie_firehose::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

mod error;
mod event;
mod fanout;
mod frame;
mod log;
mod ws;

pub use error::{BoxError, Error};
pub use event::{
    AccountEvent, AccountStatus, Action, CommitEvent, Event, IdentityEvent, Info,
    MAX_COMMIT_BLOCKS, MAX_FRAME, MAX_OPS, MAX_SEQ, MAX_SYNC_BLOCKS, RepoOp, RepoPath, SyncEvent,
};
pub use fanout::{Config, Firehose, Outgoing, Subscription};
pub use frame::{
    CONSUMER_TOO_SLOW, FUTURE_CURSOR, Frame, OUTDATED_CURSOR, decode_frame, encode_error,
    encode_info,
};
pub use log::{EventLog, LogFuture, LoggedEvent, MemoryLog};
pub use ws::{serve, subscribe_repos};
