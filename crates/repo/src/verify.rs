//! Full verification of a repository CAR (`com.atproto.sync.getRepo` output).
//!
//! [`verify_car`] reads the CAR once (hash-checking every block as it streams), then checks:
//! exactly one root, which is a strictly decoded commit; the commit signature when a key is
//! given ([`SignatureCheck::NotChecked`] otherwise: never silently "ok"); the MST under the
//! commit is complete (every node present) and canonical (exactly the tree its keys give);
//! every record block is present and is one strict DRISL map. Memory is bounded by the input:
//! blocks are kept once, in the order-independent map the tree walk needs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use aerie_crypto::PublicKey;
use aerie_data::{Cid, Value, drisl};
use aerie_syntax::{Did, Tid};

use crate::Error;
use crate::car::CarLimits;
use crate::car::{CarBlocks, CarContents, SliceBlocks, read_car, read_car_slice};
use crate::commit::Commit;
use crate::mst::{BlockSource, Key, verify_tree_owned};

/// What [`verify_car`] checks beyond the structure.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The account's signing key; without it the signature is reported as not checked.
    pub key: Option<PublicKey>,
    /// The DID the commit must name, if known.
    pub did: Option<Did>,
    /// CAR size limits.
    pub limits: CarLimits,
}

/// The outcome of the signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// No key was given: the signature was not checked.
    NotChecked,
    /// The signature verifies with the given key.
    Valid,
    /// The signature does not verify with the given key (the reason says why).
    Invalid(String),
}

/// Facts collected while verifying.
#[derive(Debug, Clone)]
pub struct Report {
    /// The account.
    pub did: Did,
    /// The commit's revision.
    pub rev: Tid,
    /// The commit's format version.
    pub version: u64,
    /// CID of the commit (the CAR root).
    pub commit_cid: Cid,
    /// The MST root.
    pub data: Cid,
    /// Signature status.
    pub signature: SignatureCheck,
    /// Number of records.
    pub records: u64,
    /// Records per collection.
    pub per_collection: BTreeMap<String, u64>,
    /// Number of MST nodes.
    pub mst_nodes: u64,
    /// Distinct blocks in the file.
    pub blocks: u64,
    /// Sections that repeated an earlier block.
    pub duplicate_blocks: u64,
    /// Blocks neither the commit, a node nor a record (allowed, but worth knowing).
    pub unreferenced_blocks: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// A verified repository: its report, commit, blocks and records. `B` holds the blocks:
/// [`CarBlocks`] (copied from a stream) or [`SliceBlocks`] (borrowed from a CAR in memory).
#[derive(Debug)]
pub struct Verified<B = CarBlocks> {
    /// What was found.
    pub report: Report,
    /// The commit.
    pub commit: Commit,
    /// Every block of the file.
    pub blocks: B,
    /// Every record path and CID, sorted by path.
    pub entries: Vec<(Key, Cid)>,
}

/// One record of a verified repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Its path.
    pub path: Key,
    /// Its CID.
    pub cid: Cid,
    /// Its value (a map).
    pub value: Value,
}

impl<B: BlockSource> Verified<B> {
    /// The records in path order, decoded.
    pub fn records(&self) -> impl Iterator<Item = Result<Record, Error>> + '_ {
        self.entries.iter().map(|(path, cid)| {
            let bytes = record_block(&self.blocks, cid)?;
            let value = decode_record(path, cid, &bytes)?;
            Ok(Record {
                path: path.clone(),
                cid: *cid,
                value,
            })
        })
    }
}

/// A record's block (absent = error: a verified tree names only present records).
fn record_block<'b, B: BlockSource>(blocks: &'b B, cid: &Cid) -> Result<Cow<'b, [u8]>, Error> {
    let missing = Error::MissingBlock {
        cid: *cid,
        what: "record",
    };
    match blocks.block(cid) {
        Ok(Some(b)) => Ok(b),
        Ok(None) | Err(_) => Err(missing),
    }
}

fn decode_record(path: &Key, cid: &Cid, bytes: &[u8]) -> Result<Value, Error> {
    let bad = |reason: String| Error::BadRecord {
        path: path.to_string(),
        cid: *cid,
        reason,
    };
    let value = drisl::decode(bytes).map_err(|e| bad(e.to_string()))?;
    if value.as_map().is_none() {
        return Err(bad("record is not a map".into()));
    }
    Ok(value)
}

/// Verify a repository CAR completely (see the module docs).
pub fn verify_car<R: Read>(input: R, options: &VerifyOptions) -> Result<Verified, Error> {
    let contents = read_car(input, options.limits)?;
    verify_contents(contents, options)
}

/// [`verify_car`] for a CAR already in memory: the same checks, with blocks read in place
/// instead of copied (the fast path when the whole file is at hand).
pub fn verify_car_bytes<'a>(
    bytes: &'a [u8],
    options: &VerifyOptions,
) -> Result<Verified<SliceBlocks<'a>>, Error> {
    let c = read_car_slice(bytes, options.limits)?;
    verify_blocks(c.roots, c.blocks, c.duplicate_blocks, c.bytes, options)
}

/// Verify CAR contents already read with [`read_car`].
pub fn verify_contents(contents: CarContents, options: &VerifyOptions) -> Result<Verified, Error> {
    let CarContents {
        roots,
        blocks,
        duplicate_blocks,
        bytes,
    } = contents;
    verify_blocks(roots, blocks, duplicate_blocks, bytes, options)
}

/// The checks shared by every entry point; `blocks` were hash-checked as they were read.
fn verify_blocks<B: BlockSource + FindBlock>(
    roots: Vec<Cid>,
    blocks: B,
    duplicate_blocks: u64,
    bytes: u64,
    options: &VerifyOptions,
) -> Result<Verified<B>, Error> {
    let [commit_cid] = roots[..] else {
        return Err(Error::RootCount(roots.len()));
    };
    let commit_bytes = blocks
        .block(&commit_cid)
        .ok()
        .flatten()
        .ok_or(Error::MissingBlock {
            cid: commit_cid,
            what: "commit",
        })?;
    let commit = Commit::decode(&commit_bytes)?;
    drop(commit_bytes);
    if let Some(did) = options.did.as_ref().filter(|d| *d != commit.did()) {
        return Err(Error::WrongDid {
            expected: did.to_string(),
            found: commit.did().to_string(),
        });
    }
    let signature = match &options.key {
        None => SignatureCheck::NotChecked,
        Some(key) => match commit.verify(key) {
            Ok(()) => SignatureCheck::Valid,
            Err(e) => SignatureCheck::Invalid(e.to_string()),
        },
    };

    // Every entry names a record block, so the block count bounds the entry count (unless
    // records repeat); reserving it avoids regrowing the largest vector of the walk.
    let mut entries: Vec<(Key, Cid)> = Vec::with_capacity(blocks.block_count());
    let stats = verify_tree_owned(&blocks, commit.data(), &mut |key, cid| {
        entries.push((key, cid))
    })?;
    let mut per_collection: BTreeMap<String, u64> = BTreeMap::new();
    // Records shared by several paths are checked once: mark each by its block id.
    let mut checked = vec![false; blocks.block_count()];
    let mut distinct_records = 0u64;
    // Entries are sorted by path, so each collection's records are consecutive: count a run,
    // then add it to the map once.
    let mut run: Option<(&str, u64)> = None;
    for (path, cid) in &entries {
        let (bytes, id) = blocks.find_block(cid).ok_or(Error::MissingBlock {
            cid: *cid,
            what: "record",
        })?;
        let first = checked
            .get_mut(id)
            .is_none_or(|c| !std::mem::replace(c, true));
        if first {
            distinct_records += 1;
            // Full strict validation without building a value (export decodes later).
            crate::repo::check_record(bytes).map_err(|reason| Error::BadRecord {
                path: path.to_string(),
                cid: *cid,
                reason,
            })?;
        }
        let collection = path.collection();
        match &mut run {
            Some((c, n)) if *c == collection => *n += 1,
            _ => {
                if let Some((c, n)) = run.replace((collection, 1)) {
                    *per_collection.entry(c.to_owned()).or_default() += n;
                }
            }
        }
    }
    if let Some((c, n)) = run {
        *per_collection.entry(c.to_owned()).or_default() += n;
    }
    // Every node and record block is present (checked above) and nodes never repeat, so the
    // rest of the file is the commit plus whatever nobody links to.
    let referenced = 1 + stats.nodes as u64 + distinct_records;
    let count = blocks.block_count() as u64;
    let report = Report {
        did: commit.did().clone(),
        rev: commit.rev(),
        version: commit.version(),
        commit_cid,
        data: *commit.data(),
        signature,
        records: entries.len() as u64,
        per_collection,
        mst_nodes: stats.nodes as u64,
        blocks: count,
        duplicate_blocks,
        unreferenced_blocks: count.saturating_sub(referenced),
        bytes,
    };
    Ok(Verified {
        report,
        commit,
        blocks,
        entries,
    })
}

/// Block stores with dense block ids (to mark records already checked).
trait FindBlock {
    /// Distinct blocks held; ids are below this.
    fn block_count(&self) -> usize;
    /// A block's bytes and id.
    fn find_block(&self, cid: &Cid) -> Option<(&[u8], usize)>;
}

impl FindBlock for CarBlocks {
    fn block_count(&self) -> usize {
        self.len()
    }
    fn find_block(&self, cid: &Cid) -> Option<(&[u8], usize)> {
        self.find(cid)
    }
}

impl FindBlock for SliceBlocks<'_> {
    fn block_count(&self) -> usize {
        self.len()
    }
    fn find_block(&self, cid: &Cid) -> Option<(&[u8], usize)> {
        self.find(cid)
    }
}
