//! Ordered listing: all entries, key ranges, one collection with a cursor.

use std::ops::{Bound, ControlFlow};

use aerie_data::Cid;

use super::tree::{Mst, NodeRef, open, open_child};
use super::{BlockSource, Key, MstError};

/// Listing direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending keys (`listRecords` with `reverse=true`).
    Ascending,
    /// Descending keys (`listRecords`' default: newest TID record keys first).
    Descending,
}

struct Range<'k> {
    lo: Bound<&'k [u8]>,
    hi: Bound<&'k [u8]>,
}

impl Range<'_> {
    fn below_lo(&self, k: &[u8]) -> bool {
        match self.lo {
            Bound::Included(lo) => k < lo,
            Bound::Excluded(lo) => k <= lo,
            Bound::Unbounded => false,
        }
    }

    fn above_hi(&self, k: &[u8]) -> bool {
        match self.hi {
            Bound::Included(hi) => k > hi,
            Bound::Excluded(hi) => k >= hi,
            Bound::Unbounded => false,
        }
    }
}

/// In-order walk of `node` restricted to `range`; `Break` means stop everything (limit reached
/// or the range is exhausted). Gaps that cannot intersect the range are never opened.
fn walk<S: BlockSource + ?Sized>(
    node: &NodeRef<'_>,
    src: &S,
    range: &Range<'_>,
    order: Order,
    f: &mut dyn FnMut(&Key, &Cid) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, MstError> {
    let n = node.entries.len();
    match order {
        Order::Ascending => {
            let start = node
                .entries
                .partition_point(|e| range.below_lo(e.key.as_bytes()));
            for i in start..=n {
                if let Some(child) = open_child(node, i, src)?
                    && walk(&child, src, range, order, f)?.is_break()
                {
                    return Ok(ControlFlow::Break(()));
                }
                let Some(e) = node.entries.get(i) else { break };
                if range.above_hi(e.key.as_bytes()) || f(&e.key, &e.value).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Order::Descending => {
            let end = node
                .entries
                .partition_point(|e| !range.above_hi(e.key.as_bytes()));
            for i in (0..=end).rev() {
                if let Some(child) = open_child(node, i, src)?
                    && walk(&child, src, range, order, f)?.is_break()
                {
                    return Ok(ControlFlow::Break(()));
                }
                let Some(e) = i.checked_sub(1).and_then(|j| node.entries.get(j)) else {
                    break;
                };
                if range.below_lo(e.key.as_bytes()) || f(&e.key, &e.value).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
    }
    Ok(ControlFlow::Continue(()))
}

impl Mst {
    /// Visit the entries whose keys fall in `(lo, hi)` in `order`, until `f` breaks. Only
    /// nodes that can hold keys in the range are read.
    pub fn walk_range<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        order: Order,
        mut f: impl FnMut(&Key, &Cid) -> ControlFlow<()>,
    ) -> Result<(), MstError> {
        let Some(root) = open(&self.root, src, None)? else {
            return Ok(());
        };
        if root.entries.is_empty() && root.left.is_empty() {
            return Ok(());
        }
        // Break only means "stop early"; either way the walk is complete.
        let _ = walk(&root, src, &Range { lo, hi }, order, &mut f)?;
        Ok(())
    }

    /// Every entry in key order.
    pub fn entries<S: BlockSource + ?Sized>(&self, src: &S) -> Result<Vec<(Key, Cid)>, MstError> {
        let mut out = Vec::new();
        self.walk_range(
            src,
            Bound::Unbounded,
            Bound::Unbounded,
            Order::Ascending,
            |k, v| {
                out.push((k.clone(), *v));
                ControlFlow::Continue(())
            },
        )?;
        Ok(out)
    }

    /// Up to `limit` entries of one collection, `listRecords`-style: `cursor` is an exclusive
    /// record key bound (entries after it in `order`).
    pub fn list_collection<S: BlockSource + ?Sized>(
        &self,
        src: &S,
        collection: &str,
        cursor: Option<&str>,
        limit: usize,
        order: Order,
    ) -> Result<Vec<(Key, Cid)>, MstError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        // Keys of the collection are exactly those in ["coll/", "coll0"): '0' follows '/'.
        let start = format!("{collection}/");
        let end = format!("{collection}0");
        let at_cursor = cursor.map(|c| format!("{collection}/{c}"));
        let (lo, hi) = match (&at_cursor, order) {
            (Some(c), Order::Ascending) => (
                Bound::Excluded(c.as_bytes()),
                Bound::Excluded(end.as_bytes()),
            ),
            (Some(c), Order::Descending) => (
                Bound::Included(start.as_bytes()),
                Bound::Excluded(c.as_bytes()),
            ),
            (None, _) => (
                Bound::Included(start.as_bytes()),
                Bound::Excluded(end.as_bytes()),
            ),
        };
        self.walk_range(src, lo, hi, order, |k, v| {
            out.push((k.clone(), *v));
            if out.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(out)
    }
}
