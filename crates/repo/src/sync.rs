//! Checking what other servers send: `#commit` CAR slices (sync 1.1) and record proofs
//! (`com.atproto.sync.getRecord`).
//!
//! [`verify_commit_slice`] is what a relay or an `@atproto/sync`-style consumer does with
//! every `#commit` event: parse the slice, check the commit (one root, version 3, DID,
//! signature), then undo the event's ops on the partial tree the slice carries and return
//! the root that gives. That root must equal the event's `prevData` (and the consumer's
//! stored root for the account); comparing is the caller's job, since only it knows what it
//! stored.

use aerie_crypto::PublicKey;
use aerie_data::Cid;
use aerie_syntax::Did;

use crate::Error;
use crate::car::CarLimits;
use crate::car::{CarBlocks, read_car};
use crate::commit::{COMMIT_VERSION, Commit};
use crate::mst::{Action, BlockSource, Mst, RecordOp, verify_proof};
use crate::repo::read_block;

/// What a verified `#commit` slice established.
#[derive(Debug, Clone)]
pub struct VerifiedCommit {
    /// The new commit (signature checked).
    pub commit: Commit,
    /// Its CID (the slice's root).
    pub commit_cid: Cid,
    /// The tree root before the ops, computed by inverting them: compare with `prevData`.
    pub prev_data: Cid,
}

/// The slice's single root, its commit block, decoded and checked against `did` and `key`.
fn checked_commit(
    blocks: &CarBlocks,
    roots: &[Cid],
    did: Option<&Did>,
    key: &PublicKey,
) -> Result<(Commit, Cid), Error> {
    let [commit_cid] = roots[..] else {
        return Err(Error::RootCount(roots.len()));
    };
    let bytes = blocks.get(&commit_cid).ok_or(Error::MissingBlock {
        cid: commit_cid,
        what: "commit",
    })?;
    let commit = Commit::decode(bytes)?;
    if commit.version() != COMMIT_VERSION {
        return Err(Error::CommitDecode {
            reason: format!(
                "version {} where {COMMIT_VERSION} is required",
                commit.version()
            ),
        });
    }
    if let Some(did) = did.filter(|d| *d != commit.did()) {
        return Err(Error::WrongDid {
            expected: did.to_string(),
            found: commit.did().to_string(),
        });
    }
    commit.verify(key)?;
    Ok((commit, commit_cid))
}

/// Verify a `#commit` event's `blocks` against its `ops` (see the module docs). `did`, when
/// given, must be the commit's DID (the event's `repo`). Record blocks of creates and updates
/// must be in the slice, as the sync spec requires.
pub fn verify_commit_slice(
    car: &[u8],
    ops: &[RecordOp],
    did: Option<&Did>,
    key: &PublicKey,
) -> Result<VerifiedCommit, Error> {
    let contents = read_car(car, CarLimits::DEFAULT)?;
    let (commit, commit_cid) = checked_commit(&contents.blocks, &contents.roots, did, key)?;
    for op in ops {
        if let (Action::Create | Action::Update, Some(cid)) = (op.action, op.cid)
            && !contents.blocks.contains(&cid)
        {
            return Err(Error::MissingBlock {
                cid,
                what: "record of a create or update op",
            });
        }
    }
    let mut tree = Mst::load(*commit.data());
    let prev_data = tree.invert(&contents.blocks, ops)?;
    Ok(VerifiedCommit {
        commit,
        commit_cid,
        prev_data,
    })
}

/// The CAR `com.atproto.sync.getRecord` serves: root = the commit; the commit block, the MST
/// nodes on `key`'s search path, and the record block when the record exists (without it,
/// the same nodes prove absence).
pub fn record_proof<S: BlockSource + ?Sized>(
    src: &S,
    commit_cid: Cid,
    key: &crate::mst::Key,
) -> Result<Vec<u8>, Error> {
    let commit_bytes = read_block(src, &commit_cid, "commit")?;
    let commit = Commit::decode(&commit_bytes)?;
    let tree = Mst::load(*commit.data());
    let mut out = crate::car::write_car(&[commit_cid], [(&commit_cid, commit_bytes.as_slice())]);
    for cid in tree.search_path(src, key)? {
        let bytes = read_block(src, &cid, "MST node")?;
        crate::car::push_section(&mut out, &cid, &bytes);
    }
    if let Some(cid) = tree.get(src, key)? {
        let bytes = read_block(src, &cid, "record")?;
        crate::car::push_section(&mut out, &cid, &bytes);
    }
    Ok(out)
}

/// Check a record proof CAR: commit signature (and DID when given), then the path from the
/// commit's tree root to `key`. Returns the record's CID and bytes, or `None` when the proof
/// shows the record is absent.
pub fn verify_record_proof(
    car: &[u8],
    did: Option<&Did>,
    key: &PublicKey,
    path: &crate::mst::Key,
) -> Result<Option<(Cid, Vec<u8>)>, Error> {
    let contents = read_car(car, CarLimits::DEFAULT)?;
    let (commit, _) = checked_commit(&contents.blocks, &contents.roots, did, key)?;
    match verify_proof(commit.data(), path, &contents.blocks)? {
        None => Ok(None),
        Some(cid) => {
            let bytes = contents.blocks.get(&cid).ok_or(Error::MissingBlock {
                cid,
                what: "record",
            })?;
            Ok(Some((cid, bytes.to_vec())))
        }
    }
}
