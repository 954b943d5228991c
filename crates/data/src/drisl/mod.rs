//! DRISL: the deterministic DAG-CBOR subset atproto hashes and signs.
//!
//! - [`Reader`]: strict pull reader for hand-written, fixed-schema decoders (MST nodes,
//!   commits, firehose frames).
//! - [`decode`] / [`decode_prefix`]: strict decoding into [`Value`](crate::Value).
//! - [`Writer`] / [`encode`]: canonical encoding.

mod decode;
mod encode;
mod error;
mod limits;
mod reader;
mod writer;

pub use decode::{decode, decode_prefix, decode_prefix_with, decode_with};
pub use encode::{encode, encode_into};
pub use error::{DecodeError, DecodeErrorKind};
pub use limits::Limits;
pub use reader::{ItemType, Reader, canonical_key_order};
pub use writer::Writer;
