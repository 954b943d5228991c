//! aerie-repo: atproto repositories (repo format v3, sync 1.1).
//!
//! A repository is a Merkle Search Tree ([`mst`]) mapping `collection/rkey` paths to record
//! CIDs, under a signed [`commit`]. Everything here is sans-IO: blocks come from a
//! [`mst::BlockSource`] the caller implements (the PDS over SQLite, tests over
//! [`mst::MemoryBlocks`]), and results are values and byte vectors.
//!
//! - [`mst`]: the tree: build, edit, list, diff, proofs, inversion, strict checks.
//! - [`car`]: CAR v1 reading (streamed, hash-checked, size-limited) and writing.
//! - [`commit`]: signed commits.
//! - [`repo`]: [`repo::Repo`], the write path: [`repo::Repo::apply_writes`] returns a
//!   [`repo::CommitData`] with the blocks to store and drop, the firehose ops, and the
//!   `#commit` CAR slice; also full exports and record proofs.
//! - [`sync`]: what a relay checks: `#commit` slices (op inversion back to `prevData`) and
//!   record proofs.
//! - [`verify`]: full verification of a repository CAR (`aerie repo verify`).
//! - [`fuzz`]: the fuzz targets' entry points.
//!
//! ```
//! use aerie_crypto::{KeyType, SigningKey};
//! use aerie_repo::mst::{Key, MemoryBlocks};
//! use aerie_repo::repo::{Repo, Write};
//! use aerie_syntax::{Did, Tid};
//!
//! let key = SigningKey::generate(KeyType::K256)?;
//! let did = Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz")?;
//! let mut store = MemoryBlocks::new();
//! let (mut repo, first) = Repo::create(did.clone(), &key, Tid::from_parts(1_700_000_000_000_000, 0)?);
//! store.extend(first.new_blocks);
//!
//! // {"$type": "app.bsky.feed.like"} as canonical DRISL.
//! let mut record = aerie_data::drisl::Writer::new();
//! record.map(1).text("$type").text("app.bsky.feed.like");
//! let path = Key::from_parts("app.bsky.feed.like", "3kabcdefghij2")?;
//! let commit = repo.apply_writes(
//!     &store,
//!     &[Write::create(path, record.into_inner())],
//!     &key,
//!     Tid::from_parts(1_700_000_000_000_001, 0)?,
//! )?;
//!
//! // A relay receiving the #commit event recovers the previous tree root from the slice.
//! let checked = aerie_repo::sync::verify_commit_slice(
//!     &commit.car_slice(),
//!     &commit.ops,
//!     Some(&did),
//!     &key.public_key(),
//! )?;
//! assert_eq!(Some(checked.prev_data), commit.prev_data);
//!
//! // The store keeps what the commit added and drops what it replaced.
//! for cid in &commit.removed_blocks {
//!     store.remove(cid);
//! }
//! store.extend(commit.new_blocks);
//! let car = repo.write_car(&store, Vec::new())?;
//! let options = aerie_repo::verify::VerifyOptions {
//!     key: Some(key.public_key()),
//!     ..Default::default()
//! };
//! assert_eq!(aerie_repo::verify::verify_car(car.as_slice(), &options)?.report.records, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Architecture invariant: no async runtime, no storage, no network; inputs are bytes and
//! block sources, and no input makes this crate panic (the fuzz targets check that).
#![deny(missing_docs)]

pub mod build;
pub mod car;
pub mod commit;
mod error;
pub mod fuzz;
pub mod mst;
pub mod par;
pub mod repo;
pub mod sync;
pub mod verify;
mod walk;

pub use error::Error;
