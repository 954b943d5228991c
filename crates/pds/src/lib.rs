//! The Aerie Personal Data Server.
//!
//! - [`config`]: flags and `PDS_*` environment variables -> [`Config`] (dev/production rules).
//! - [`serve`]: [`serve::open`] (store + state), [`serve::router`], [`serve::serve`] (on a
//!   listener, with graceful shutdown) and [`serve::run`] (what `aerie serve` calls).
//! - Routes: `_health`, com.atproto.server (describeServer, createAccount, sessions, invite
//!   codes), com.atproto.identity.resolveHandle, `/.well-known/atproto-did`,
//!   com.atproto.repo (create/put/deleteRecord, applyWrites, getRecord, listRecords,
//!   describeRepo), com.atproto.sync (getRepo, getRecord, getBlocks, getLatestCommit,
//!   getRepoStatus, listRepos, getHead, getCheckout); in dev mode the PLC
//!   directory's routes at the root (`/did:plc:...`).
//! - The write path is `records::commit_writes` (per-DID lock, commit built on a reader
//!   thread, ONE store write job via `records::persist_commit`).
//!
//! Architecture invariants: handlers never talk SQL, they call `aerie_store`'s typed table
//! functions inside `Store::read` / `Store::write` jobs; everything a request changes goes
//! into ONE write job so it commits (and fsyncs) atomically; writes to one repository are
//! serialised by [`state::RepoLocks`].

#![deny(missing_docs)]

pub mod account_sweep;
mod api;
pub mod blob_gc;
pub mod blobstore;
pub mod config;
pub mod crawlers;
mod error;
pub mod import;
pub mod mail;
mod password;
pub mod plc;
pub mod rate_limit;
mod records;
pub mod seq_prune;
pub mod sequencer;
pub mod serve;
mod session;
pub mod state;

pub use api::migration::{PLC_TOKEN_PURPOSE, ServiceAuth, verify_service_token};
pub use config::{Config, ConfigArgs};
pub use error::Error;
pub use state::AppState;
