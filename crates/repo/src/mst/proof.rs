//! Proofs (search paths, sync 1.1 covering proofs), their verification, and inversion of
//! commit operations.

use std::collections::BTreeSet;
use std::ops::{Bound, ControlFlow};

use aerie_data::Cid;

use super::list::Order;
use super::tree::{Link, Mst, NodeRef, node_from_bytes, open_child};
use super::{BlockSource, Key, MstError};

/// A record operation as carried by a `#commit` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOp {
    /// What happened.
    pub action: Action,
    /// The record path.
    pub path: Key,
    /// New record CID (creates and updates; `None` for deletes).
    pub cid: Option<Cid>,
    /// Previous record CID (updates and deletes; `None` for creates).
    pub prev: Option<Cid>,
}

/// A record operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The key was absent before and holds `cid` after.
    Create,
    /// The key held `prev` before and holds `cid` after.
    Update,
    /// The key held `prev` before and is absent after.
    Delete,
}

impl Mst {
    /// CIDs of the nodes on `key`'s search path, from the root down to the node holding the
    /// key or, for an absent key, down to the empty gap where it would go. These blocks prove
    /// presence or absence, and are what inserting or updating the key needs.
    pub fn search_path<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        key: &Key,
    ) -> Result<Vec<Cid>, MstError> {
        let mut out = Vec::new();
        self.path_into(src, key.as_bytes(), &mut out)?;
        Ok(out)
    }

    fn path_into<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        key: &[u8],
        out: &mut Vec<Cid>,
    ) -> Result<(), MstError> {
        let cid = match &self.root {
            // The empty tree's only node proves every absence.
            Link::Empty if self.is_dirty() => return Err(MstError::Uncommitted),
            Link::Empty => {
                out.push(super::empty_root_cid());
                return Ok(());
            }
            link => *link.cid().ok_or(MstError::Uncommitted)?,
        };
        let Some(mut node) = super::tree::open(&self.root, src, None)? else {
            return Ok(());
        };
        out.push(cid);
        loop {
            let i = match node.search(key) {
                Ok(_) => return Ok(()),
                Err(i) => i,
            };
            let cid = match link_of(&node, i).cid() {
                Some(c) => *c,
                None if link_of(&node, i).is_empty() => return Ok(()),
                None => return Err(MstError::Uncommitted),
            };
            match open_child(&node, i, src)? {
                Some(child) => {
                    out.push(cid);
                    node = child;
                }
                None => return Ok(()),
            }
        }
    }

    /// The sync 1.1 covering proof of `key`: the nodes on the search paths of `key` and of its
    /// nearest neighbours on both sides. With these blocks a partial tree can both insert and
    /// remove `key` (removal merges the subtrees on either side, whose spines lead to the
    /// neighbours). Sorted, without duplicates.
    pub fn covering_proof<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        key: &Key,
    ) -> Result<Vec<Cid>, MstError> {
        let mut out = Vec::new();
        self.path_into(src, key.as_bytes(), &mut out)?;
        for order in [Order::Ascending, Order::Descending] {
            let (lo, hi) = match order {
                Order::Ascending => (Bound::Excluded(key.as_bytes()), Bound::Unbounded),
                Order::Descending => (Bound::Unbounded, Bound::Excluded(key.as_bytes())),
            };
            let mut neighbour = None;
            self.walk_range(src, lo, hi, order, |k, _| {
                neighbour = Some(k.clone());
                ControlFlow::Break(())
            })?;
            if let Some(n) = neighbour {
                self.path_into(src, n.as_bytes(), &mut out)?;
            }
        }
        let set: BTreeSet<Cid> = out.into_iter().collect();
        Ok(set.into_iter().collect())
    }

    /// Undo `ops` on this (possibly partial) tree, which must be the tree *after* them, and
    /// return the root CID of the tree before them (to compare with a commit's `prevData`).
    ///
    /// Operations are checked (right `cid`/`prev` for the action, no path twice), then applied
    /// deletes first and otherwise by path: a create is undone by removing the key (its value
    /// must be `cid`), an update by restoring `prev` (the value must be `cid`), a delete by
    /// restoring `prev` (the key must be absent). A needed node that is not in `src` gives
    /// [`MstError::MissingBlock`].
    pub fn invert<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        ops: &[RecordOp],
    ) -> Result<Cid, MstError> {
        let mut ops: Vec<&RecordOp> = ops.iter().collect();
        for op in &ops {
            let ok = match op.action {
                Action::Create => op.cid.is_some() && op.prev.is_none(),
                Action::Update => op.cid.is_some() && op.prev.is_some(),
                Action::Delete => op.cid.is_none() && op.prev.is_some(),
            };
            if !ok {
                let reason = match op.action {
                    Action::Create => "create needs cid and no prev",
                    Action::Update => "update needs cid and prev",
                    Action::Delete => "delete needs prev and no cid",
                };
                return Err(MstError::InvalidOp {
                    path: op.path.to_string(),
                    reason,
                });
            }
        }
        ops.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(w) = ops.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(MstError::DuplicatePath(w[0].path.to_string()));
        }
        ops.sort_by_key(|op| op.action != Action::Delete);
        for op in ops {
            let mismatch = |expected, found| MstError::OpMismatch {
                path: op.path.to_string(),
                expected,
                found,
            };
            match (op.action, op.cid, op.prev) {
                (Action::Create, Some(cid), _) => {
                    let found = self.delete(src, &op.path)?;
                    if found != Some(cid) {
                        return Err(mismatch(Some(cid), found));
                    }
                }
                (Action::Update, Some(cid), Some(prev)) => {
                    let found = self.put(src, op.path.clone(), prev)?;
                    if found != Some(cid) {
                        return Err(mismatch(Some(cid), found));
                    }
                }
                (Action::Delete, _, Some(prev)) => {
                    let found = self.put(src, op.path.clone(), prev)?;
                    if found.is_some() {
                        return Err(mismatch(None, found));
                    }
                }
                _ => {}
            }
        }
        Ok(self.commit_with(&mut |_, _| {}))
    }
}

fn link_of<'n>(node: &'n NodeRef<'_>, i: usize) -> &'n Link {
    node.link_at(i)
}

/// Check a presence/absence proof: walk from `root` to `key` using only `blocks`, checking
/// every block's hash. Returns the key's value (`None` = proven absent). A block the walk
/// needs but `blocks` lacks gives [`MstError::MissingBlock`].
pub fn verify_proof<S: BlockSource + ?Sized>(
    root: &Cid,
    key: &Key,
    blocks: &S,
) -> Result<Option<Cid>, MstError> {
    let klayer = key.layer();
    let mut cid = *root;
    let mut expected = None;
    loop {
        let bytes = blocks
            .block(&cid)
            .map_err(|source| MstError::Source { cid, source })?
            .ok_or(MstError::MissingBlock(cid))?;
        if !cid.matches(&bytes) {
            return Err(MstError::HashMismatch(cid));
        }
        let node = node_from_bytes(&bytes, cid, expected)?;
        if klayer > node.layer {
            return Ok(None);
        }
        let i = match node.search(key.as_bytes()) {
            Ok(i) => return Ok(Some(node.entries[i].value)),
            Err(_) if klayer == node.layer => return Ok(None),
            Err(i) => i,
        };
        match node.link_at(i) {
            Link::Stub(c) => {
                cid = *c;
                expected = Some(node.child_layer());
            }
            _ => return Ok(None),
        }
    }
}
