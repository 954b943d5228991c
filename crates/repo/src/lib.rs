//! aerie-repo: atproto repositories.
//!
//! - [`mst`]: the Merkle Search Tree (build, edit, list, diff, proofs, inversion, checks).
//! - CAR v1 reading and writing, commits, and whole-repo verification (being written).
#![deny(missing_docs)]

pub mod mst;
