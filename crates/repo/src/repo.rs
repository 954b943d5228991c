//! The repository: a signed commit over an MST of records.
//!
//! [`Repo`] holds the current commit and the tree; blocks live in a [`BlockSource`] passed to
//! every call, so a `Repo` can be cached between requests while storage stays the caller's
//! (the PDS keeps blocks in SQLite, tests in [`MemoryBlocks`]). Nothing here does I/O.
//!
//! A write batch goes through [`Repo::apply_writes`], which returns a [`CommitData`]: every
//! block the caller must store, every block it may drop, the ops of the `#commit` firehose
//! event and, through [`CommitData::car_slice`], its `blocks` CAR (sync 1.1: enough blocks for
//! a consumer to invert the ops and recover the previous tree root).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use aerie_crypto::SigningKey;
use aerie_data::Cid;
use aerie_syntax::{Did, Tid};

use crate::Error;
use crate::car;
use crate::commit::{Commit, UnsignedCommit};
use crate::mst::{Action, BlockSource, Key, Mst, MstError, RecordOp};
use crate::walk::Visit;

/// The firehose spelling of an action: `create`, `update` or `delete`.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Delete => "delete",
    }
}

/// An action from its firehose spelling.
pub fn parse_action(s: &str) -> Option<Action> {
    match s {
        "create" => Some(Action::Create),
        "update" => Some(Action::Update),
        "delete" => Some(Action::Delete),
        _ => None,
    }
}

/// One record write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Create, update or delete.
    pub action: Action,
    /// The record path `collection/rkey`.
    pub key: Key,
    /// The record as canonical DRISL (a map); `None` for deletes.
    pub record: Option<Vec<u8>>,
}

impl Write {
    /// Create the record `record` (DRISL bytes of a map) at `collection/rkey`.
    pub fn create(key: Key, record: Vec<u8>) -> Write {
        Write {
            action: Action::Create,
            key,
            record: Some(record),
        }
    }

    /// Replace the record at `key`.
    pub fn update(key: Key, record: Vec<u8>) -> Write {
        Write {
            action: Action::Update,
            key,
            record: Some(record),
        }
    }

    /// Delete the record at `key`.
    pub fn delete(key: Key) -> Write {
        Write {
            action: Action::Delete,
            key,
            record: None,
        }
    }
}

/// Everything one commit changed: what to store, what to drop, what to announce.
#[derive(Debug, Clone)]
pub struct CommitData {
    /// CID of the new commit block.
    pub cid: Cid,
    /// The new commit's revision.
    pub rev: Tid,
    /// The previous commit's revision (`None` for a repository's first commit).
    pub since: Option<Tid>,
    /// The new MST root.
    pub data: Cid,
    /// The previous MST root (`None` for a repository's first commit): the `prevData` of the
    /// `#commit` event.
    pub prev_data: Option<Cid>,
    /// Blocks to store: the commit, new MST nodes, new record blocks.
    pub new_blocks: Vec<(Cid, Vec<u8>)>,
    /// Blocks this commit stopped referencing: replaced MST nodes and the previous values of
    /// updated and deleted records (minus any CID the commit wrote again). A record CID can
    /// also sit at a path this commit did not touch (two identical records); a store that
    /// shares blocks between paths must check its record index before deleting one.
    pub removed_blocks: Vec<Cid>,
    /// The operations, sorted by path.
    pub ops: Vec<RecordOp>,
    /// Unchanged MST nodes a consumer needs to invert the ops (the covering proofs of the
    /// written paths), beyond `new_blocks`.
    pub proof_blocks: Vec<(Cid, Vec<u8>)>,
}

impl CommitData {
    /// The `blocks` CAR of the `#commit` event: root = the commit; the commit, new MST nodes,
    /// new records and the covering-proof nodes, each once.
    pub fn car_slice(&self) -> Vec<u8> {
        let mut seen = HashSet::with_capacity(self.new_blocks.len() + self.proof_blocks.len());
        let mut out = car::write_car(&[self.cid], []);
        for (cid, bytes) in self.new_blocks.iter().chain(&self.proof_blocks) {
            if seen.insert(*cid) {
                car::push_section(&mut out, cid, bytes);
            }
        }
        out
    }
}

/// A repository: its current commit and MST.
#[derive(Debug, Clone)]
pub struct Repo {
    commit: Commit,
    commit_cid: Cid,
    mst: Mst,
}

/// Check that `bytes` are one canonical DRISL map, as records must be.
pub(crate) fn check_record(bytes: &[u8]) -> Result<(), String> {
    if bytes.first().map(|b| b >> 5) != Some(5) {
        return Err("record is not a map".into());
    }
    aerie_data::drisl::validate(bytes).map_err(|e| e.to_string())
}

impl Repo {
    /// A new, empty repository with its first commit. The returned [`CommitData`] holds the
    /// commit block and the empty MST node.
    pub fn create(did: Did, key: &SigningKey, rev: Tid) -> (Repo, CommitData) {
        let mut mst = Mst::new();
        let (data, nodes) = mst.commit();
        let commit = UnsignedCommit {
            did,
            data,
            rev,
            prev: None,
        }
        .sign(key);
        let (commit_cid, commit_bytes) = commit.to_block();
        let mut new_blocks = vec![(commit_cid, commit_bytes)];
        new_blocks.extend(nodes);
        let data = CommitData {
            cid: commit_cid,
            rev,
            since: None,
            data,
            prev_data: None,
            new_blocks,
            removed_blocks: Vec::new(),
            ops: Vec::new(),
            proof_blocks: Vec::new(),
        };
        (
            Repo {
                commit,
                commit_cid,
                mst,
            },
            data,
        )
    }

    /// The repository whose current commit is `commit_cid` (read from `src`, decoded
    /// strictly). The tree is loaded lazily as operations need it.
    pub fn load<S: BlockSource + ?Sized>(src: &S, commit_cid: Cid) -> Result<Repo, Error> {
        let bytes = read_block(src, &commit_cid, "commit")?;
        let commit = Commit::decode(&bytes)?;
        let mst = Mst::load(*commit.data());
        Ok(Repo {
            commit,
            commit_cid,
            mst,
        })
    }

    /// The account.
    pub fn did(&self) -> &Did {
        self.commit.did()
    }

    /// The current revision.
    pub fn rev(&self) -> Tid {
        self.commit.rev()
    }

    /// The current commit.
    pub fn commit(&self) -> &Commit {
        &self.commit
    }

    /// CID of the current commit.
    pub fn commit_cid(&self) -> Cid {
        self.commit_cid
    }

    /// The current MST root.
    pub fn data(&self) -> Cid {
        *self.commit.data()
    }

    /// The tree (read-only; edits go through [`Repo::apply_writes`]).
    pub fn mst(&self) -> &Mst {
        &self.mst
    }

    /// The CID of the record at `key`.
    pub fn get<S: BlockSource + ?Sized>(&self, src: &S, key: &Key) -> Result<Option<Cid>, Error> {
        Ok(self.mst.get(src, key)?)
    }

    /// The CID and bytes of the record at `key`.
    pub fn get_record<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        key: &Key,
    ) -> Result<Option<(Cid, Vec<u8>)>, Error> {
        let Some(cid) = self.mst.get(src, key)? else {
            return Ok(None);
        };
        let bytes = read_block(src, &cid, "record")?;
        Ok(Some((cid, bytes)))
    }

    /// Apply a batch of writes and sign the resulting commit with revision `rev`.
    ///
    /// Checked before anything changes: `rev` is after the current revision; paths are unique
    /// within the batch; creates target absent paths, updates and deletes present ones;
    /// every record is one canonical DRISL map. On error the repository is unchanged.
    pub fn apply_writes<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        writes: &[Write],
        key: &SigningKey,
        rev: Tid,
    ) -> Result<CommitData, Error> {
        if rev <= self.commit.rev() {
            return Err(Error::RevNotIncreasing {
                rev: rev.to_string(),
                prev: self.commit.rev().to_string(),
            });
        }
        let mut ops = Vec::with_capacity(writes.len());
        let mut records: BTreeMap<Cid, &[u8]> = BTreeMap::new();
        let mut paths = HashSet::with_capacity(writes.len());
        for w in writes {
            let bad = |reason: String| Error::BadWrite {
                action: action_name(w.action),
                path: w.key.to_string(),
                reason,
            };
            if !paths.insert(&w.key) {
                return Err(bad("path written twice in one batch".into()));
            }
            let prev = self.mst.get(src, &w.key)?;
            let cid = match (&w.record, w.action) {
                (Some(bytes), Action::Create | Action::Update) => {
                    check_record(bytes).map_err(bad)?;
                    let cid = Cid::for_cbor(bytes);
                    records.insert(cid, bytes);
                    Some(cid)
                }
                (None, Action::Delete) => None,
                (Some(_), Action::Delete) => return Err(bad("a delete carries no record".into())),
                (None, _) => return Err(bad("record bytes missing".into())),
            };
            match (w.action, prev) {
                (Action::Create, Some(_)) => return Err(bad("record already exists".into())),
                (Action::Update | Action::Delete, None) => {
                    return Err(bad("record does not exist".into()));
                }
                _ => {}
            }
            ops.push(RecordOp {
                action: w.action,
                path: w.key.clone(),
                cid,
                prev,
            });
        }
        ops.sort_by(|a, b| a.path.cmp(&b.path));

        // Every check that depends on the writes passed above; what can still fail is the
        // block source. Then the half-edited tree is dropped and reloaded from the unchanged
        // commit (cheaper than cloning a large cached tree before every batch).
        match self.commit_ops(src, &ops, &records, key, rev) {
            Ok(data) => Ok(data),
            Err(e) => {
                self.mst = Mst::load(self.data());
                Err(e)
            }
        }
    }

    fn commit_ops<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        ops: &[RecordOp],
        records: &BTreeMap<Cid, &[u8]>,
        key: &SigningKey,
        rev: Tid,
    ) -> Result<CommitData, Error> {
        let prev_data = self.data();
        let old = Mst::load(prev_data);
        self.mst
            .apply(src, ops.iter().map(|op| (op.path.clone(), op.cid)))?;
        let (data, nodes) = self.mst.commit();

        // Only nodes the old tree lacked are new (an edit can recreate an old node), and the
        // old tree's nodes the new one lacks are removed.
        let diff = Mst::diff(&old, &self.mst, src)?;
        let fresh: HashSet<Cid> = diff.new_nodes.iter().copied().collect();
        let nodes: Vec<(Cid, Vec<u8>)> = nodes
            .into_iter()
            .filter(|(c, _)| fresh.contains(c))
            .collect();
        let mut removed: BTreeSet<Cid> = diff.removed_nodes.into_iter().collect();
        for op in ops {
            if let Some(prev) = op.prev.filter(|p| !records.contains_key(p)) {
                removed.insert(prev);
            }
        }

        // Covering proofs: nodes of the new tree around each written path, so a consumer
        // holding only the slice can undo every op. New nodes are in the slice already.
        let mut proof_blocks = Vec::new();
        let mut seen: HashSet<Cid> = fresh;
        for op in ops {
            for cid in self.mst.covering_proof(src, &op.path)? {
                if seen.insert(cid) {
                    let bytes = read_block(src, &cid, "MST node")?;
                    proof_blocks.push((cid, bytes));
                }
            }
        }

        let since = self.commit.rev();
        let unsigned = UnsignedCommit {
            did: self.commit.did().clone(),
            data,
            rev,
            prev: None,
        };
        let commit = unsigned.sign(key);
        let (commit_cid, commit_bytes) = commit.to_block();

        let mut new_blocks = Vec::with_capacity(1 + nodes.len() + records.len());
        new_blocks.push((commit_cid, commit_bytes));
        new_blocks.extend(nodes);
        new_blocks.extend(records.iter().map(|(cid, bytes)| (*cid, bytes.to_vec())));

        self.commit = commit;
        self.commit_cid = commit_cid;
        Ok(CommitData {
            cid: commit_cid,
            rev,
            since: Some(since),
            data,
            prev_data: Some(prev_data),
            new_blocks,
            removed_blocks: removed.into_iter().collect(),
            ops: ops.to_vec(),
            proof_blocks,
        })
    }

    /// Write the whole repository as a CAR (`com.atproto.sync.getRepo`): the commit first,
    /// then each MST node followed by its slots in order (left subtree, each entry's record,
    /// each right subtree), the "streamable" order of the repository spec. Every node and
    /// record must be in `src`.
    pub fn write_car<S: BlockSource + ?Sized, W: std::io::Write>(
        &self,
        src: &S,
        out: W,
    ) -> Result<W, Error> {
        let io = |error| Error::Io { offset: 0, error };
        let mut w = car::CarWriter::new(out, &[self.commit_cid]).map_err(io)?;
        w.write_block(&self.commit_cid, &self.commit.to_bytes())
            .map_err(io)?;
        let root = self.mst.root_cid().ok_or(MstError::Uncommitted)?;
        crate::walk::walk(src, root, |visit| match visit {
            Visit::Node(cid, bytes) => w.write_block(cid, bytes).map_err(io),
            Visit::Record(cid) => {
                let bytes = read_block(src, &cid, "record")?;
                w.write_block(&cid, &bytes).map_err(io)
            }
        })?;
        w.finish().map_err(io)
    }

    /// The record proof CAR for `key` (see [`crate::sync::record_proof`]).
    pub fn record_proof<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        key: &Key,
    ) -> Result<Vec<u8>, Error> {
        crate::sync::record_proof(src, self.commit_cid, key)
    }

    /// A new commit over the same tree with a new revision, e.g. after a signing-key rotation.
    /// The result has no ops and `since`/`prev_data` set (callers announcing it as a `#sync`
    /// event send only the commit block).
    pub fn resign(&mut self, key: &SigningKey, rev: Tid) -> Result<CommitData, Error> {
        if rev <= self.commit.rev() {
            return Err(Error::RevNotIncreasing {
                rev: rev.to_string(),
                prev: self.commit.rev().to_string(),
            });
        }
        let data = self.data();
        let since = self.commit.rev();
        let commit = UnsignedCommit {
            did: self.commit.did().clone(),
            data,
            rev,
            prev: None,
        }
        .sign(key);
        let (commit_cid, commit_bytes) = commit.to_block();
        self.commit = commit;
        self.commit_cid = commit_cid;
        Ok(CommitData {
            cid: commit_cid,
            rev,
            since: Some(since),
            data,
            prev_data: Some(data),
            new_blocks: vec![(commit_cid, commit_bytes)],
            removed_blocks: Vec::new(),
            ops: Vec::new(),
            proof_blocks: Vec::new(),
        })
    }
}

/// Read a block that must be present.
pub(crate) fn read_block<S: BlockSource + ?Sized>(
    src: &S,
    cid: &Cid,
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    match src.block(cid) {
        Ok(Some(b)) => Ok(b.into_owned()),
        Ok(None) => Err(Error::MissingBlock { cid: *cid, what }),
        Err(source) => Err(Error::Mst(MstError::Source { cid: *cid, source })),
    }
}
