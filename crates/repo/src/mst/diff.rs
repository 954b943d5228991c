//! Differences between two trees, walking only the subtrees that differ.

use std::collections::HashSet;

use aerie_data::Cid;

use super::tree::{Link, Mst, Node, load_node};
use super::{BlockSource, Key, MstError, empty_root_cid};

/// One changed key: `old` is `None` for a creation, `new` is `None` for a deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffOp {
    /// The key (record path).
    pub path: Key,
    /// Its value in the old tree.
    pub old: Option<Cid>,
    /// Its value in the new tree.
    pub new: Option<Cid>,
}

/// What changed from one tree to another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Changed keys, ascending.
    pub ops: Vec<DiffOp>,
    /// Node CIDs in the new tree but not in the old one.
    pub new_nodes: Vec<Cid>,
    /// Node CIDs in the old tree but not in the new one.
    pub removed_nodes: Vec<Cid>,
}

/// A subtree not yet expanded: in memory or known by CID.
enum Sub<'a> {
    Mem(&'a Node),
    Stub(Cid),
}

/// One element of a tree's in-order stream: a leaf, or a whole subtree whose keys all lie
/// strictly between `lo` and `hi` (`None` = unbounded).
enum Item<'a> {
    Leaf(Key, Cid),
    Tree {
        sub: Sub<'a>,
        cid: Cid,
        layer: u8,
        lo: Option<Key>,
        hi: Option<Key>,
    },
}

/// An in-order stream kept as a stack (next item last).
struct Stream<'a> {
    stack: Vec<Item<'a>>,
}

fn sub_of(link: &Link) -> Result<Option<(Sub<'_>, Cid)>, MstError> {
    Ok(match link {
        Link::Empty => None,
        Link::Stub(c) => Some((Sub::Stub(*c), *c)),
        Link::Loaded(n) => Some((Sub::Mem(n), n.cid.ok_or(MstError::Uncommitted)?)),
    })
}

impl<'a> Stream<'a> {
    fn new(root: &'a Link, touched: &mut HashSet<Cid>) -> Result<Stream<'a>, MstError> {
        let mut stack = Vec::new();
        match sub_of(root)? {
            Some((sub, cid)) => stack.push(Item::Tree {
                sub,
                cid,
                layer: u8::MAX,
                lo: None,
                hi: None,
            }),
            None => {
                touched.insert(empty_root_cid());
            }
        }
        Ok(Stream { stack })
    }

    /// Replace the subtree on top of the stack by its items; record its CID in `touched`.
    fn expand<S: BlockSource + ?Sized>(
        &mut self,
        src: &S,
        touched: &mut HashSet<Cid>,
    ) -> Result<(), MstError> {
        let Some(Item::Tree {
            sub,
            cid,
            layer,
            lo,
            hi,
        }) = self.stack.pop()
        else {
            return Ok(());
        };
        touched.insert(cid);
        let expected = (layer != u8::MAX).then_some(layer);
        match sub {
            Sub::Mem(n) => {
                let mut items = Vec::with_capacity(2 * n.entries.len() + 1);
                let child_layer = n.layer.saturating_sub(1);
                let mut prev = lo;
                for i in 0..=n.entries.len() {
                    let next = n
                        .entries
                        .get(i)
                        .map(|e| e.key.clone())
                        .or_else(|| hi.clone());
                    if let Some((sub, cid)) = sub_of(n.link_at(i))? {
                        items.push(Item::Tree {
                            sub,
                            cid,
                            layer: child_layer,
                            lo: prev.clone(),
                            hi: next.clone(),
                        });
                    }
                    if let Some(e) = n.entries.get(i) {
                        items.push(Item::Leaf(e.key.clone(), e.value));
                    }
                    prev = next;
                }
                self.stack.extend(items.into_iter().rev());
            }
            Sub::Stub(c) => {
                let n = load_node(src, &c, expected)?;
                let child_layer = n.layer.saturating_sub(1);
                let mut items = Vec::with_capacity(2 * n.entries.len() + 1);
                let stub = |l: &Link| match l {
                    Link::Stub(c) => Some(*c),
                    _ => None,
                };
                let mut prev = lo;
                let mut gap = stub(&n.left);
                for e in n.entries {
                    if let Some(c) = gap {
                        let hi = Some(e.key.clone());
                        items.push(Item::Tree {
                            sub: Sub::Stub(c),
                            cid: c,
                            layer: child_layer,
                            lo: prev,
                            hi,
                        });
                    }
                    gap = stub(&e.right);
                    prev = Some(e.key.clone());
                    items.push(Item::Leaf(e.key, e.value));
                }
                if let Some(c) = gap {
                    items.push(Item::Tree {
                        sub: Sub::Stub(c),
                        cid: c,
                        layer: child_layer,
                        lo: prev,
                        hi,
                    });
                }
                self.stack.extend(items.into_iter().rev());
            }
        }
        Ok(())
    }
}

/// Whether a subtree bounded above by `hi` lies wholly before one bounded below by `lo`.
fn before(hi: &Option<Key>, lo: &Option<Key>) -> bool {
    matches!((hi, lo), (Some(h), Some(l)) if h <= l)
}

impl Mst {
    /// What changed from `old` to `new`. Subtrees with equal CIDs are skipped without being
    /// read. Both trees must be committed ([`MstError::Uncommitted`] otherwise).
    pub fn diff<S: BlockSource + ?Sized>(old: &Mst, new: &Mst, src: &S) -> Result<Diff, MstError> {
        let (Some(old_root), Some(new_root)) = (old.root_cid(), new.root_cid()) else {
            return Err(MstError::Uncommitted);
        };
        let mut diff = Diff::default();
        if old_root == new_root {
            return Ok(diff);
        }
        let mut removed = HashSet::new();
        let mut added = HashSet::new();
        let mut a = Stream::new(&old.root, &mut removed)?;
        let mut b = Stream::new(&new.root, &mut added)?;
        loop {
            // Invariant: every key consumed from either stream is below every key remaining in
            // both, so a leaf that sorts before the other stream's head is absent from it.
            match (a.stack.last(), b.stack.last()) {
                (None, None) => break,
                (Some(Item::Leaf(..)), None) => {
                    if let Some(Item::Leaf(k, v)) = a.stack.pop() {
                        diff.ops.push(DiffOp {
                            path: k,
                            old: Some(v),
                            new: None,
                        });
                    }
                }
                (None, Some(Item::Leaf(..))) => {
                    if let Some(Item::Leaf(k, v)) = b.stack.pop() {
                        diff.ops.push(DiffOp {
                            path: k,
                            old: None,
                            new: Some(v),
                        });
                    }
                }
                (Some(Item::Tree { .. }), None) => a.expand(src, &mut removed)?,
                (None, Some(Item::Tree { .. })) => b.expand(src, &mut added)?,
                (Some(Item::Leaf(ka, va)), Some(Item::Leaf(kb, vb))) => {
                    let (ka, kb, va, vb) = (ka.clone(), kb.clone(), *va, *vb);
                    match ka.cmp(&kb) {
                        std::cmp::Ordering::Equal => {
                            if va != vb {
                                diff.ops.push(DiffOp {
                                    path: ka,
                                    old: Some(va),
                                    new: Some(vb),
                                });
                            }
                            a.stack.pop();
                            b.stack.pop();
                        }
                        std::cmp::Ordering::Less => {
                            diff.ops.push(DiffOp {
                                path: ka,
                                old: Some(va),
                                new: None,
                            });
                            a.stack.pop();
                        }
                        std::cmp::Ordering::Greater => {
                            diff.ops.push(DiffOp {
                                path: kb,
                                old: None,
                                new: Some(vb),
                            });
                            b.stack.pop();
                        }
                    }
                }
                (Some(Item::Leaf(k, v)), Some(Item::Tree { lo, .. })) => {
                    if lo.as_ref().is_some_and(|lo| k <= lo) {
                        diff.ops.push(DiffOp {
                            path: k.clone(),
                            old: Some(*v),
                            new: None,
                        });
                        a.stack.pop();
                    } else {
                        b.expand(src, &mut added)?;
                    }
                }
                (Some(Item::Tree { lo, .. }), Some(Item::Leaf(k, v))) => {
                    if lo.as_ref().is_some_and(|lo| k <= lo) {
                        diff.ops.push(DiffOp {
                            path: k.clone(),
                            old: None,
                            new: Some(*v),
                        });
                        b.stack.pop();
                    } else {
                        a.expand(src, &mut removed)?;
                    }
                }
                (
                    Some(Item::Tree {
                        cid: ca,
                        layer: la,
                        lo: loa,
                        hi: hia,
                        ..
                    }),
                    Some(Item::Tree {
                        cid: cb,
                        layer: lb,
                        lo: lob,
                        hi: hib,
                        ..
                    }),
                ) => {
                    if ca == cb {
                        a.stack.pop();
                        b.stack.pop();
                    } else if before(hia, lob) || la > lb {
                        a.expand(src, &mut removed)?;
                    } else if before(hib, loa) || lb > la {
                        b.expand(src, &mut added)?;
                    } else {
                        a.expand(src, &mut removed)?;
                        b.expand(src, &mut added)?;
                    }
                }
            }
        }
        diff.new_nodes = added.difference(&removed).copied().collect();
        diff.removed_nodes = removed.difference(&added).copied().collect();
        diff.new_nodes.sort();
        diff.removed_nodes.sort();
        Ok(diff)
    }
}
