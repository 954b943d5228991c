//! Strict verification of a whole stored tree.
//!
//! The walk visits the tree in order (left subtree, entry, right subtree, ...) decoding each
//! node into reusable buffers ([`FlatNode`]). On several threads the top of the tree is
//! opened first, level by level, until there are enough subtrees to share out; each subtree
//! is then walked on its own and the results are joined in key order. Every check, and the
//! error reported when several faults exist, is the same as the single-threaded walk's.

use std::sync::atomic::{AtomicUsize, Ordering};

use aerie_data::Cid;

use super::codec::FlatNode;
use super::{BlockSource, Entries, Key, MstError};

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

impl TreeStats {
    fn count(&mut self, node: &FlatNode) {
        self.nodes += 1;
        self.entries += node.len();
        self.max_node_entries = self.max_node_entries.max(node.len());
    }

    fn add(&mut self, other: &TreeStats) {
        self.nodes += other.nodes;
        self.entries += other.entries;
        self.max_node_entries = self.max_node_entries.max(other.max_node_entries);
    }
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
    let mut walker = Walker::new(src);
    walker.node(root, None, 0, &mut |key, cid| {
        on_entry(&Key::from_valid_bytes(key), cid)
    })?;
    Ok(walker.stats)
}

/// A block source whose threads can each have their own reader.
pub(crate) trait SharedSource: Sync {
    /// One thread's reader.
    type View<'a>: BlockSource
    where
        Self: 'a;
    /// A reader for the calling thread.
    fn view(&self) -> Self::View<'_>;
}

/// [`verify_tree`] collecting every entry in key order, on up to `workers` threads;
/// `capacity` is a guess at the entry count.
pub(crate) fn verify_tree_entries<S: SharedSource + ?Sized>(
    src: &S,
    root: &Cid,
    workers: usize,
    capacity: usize,
) -> Result<(TreeStats, Entries), MstError> {
    // Every entry names a record block, so the caller's block count bounds the entry count
    // (unless records repeat): reserving it avoids regrowing the largest vector of the walk.
    let mut entries = Entries::with_capacity(capacity);
    if workers <= 1 {
        let view = src.view();
        let mut walker = Walker::new(&view);
        walker.node(root, None, 0, &mut |key, cid| entries.push_valid(key, *cid))?;
        return Ok((walker.stats, entries));
    }
    let view = src.view();
    let (mut stats, pieces) = open_top(&view, root, workers * 8);
    drop(view);
    let results = walk_subtrees(src, &pieces, workers);
    // Join in key order, checking each entry of the opened top against the last key before
    // it, exactly as the one-thread walk would at that point.
    let mut results = results.into_iter();
    for piece in pieces {
        match piece {
            Piece::Entry { key, value, node } => {
                if let Some((last, _)) = entries.last()
                    && key.as_bytes() <= last.as_bytes()
                {
                    return Err(outside_gap(node, key.as_bytes()));
                }
                entries.push(&key, value);
            }
            Piece::Subtree { .. } => {
                let Some(result) = results.next() else {
                    unreachable!("one result per subtree");
                };
                let (s, found) = result?;
                stats.add(&s);
                entries.append(&found);
            }
            Piece::Failed(e) => return Err(e),
        }
    }
    Ok((stats, entries))
}

/// Part of the tree in key order, once its top is opened.
enum Piece {
    /// An entry of an opened node (`node` names that node in errors).
    Entry { key: Key, value: Cid, node: Cid },
    /// A subtree still to walk, and the layer its parent implies.
    Subtree { cid: Cid, expected: Option<u8> },
    /// A node of the top that did not verify.
    Failed(MstError),
}

/// Open the tree level by level until at least `want` subtrees are left to walk (or none),
/// or a node fails. Returns the counts of the opened nodes and the pieces in key order.
fn open_top<S: BlockSource + ?Sized>(src: &S, root: &Cid, want: usize) -> (TreeStats, Vec<Piece>) {
    let mut stats = TreeStats::default();
    let mut pieces = vec![Piece::Subtree {
        cid: *root,
        expected: None,
    }];
    let mut node = FlatNode::default();
    let walker = Walker::new(src);
    loop {
        let subtrees = pieces
            .iter()
            .filter(|p| matches!(p, Piece::Subtree { .. }))
            .count();
        let failed = pieces.iter().any(|p| matches!(p, Piece::Failed(_)));
        if subtrees == 0 || subtrees >= want || failed {
            break;
        }
        let mut next = Vec::with_capacity(pieces.len() * 4);
        for piece in pieces {
            let Piece::Subtree { cid, expected, .. } = piece else {
                next.push(piece);
                continue;
            };
            if let Err(e) = walker.load(&mut node, &cid, expected) {
                next.push(Piece::Failed(e));
                continue;
            }
            if expected.is_none() {
                stats.root_layer = node.layer;
            }
            stats.count(&node);
            let child = Some(node.layer.saturating_sub(1));
            if let Some(l) = node.left {
                next.push(Piece::Subtree {
                    cid: l,
                    expected: child,
                });
            }
            for i in 0..node.len() {
                next.push(Piece::Entry {
                    key: Key::from_valid_bytes(node.key(i)),
                    value: node.values[i],
                    node: cid,
                });
                if let Some(r) = node.rights[i] {
                    next.push(Piece::Subtree {
                        cid: r,
                        expected: child,
                    });
                }
            }
        }
        pieces = next;
    }
    (stats, pieces)
}

type SubtreeResult = Result<(TreeStats, Entries), MstError>;

/// Walk every [`Piece::Subtree`] of `pieces` on `workers` threads, taking subtrees in order
/// from a shared counter; results in piece order. Once a subtree fails, later ones are
/// skipped (their results could never be reported).
fn walk_subtrees<S: SharedSource + ?Sized>(
    src: &S,
    pieces: &[Piece],
    workers: usize,
) -> Vec<SubtreeResult> {
    // Each subtree with the entry just before it in key order (where its walk starts
    // comparing): subtrees never follow one another directly.
    let mut jobs: Vec<(usize, Option<usize>)> = Vec::new();
    let mut last_entry = None;
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Entry { .. } => last_entry = Some(i),
            Piece::Subtree { .. } => jobs.push((i, last_entry)),
            Piece::Failed(_) => {}
        }
    }
    let next = AtomicUsize::new(0);
    let first_failed = AtomicUsize::new(usize::MAX);
    let threads = workers.min(jobs.len()).max(1);
    let per_thread = crate::par::run_all(vec![(); threads], |()| {
        let view = src.view();
        let mut done: Vec<(usize, SubtreeResult)> = Vec::new();
        let mut walker = Walker::new(&view);
        loop {
            let j = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(i, after)) = jobs.get(j) else {
                break;
            };
            if j > first_failed.load(Ordering::Relaxed) {
                continue;
            }
            let Piece::Subtree { cid, expected } = &pieces[i] else {
                continue;
            };
            walker.stats = TreeStats::default();
            walker.prev.clear();
            walker.first = true;
            if let Some(Piece::Entry { key, .. }) = after.map(|a| &pieces[a]) {
                walker.prev.extend_from_slice(key.as_bytes());
                walker.first = false;
            }
            let mut found = Entries::default();
            let result = walker
                .node(cid, *expected, 0, &mut |key, cid| {
                    found.push_valid(key, *cid)
                })
                .map(|()| (walker.stats, found));
            if result.is_err() {
                first_failed.fetch_min(j, Ordering::Relaxed);
            }
            done.push((j, result));
        }
        done
    });
    let mut results: Vec<Option<SubtreeResult>> = (0..jobs.len()).map(|_| None).collect();
    for (j, r) in per_thread.into_iter().flatten() {
        results[j] = Some(r);
    }
    // Subtrees skipped after a failure come after it, so the join never reaches them.
    results.into_iter().map_while(|r| r).collect()
}

/// The one-thread walk.
struct Walker<'s, S: ?Sized> {
    src: &'s S,
    /// Whether blocks must be hashed here (the source did not check them).
    rehash: bool,
    stats: TreeStats,
    /// The last key emitted, in key order (valid whenever `first` is false).
    prev: Vec<u8>,
    first: bool,
    /// Decoding buffers, one per depth.
    scratch: Vec<FlatNode>,
}

fn outside_gap(node: Cid, key: &[u8]) -> MstError {
    MstError::NotCanonical {
        cid: Some(node),
        key: Some(String::from_utf8_lossy(key).into_owned()),
        reason: "key outside the gap its parent assigns",
    }
}

impl<'s, S: BlockSource + ?Sized> Walker<'s, S> {
    fn new(src: &'s S) -> Walker<'s, S> {
        Walker {
            src,
            rehash: !src.hashes_checked(),
            stats: TreeStats::default(),
            prev: Vec::new(),
            first: true,
            scratch: Vec::new(),
        }
    }

    /// Fetch, hash-check (if needed) and decode node `cid` into `node`.
    fn load(&self, node: &mut FlatNode, cid: &Cid, expected: Option<u8>) -> Result<(), MstError> {
        let bytes = self
            .src
            .block(cid)
            .map_err(|source| MstError::Source { cid: *cid, source })?
            .ok_or(MstError::MissingBlock(*cid))?;
        if self.rehash && !cid.matches(&bytes) {
            return Err(MstError::HashMismatch(*cid));
        }
        node.decode(&bytes, *cid, expected)
    }

    /// Walk the subtree at `cid` (at recursion `depth`), handing each entry to `out`.
    fn node(
        &mut self,
        cid: &Cid,
        expected: Option<u8>,
        depth: usize,
        out: &mut dyn FnMut(&[u8], &Cid),
    ) -> Result<(), MstError> {
        if self.scratch.len() <= depth {
            self.scratch.resize_with(depth + 1, FlatNode::default);
        }
        let mut node = std::mem::take(&mut self.scratch[depth]);
        let result = self.node_in(&mut node, cid, expected, depth, out);
        self.scratch[depth] = node;
        result
    }

    fn node_in(
        &mut self,
        node: &mut FlatNode,
        cid: &Cid,
        expected: Option<u8>,
        depth: usize,
        out: &mut dyn FnMut(&[u8], &Cid),
    ) -> Result<(), MstError> {
        self.load(node, cid, expected)?;
        if expected.is_none() {
            self.stats.root_layer = node.layer;
        }
        self.stats.count(node);
        let child = Some(node.layer.saturating_sub(1));
        // Every key must lie strictly inside the gap its parent assigns. Visiting keys in
        // order (left subtree, entry, right subtree, ...) and requiring each to exceed the
        // previous one is the same rule: a subtree's keys come out between the two parent
        // keys around its gap, so any key outside the gap breaks the ascending order.
        if let Some(l) = node.left {
            self.node(&l, child, depth + 1, out)?;
        }
        let n = node.len();
        for i in 0..n {
            let key = node.key(i);
            // After an entry with no right subtree the last key out is that entry's, which
            // the decoder already found smaller.
            let compare = i == 0 || node.rights[i - 1].is_some();
            if compare && !self.first && key <= self.prev.as_slice() {
                return Err(outside_gap(*cid, key));
            }
            self.first = false;
            out(key, &node.values[i]);
            if let Some(r) = node.rights[i] {
                self.prev.clear();
                self.prev.extend_from_slice(key);
                self.node(&r, child, depth + 1, out)?;
            }
        }
        if n > 0 && node.rights[n - 1].is_none() {
            self.prev.clear();
            self.prev.extend_from_slice(node.key(n - 1));
        }
        Ok(())
    }
}
