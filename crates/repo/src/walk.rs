//! A full walk of a stored MST in "streamable" order: each node, then its slots in order
//! (left subtree, then for each entry its record and its right subtree). This is the block
//! order the repository spec recommends for `getRepo` CARs, and the order in which entries
//! come out sorted.
//!
//! The walk uses an explicit stack (hostile input can chain nodes arbitrarily deep) and
//! refuses to visit a node twice: a canonical tree never repeats a node (every node holds
//! distinct keys, and even an empty intermediate node's only link differs), so a repeat
//! means a crafted DAG that could otherwise make the walk exponential.

use std::collections::HashSet;

use aerie_data::Cid;

use crate::Error;
use crate::mst::{BlockSource, MstError, NodeData};

/// What the walk hands to its visitor.
pub(crate) enum Visit<'a> {
    /// A node: its CID and block bytes, before its contents.
    Node(&'a Cid, &'a [u8]),
    /// An entry's record CID, in ascending key order.
    Record(Cid),
}

enum Work {
    Node(Cid),
    Record(Cid),
}

/// Walk the tree rooted at `root`, handing each node and entry to `visit` in streamable
/// order.
pub(crate) fn walk<S: BlockSource + ?Sized>(
    src: &S,
    root: Cid,
    mut visit: impl FnMut(Visit<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut seen: HashSet<Cid> = HashSet::new();
    let mut stack = vec![Work::Node(root)];
    while let Some(work) = stack.pop() {
        match work {
            Work::Record(cid) => visit(Visit::Record(cid))?,
            Work::Node(cid) => {
                if !seen.insert(cid) {
                    return Err(Error::Mst(MstError::NotCanonical {
                        cid: Some(cid),
                        key: None,
                        reason: "node appears twice in the tree",
                    }));
                }
                let bytes = match src.block(&cid) {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        return Err(Error::MissingBlock {
                            cid,
                            what: "MST node",
                        });
                    }
                    Err(source) => return Err(Error::Mst(MstError::Source { cid, source })),
                };
                let node = NodeData::decode(&bytes).map_err(|e| with_cid(e, cid))?;
                visit(Visit::Node(&cid, &bytes))?;
                for entry in node.entries.into_iter().rev() {
                    if let Some(right) = entry.right {
                        stack.push(Work::Node(right));
                    }
                    stack.push(Work::Record(entry.value));
                }
                if let Some(left) = node.left {
                    stack.push(Work::Node(left));
                }
            }
        }
    }
    Ok(())
}

/// Node decode errors do not know the CID they came from; add it.
fn with_cid(e: MstError, cid: Cid) -> Error {
    match e {
        MstError::Decode {
            cid: None,
            offset,
            reason,
        } => Error::Mst(MstError::Decode {
            cid: Some(cid),
            offset,
            reason,
        }),
        MstError::TooManyEntries { cid: None, count } => Error::Mst(MstError::TooManyEntries {
            cid: Some(cid),
            count,
        }),
        other => Error::Mst(other),
    }
}
