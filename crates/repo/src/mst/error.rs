//! The MST error type.

use aerie_data::Cid;

/// Error returned by a [`BlockSource`](super::BlockSource) implementation (storage failure).
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in the MST.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MstError {
    /// A key is not a valid repository path.
    #[error("invalid MST key {key:?}: {reason}")]
    InvalidKey {
        /// The key (lossy UTF-8).
        key: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A node needed by the operation is not in the block source (partial tree).
    #[error("MST node {0} is missing from the block source")]
    MissingBlock(Cid),
    /// The block source failed.
    #[error("block source failed reading {cid}: {source}")]
    Source {
        /// The block being read.
        cid: Cid,
        /// The storage error.
        source: SourceError,
    },
    /// A block's bytes do not hash to its CID.
    #[error("MST node {0}: bytes do not hash to the CID")]
    HashMismatch(Cid),
    /// A node block is not a strictly encoded MST node.
    #[error("MST node {}: malformed at byte {offset}: {reason}", fmt_cid(.cid))]
    Decode {
        /// The node's CID, when known.
        cid: Option<Cid>,
        /// Byte offset of the problem.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// A node breaks a tree-shape rule, so the tree is not the canonical tree of its keys.
    #[error("MST node {}{}: {reason}", fmt_cid(.cid), fmt_key(.key))]
    NotCanonical {
        /// The offending node, when it has a CID.
        cid: Option<Cid>,
        /// The offending key, when one is to blame.
        key: Option<String>,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A node has more entries than [`MAX_NODE_ENTRIES`](super::MAX_NODE_ENTRIES).
    #[error("MST node {}: {count} entries exceed the limit", fmt_cid(.cid))]
    TooManyEntries {
        /// The node.
        cid: Option<Cid>,
        /// Entries found.
        count: usize,
    },
    /// A key's layer exceeds [`MAX_LAYER`](super::MAX_LAYER).
    #[error("MST layer {0} exceeds the limit")]
    TooDeep(u8),
    /// Bulk-build input was not strictly ascending.
    #[error("MST build input not strictly ascending at {key:?}")]
    Unsorted {
        /// The first out-of-order key.
        key: String,
    },
    /// The operation needs node CIDs, but the tree has changes not yet hashed
    /// (call [`Mst::commit`](super::Mst::commit) first).
    #[error("MST has uncommitted changes")]
    Uncommitted,
    /// A record operation is malformed (missing or extra `cid`/`prev`).
    #[error("invalid operation on {path}: {reason}")]
    InvalidOp {
        /// The operation's path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two operations in one batch name the same path.
    #[error("duplicate operation path {0}")]
    DuplicatePath(String),
    /// Inverting an operation found a value other than the one the operation claims.
    #[error("operation on {path} does not match the tree: expected {}, found {}",
        fmt_opt(.expected), fmt_opt(.found))]
    OpMismatch {
        /// The operation's path.
        path: String,
        /// The value the operation implies.
        expected: Option<Cid>,
        /// The value in the tree.
        found: Option<Cid>,
    },
}

fn fmt_cid(cid: &Option<Cid>) -> String {
    cid.map_or_else(|| "(unhashed)".to_owned(), |c| c.to_string())
}

fn fmt_key(key: &Option<String>) -> String {
    key.as_ref()
        .map_or_else(String::new, |k| format!(" at key {k:?}"))
}

fn fmt_opt(cid: &Option<Cid>) -> String {
    cid.map_or_else(|| "absent".to_owned(), |c| c.to_string())
}
