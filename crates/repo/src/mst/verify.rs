//! Strict verification of a whole stored tree.

use aerie_data::Cid;

use super::tree::{Link, node_from_bytes};
use super::{BlockSource, Key, MstError};

/// Counts from a verified tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Nodes (blocks) in the tree.
    pub nodes: usize,
    /// Entries (records).
    pub entries: usize,
    /// Layer of the root node (0 for an empty or single-layer tree).
    pub root_layer: u8,
    /// Most entries in one node.
    pub max_node_entries: usize,
}

/// Verify that the tree at `root` is complete and exactly the canonical tree of its keys:
/// every block present and hashing to its CID; every node strictly encoded (canonical CBOR,
/// maximal prefix compression, at most [`MAX_NODE_ENTRIES`](super::MAX_NODE_ENTRIES)
/// entries); keys valid, strictly ascending and inside the gap their parent assigns; every key
/// in a node of its own layer and every child exactly one layer down; no node without entries
/// except required layer steps; a root with entries (or the single empty node). These rules
/// admit exactly one tree per key set, so a tree passing them hashes as a fresh build would.
/// `on_entry` sees every entry in key order (e.g. to check record blocks).
pub fn verify_tree<S: BlockSource + ?Sized>(
    src: &S,
    root: &Cid,
    mut on_entry: impl FnMut(&Key, &Cid),
) -> Result<TreeStats, MstError> {
    verify_tree_owned(src, root, &mut |key, cid| on_entry(&key, &cid))
}

/// [`verify_tree`] handing each entry's key over by value (the caller keeps them without a
/// copy).
pub(crate) fn verify_tree_owned<S: BlockSource + ?Sized>(
    src: &S,
    root: &Cid,
    on_entry: &mut dyn FnMut(Key, Cid),
) -> Result<TreeStats, MstError> {
    let mut walk = Walk {
        stats: TreeStats::default(),
        rehash: !src.hashes_checked(),
        prev: Vec::new(),
        first: true,
        on_entry,
    };
    walk.check_node(src, root, None)?;
    Ok(walk.stats)
}

struct Walk<'f> {
    stats: TreeStats,
    /// Whether blocks must be hashed here (the source did not check them).
    rehash: bool,
    /// The last key seen in key order (in-order traversal).
    prev: Vec<u8>,
    first: bool,
    on_entry: &'f mut dyn FnMut(Key, Cid),
}

impl Walk<'_> {
    fn check_node<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        cid: &Cid,
        expected: Option<u8>,
    ) -> Result<(), MstError> {
        let bytes = src
            .block(cid)
            .map_err(|source| MstError::Source { cid: *cid, source })?
            .ok_or(MstError::MissingBlock(*cid))?;
        if self.rehash && !cid.matches(&bytes) {
            return Err(MstError::HashMismatch(*cid));
        }
        let node = node_from_bytes(&bytes, *cid, expected)?;
        drop(bytes);
        if expected.is_none() {
            self.stats.root_layer = node.layer;
        }
        self.stats.nodes += 1;
        self.stats.entries += node.entries.len();
        self.stats.max_node_entries = self.stats.max_node_entries.max(node.entries.len());
        let child_layer = Some(node.child_layer());
        // Every key must lie strictly inside the gap its parent assigns. Visiting keys in
        // order (left subtree, entry, right subtree, ...) and requiring each to exceed the
        // previous one is the same rule: a subtree's keys come out between the two parent
        // keys around its gap, so any key outside the gap breaks the ascending order.
        if let Link::Stub(c) = &node.left {
            self.check_node(src, c, child_layer)?;
        }
        for e in node.entries {
            if !self.first && e.key.as_bytes() <= self.prev.as_slice() {
                return Err(MstError::NotCanonical {
                    cid: Some(*cid),
                    key: Some(e.key.to_string()),
                    reason: "key outside the gap its parent assigns",
                });
            }
            self.first = false;
            self.prev.clear();
            self.prev.extend_from_slice(e.key.as_bytes());
            let right = e.right;
            (self.on_entry)(e.key, e.value);
            if let Link::Stub(c) = &right {
                self.check_node(src, c, child_layer)?;
            }
        }
        Ok(())
    }
}
