//! aerie-data: the atproto data model.
//!
//! - [`Cid`]: a compact, blessed CIDv1 (sha2-256; dag-cbor or raw).
//! - [`Value`]: the data model as an owned tree.
//! - DRISL (the DAG-CBOR subset atproto hashes): a strict decoder and a canonical encoder.
//! - The JSON mapping (`$link`, `$bytes`, blob refs) in [`json`], record-level checks in
//!   [`validate_record`], blob references in [`BlobRef`] and [`Value::blob_refs`].
//!
//! ```
//! use aerie_data::{Cid, drisl, json, validate_record};
//!
//! let record = json::from_json(&serde_json::json!({
//!     "$type": "com.example.note",
//!     "text": "hi",
//!     "n": 3.0,
//! }))?;
//! validate_record(&record)?;
//! let bytes = drisl::encode(&record); // canonical: keys length-first
//! assert_eq!(drisl::decode(&bytes)?, record);
//! assert_eq!(json::to_json(&record)["n"], 3); // integral floats read as integers
//! let _cid = Cid::for_cbor(&bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod blob;
mod cid;
mod value;

pub use blob::{BlobRef, validate_record};
pub use cid::{CID_LEN, Cid, CidError, Codec};
pub use value::Value;

pub mod drisl;
pub mod json;
