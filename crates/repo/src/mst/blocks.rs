//! Where node blocks come from.

use std::borrow::Cow;
use std::collections::HashMap;

use aerie_data::Cid;

use super::SourceError;

/// A synchronous, read-only block store the tree loads nodes from.
///
/// `Ok(None)` means "not here": the tree treats that node as a stub of a partial tree and
/// reports [`MstError::MissingBlock`](super::MstError::MissingBlock) if an operation needs it.
/// Implementations are trusted to return bytes that hash to `cid` (CAR readers check this);
/// [`verify_tree`](super::verify_tree) and proof verification re-check anyway, unless the
/// source says it already checked every block ([`BlockSource::hashes_checked`]).
pub trait BlockSource {
    /// The bytes of block `cid`, if present.
    fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError>;

    /// Whether every block this source returns was hash-checked against its CID when it was
    /// stored (a CAR reader checks each block once), so [`verify_tree`](super::verify_tree)
    /// need not hash it again. Only return `true` when that is guaranteed.
    fn hashes_checked(&self) -> bool {
        false
    }
}

impl<T: BlockSource + ?Sized> BlockSource for &T {
    fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
        (**self).block(cid)
    }

    fn hashes_checked(&self) -> bool {
        (**self).hashes_checked()
    }
}

/// A source with no blocks: for trees built in memory, where every node is already loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlocks;

impl BlockSource for NoBlocks {
    fn block(&self, _cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
        Ok(None)
    }
}

/// An in-memory block map (tests, firehose slices, small imports).
#[derive(Debug, Clone, Default)]
pub struct MemoryBlocks {
    map: HashMap<Cid, Vec<u8>>,
}

impl MemoryBlocks {
    /// An empty map.
    pub fn new() -> MemoryBlocks {
        MemoryBlocks::default()
    }

    /// Add a block (the caller vouches that `bytes` hash to `cid`).
    pub fn insert(&mut self, cid: Cid, bytes: Vec<u8>) {
        self.map.insert(cid, bytes);
    }

    /// Add a block, computing its dag-cbor CID.
    pub fn insert_cbor(&mut self, bytes: Vec<u8>) -> Cid {
        let cid = Cid::for_cbor(&bytes);
        self.map.insert(cid, bytes);
        cid
    }

    /// Whether a block is present.
    pub fn contains(&self, cid: &Cid) -> bool {
        self.map.contains_key(cid)
    }

    /// A block's bytes.
    pub fn get(&self, cid: &Cid) -> Option<&[u8]> {
        self.map.get(cid).map(Vec::as_slice)
    }

    /// Remove a block.
    pub fn remove(&mut self, cid: &Cid) -> Option<Vec<u8>> {
        self.map.remove(cid)
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All blocks, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Cid, &[u8])> {
        self.map.iter().map(|(c, b)| (c, b.as_slice()))
    }
}

impl Extend<(Cid, Vec<u8>)> for MemoryBlocks {
    fn extend<I: IntoIterator<Item = (Cid, Vec<u8>)>>(&mut self, iter: I) {
        self.map.extend(iter);
    }
}

impl FromIterator<(Cid, Vec<u8>)> for MemoryBlocks {
    fn from_iter<I: IntoIterator<Item = (Cid, Vec<u8>)>>(iter: I) -> MemoryBlocks {
        MemoryBlocks {
            map: iter.into_iter().collect(),
        }
    }
}

impl BlockSource for MemoryBlocks {
    fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
        Ok(self.map.get(cid).map(|b| Cow::Borrowed(b.as_slice())))
    }
}
