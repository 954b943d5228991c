//! aerie-data: the atproto data model.
//!
//! - [`Cid`]: a compact, blessed CIDv1 (sha2-256; dag-cbor or raw).
//! - [`Value`]: the data model as an owned tree.
//! - DRISL (the DAG-CBOR subset atproto hashes): a strict decoder and a canonical encoder.
//! - The JSON mapping (`$link`, `$bytes`, blob refs).
#![deny(missing_docs)]

mod blob;
mod cid;
mod value;

pub use blob::{BlobRef, validate_record};
pub use cid::{CID_LEN, Cid, CidError, Codec};
pub use value::Value;

pub mod drisl;
pub mod json;
