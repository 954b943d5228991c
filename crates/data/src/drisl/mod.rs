//! DRISL: the deterministic DAG-CBOR subset atproto hashes and signs.

mod writer;

pub use writer::Writer;
