//! The crate's error type.

use aerie_data::{Cid, CidError};

use crate::mst::MstError;

/// Why reading, building, verifying or writing a repository failed.
///
/// Offsets are byte positions in the CAR input; CIDs name the block concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The CAR input held no bytes at all.
    #[error("empty CAR file (no header)")]
    CarEmpty,
    /// Reading the input failed.
    #[error("read error at byte {offset}: {error}")]
    Io {
        /// Where reading failed.
        offset: u64,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The input ended inside a header, varint or section.
    #[error("CAR truncated at byte {offset}: {missing} more bytes of {what} expected")]
    CarTruncated {
        /// Where the input ended.
        offset: u64,
        /// What was being read.
        what: &'static str,
        /// Bytes still expected.
        missing: u64,
    },
    /// A length varint is malformed.
    #[error("CAR varint at byte {offset} is {reason}")]
    CarVarint {
        /// Start of the varint.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A header, block or the whole file is larger than allowed.
    #[error("CAR {what} of {len} bytes at byte {offset} exceeds the limit of {limit}")]
    CarTooLarge {
        /// Start of the item.
        offset: u64,
        /// `"header"`, `"block"` or `"file"`.
        what: &'static str,
        /// Its declared size.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// The CAR header is not `{roots: [...], version: 1}`.
    #[error("CAR header at byte {offset}: {reason}")]
    CarHeader {
        /// Start of the header map.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A section is malformed.
    #[error("CAR section at byte {offset}: {reason}")]
    CarSection {
        /// Start of the section.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A section's CID is not a blessed atproto CID.
    #[error("CAR section at byte {offset}: {error}")]
    CarCid {
        /// Start of the section.
        offset: u64,
        /// Why the CID was refused.
        error: CidError,
    },
    /// A block's bytes do not hash to its CID.
    #[error("block {cid} at byte {offset} does not match its hash")]
    HashMismatch {
        /// The CID the section claims.
        cid: Cid,
        /// Start of the section.
        offset: u64,
    },
    /// The CAR does not have exactly one root.
    #[error("CAR has {0} roots, expected exactly one (the commit)")]
    RootCount(usize),
    /// A block needed is absent.
    #[error("missing block {cid} ({what})")]
    MissingBlock {
        /// The absent block.
        cid: Cid,
        /// What it should have been.
        what: &'static str,
    },
    /// A commit block is malformed.
    #[error("commit: {reason}")]
    CommitDecode {
        /// What is wrong.
        reason: String,
    },
    /// A commit's signature does not verify.
    #[error("commit signature for {did} does not verify: {reason}")]
    BadSignature {
        /// The commit's DID.
        did: String,
        /// The verifier's reason.
        reason: String,
    },
    /// A commit names another account than expected.
    #[error("commit is for {found}, expected {expected}")]
    WrongDid {
        /// The DID expected.
        expected: String,
        /// The DID in the commit.
        found: String,
    },
    /// A new revision is not greater than the previous one.
    #[error("revision {rev} is not after the previous revision {prev}")]
    RevNotIncreasing {
        /// The new revision.
        rev: String,
        /// The current one.
        prev: String,
    },
    /// A write or op is inconsistent with the repository.
    #[error("{action} {path}: {reason}")]
    BadWrite {
        /// create, update or delete.
        action: &'static str,
        /// The record path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A record block is not a DRISL map.
    #[error("record {path} ({cid}): {reason}")]
    BadRecord {
        /// The record path.
        path: String,
        /// The record's CID.
        cid: Cid,
        /// What is wrong.
        reason: String,
    },
    /// The MST is malformed, incomplete or an operation on it failed.
    #[error(transparent)]
    Mst(#[from] MstError),
    /// Inverting a commit's ops did not reach the previous data root.
    #[error("inverted ops give MST root {computed}, but the previous root is {expected}")]
    PrevDataMismatch {
        /// What inversion computed.
        computed: Cid,
        /// What the caller expected.
        expected: Cid,
    },
}
