//! The node wire form: `{e: [{p, k, v, t}], l}` in canonical DRISL.
//!
//! Encoding is hand-written over [`Writer`]; decoding is a fixed-schema pass over the strict
//! [`Reader`] that accepts exactly one byte sequence per node (minimal heads, keys `e`,`l` and `k`,`p`,`t`,`v` in
//! canonical order, no extra fields, blessed CIDs, maximal prefix compression), so a node that
//! decodes re-encodes to the same bytes.

use aerie_data::drisl::{DecodeError, Reader, Writer};
use aerie_data::{Cid, Codec};

use super::key::{Key, common_prefix_len};
use super::{MAX_NODE_ENTRIES, MstError};

/// One entry of a decoded node, with its key expanded (prefix compression undone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryData {
    /// The full key.
    pub key: Key,
    /// The record CID (`v`).
    pub value: Cid,
    /// The subtree between this key and the next (`t`).
    pub right: Option<Cid>,
}

/// A node in its wire shape (keys expanded). Boundary type: the tree works on its own form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeData {
    /// The subtree left of every entry (`l`).
    pub left: Option<Cid>,
    /// The entries, ascending by key.
    pub entries: Vec<EntryData>,
}

impl NodeData {
    /// Decode a node strictly. Shape rules that need the layer (key layers, empty nodes) are
    /// checked by the tree, not here.
    pub fn decode(bytes: &[u8]) -> Result<NodeData, MstError> {
        let (left, entries) = decode_node(bytes, None, |key, value, right| EntryData {
            key,
            value,
            right,
        })?;
        Ok(NodeData { left, entries })
    }

    /// Canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(16 + self.entries.len() * 80);
        encode_node(
            &mut w,
            self.left.as_ref(),
            self.entries
                .iter()
                .map(|e| (e.key.as_bytes(), &e.value, e.right.as_ref())),
        );
        w.into_inner()
    }

    /// CID of the canonical encoding.
    pub fn cid(&self) -> Cid {
        Cid::for_cbor(&self.encode())
    }
}

/// Encode a node into `w` (appending). `entries` yields (key, value, right) in key order.
pub(crate) fn encode_node<'a>(
    w: &mut Writer,
    left: Option<&Cid>,
    entries: impl ExactSizeIterator<Item = (&'a [u8], &'a Cid, Option<&'a Cid>)>,
) {
    // Canonical key order: "e" < "l"; entries "k" < "p" < "t" < "v" (all one byte long).
    w.map(2).text("e").array(entries.len());
    let mut prev: &[u8] = &[];
    for (key, value, right) in entries {
        let p = common_prefix_len(prev, key);
        w.map(4)
            .text("k")
            .bytes(&key[p..])
            .text("p")
            .uint(p as u64)
            .text("t")
            .opt_link(right);
        w.text("v").link(value);
        prev = key;
    }
    w.text("l").opt_link(left);
}

/// CBOR bytes of the empty node `{e: [], l: null}`.
pub(crate) const EMPTY_NODE: [u8; 7] = [0xa2, 0x61, b'e', 0x80, 0x61, b'l', 0xf6];

/// Decode a node, building each entry with `mk(key, value, right)`. Returns (`l`, entries).
/// `cid` only labels errors.
pub(crate) fn decode_node<T>(
    bytes: &[u8],
    cid: Option<Cid>,
    mut mk: impl FnMut(Key, Cid, Option<Cid>) -> T,
) -> Result<(Option<Cid>, Vec<T>), MstError> {
    let mut r = Reader::new(bytes);
    let cbor = |e: DecodeError| MstError::Decode {
        cid,
        offset: e.offset,
        reason: e.kind.to_string(),
    };
    let bad = |offset: usize, reason: &str| MstError::Decode {
        cid,
        offset,
        reason: reason.to_owned(),
    };
    let at = r.position();
    if r.map_len().map_err(cbor)? != 2 {
        return Err(bad(at, "node map must have exactly the keys e and l"));
    }
    // Expecting keys in canonical order ("e" < "l"; "k" < "p" < "t" < "v") enforces order,
    // uniqueness and the absence of extra fields.
    r.expect_key("e").map_err(cbor)?;
    let n = r.array_len().map_err(cbor)?;
    if n > MAX_NODE_ENTRIES {
        return Err(MstError::TooManyEntries { cid, count: n });
    }
    // The reader bounds `n` by the bytes left, so this allocation is input-proportional.
    let mut entries = Vec::with_capacity(n);
    let mut prev: Vec<u8> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for i in 0..n {
        let at = r.position();
        if r.map_len().map_err(cbor)? != 4 {
            return Err(bad(
                at,
                "entry map must have exactly the keys k, p, t and v",
            ));
        }
        r.expect_key("k").map_err(cbor)?;
        let suffix = r.bytes().map_err(cbor)?;
        r.expect_key("p").map_err(cbor)?;
        let at = r.position();
        let p = usize::try_from(r.uint().map_err(cbor)?).unwrap_or(usize::MAX);
        if i == 0 && p != 0 {
            return Err(bad(at, "first entry has non-zero prefix length"));
        }
        if p > prev.len() {
            return Err(bad(at, "prefix length longer than previous key"));
        }
        // Prefix compression must be maximal: the suffix may not start with the next shared byte.
        if p < prev.len() && suffix.first() == Some(&prev[p]) {
            return Err(bad(at, "prefix length shorter than the common prefix"));
        }
        r.expect_key("t").map_err(cbor)?;
        let right = node_link(&mut r, cid)?;
        r.expect_key("v").map_err(cbor)?;
        let value = r.link().map_err(cbor)?;
        cur.clear();
        cur.extend_from_slice(&prev[..p]);
        cur.extend_from_slice(suffix);
        let lossy = |k: &[u8]| Some(String::from_utf8_lossy(k).into_owned());
        // Strictly ascending (which also rules out duplicates).
        if i > 0 && cur <= prev {
            return Err(MstError::NotCanonical {
                cid,
                key: lossy(&cur),
                reason: "keys not strictly ascending",
            });
        }
        let key = Key::from_bytes(&cur).map_err(|e| match e {
            MstError::InvalidKey { reason, .. } => MstError::NotCanonical {
                cid,
                key: lossy(&cur),
                reason,
            },
            other => other,
        })?;
        entries.push(mk(key, value, right));
        std::mem::swap(&mut prev, &mut cur);
    }
    r.expect_key("l").map_err(cbor)?;
    let left = node_link(&mut r, cid)?;
    r.finish().map_err(cbor)?;
    Ok((left, entries))
}

/// A subtree link: null or a dag-cbor CID (a raw CID cannot name a node).
fn node_link(r: &mut Reader<'_>, cid: Option<Cid>) -> Result<Option<Cid>, MstError> {
    let at = r.position();
    let link = r.opt_link().map_err(|e| MstError::Decode {
        cid,
        offset: e.offset,
        reason: e.kind.to_string(),
    })?;
    if link.is_some_and(|c| c.codec() != Codec::DagCbor) {
        return Err(MstError::Decode {
            cid,
            offset: at,
            reason: "subtree link is not dag-cbor".to_owned(),
        });
    }
    Ok(link)
}

/// A node decoded for a read-only walk into buffers the caller reuses: full keys
/// concatenated in one byte buffer, so decoding allocates nothing once the buffers have grown.
/// It holds only what [`FlatNode::decode`] accepted, which is exactly what
/// [`node_from_bytes`](super::tree::node_from_bytes) accepts (layer rules included).
#[derive(Debug, Default)]
pub(crate) struct FlatNode {
    /// Layer of every key (the expected layer for an empty node).
    pub(crate) layer: u8,
    /// The subtree left of every entry.
    pub(crate) left: Option<Cid>,
    /// Full keys, end to end.
    keys: Vec<u8>,
    /// End of each key in `keys`.
    ends: Vec<u32>,
    /// Record CIDs.
    pub(crate) values: Vec<Cid>,
    /// Subtrees right of each entry.
    pub(crate) rights: Vec<Option<Cid>>,
}

impl FlatNode {
    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Key `i` (full, not prefix-compressed).
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
        &self.keys[start..self.ends[i] as usize]
    }

    /// Whether any entry or the left link names a subtree.
    pub(crate) fn has_children(&self) -> bool {
        self.left.is_some() || self.rights.iter().any(Option::is_some)
    }

    fn clear(&mut self) {
        self.left = None;
        self.keys.clear();
        self.ends.clear();
        self.values.clear();
        self.rights.clear();
    }

    /// Decode `bytes` (block `cid`, whose parent implies layer `expected`; `None` for a root)
    /// with every rule of [`node_from_bytes`](super::tree::node_from_bytes), and its errors.
    ///
    /// The canonical encoding of a node is one fixed byte layout, so it is matched here byte
    /// by byte; anything else (including every invalid node) goes to the general decoder,
    /// which either accepts it too or names what is wrong. The two must agree on every input
    /// the fast path accepts: `fuzz::mst_node_decode` checks it.
    pub(crate) fn decode(
        &mut self,
        bytes: &[u8],
        cid: Cid,
        expected: Option<u8>,
    ) -> Result<(), MstError> {
        if self.decode_canonical(bytes, expected).is_some() {
            return Ok(());
        }
        let node = super::tree::node_from_bytes(bytes, cid, expected)?;
        self.clear();
        self.layer = node.layer;
        self.left = node.left.cid().copied();
        for e in &node.entries {
            self.keys.extend_from_slice(e.key.as_bytes());
            self.ends.push(self.keys.len() as u32);
            self.values.push(e.value);
            self.rights.push(e.right.cid().copied());
        }
        Ok(())
    }

    /// The byte-level fast path of [`FlatNode::decode`]: `None` whenever the input is not a
    /// valid node in its canonical layout (the general decoder then takes over).
    fn decode_canonical(&mut self, bytes: &[u8], expected: Option<u8>) -> Option<()> {
        self.clear();
        let mut c = Cursor { b: bytes, p: 0 };
        c.expect(&[0xa2, 0x61, b'e'])?;
        let n = c.head(4)?;
        if n > MAX_NODE_ENTRIES {
            return None;
        }
        let mut layer = 0u8;
        let mut prev = 0..0;
        for i in 0..n {
            c.expect(&[0xa4, 0x61, b'k'])?;
            let len = c.head(2)?;
            let suffix = c.take(len)?;
            c.expect(&[0x61, b'p'])?;
            let p = c.head(0)?;
            if (i == 0 && p != 0) || p > prev.len() {
                return None;
            }
            if p < prev.len() && suffix.first() == Some(&self.keys[prev.start + p]) {
                return None;
            }
            c.expect(&[0x61, b't'])?;
            let right = c.opt_link(true)?;
            c.expect(&[0x61, b'v'])?;
            let value = c.link(false)?;
            let start = self.keys.len();
            self.keys.extend_from_within(prev.start..prev.start + p);
            self.keys.extend_from_slice(suffix);
            let key = &self.keys[start..];
            if (i > 0 && key <= &self.keys[prev.clone()]) || !super::key::is_valid_key(key) {
                return None;
            }
            let l = super::key::layer_of(key);
            if i == 0 {
                layer = l;
            }
            if l != layer || expected.is_some_and(|x| x != l) {
                return None;
            }
            prev = start..self.keys.len();
            self.ends.push(self.keys.len() as u32);
            self.values.push(value);
            self.rights.push(right);
        }
        c.expect(&[0x61, b'l'])?;
        self.left = c.opt_link(true)?;
        if c.p != bytes.len() {
            return None;
        }
        if n == 0 {
            layer = expected.unwrap_or(0);
            // An empty node is only the empty root or a layer step that points down.
            if expected.is_some() != self.left.is_some() {
                return None;
            }
        }
        if layer > super::MAX_LAYER || (layer == 0 && self.has_children()) {
            return None;
        }
        self.layer = layer;
        Some(())
    }
}

/// Reads the fixed layout of [`FlatNode::decode_canonical`]; every method answers `None` on
/// anything but the one canonical form.
struct Cursor<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn expect(&mut self, want: &[u8]) -> Option<()> {
        let end = self.p.checked_add(want.len())?;
        (self.b.get(self.p..end)? == want).then(|| self.p = end)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.p.checked_add(len)?;
        let out = self.b.get(self.p..end)?;
        self.p = end;
        Some(out)
    }

    /// A minimal head of major type `major` with an argument below 65536.
    fn head(&mut self, major: u8) -> Option<usize> {
        let first = *self.b.get(self.p)?;
        if first >> 5 != major {
            return None;
        }
        let (value, used) = match first & 0x1f {
            v @ 0..=23 => (usize::from(v), 1),
            24 => (usize::from(*self.b.get(self.p + 1)?), 2),
            25 => {
                let hi = *self.b.get(self.p + 1)?;
                let lo = *self.b.get(self.p + 2)?;
                (usize::from(u16::from_be_bytes([hi, lo])), 3)
            }
            _ => return None,
        };
        let minimal = match used {
            2 => value >= 24,
            3 => value > 0xff,
            _ => true,
        };
        if !minimal {
            return None;
        }
        self.p += used;
        Some(value)
    }

    /// A CID link (tag 42, 37 bytes, identity prefix, CIDv1 sha2-256), dag-cbor only when
    /// `node_only`, dag-cbor or raw otherwise.
    fn link(&mut self, node_only: bool) -> Option<Cid> {
        // Tag 42, a 37-byte string, the identity multibase prefix; then the CID itself.
        const HEAD: [u8; 5] = [0xd8, 0x2a, 0x58, 0x25, 0x00];
        self.expect(&HEAD)?;
        let codec = *self.b.get(self.p + 1)?;
        if !(codec == 0x71 || (!node_only && codec == 0x55)) {
            return None;
        }
        Cid::from_bytes(self.take(aerie_data::CID_LEN)?).ok()
    }

    fn opt_link(&mut self, node_only: bool) -> Option<Option<Cid>> {
        if self.b.get(self.p) == Some(&0xf6) {
            self.p += 1;
            return Some(None);
        }
        self.link(node_only).map(Some)
    }
}

#[cfg(test)]
mod flat_tests {
    use super::*;
    use crate::mst::Mst;

    /// Every node of a built tree takes the fast path, and decodes as the general decoder
    /// does.
    #[test]
    fn built_nodes_take_the_fast_path_and_agree_with_the_general_decoder() {
        let entries: Vec<(Key, Cid)> = (0..3000u32)
            .map(|i| {
                let key = Key::parse(&format!("app.bsky.feed.post/3k{i:011}")).unwrap();
                (key, Cid::for_cbor(&i.to_le_bytes()))
            })
            .collect();
        let mut blocks = Vec::new();
        Mst::build_root(entries.iter().map(|(k, c)| (k, *c)), &mut |c, b| {
            blocks.push((*c, b.to_vec()))
        })
        .unwrap();
        let (mut inner, mut n) = (0, FlatNode::default());
        for (cid, b) in &blocks {
            let general = NodeData::decode(b).unwrap();
            let Some(first) = general.entries.first() else {
                continue; // a layer step: its layer comes from the parent
            };
            let layer = first.key.layer();
            assert!(n.decode_canonical(b, Some(layer)).is_some(), "{cid:?}");
            assert_eq!(n.layer, layer);
            assert_eq!(n.left, general.left);
            assert_eq!(n.len(), general.entries.len());
            for (i, e) in general.entries.iter().enumerate() {
                assert_eq!(n.key(i), e.key.as_bytes());
                assert_eq!((n.values[i], n.rights[i]), (e.value, e.right));
            }
            inner += usize::from(n.has_children());
        }
        assert!(inner > 0 && blocks.len() > 10);
    }
}
