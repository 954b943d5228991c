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
    let mut stats = TreeStats::default();
    check_node(src, root, None, None, None, &mut stats, &mut on_entry)?;
    Ok(stats)
}

fn check_node<S: BlockSource + ?Sized>(
    src: &S,
    cid: &Cid,
    expected: Option<u8>,
    lo: Option<&Key>,
    hi: Option<&Key>,
    stats: &mut TreeStats,
    on_entry: &mut dyn FnMut(&Key, &Cid),
) -> Result<(), MstError> {
    let bytes = src
        .block(cid)
        .map_err(|source| MstError::Source { cid: *cid, source })?
        .ok_or(MstError::MissingBlock(*cid))?;
    if !cid.matches(&bytes) {
        return Err(MstError::HashMismatch(*cid));
    }
    let node = node_from_bytes(&bytes, *cid, expected)?;
    drop(bytes);
    if expected.is_none() {
        stats.root_layer = node.layer;
    }
    stats.nodes += 1;
    stats.entries += node.entries.len();
    stats.max_node_entries = stats.max_node_entries.max(node.entries.len());
    let out_of_gap = |k: &Key| lo.is_some_and(|lo| k <= lo) || hi.is_some_and(|hi| k >= hi);
    if let Some(e) = node.entries.iter().find(|e| out_of_gap(&e.key)) {
        return Err(MstError::NotCanonical {
            cid: Some(*cid),
            key: Some(e.key.to_string()),
            reason: "key outside the gap its parent assigns",
        });
    }
    let child_layer = Some(node.child_layer());
    for i in 0..=node.entries.len() {
        if let Link::Stub(c) = node.link_at(i) {
            let lo = if i == 0 {
                lo
            } else {
                Some(&node.entries[i - 1].key)
            };
            let hi = node.entries.get(i).map(|e| &e.key).or(hi);
            check_node(src, c, child_layer, lo, hi, stats, on_entry)?;
        }
        if let Some(e) = node.entries.get(i) {
            on_entry(&e.key, &e.value);
        }
    }
    Ok(())
}
