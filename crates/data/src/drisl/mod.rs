//! DRISL: the deterministic DAG-CBOR subset atproto hashes and signs.
//!
//! - [`Reader`]: strict pull reader for hand-written, fixed-schema decoders (MST nodes,
//!   commits, firehose frames).
//! - [`decode`] / [`decode_prefix`]: strict decoding into [`Value`](crate::Value).
//! - [`Writer`] / [`encode`]: canonical encoding.
//!
//! Tricky bits:
//! - Canonical key order is length-first, then bytewise ("e" < "l" < "aa"); a `BTreeMap`
//!   alone is bytewise, so [`encode`] re-sorts and [`decode`] checks.
//! - atproto is stricter than DAG-CBOR: no floats at all, integers only in the `i64` range,
//!   and only blessed CIDs (CIDv1, sha2-256, dag-cbor or raw) inside tag 42.
//! - Untrusted lengths: every declared length is compared with the bytes left before
//!   anything is allocated, so memory stays proportional to the input.

mod decode;
mod encode;
mod error;
mod limits;
mod reader;
mod validate;
mod writer;

pub use decode::{decode, decode_prefix, decode_prefix_with, decode_with};
pub use encode::{encode, encode_into};
pub use error::{DecodeError, DecodeErrorKind};
pub use limits::Limits;
pub use reader::{ItemType, Reader, canonical_key_order};
pub use validate::validate;
pub use writer::Writer;
