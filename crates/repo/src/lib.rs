//! aerie-repo: atproto repositories.
//!
//! - [`mst`]: the Merkle Search Tree (build, edit, list, diff, proofs, inversion, checks).
//! - [`car`]: CAR v1 reading (streamed, hash-checked, size-limited) and writing.
//! - [`commit`]: signed commits (repo format v3).
#![deny(missing_docs)]

pub mod car;
pub mod commit;
mod error;
pub mod mst;

pub use error::Error;
