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
