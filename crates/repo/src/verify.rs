//! Full verification of a repository CAR (`com.atproto.sync.getRepo` output).
//!
//! [`verify_car`] reads the CAR once (hash-checking every block as it streams), then checks:
//! exactly one root, which is a strictly decoded commit; the commit signature when a key is
//! given ([`SignatureCheck::NotChecked`] otherwise: never silently "ok"); the MST under the
//! commit is complete (every node present) and canonical (exactly the tree its keys give);
//! every record block is present and is one strict DRISL map. Memory is bounded by the input:
//! blocks are kept once, in the order-independent map the tree walk needs.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use aerie_crypto::PublicKey;
use aerie_data::{Cid, Value, drisl};
use aerie_syntax::{Did, Tid};

use crate::Error;
use crate::car::CarLimits;
use crate::car::{CarBlocks, CarContents, DigestState, read_car};
use crate::commit::Commit;
use crate::mst::{Key, verify_tree};

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

/// A verified repository: its report, commit, blocks and records.
#[derive(Debug)]
pub struct Verified {
    /// What was found.
    pub report: Report,
    /// The commit.
    pub commit: Commit,
    /// Every block of the file.
    pub blocks: CarBlocks,
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

impl Verified {
    /// The records in path order, decoded.
    pub fn records(&self) -> impl Iterator<Item = Result<Record, Error>> + '_ {
        self.entries.iter().map(|(path, cid)| {
            let bytes = self.blocks.get(cid).ok_or(Error::MissingBlock {
                cid: *cid,
                what: "record",
            })?;
            let value = decode_record(path, cid, bytes)?;
            Ok(Record {
                path: path.clone(),
                cid: *cid,
                value,
            })
        })
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

/// Verify CAR contents already read with [`read_car`].
pub fn verify_contents(contents: CarContents, options: &VerifyOptions) -> Result<Verified, Error> {
    let CarContents {
        roots,
        blocks,
        duplicate_blocks,
        bytes,
    } = contents;
    let [commit_cid] = roots[..] else {
        return Err(Error::RootCount(roots.len()));
    };
    let commit_bytes = blocks.get(&commit_cid).ok_or(Error::MissingBlock {
        cid: commit_cid,
        what: "commit",
    })?;
    let commit = Commit::decode(commit_bytes)?;
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

    let mut entries: Vec<(Key, Cid)> = Vec::new();
    let stats = verify_tree(&blocks, commit.data(), |key, cid| {
        entries.push((key.clone(), *cid))
    })?;
    let mut per_collection: BTreeMap<String, u64> = BTreeMap::new();
    let mut record_cids: HashSet<Cid, DigestState> =
        HashSet::with_capacity_and_hasher(entries.len(), DigestState::default());
    for (path, cid) in &entries {
        let bytes = blocks.get(cid).ok_or(Error::MissingBlock {
            cid: *cid,
            what: "record",
        })?;
        if record_cids.insert(*cid) {
            // Full strict validation without building a value (export decodes later).
            crate::repo::check_record(bytes).map_err(|reason| Error::BadRecord {
                path: path.to_string(),
                cid: *cid,
                reason,
            })?;
        }
        match per_collection.get_mut(path.collection()) {
            Some(n) => *n += 1,
            None => {
                per_collection.insert(path.collection().to_owned(), 1);
            }
        }
    }
    // Every node and record block is present (checked above) and nodes never repeat, so the
    // rest of the file is the commit plus whatever nobody links to.
    let referenced = 1 + stats.nodes as u64 + record_cids.len() as u64;
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
        blocks: blocks.len() as u64,
        duplicate_blocks,
        unreferenced_blocks: (blocks.len() as u64).saturating_sub(referenced),
        bytes,
    };
    Ok(Verified {
        report,
        commit,
        blocks,
        entries,
    })
}
