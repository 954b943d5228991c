//! aerie-repo: atproto repositories.
//!
//! - [`mst`]: the Merkle Search Tree (build, edit, list, diff, proofs, inversion, checks).
//! - [`car`]: CAR v1 reading (streamed, hash-checked, size-limited) and writing.
//! - [`commit`]: signed commits (repo format v3).
//! - [`repo`]: the repository API: create, load, apply writes, commit data for the firehose.
//! - [`sync`]: checks of `#commit` CAR slices (op inversion) and record proofs.
//! - [`verify`]: full verification of a repository CAR.
#![deny(missing_docs)]

pub mod car;
pub mod commit;
mod error;
pub mod fuzz;
pub mod mst;
pub mod repo;
pub mod sync;
pub mod verify;
mod walk;

pub use error::Error;
