//! The node wire form: `{e: [{p, k, v, t}], l}` in canonical DRISL.
//!
//! Encoding is hand-written over [`Writer`]; decoding is a fixed-schema parser that accepts
//! exactly one byte sequence per node (minimal heads, keys `e`,`l` and `k`,`p`,`t`,`v` in
//! canonical order, no extra fields, blessed CIDs, maximal prefix compression), so a node that
//! decodes re-encodes to the same bytes.

use aerie_data::drisl::Writer;
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

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    cid: Option<Cid>,
}

impl<'a> Cursor<'a> {
    fn err(&self, reason: &'static str) -> MstError {
        MstError::Decode {
            cid: self.cid,
            offset: self.pos,
            reason,
        }
    }

    fn byte(&mut self) -> Result<u8, MstError> {
        let b = *self
            .b
            .get(self.pos)
            .ok_or_else(|| self.err("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MstError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| self.err("unexpected end"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn expect(&mut self, lit: &[u8], reason: &'static str) -> Result<(), MstError> {
        let at = self.pos;
        match self.b.get(at..at + lit.len()) {
            Some(s) if s == lit => {
                self.pos += lit.len();
                Ok(())
            }
            _ => Err(self.err(reason)),
        }
    }

    /// A head of the given major type with its argument; non-minimal forms are refused.
    fn head(&mut self, major: u8, reason: &'static str) -> Result<u64, MstError> {
        let start = self.pos;
        let b = self.byte()?;
        if b >> 5 != major {
            self.pos = start;
            return Err(self.err(reason));
        }
        let (v, min) = match b & 0x1f {
            n @ 0..=23 => return Ok(u64::from(n)),
            24 => (u64::from(self.byte()?), 24),
            25 => (
                u64::from(u16::from_be_bytes(
                    self.take(2)?.try_into().unwrap_or_default(),
                )),
                0x100,
            ),
            26 => (
                u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().unwrap_or_default(),
                )),
                0x1_0000,
            ),
            27 => (
                u64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default()),
                0x1_0000_0000,
            ),
            _ => {
                self.pos = start;
                return Err(self.err("indefinite length or reserved head"));
            }
        };
        if v < min {
            self.pos = start;
            return Err(self.err("non-minimal integer or length"));
        }
        Ok(v)
    }

    /// A CID link (tag 42) to a blessed CID.
    fn link(&mut self) -> Result<Cid, MstError> {
        // tag(42), bytes(37), 0x00 multibase prefix; a blessed CID always has this framing.
        self.expect(&[0xd8, 0x2a, 0x58, 0x25, 0x00], "expected a CID link")?;
        let at = self.pos;
        let raw = self.take(36)?;
        Cid::from_bytes(raw).map_err(|_| MstError::Decode {
            cid: self.cid,
            offset: at,
            reason: "CID is not blessed",
        })
    }

    fn opt_link(&mut self) -> Result<Option<Cid>, MstError> {
        if self.b.get(self.pos) == Some(&0xf6) {
            self.pos += 1;
            return Ok(None);
        }
        self.link().map(Some)
    }

    fn node_link(&mut self) -> Result<Option<Cid>, MstError> {
        let at = self.pos;
        let link = self.opt_link()?;
        if link.is_some_and(|c| c.codec() != Codec::DagCbor) {
            return Err(MstError::Decode {
                cid: self.cid,
                offset: at,
                reason: "subtree link is not dag-cbor",
            });
        }
        Ok(link)
    }
}

/// Decode a node, building each entry with `mk(key, value, right)`. Returns (`l`, entries).
/// `cid` only labels errors.
pub(crate) fn decode_node<T>(
    bytes: &[u8],
    cid: Option<Cid>,
    mut mk: impl FnMut(Key, Cid, Option<Cid>) -> T,
) -> Result<(Option<Cid>, Vec<T>), MstError> {
    let mut c = Cursor {
        b: bytes,
        pos: 0,
        cid,
    };
    c.expect(
        &[0xa2, 0x61, b'e'],
        "expected map {e, l} starting with \"e\"",
    )?;
    let n = c.head(4, "expected array of entries")?;
    if n > MAX_NODE_ENTRIES as u64 {
        return Err(MstError::TooManyEntries {
            cid,
            count: usize::try_from(n).unwrap_or(usize::MAX),
        });
    }
    // Each entry takes at least 51 bytes; refuse counts the input cannot hold before allocating.
    let n = n as usize;
    if n.saturating_mul(51) > bytes.len() {
        return Err(c.err("entry count exceeds node size"));
    }
    let mut entries = Vec::with_capacity(n);
    let mut prev: Vec<u8> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for i in 0..n {
        c.expect(
            &[0xa4, 0x61, b'k'],
            "expected entry map {k, p, t, v} starting with \"k\"",
        )?;
        let len = c.head(2, "expected byte string k")?;
        let suffix = c.take(usize::try_from(len).unwrap_or(usize::MAX))?;
        c.expect(&[0x61, b'p'], "expected \"p\"")?;
        let at = c.pos;
        let p = c.head(0, "expected unsigned integer p")?;
        let p = usize::try_from(p).unwrap_or(usize::MAX);
        let bad = |reason| MstError::Decode {
            cid,
            offset: at,
            reason,
        };
        if i == 0 && p != 0 {
            return Err(bad("first entry has non-zero prefix length"));
        }
        if p > prev.len() {
            return Err(bad("prefix length longer than previous key"));
        }
        // Prefix compression must be maximal: the suffix may not start with the next shared byte.
        if p < prev.len() && suffix.first() == Some(&prev[p]) {
            return Err(bad("prefix length shorter than the common prefix"));
        }
        c.expect(&[0x61, b't'], "expected \"t\"")?;
        let right = c.node_link()?;
        c.expect(&[0x61, b'v'], "expected \"v\"")?;
        let value = c.link()?;
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
    c.expect(&[0x61, b'l'], "expected \"l\"")?;
    let left = c.node_link()?;
    if c.pos != bytes.len() {
        return Err(c.err("trailing bytes after node"));
    }
    Ok((left, entries))
}
