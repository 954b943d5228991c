//! Full verification of a repository CAR (`com.atproto.sync.getRepo` output).
//!
//! [`verify_car`] reads the CAR once (hash-checking every block as it streams), then checks:
//! exactly one root, which is a strictly decoded commit; the commit signature when a key is
//! given ([`SignatureCheck::NotChecked`] otherwise: never silently "ok"); the MST under the
//! commit is complete (every node present) and canonical (exactly the tree its keys give);
//! every record block is present and is one strict DRISL map. Memory is bounded by the input:
//! blocks are kept once, in the order-independent map the tree walk needs.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};

use aerie_crypto::PublicKey;
use aerie_data::{Cid, Value, drisl};
use aerie_syntax::{Did, Tid};

use crate::Error;
use crate::car::CarLimits;
use crate::car::{
    CarBlocks, CarContents, SliceBlocks, SliceIndex, read_car, read_car_slice_with, record_state,
};
use crate::commit::Commit;
use crate::mst::{BlockSource, Entries, Key, SharedSource, verify_tree_entries};

/// What [`verify_car`] checks beyond the structure.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The account's signing key; without it the signature is reported as not checked.
    pub key: Option<PublicKey>,
    /// The DID the commit must name, if known.
    pub did: Option<Did>,
    /// CAR size limits.
    pub limits: CarLimits,
    /// Threads for hashing and walking: `None` chooses (all cores for inputs of a mebibyte
    /// or more, see [`crate::par::workers`]); `Some(1)` keeps to the calling thread.
    pub threads: Option<NonZeroUsize>,
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
    pub entries: Entries,
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
            let path = path.to_key();
            let bytes = record_block(&self.blocks, cid)?;
            let value = decode_record(&path, cid, &bytes)?;
            Ok(Record {
                path,
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
    let workers = crate::par::workers(options.threads, bytes.len());
    let (c, states) = read_car_slice_with(bytes, options.limits, workers, true)?;
    verify_blocks(
        c.roots,
        c.blocks,
        &states,
        c.duplicate_blocks,
        c.bytes,
        options,
    )
}

/// Verify CAR contents already read with [`read_car`].
pub fn verify_contents(contents: CarContents, options: &VerifyOptions) -> Result<Verified, Error> {
    let CarContents {
        roots,
        blocks,
        duplicate_blocks,
        bytes,
    } = contents;
    verify_blocks(roots, blocks, &[], duplicate_blocks, bytes, options)
}

/// The checks shared by every entry point; `blocks` were hash-checked as they were read, and
/// `states` (empty, or one per block id) says which were already checked as records.
fn verify_blocks<B: BlockSource + FindBlock>(
    roots: Vec<Cid>,
    blocks: B,
    states: &[u8],
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

    let workers = crate::par::workers(options.threads, bytes as usize);
    let (stats, entries) = verify_tree_entries(
        blocks.shared(),
        commit.data(),
        workers,
        blocks.block_count(),
    )?;
    let (distinct_records, per_collection) = check_records(
        blocks.shared(),
        blocks.block_count(),
        &entries,
        states,
        workers,
    )?;
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

/// Check that every entry's record block is present and a strict DRISL map (unless the read
/// pass already found it so), on up to `workers` threads each taking a contiguous run of
/// entries. Returns the number of distinct record blocks and the records per collection; the
/// error, if any, is the first in path order.
fn check_records<R: RecordSource + ?Sized>(
    src: &R,
    block_count: usize,
    entries: &Entries,
    states: &[u8],
    workers: usize,
) -> Result<(u64, BTreeMap<String, u64>), Error> {
    // Records shared by several paths count once: each run marks the block ids it saw.
    let marks: Vec<AtomicU64> = (0..block_count.div_ceil(64))
        .map(|_| AtomicU64::new(0))
        .collect();
    let per_run = entries.len().div_ceil(workers.max(1)).max(1);
    let runs = crate::par::run_all(entries.runs(per_run).collect(), |part| {
        let cursor = Cell::new(0);
        let mut distinct = 0u64;
        // Entries are sorted by path, so each collection's records are consecutive: count a
        // run of them, then note it once.
        let mut counts: Vec<(&str, u64)> = Vec::new();
        for (path, cid) in part.filter_map(|i| entries.get(i)) {
            let (bytes, id) = src.find_from(cid, &cursor).ok_or(Error::MissingBlock {
                cid: *cid,
                what: "record",
            })?;
            let bit = 1u64 << (id % 64);
            if marks[id / 64].fetch_or(bit, Ordering::Relaxed) & bit == 0 {
                distinct += 1;
            }
            // Full strict validation without building a value (export decodes later).
            if states.get(id) != Some(&record_state::VALID) {
                crate::repo::check_record(bytes).map_err(|reason| Error::BadRecord {
                    path: path.to_string(),
                    cid: *cid,
                    reason,
                })?;
            }
            let collection = path.collection();
            match counts.last_mut() {
                Some((c, n)) if *c == collection => *n += 1,
                _ => counts.push((collection, 1)),
            }
        }
        Ok::<_, Error>((distinct, counts))
    });
    let mut distinct = 0;
    let mut per_collection: BTreeMap<String, u64> = BTreeMap::new();
    for run in runs {
        let (d, counts) = run?;
        distinct += d;
        for (c, n) in counts {
            *per_collection.entry(c.to_owned()).or_default() += n;
        }
    }
    Ok((distinct, per_collection))
}

/// Where [`check_records`] finds record blocks: shared by its threads, each bringing its own
/// lookup cursor.
trait RecordSource: Sync {
    /// A block's bytes and dense id, looking near `cursor` first where that helps.
    fn find_from(&self, cid: &Cid, cursor: &Cell<usize>) -> Option<(&[u8], usize)>;
}

impl RecordSource for CarBlocks {
    fn find_from(&self, cid: &Cid, _cursor: &Cell<usize>) -> Option<(&[u8], usize)> {
        self.find(cid)
    }
}

impl RecordSource for SliceIndex<'_> {
    fn find_from(&self, cid: &Cid, cursor: &Cell<usize>) -> Option<(&[u8], usize)> {
        self.find_near(cid, cursor)
    }
}

/// Block stores with dense block ids (to mark records already checked).
trait FindBlock {
    /// What tree-walking and record-checking threads share.
    type Shared: SharedSource + RecordSource + ?Sized;
    /// The shared form.
    fn shared(&self) -> &Self::Shared;
    /// Distinct blocks held; ids are below this.
    fn block_count(&self) -> usize;
}

impl FindBlock for CarBlocks {
    type Shared = CarBlocks;
    fn shared(&self) -> &CarBlocks {
        self
    }
    fn block_count(&self) -> usize {
        self.len()
    }
}

impl<'a> FindBlock for SliceBlocks<'a> {
    type Shared = SliceIndex<'a>;
    fn shared(&self) -> &SliceIndex<'a> {
        self.index()
    }
    fn block_count(&self) -> usize {
        self.len()
    }
}

impl SharedSource for CarBlocks {
    type View<'a> = &'a CarBlocks;
    fn view(&self) -> &CarBlocks {
        self
    }
}

impl<'s> SharedSource for SliceIndex<'s> {
    type View<'a>
        = crate::car::SliceView<'a, 's>
    where
        Self: 'a;
    fn view(&self) -> crate::car::SliceView<'_, 's> {
        SliceIndex::view(self)
    }
}
