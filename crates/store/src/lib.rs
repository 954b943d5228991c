//! Aerie storage: SQLite in WAL mode with one group-committing writer.
//!
//! # Architecture
//! - ONE writer thread owns the only write connection. Write jobs (closures over a
//!   [`rusqlite::Transaction`]) are queued to it; it takes every job that is waiting, runs
//!   them in ONE transaction (each inside its own `SAVEPOINT`, so a failing job rolls back
//!   alone and does not poison the others), commits once (one fsync with
//!   `synchronous=FULL`), and only then answers each job. This is group commit: writes of
//!   different accounts that arrive together share a transaction and an fsync, and no write
//!   is acknowledged before it is durable.
//! - Readers use a small pool of read-only connections on tokio's blocking threads. WAL lets
//!   them read the last committed state while the writer works.
//! - Schema changes are numbered migrations tracked in `PRAGMA user_version`.
//!
//! Architecture invariant: the store does not serialise writes per account. The PDS holds a
//! per-DID lock around "read repo root, build commit, write", so commit chains never fork;
//! the store only guarantees that each job is atomic and durable when answered.
//!
//! The typed table operations live in [`account`], [`token`], [`invite`], [`repo`] and
//! [`blob`]; each
//! takes a `&Connection`, so the same function works on a reader and inside a write job.
//! The firehose sequencer ([`seq`]) appends its event inside the same write job as the commit,
//! so the log and the repos never disagree.

#![deny(missing_docs)]

pub mod account;
pub mod app_password;
pub mod blob;
pub mod email_token;
mod error;
pub mod invite;
pub mod lifecycle;
mod migrate;
pub mod pref;
pub mod repo;
pub mod reserved_key;
pub mod seq;
pub mod token;
mod writer;

pub use error::StoreError;
pub use rusqlite::{Connection, Transaction};
pub use writer::{Store, StoreOptions, WriteStats};
