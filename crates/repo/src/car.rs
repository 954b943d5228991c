//! CAR v1 files: a header naming root CIDs, then `(CID, block)` sections.
//!
//! Byte layout:
//!
//! ```text
//! uvarint(len(H)) || H            H = DRISL {"roots": [link, ...], "version": 1}
//! repeat: uvarint(len(C) + len(D)) || C || D     C = binary CID, D = block bytes
//! ```
//!
//! [`CarReader`] reads from any [`std::io::Read`], one section at a time, into a reused
//! buffer. Every block is hashed and compared with its CID. Every length is checked against
//! [`CarLimits`] before any byte is read for it, and block bytes are read with `read_to_end`
//! on a bounded `take`, so a hostile length prefix never makes us allocate more than the
//! bytes that actually arrive. Errors name the byte offset of the section that failed.
//!
//! [`CarWriter`] writes a header and blocks to any [`std::io::Write`].

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};

use aerie_data::drisl::{Reader, Writer};
use aerie_data::{CID_LEN, Cid};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::mst::{BlockSource, SourceError};

/// Size limits applied while reading a CAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarLimits {
    /// Largest header (the CBOR map) accepted, in bytes.
    pub max_header: u64,
    /// Largest block accepted, in bytes (CID excluded); keep it below 4 GiB.
    pub max_block: u64,
    /// Largest whole file accepted, in bytes.
    pub max_total: u64,
}

impl CarLimits {
    /// Defaults fit any atproto repository: records are at most 1 MB on the firehose and MST
    /// nodes and commits are far smaller, so 2 MiB per block leaves room without inviting
    /// abuse; the header only holds roots (41 bytes each).
    pub const DEFAULT: CarLimits = CarLimits {
        max_header: 64 * 1024,
        max_block: 2 * 1024 * 1024,
        max_total: u64::MAX,
    };
}

impl Default for CarLimits {
    fn default() -> CarLimits {
        CarLimits::DEFAULT
    }
}

/// The unsigned varint longest form we accept: 9 bytes carry 63 bits, as the multiformats
/// unsigned-varint spec requires.
const MAX_VARINT_BYTES: usize = 9;

/// Reads a CAR v1 stream block by block, checking hashes and limits.
#[derive(Debug)]
pub struct CarReader<R> {
    inner: R,
    limits: CarLimits,
    roots: Vec<Cid>,
    /// Bytes consumed from `inner` so far.
    offset: u64,
    buf: Vec<u8>,
}

/// What an attempt to read a varint produced.
enum Varint {
    /// Clean end of input before the first byte.
    Eof,
    /// A value.
    Value(u64),
}

impl<R: Read> CarReader<R> {
    /// Read the header with default limits.
    pub fn new(inner: R) -> Result<CarReader<R>, Error> {
        CarReader::with_limits(inner, CarLimits::DEFAULT)
    }

    /// Read the header with the given limits.
    pub fn with_limits(inner: R, limits: CarLimits) -> Result<CarReader<R>, Error> {
        let mut r = CarReader {
            inner,
            limits,
            roots: Vec::new(),
            offset: 0,
            buf: Vec::new(),
        };
        let len = match r.varint()? {
            Varint::Eof => return Err(Error::CarEmpty),
            Varint::Value(v) => v,
        };
        if len == 0 {
            return Err(Error::CarHeader {
                offset: r.offset,
                reason: "header length is zero".into(),
            });
        }
        if len > limits.max_header {
            return Err(Error::CarTooLarge {
                offset: 0,
                what: "header",
                len,
                limit: limits.max_header,
            });
        }
        let header_offset = r.offset;
        r.fill(len, "header")?;
        r.roots = parse_header(&r.buf).map_err(|reason| Error::CarHeader {
            offset: header_offset,
            reason,
        })?;
        Ok(r)
    }

    /// The roots named by the header, in order.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Bytes read so far (the offset of the next section).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next block, or `None` at a clean end of input. The slice borrows an internal buffer
    /// reused by the next call. The block's hash has been checked against its CID.
    pub fn next_block(&mut self) -> Result<Option<(Cid, &[u8])>, Error> {
        let section = self.offset;
        let len = match self.varint()? {
            Varint::Eof => return Ok(None),
            Varint::Value(v) => v,
        };
        if len < CID_LEN as u64 {
            // Also catches a too-short non-blessed CID: we only hold 36-byte CIDs.
            return Err(Error::CarSection {
                offset: section,
                reason: format!("section length {len} is shorter than a CID"),
            });
        }
        let block_len = len - CID_LEN as u64;
        if block_len > self.limits.max_block {
            return Err(Error::CarTooLarge {
                offset: section,
                what: "block",
                len: block_len,
                limit: self.limits.max_block,
            });
        }
        self.fill(len, "section")?;
        let cid = Cid::read_prefix(&self.buf)
            .map_err(|error| Error::CarCid {
                offset: section,
                error,
            })?
            .0;
        let data = &self.buf[CID_LEN..];
        if !cid.matches(data) {
            return Err(Error::HashMismatch {
                cid,
                offset: section,
            });
        }
        Ok(Some((cid, data)))
    }

    /// Give back the underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Replace `buf` with exactly `len` bytes from the input, growing only as bytes arrive.
    fn fill(&mut self, len: u64, what: &'static str) -> Result<(), Error> {
        let start = self.offset;
        self.check_total(len)?;
        self.buf.clear();
        let got = (&mut self.inner)
            .take(len)
            .read_to_end(&mut self.buf)
            .map_err(|error| Error::Io {
                offset: start,
                error,
            })?;
        self.offset += got as u64;
        if (got as u64) < len {
            return Err(Error::CarTruncated {
                offset: self.offset,
                what,
                missing: len - got as u64,
            });
        }
        Ok(())
    }

    fn check_total(&self, more: u64) -> Result<(), Error> {
        let total = self.offset.saturating_add(more);
        if total > self.limits.max_total {
            return Err(Error::CarTooLarge {
                offset: self.offset,
                what: "file",
                len: total,
                limit: self.limits.max_total,
            });
        }
        Ok(())
    }

    /// A canonical unsigned LEB128 varint of at most 9 bytes.
    fn varint(&mut self) -> Result<Varint, Error> {
        let start = self.offset;
        let mut value: u64 = 0;
        for i in 0..MAX_VARINT_BYTES {
            let mut b = [0u8; 1];
            let n = loop {
                match self.inner.read(&mut b) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        return Err(Error::Io {
                            offset: self.offset,
                            error,
                        });
                    }
                }
            };
            if n == 0 {
                if i == 0 {
                    return Ok(Varint::Eof);
                }
                return Err(Error::CarTruncated {
                    offset: self.offset,
                    what: "varint",
                    missing: 1,
                });
            }
            self.offset += 1;
            let byte = b[0];
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    return Err(Error::CarVarint {
                        offset: start,
                        reason: "not minimally encoded",
                    });
                }
                return Ok(Varint::Value(value));
            }
        }
        Err(Error::CarVarint {
            offset: start,
            reason: "longer than 9 bytes",
        })
    }
}

/// Parse `{"roots": [link...], "version": 1}` strictly.
fn parse_header(bytes: &[u8]) -> Result<Vec<Cid>, String> {
    let mut r = Reader::new(bytes);
    let n = r.map_len().map_err(|e| e.to_string())?;
    if n != 2 {
        return Err(format!(
            "header map has {n} entries, expected roots and version"
        ));
    }
    let key = r.text().map_err(|e| e.to_string())?;
    if key != "roots" {
        return Err(format!("expected key \"roots\", found {key:?}"));
    }
    let count = r.array_len().map_err(|e| e.to_string())?;
    // Each link takes at least 41 bytes, so `count` is bounded by the header size.
    let mut roots = Vec::with_capacity(count.min(bytes.len() / 41));
    for _ in 0..count {
        roots.push(r.link().map_err(|e| e.to_string())?);
    }
    let key = r.text().map_err(|e| e.to_string())?;
    if key != "version" {
        return Err(format!("expected key \"version\", found {key:?}"));
    }
    let version = r.uint().map_err(|e| e.to_string())?;
    if version != 1 {
        return Err(format!("unsupported CAR version {version}"));
    }
    r.finish().map_err(|e| e.to_string())?;
    Ok(roots)
}

/// Reads a CAR held in memory, block by block, without copying: every block is a slice of the
/// input. The checks and errors are exactly those of [`CarReader`] (the fuzz target compares
/// the two on every input).
#[derive(Debug, Clone)]
pub struct SliceReader<'a> {
    bytes: &'a [u8],
    limits: CarLimits,
    roots: Vec<Cid>,
    pos: usize,
}

impl<'a> SliceReader<'a> {
    /// Read the header with default limits.
    pub fn new(bytes: &'a [u8]) -> Result<SliceReader<'a>, Error> {
        SliceReader::with_limits(bytes, CarLimits::DEFAULT)
    }

    /// Read the header with the given limits.
    pub fn with_limits(bytes: &'a [u8], limits: CarLimits) -> Result<SliceReader<'a>, Error> {
        let mut r = SliceReader {
            bytes,
            limits,
            roots: Vec::new(),
            pos: 0,
        };
        let len = match r.varint()? {
            Varint::Eof => return Err(Error::CarEmpty),
            Varint::Value(v) => v,
        };
        if len == 0 {
            return Err(Error::CarHeader {
                offset: r.pos as u64,
                reason: "header length is zero".into(),
            });
        }
        if len > limits.max_header {
            return Err(Error::CarTooLarge {
                offset: 0,
                what: "header",
                len,
                limit: limits.max_header,
            });
        }
        let header_offset = r.pos as u64;
        let header = r.take(len, "header")?;
        r.roots = parse_header(header).map_err(|reason| Error::CarHeader {
            offset: header_offset,
            reason,
        })?;
        Ok(r)
    }

    /// The roots named by the header, in order.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Bytes read so far (the offset of the next section).
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    /// The next block, or `None` at the end of input. The block's hash has been checked
    /// against its CID.
    pub fn next_block(&mut self) -> Result<Option<(Cid, &'a [u8])>, Error> {
        let Some((cid, data, section)) = self.next_unchecked()? else {
            return Ok(None);
        };
        check_hash(cid, data, section)?;
        Ok(Some((cid, data)))
    }

    /// The next section with every check except the hash (the caller must call
    /// [`check_hash`]), and the section's offset.
    fn next_unchecked(&mut self) -> Result<Option<Section<'a>>, Error> {
        let section = self.pos as u64;
        let len = match self.varint()? {
            Varint::Eof => return Ok(None),
            Varint::Value(v) => v,
        };
        if len < CID_LEN as u64 {
            return Err(Error::CarSection {
                offset: section,
                reason: format!("section length {len} is shorter than a CID"),
            });
        }
        let block_len = len - CID_LEN as u64;
        if block_len > self.limits.max_block {
            return Err(Error::CarTooLarge {
                offset: section,
                what: "block",
                len: block_len,
                limit: self.limits.max_block,
            });
        }
        let body = self.take(len, "section")?;
        let cid = Cid::read_prefix(body)
            .map_err(|error| Error::CarCid {
                offset: section,
                error,
            })?
            .0;
        Ok(Some((cid, &body[CID_LEN..], section)))
    }

    /// The next `len` bytes, with the total-size limit and truncation checks of
    /// [`CarReader`].
    fn take(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], Error> {
        let total = (self.pos as u64).saturating_add(len);
        if total > self.limits.max_total {
            return Err(Error::CarTooLarge {
                offset: self.pos as u64,
                what: "file",
                len: total,
                limit: self.limits.max_total,
            });
        }
        let left = self.bytes.len() - self.pos;
        if len > left as u64 {
            self.pos = self.bytes.len();
            return Err(Error::CarTruncated {
                offset: self.pos as u64,
                what,
                missing: len - left as u64,
            });
        }
        let out = &self.bytes[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(out)
    }

    /// A canonical unsigned LEB128 varint of at most 9 bytes.
    fn varint(&mut self) -> Result<Varint, Error> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..MAX_VARINT_BYTES {
            let Some(&byte) = self.bytes.get(self.pos) else {
                if i == 0 {
                    return Ok(Varint::Eof);
                }
                return Err(Error::CarTruncated {
                    offset: self.pos as u64,
                    what: "varint",
                    missing: 1,
                });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if byte == 0 && i > 0 {
                    return Err(Error::CarVarint {
                        offset: start as u64,
                        reason: "not minimally encoded",
                    });
                }
                return Ok(Varint::Value(value));
            }
        }
        Err(Error::CarVarint {
            offset: start as u64,
            reason: "longer than 9 bytes",
        })
    }
}

/// A section: CID, block bytes, offset of the section.
type Section<'a> = (Cid, &'a [u8], u64);

/// A block must hash to its CID.
fn check_hash(cid: Cid, data: &[u8], section: u64) -> Result<(), Error> {
    if cid.matches(data) {
        Ok(())
    } else {
        Err(Error::HashMismatch {
            cid,
            offset: section,
        })
    }
}

/// The blocks of a CAR held in memory, indexed in place (no copy): what
/// [`read_car_slice`] returns.
///
/// Nothing is copied out of the input, not even CIDs: each distinct block is a `(start,
/// length)` pair in file order, its CID being the 36 bytes before `start`, and the index is
/// an open-addressing table of 4-byte positions (about 1 MiB for 100k blocks, so it stays in
/// cache). Comparing a candidate's CID reads the bytes just before the block, which the
/// caller is about to read anyway.
///
/// Lookups first try the few blocks after the last one found: readers walk a repository in
/// about the order it was written (records in key order, or the spec's streamable order), so
/// most lookups hit in sequential memory. The cursors are [`Cell`](std::cell::Cell)s, so this
/// type is not `Sync`; parallel walks share its [`SliceIndex`] and keep a cursor each.
#[derive(Debug, Clone)]
pub struct SliceBlocks<'a> {
    index: SliceIndex<'a>,
    /// Position in `order` after the last block found by [`SliceBlocks::find`].
    cursor: Cell<usize>,
    /// The same for [`BlockSource::block`] (tree walks), which interleaves with record
    /// lookups differently.
    node_cursor: Cell<usize>,
}

/// The shareable part of [`SliceBlocks`]: the input and its index.
#[derive(Debug, Clone)]
pub(crate) struct SliceIndex<'a> {
    bytes: &'a [u8],
    /// Distinct blocks in file order.
    order: Vec<Placed>,
    /// Their CIDs, copied out of the input while it was read: lookups compare these dense
    /// copies instead of reaching into the input for each candidate (a cache miss each).
    cids: Vec<[u8; CID_LEN]>,
    /// Open addressing, linear probing: positions in `order`, [`EMPTY_SLOT`] when free.
    /// The length is a power of two, at least twice `order.len()`.
    table: Vec<u32>,
    /// Keys the CID hash so that ground digests cannot pile into one probe run.
    key: u64,
}

/// One thread's reader over a shared [`SliceIndex`], with its own lookup cursor.
pub(crate) struct SliceView<'b, 'a> {
    index: &'b SliceIndex<'a>,
    cursor: Cell<usize>,
}

/// How many blocks after the cursor a lookup tries before the index: a pre-order walk asks
/// for the next node a few records later.
const PROBE: usize = 8;

const EMPTY_SLOT: u32 = u32::MAX;

/// Where a block lies in the input, with a 32-bit hash of its CID: the low bits place it
/// in the table, and comparing all 32 rejects most non-matching candidates without reading
/// the CID from the input (a cache miss each). The table is rebuilt from these alone.
#[derive(Debug, Clone, Copy)]
struct Placed {
    start: usize,
    len: u32,
    hash: u32,
}

/// A keyed 32-bit hash of a 36-byte CID.
fn cid_hash(key: u64, cid: &[u8]) -> u32 {
    // Bytes 4..12 are the start of the SHA-256 digest: uniform already.
    let word = cid
        .get(4..12)
        .and_then(|w| w.try_into().ok())
        .map_or(0, u64::from_le_bytes);
    let m = u128::from(word ^ key) * 0x9e37_79b9_7f4a_7c15u128;
    ((m as u64) ^ ((m >> 64) as u64)) as u32
}

impl<'a> SliceIndex<'a> {
    /// Index the blocks `found` (in file order, repeats included) of `bytes`; returns the
    /// index and the number of repeats dropped. `states` (empty, or one byte per entry of
    /// `found`) is compacted alongside, so it stays indexed by block id.
    ///
    /// Indexing after the read, rather than block by block while hashing, keeps the table's
    /// random accesses away from the hash pass that streams the whole input through the
    /// cache: the table then stays cached while it is filled.
    fn build(
        bytes: &'a [u8],
        key: u64,
        mut found: Vec<Placed>,
        mut cids: Vec<[u8; CID_LEN]>,
        states: &mut Vec<u8>,
    ) -> (SliceIndex<'a>, u64) {
        let mut index = SliceIndex {
            bytes,
            key,
            order: Vec::new(),
            cids: Vec::new(),
            table: vec![EMPTY_SLOT; (found.len() * 2).next_power_of_two().max(16)],
        };
        let mask = index.table.len() - 1;
        // Compact repeats out of `found` in place: `kept` <= `i`, and the table only names
        // positions below `kept`, which are final.
        let mut kept = 0usize;
        for i in 0..found.len() {
            let p = found[i];
            let mut slot = p.hash as usize & mask;
            let repeat = loop {
                match index.table[slot] {
                    EMPTY_SLOT => break false,
                    pos => {
                        let q = found[pos as usize];
                        if q.hash == p.hash && cids[pos as usize] == cids[i] {
                            break true;
                        }
                        slot = (slot + 1) & mask;
                    }
                }
            };
            if !repeat {
                // At most one entry per 37 bytes of input below u32::MAX entries: checked by
                // `read_car_slice`.
                index.table[slot] = kept as u32;
                found[kept] = p;
                cids[kept] = cids[i];
                if let Some(&s) = states.get(i) {
                    states[kept] = s;
                }
                kept += 1;
            }
        }
        let repeats = (found.len() - kept) as u64;
        found.truncate(kept);
        cids.truncate(kept);
        states.truncate(kept);
        index.order = found;
        index.cids = cids;
        (index, repeats)
    }

    /// The CID stored before block `pos`.
    fn cid_at(&self, pos: usize) -> Option<&[u8; CID_LEN]> {
        self.cids.get(pos)
    }

    /// Whether block `pos` has CID `cid` (whose hash is `hash`). Fixed-size arrays compare
    /// inline, without a `memcmp` call per lookup.
    fn is_at(&self, pos: usize, cid: &[u8; CID_LEN], hash: u32) -> bool {
        self.order.get(pos).is_some_and(|p| p.hash == hash) && self.cid_at(pos) == Some(cid)
    }

    /// Position of `cid` in `order`.
    fn lookup(&self, cid: &[u8; CID_LEN], hash: u32) -> Option<usize> {
        let mask = self.table.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            match self.table[slot] {
                EMPTY_SLOT => return None,
                pos if self.is_at(pos as usize, cid, hash) => return Some(pos as usize),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// The bytes and position of `cid`, trying the blocks after `cursor` first.
    pub(crate) fn find_near(&self, cid: &Cid, cursor: &Cell<usize>) -> Option<(&'a [u8], usize)> {
        let want = cid.as_bytes();
        let hash = cid_hash(self.key, want);
        let from = cursor.get();
        let near = (from..self.order.len().min(from + PROBE)).find(|&p| self.is_at(p, want, hash));
        let pos = match near {
            Some(p) => p,
            None => self.lookup(want, hash)?,
        };
        let placed = self.order.get(pos)?;
        cursor.set(pos + 1);
        let data = self
            .bytes
            .get(placed.start..placed.start + placed.len as usize)?;
        Some((data, pos))
    }

    /// A reader for one thread.
    pub(crate) fn view(&self) -> SliceView<'_, 'a> {
        SliceView {
            index: self,
            cursor: Cell::new(0),
        }
    }
}

/// Both readers over a [`SliceIndex`] serve blocks the same way, each from its own cursor;
/// only [`read_car_slice`] builds the index, after checking each block's hash.
macro_rules! slice_block_source {
    ($ty:ty, $cursor:ident) => {
        impl BlockSource for $ty {
            fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
                Ok(self
                    .index
                    .find_near(cid, &self.$cursor)
                    .map(|(b, _)| Cow::Borrowed(b)))
            }

            fn hashes_checked(&self) -> bool {
                true
            }
        }
    };
}

slice_block_source!(SliceView<'_, '_>, cursor);
// Tree walks interleave with record lookups differently, hence a cursor of their own.
slice_block_source!(SliceBlocks<'_>, node_cursor);

impl<'a> SliceBlocks<'a> {
    fn new(index: SliceIndex<'a>) -> SliceBlocks<'a> {
        SliceBlocks {
            index,
            cursor: Cell::new(0),
            node_cursor: Cell::new(0),
        }
    }

    /// The shareable index.
    pub(crate) fn index(&self) -> &SliceIndex<'a> {
        &self.index
    }

    /// The bytes of `cid`.
    pub fn get(&self, cid: &Cid) -> Option<&'a [u8]> {
        self.find(cid).map(|(b, _)| b)
    }

    /// The bytes of `cid` and its position among the distinct blocks in file order (a dense
    /// id below [`SliceBlocks::len`]).
    pub fn find(&self, cid: &Cid) -> Option<(&'a [u8], usize)> {
        self.index.find_near(cid, &self.cursor)
    }

    /// Whether `cid` is present.
    pub fn contains(&self, cid: &Cid) -> bool {
        let c = cid.as_bytes();
        self.index.lookup(c, cid_hash(self.index.key, c)).is_some()
    }

    /// Number of distinct blocks.
    pub fn len(&self) -> usize {
        self.index.order.len()
    }

    /// Whether there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.index.order.is_empty()
    }

    /// Every distinct block, in file order (first occurrence).
    pub fn iter(&self) -> impl Iterator<Item = (Cid, &'a [u8])> + '_ {
        let index = &self.index;
        (0..index.order.len()).filter_map(move |pos| {
            let cid = Cid::from_bytes(index.cid_at(pos)?).ok()?;
            let p = index.order.get(pos)?;
            Some((cid, index.bytes.get(p.start..p.start + p.len as usize)?))
        })
    }
}

/// Everything an in-memory CAR holds, hash-checked and indexed in place.
#[derive(Debug)]
pub struct SliceContents<'a> {
    /// The header's roots.
    pub roots: Vec<Cid>,
    /// The blocks.
    pub blocks: SliceBlocks<'a>,
    /// Sections that repeated an earlier block.
    pub duplicate_blocks: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// [`read_car`] for a CAR already in memory: the same checks, but blocks stay in `bytes`
/// (no copy, no arena), so memory beyond the input is the index alone. Inputs of a mebibyte
/// or more are hashed on several threads (see [`crate::par`]).
pub fn read_car_slice(bytes: &[u8], limits: CarLimits) -> Result<SliceContents<'_>, Error> {
    let workers = crate::par::workers(None, bytes.len());
    read_car_slice_with(bytes, limits, workers, false).map(|(c, _)| c)
}

/// What the read pass learnt of a block as a record (one byte per block id).
pub(crate) mod record_state {
    /// Not checked yet (it looked like an MST node, or nobody asked).
    pub(crate) const UNCHECKED: u8 = 0;
    /// A strictly valid DRISL map.
    pub(crate) const VALID: u8 = 1;
    /// Not a valid record; checking it again names the fault.
    pub(crate) const INVALID: u8 = 2;
}

/// [`read_car_slice`] on `workers` threads. With `check_records`, every block that does not
/// start like an MST node is also checked as a record while its bytes are in cache, and the
/// outcome returned per block id (see [`record_state`]); otherwise the returned states are
/// empty.
///
/// Each thread reads a region of about equal size in one pass: parse a section, hash its
/// block, check it as a record. Only the first region's start is known; the others begin
/// at the first offset past their nominal start where several well-formed sections follow
/// one another ([`resync`]). A region is kept only if the one before it ended exactly where
/// it began, which makes the joined result the sequential reading; otherwise (a crafted or
/// unlucky input) the rest of the file is read again in order from where the sequential
/// reading stands. Errors are therefore exactly the sequential reader's: the first fault in
/// file order.
pub(crate) fn read_car_slice_with(
    bytes: &[u8],
    limits: CarLimits,
    workers: usize,
    check_records: bool,
) -> Result<(SliceContents<'_>, Vec<u8>), Error> {
    let header = SliceReader::with_limits(bytes, limits)?;
    let roots = header.roots().to_vec();
    let key = DigestState::default().key;
    let body = header.pos;
    // Regions may be tiny when a thread count is forced (tests do, to reach every join);
    // `par::workers` only chooses threads for large inputs.
    let workers = workers.clamp(1, (bytes.len() - body).max(1));
    let bounds: Vec<usize> = (0..=workers)
        .map(|k| body + (bytes.len() - body) * k / workers)
        .collect();
    let scan = |k: usize| -> Option<Region> {
        let start = if k == 0 {
            body
        } else {
            resync(bytes, bounds[k], bounds[k + 1], &limits)?
        };
        Some(Region::read(
            bytes,
            limits,
            key,
            start,
            bounds[k + 1],
            check_records,
        ))
    };
    let mut regions = crate::par::run_all((0..workers).collect(), scan).into_iter();
    let mut all = regions
        .next()
        .flatten()
        .unwrap_or_else(|| Region::read(bytes, limits, key, body, bytes.len(), check_records));
    for region in regions {
        if all.fault.is_some() {
            break;
        }
        match region {
            Some(r) if r.start == all.stop => all.append(r),
            // The guess was wrong: continue in order from where the reading stands.
            _ => {
                let rest = Region::read(bytes, limits, key, all.stop, bytes.len(), check_records);
                all.append(rest);
                break;
            }
        }
    }
    if let Some(e) = all.fault {
        return Err(e);
    }
    if all.found.len() >= EMPTY_SLOT as usize {
        return Err(Error::CarTooLarge {
            offset: 0,
            what: "file",
            len: bytes.len() as u64,
            limit: u64::from(EMPTY_SLOT) * 37,
        });
    }
    let mut states = all.states;
    let (index, duplicate_blocks) = SliceIndex::build(bytes, key, all.found, all.cids, &mut states);
    Ok((
        SliceContents {
            roots,
            blocks: SliceBlocks::new(index),
            duplicate_blocks,
            bytes: all.stop as u64,
        },
        states,
    ))
}

/// Sections read in one run of [`read_car_slice_with`].
struct Region {
    /// Offset of its first section.
    start: usize,
    /// Offset just past its last section: the next section's start (or the end of input).
    stop: usize,
    found: Vec<Placed>,
    cids: Vec<[u8; CID_LEN]>,
    states: Vec<u8>,
    /// The fault that ended it early.
    fault: Option<Error>,
}

impl Region {
    /// Read, hash-check and (with `check_records`) record-check the sections from `start`
    /// until one starts at or past `bound` (or the input ends, or a fault stops it).
    fn read(
        bytes: &[u8],
        limits: CarLimits,
        key: u64,
        start: usize,
        bound: usize,
        check_records: bool,
    ) -> Region {
        let mut reader = SliceReader {
            bytes,
            limits,
            roots: Vec::new(),
            pos: start,
        };
        let mut region = Region {
            start,
            stop: start,
            found: Vec::with_capacity((bound.saturating_sub(start)) / 256),
            cids: Vec::with_capacity((bound.saturating_sub(start)) / 256),
            states: Vec::new(),
            fault: None,
        };
        while reader.pos < bound {
            // Well-formed sections take a lean path; anything unusual (and the end) goes
            // through the reader's full checks from the same position, so errors are the
            // reader's.
            let (placed, section) = match quick_section(bytes, reader.pos, &limits, key) {
                Some(p) => (p, reader.pos),
                None => {
                    let (cid, data, section) = match reader.next_unchecked() {
                        Ok(Some(s)) => s,
                        Ok(None) => break,
                        Err(e) => {
                            region.fault = Some(e);
                            break;
                        }
                    };
                    let start = reader.pos - data.len();
                    let Ok(len) = u32::try_from(data.len()) else {
                        // The sequential reader checks this section's hash before its size.
                        region.fault = Some(check_hash(cid, data, section).err().unwrap_or(
                            Error::CarTooLarge {
                                offset: start as u64,
                                what: "block",
                                len: data.len() as u64,
                                limit: u64::from(u32::MAX),
                            },
                        ));
                        break;
                    };
                    let hash = cid_hash(key, cid.as_bytes());
                    (Placed { start, len, hash }, section as usize)
                }
            };
            let data = &bytes[placed.start..placed.start + placed.len as usize];
            // The section's CID is blessed (v1, sha2-256, 32-byte digest): compare digests.
            if Sha256::digest(data).as_slice() != &bytes[placed.start - 32..placed.start] {
                let cid = Cid::read_prefix(&bytes[placed.start - CID_LEN..]).map(|(c, _)| c);
                region.fault = Some(match cid {
                    Ok(cid) => Error::HashMismatch {
                        cid,
                        offset: section as u64,
                    },
                    Err(error) => Error::CarCid {
                        offset: section as u64,
                        error,
                    },
                });
                break;
            }
            if check_records {
                region.states.push(record_check(data));
            }
            reader.pos = placed.start + placed.len as usize;
            let mut cid = [0u8; CID_LEN];
            cid.copy_from_slice(&bytes[placed.start - CID_LEN..placed.start]);
            region.cids.push(cid);
            region.found.push(placed);
        }
        region.stop = reader.pos;
        region
    }

    /// Add the region that starts where this one stops.
    fn append(&mut self, mut next: Region) {
        self.found.append(&mut next.found);
        self.cids.append(&mut next.cids);
        self.states.append(&mut next.states);
        self.stop = next.stop;
        self.fault = next.fault;
    }
}

/// How many well-formed sections in a row [`resync`] wants before it trusts an offset.
const RESYNC_CHAIN: usize = 4;

/// The first offset in `from..to` where [`RESYNC_CHAIN`] well-formed sections follow one
/// another (or fewer that end the input exactly): most likely a section start. Only a guess;
/// [`read_car_slice_with`] keeps what it reads from here only if the sequential reading
/// arrives here too.
fn resync(bytes: &[u8], from: usize, to: usize, limits: &CarLimits) -> Option<usize> {
    (from..to).find(|&p| {
        let mut at = p;
        for _ in 0..RESYNC_CHAIN {
            match quick_section(bytes, at, limits, 0) {
                Some(s) => at = s.start + s.len as usize,
                None => return false,
            }
            if at == bytes.len() {
                return true;
            }
        }
        true
    })
}

/// The section at `pos` if it is plainly well formed: a minimal varint of at most three
/// bytes, a blessed CID, within the limits and the input. `None` means "let the reader
/// decide" (it may well be valid).
#[inline]
fn quick_section(bytes: &[u8], pos: usize, limits: &CarLimits, key: u64) -> Option<Placed> {
    let mut body = 0usize;
    let mut used = 0usize;
    loop {
        let b = *bytes.get(pos + used)?;
        body |= usize::from(b & 0x7f) << (7 * used);
        used += 1;
        if b & 0x80 == 0 {
            if b == 0 && used > 1 {
                return None;
            }
            break;
        }
        if used == 3 {
            return None;
        }
    }
    let block_len = body.checked_sub(CID_LEN)?;
    if block_len as u64 > limits.max_block {
        return None;
    }
    let cid_at = pos + used;
    let end = cid_at.checked_add(body)?;
    if end > bytes.len() || end as u64 > limits.max_total {
        return None;
    }
    let cid = &bytes[cid_at..cid_at + CID_LEN];
    if cid[0] != 0x01 || (cid[1] != 0x71 && cid[1] != 0x55) || cid[2] != 0x12 || cid[3] != 0x20 {
        return None;
    }
    Some(Placed {
        start: cid_at + CID_LEN,
        len: u32::try_from(block_len).ok()?,
        hash: cid_hash(key, cid),
    })
}

/// A block's [`record_state`]: blocks that open like an MST node (`{"e": ...`) are left for
/// the tree walk, everything else is checked as a record now.
fn record_check(data: &[u8]) -> u8 {
    if data.starts_with(&[0xa2, 0x61, b'e']) {
        return record_state::UNCHECKED;
    }
    match crate::repo::check_record(data) {
        Ok(()) => record_state::VALID,
        Err(_) => record_state::INVALID,
    }
}

/// The blocks of a CAR, held in a few large buffers and indexed by CID: one allocation per
/// mebibyte instead of one per block (and no reallocation copies), and a hash that reuses the
/// CID's own digest.
#[derive(Debug, Clone, Default)]
pub struct CarBlocks {
    chunks: Vec<Vec<u8>>,
    /// Set once a block arrives through the public [`CarBlocks::insert`], whose caller only
    /// vouches for it; blocks from [`read_car`] were hash-checked by the reader.
    unchecked: bool,
    /// CID -> (chunk, start, length, id), ids counting blocks in insertion order.
    index: HashMap<Cid, (u32, u32, u32, u32), DigestState>,
}

/// Size of each buffer; a larger block gets a buffer of its own size.
const CHUNK: usize = 1 << 20;

impl CarBlocks {
    /// No blocks.
    pub fn new() -> CarBlocks {
        CarBlocks::default()
    }

    /// Add a block; `false` (and nothing stored) when the CID is already present. The caller
    /// vouches that `bytes` hash to `cid`; [`verify_tree`](crate::mst::verify_tree) re-checks
    /// the nodes of a store filled this way.
    pub fn insert(&mut self, cid: Cid, bytes: &[u8]) -> bool {
        self.unchecked = true;
        self.insert_checked(cid, bytes)
    }

    /// [`CarBlocks::insert`] for a block whose hash was just checked.
    fn insert_checked(&mut self, cid: Cid, bytes: &[u8]) -> bool {
        // Ids count distinct blocks; the block count fits u32 (each block costs at least 37
        // bytes of input, and blocks are capped far below 4 GiB).
        let id = self.index.len() as u32;
        let Entry::Vacant(slot) = self.index.entry(cid) else {
            return false;
        };
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= bytes.len());
        if !fits {
            self.chunks.push(Vec::with_capacity(CHUNK.max(bytes.len())));
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        let start = chunk.len();
        chunk.extend_from_slice(bytes);
        // Chunks hold at most max(1 MiB, one block) and blocks are capped far below 4 GiB by
        // the reader's limits, so these fit in u32.
        slot.insert((n as u32, start as u32, bytes.len() as u32, id));
        true
    }

    /// The bytes of `cid`.
    pub fn get(&self, cid: &Cid) -> Option<&[u8]> {
        self.find(cid).map(|(b, _)| b)
    }

    /// The bytes of `cid` and a dense id below [`CarBlocks::len`] (insertion order).
    pub fn find(&self, cid: &Cid) -> Option<(&[u8], usize)> {
        let &(chunk, start, len, id) = self.index.get(cid)?;
        Some((self.slice(chunk, start, len)?, id as usize))
    }

    fn slice(&self, chunk: u32, start: u32, len: u32) -> Option<&[u8]> {
        let (start, len) = (start as usize, len as usize);
        self.chunks.get(chunk as usize)?.get(start..start + len)
    }

    /// Whether `cid` is present.
    pub fn contains(&self, cid: &Cid) -> bool {
        self.index.contains_key(cid)
    }

    /// Number of distinct blocks.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every block, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Cid, &[u8])> {
        self.index
            .iter()
            .map(|(cid, &(c, s, l, _))| (cid, self.slice(c, s, l).unwrap_or(&[])))
    }
}

impl BlockSource for CarBlocks {
    fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
        Ok(self.get(cid).map(Cow::Borrowed))
    }

    fn hashes_checked(&self) -> bool {
        !self.unchecked
    }
}

/// Hashes a [`Cid`] by its SHA-256 digest: already uniform, so one keyed multiply-fold
/// suffices. The per-map random key keeps an attacker who grinds digests with chosen low bits
/// from colliding them in the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestState {
    key: u64,
}

impl Default for DigestState {
    fn default() -> DigestState {
        DigestState {
            key: std::hash::RandomState::new().hash_one(0x6172_6965u64) | 1,
        }
    }
}

impl BuildHasher for DigestState {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher {
            key: self.key,
            state: 0,
        }
    }
}

#[derive(Debug)]
pub(crate) struct DigestHasher {
    key: u64,
    state: u64,
}

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        // A CID hashes as its 36 bytes; its digest starts at byte 4. Other writes (the slice
        // length prefix) mix in cheaply.
        let word = match bytes.get(4..12) {
            Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
            None => bytes
                .iter()
                .fold(0u64, |a, &b| a.rotate_left(8) ^ u64::from(b)),
        };
        let m = u128::from(self.state ^ word ^ self.key) * 0x9e37_79b9_7f4a_7c15u128;
        self.state = (m as u64) ^ ((m >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

/// Everything a CAR holds, read and hash-checked.
#[derive(Debug)]
pub struct CarContents {
    /// The header's roots.
    pub roots: Vec<Cid>,
    /// The blocks.
    pub blocks: CarBlocks,
    /// Sections that repeated an earlier block.
    pub duplicate_blocks: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// Read a whole CAR into memory, checking every block's hash. Memory is bounded by the input
/// (block bytes once, plus a small index entry per block).
pub fn read_car<R: Read>(input: R, limits: CarLimits) -> Result<CarContents, Error> {
    let mut reader = CarReader::with_limits(input, limits)?;
    let roots = reader.roots().to_vec();
    let mut blocks = CarBlocks::new();
    let mut duplicate_blocks = 0;
    while let Some((cid, bytes)) = reader.next_block()? {
        if !blocks.insert_checked(cid, bytes) {
            duplicate_blocks += 1;
        }
    }
    Ok(CarContents {
        roots,
        blocks,
        duplicate_blocks,
        bytes: reader.offset(),
    })
}

/// Encode a CAR header for `roots`.
fn header_bytes(roots: &[Cid]) -> Vec<u8> {
    let mut w = Writer::with_capacity(24 + roots.len() * 41);
    w.map(2).text("roots").array(roots.len());
    for root in roots {
        w.link(root);
    }
    w.text("version").uint(1);
    w.into_inner()
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes a CAR v1 stream: the header on creation, then one section per block.
#[derive(Debug)]
pub struct CarWriter<W> {
    inner: W,
    scratch: Vec<u8>,
}

impl<W: Write> CarWriter<W> {
    /// Write the header naming `roots`.
    pub fn new(mut inner: W, roots: &[Cid]) -> io::Result<CarWriter<W>> {
        let header = header_bytes(roots);
        let mut scratch = Vec::with_capacity(16);
        put_varint(&mut scratch, header.len() as u64);
        inner.write_all(&scratch)?;
        inner.write_all(&header)?;
        Ok(CarWriter { inner, scratch })
    }

    /// Append one block. The caller vouches that `data` hashes to `cid`.
    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> io::Result<()> {
        self.scratch.clear();
        put_varint(&mut self.scratch, (CID_LEN + data.len()) as u64);
        self.scratch.extend_from_slice(cid.as_bytes());
        self.inner.write_all(&self.scratch)?;
        self.inner.write_all(data)
    }

    /// Flush and give back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// A whole CAR in memory: `roots` then `blocks` in the order given.
pub fn write_car<'a>(
    roots: &[Cid],
    blocks: impl IntoIterator<Item = (&'a Cid, &'a [u8])>,
) -> Vec<u8> {
    let mut out = Vec::new();
    push_header(&mut out, roots);
    for (cid, data) in blocks {
        push_section(&mut out, cid, data);
    }
    out
}

/// Append a CAR header naming `roots` to an in-memory CAR (its first bytes).
pub fn push_header(out: &mut Vec<u8>, roots: &[Cid]) {
    let header = header_bytes(roots);
    put_varint(out, header.len() as u64);
    out.extend_from_slice(&header);
}

/// Exact size of the header [`push_header`] writes.
pub fn header_len(roots: &[Cid]) -> usize {
    let len = header_bytes(roots).len();
    varint_len(len as u64) + len
}

/// Append one section to an in-memory CAR.
pub fn push_section(out: &mut Vec<u8>, cid: &Cid, data: &[u8]) {
    put_varint(out, (CID_LEN + data.len()) as u64);
    out.extend_from_slice(cid.as_bytes());
    out.extend_from_slice(data);
}

/// Write one section at the start of `dst`, which must hold at least
/// [`section_len`]`(data.len())` bytes (it panics otherwise, like slice indexing); returns
/// the bytes written. For writers that fill a pre-sized buffer from several threads.
pub fn put_section(dst: &mut [u8], cid: &Cid, data: &[u8]) -> usize {
    let mut v = (CID_LEN + data.len()) as u64;
    let mut n = 0;
    while v >= 0x80 {
        dst[n] = (v as u8 & 0x7f) | 0x80;
        v >>= 7;
        n += 1;
    }
    dst[n] = v as u8;
    n += 1;
    dst[n..n + CID_LEN].copy_from_slice(cid.as_bytes());
    n += CID_LEN;
    dst[n..n + data.len()].copy_from_slice(data);
    n + data.len()
}

/// Exact size of the section `write_block` emits for a block of `len` bytes.
pub fn section_len(len: usize) -> usize {
    let body = CID_LEN + len;
    varint_len(body as u64) + body
}

/// Bytes `put_varint` writes for `v`.
fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    type Blocks = Vec<(Cid, Vec<u8>)>;

    /// Read with both readers, which must agree exactly (blocks or error and offset).
    fn read_all(bytes: &[u8]) -> Result<(Vec<Cid>, Blocks), Error> {
        let stream = read_stream(bytes);
        let slice = read_slice(bytes, CarLimits::DEFAULT);
        assert_eq!(
            format!("{stream:?}"),
            format!("{slice:?}"),
            "slice and stream readers disagree"
        );
        stream
    }

    fn read_slice(bytes: &[u8], limits: CarLimits) -> Result<(Vec<Cid>, Blocks), Error> {
        let mut r = SliceReader::with_limits(bytes, limits)?;
        let roots = r.roots().to_vec();
        let mut blocks = Vec::new();
        while let Some((cid, data)) = r.next_block()? {
            blocks.push((cid, data.to_vec()));
        }
        Ok((roots, blocks))
    }

    fn read_stream(bytes: &[u8]) -> Result<(Vec<Cid>, Blocks), Error> {
        let mut r = CarReader::new(bytes)?;
        let roots = r.roots().to_vec();
        let mut blocks = Vec::new();
        while let Some((cid, data)) = r.next_block()? {
            blocks.push((cid, data.to_vec()));
        }
        Ok((roots, blocks))
    }

    fn sample() -> (Cid, Vec<u8>, Vec<u8>) {
        let block = vec![0xa1, 0x61, 0x61, 0x01];
        let cid = Cid::for_cbor(&block);
        let car = write_car(&[cid], [(&cid, block.as_slice())]);
        (cid, block, car)
    }

    #[test]
    fn round_trip_keeps_roots_and_blocks() {
        let (cid, block, car) = sample();
        let (roots, blocks) = read_all(&car).unwrap();
        assert_eq!(roots, vec![cid]);
        assert_eq!(blocks, vec![(cid, block)]);
    }

    #[test]
    fn header_matches_reference_encoding() {
        // {"roots": [], "version": 1} as every CAR writer encodes it.
        assert_eq!(
            header_bytes(&[]),
            [
                0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x80, 0x67, b'v', b'e', b'r', b's', b'i',
                b'o', b'n', 0x01
            ]
        );
    }

    #[test]
    fn empty_input_is_an_error() {
        assert!(matches!(read_all(&[]), Err(Error::CarEmpty)));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let (cid, _, car) = sample();
        // Cutting exactly after the header leaves a valid CAR without blocks.
        let header_end = 1 + header_bytes(&[cid]).len();
        for cut in (1..car.len()).filter(|&c| c != header_end) {
            assert!(
                read_all(&car[..cut]).is_err(),
                "truncated at {cut} was accepted"
            );
        }
    }

    #[test]
    fn rejects_block_whose_hash_differs_from_cid() {
        let (cid, _, mut car) = sample();
        let last = car.len() - 1;
        car[last] ^= 1;
        match read_all(&car) {
            Err(Error::HashMismatch { cid: c, offset }) => {
                assert_eq!(c, cid);
                assert_eq!(offset, 1 + header_bytes(&[cid]).len() as u64);
            }
            other => panic!("expected hash mismatch, got {other:?}"),
        }
    }

    #[test]
    fn rejects_absurd_section_length_without_allocating() {
        let (_, _, car) = sample();
        let mut bad =
            car[..1 + header_bytes(&[Cid::for_cbor(&[0xa1, 0x61, 0x61, 0x01])]).len()].to_vec();
        bad.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(matches!(
            read_all(&bad),
            Err(Error::CarTooLarge { what: "block", .. })
        ));
    }

    #[test]
    fn rejects_ten_byte_varint() {
        let bad = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert!(matches!(
            read_all(&bad),
            Err(Error::CarVarint { offset: 0, .. })
        ));
    }

    #[test]
    fn rejects_non_minimal_varint() {
        let (_, _, car) = sample();
        let mut bad = vec![car[0] | 0x80, 0x00];
        bad.extend_from_slice(&car[1..]);
        assert!(matches!(read_all(&bad), Err(Error::CarVarint { .. })));
    }

    #[test]
    fn rejects_header_over_limit() {
        let (_, _, car) = sample();
        let limits = CarLimits {
            max_header: 8,
            ..CarLimits::DEFAULT
        };
        assert!(matches!(
            CarReader::with_limits(car.as_slice(), limits),
            Err(Error::CarTooLarge { what: "header", .. })
        ));
        assert!(matches!(
            SliceReader::with_limits(car.as_slice(), limits),
            Err(Error::CarTooLarge { what: "header", .. })
        ));
    }

    #[test]
    fn rejects_file_over_total_limit() {
        let (_, _, car) = sample();
        let limits = CarLimits {
            max_total: car.len() as u64 - 1,
            ..CarLimits::DEFAULT
        };
        let mut r = CarReader::with_limits(car.as_slice(), limits).unwrap();
        assert!(matches!(
            r.next_block(),
            Err(Error::CarTooLarge { what: "file", .. })
        ));
        assert!(matches!(
            read_slice(&car, limits),
            Err(Error::CarTooLarge { what: "file", .. })
        ));
    }

    /// Two blocks, one repeated, to exercise duplicates as well.
    fn three_sections() -> (Vec<Cid>, Vec<u8>) {
        let a = vec![0xa1, 0x61, 0x61, 0x01];
        let b = b"raw bytes".to_vec();
        let (ca, cb) = (Cid::for_cbor(&a), Cid::for_raw(&b));
        let car = write_car(
            &[ca],
            [
                (&ca, a.as_slice()),
                (&cb, b.as_slice()),
                (&ca, a.as_slice()),
            ],
        );
        (vec![ca, cb], car)
    }

    #[test]
    fn slice_reader_agrees_with_stream_reader_on_every_prefix_and_bit_flip() {
        let (_, car) = three_sections();
        for cut in 0..=car.len() {
            let _ = read_all(&car[..cut]);
        }
        for i in 0..car.len() {
            for bit in [0x01, 0x80] {
                let mut bad = car.clone();
                bad[i] ^= bit;
                let _ = read_all(&bad);
            }
        }
    }

    #[test]
    fn read_car_slice_indexes_blocks_in_place_like_read_car() {
        let (cids, car) = three_sections();
        let copied = read_car(car.as_slice(), CarLimits::DEFAULT).unwrap();
        let in_place = read_car_slice(&car, CarLimits::DEFAULT).unwrap();
        assert_eq!(in_place.roots, copied.roots);
        assert_eq!(in_place.duplicate_blocks, 1);
        assert_eq!(in_place.duplicate_blocks, copied.duplicate_blocks);
        assert_eq!(in_place.bytes, copied.bytes);
        assert_eq!(in_place.blocks.len(), 2);
        for cid in &cids {
            assert_eq!(in_place.blocks.get(cid), copied.blocks.get(cid));
            let inside = in_place.blocks.get(cid).unwrap().as_ptr() as usize;
            let range = car.as_ptr() as usize..car.as_ptr() as usize + car.len();
            assert!(range.contains(&inside), "block was copied");
        }
        assert!(in_place.blocks.hashes_checked());
        assert!(copied.blocks.hashes_checked());
    }

    #[test]
    fn slice_blocks_find_every_block_in_any_lookup_order() {
        let datas: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_le_bytes().repeat(3)).collect();
        let cids: Vec<Cid> = datas.iter().map(|d| Cid::for_raw(d)).collect();
        let car = write_car(
            &[cids[0]],
            cids.iter().zip(&datas).map(|(c, d)| (c, d.as_slice())),
        );
        let blocks = read_car_slice(&car, CarLimits::DEFAULT).unwrap().blocks;
        let forward: Vec<usize> = (0..200).collect();
        let backward: Vec<usize> = (0..200).rev().collect();
        // Strides that jump past the probe window both ways.
        let scattered: Vec<usize> = (0..200).map(|i| (i * 37) % 200).collect();
        for order in [forward, backward, scattered] {
            for &i in &order {
                assert_eq!(blocks.find(&cids[i]), Some((datas[i].as_slice(), i)));
                let via_source = blocks.block(&cids[i]).unwrap();
                assert_eq!(via_source.as_deref(), Some(datas[i].as_slice()));
            }
        }
        assert_eq!(blocks.find(&Cid::for_raw(b"absent")), None);
        assert_eq!(blocks.block(&Cid::for_raw(b"absent")).unwrap(), None);
    }

    #[test]
    fn car_blocks_filled_by_hand_are_not_trusted_as_hash_checked() {
        let mut blocks = CarBlocks::new();
        blocks.insert(Cid::for_raw(b"x"), b"not x");
        assert!(!blocks.hashes_checked());
    }

    #[test]
    fn rejects_wrong_version() {
        let mut w = Writer::new();
        w.map(2).text("roots").array(0).text("version").uint(2);
        let mut car = vec![w.as_slice().len() as u8];
        car.extend_from_slice(w.as_slice());
        assert!(matches!(read_all(&car), Err(Error::CarHeader { .. })));
    }

    #[test]
    fn header_len_matches_writer() {
        for n in [0usize, 1, 3, 5] {
            let roots = vec![Cid::for_raw(b"r"); n];
            assert_eq!(write_car(&roots, []).len(), header_len(&roots));
        }
    }

    #[test]
    fn section_len_matches_writer() {
        for len in [0usize, 1, 91, 92, 200, 16_000, 20_000] {
            let data = vec![7u8; len];
            let cid = Cid::for_raw(&data);
            let empty = write_car(&[], []);
            let one = write_car(&[], [(&cid, data.as_slice())]);
            assert_eq!(one.len() - empty.len(), section_len(len));
        }
    }

    #[test]
    fn car_blocks_keep_every_block_once_across_chunks() {
        let mut blocks = CarBlocks::new();
        let big = vec![1u8; CHUNK + 10];
        let datas: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| i.to_le_bytes().repeat(100))
            .chain([big])
            .collect();
        for d in &datas {
            assert!(blocks.insert(Cid::for_raw(d), d));
        }
        assert!(!blocks.insert(Cid::for_raw(&datas[0]), &datas[0]));
        assert_eq!(blocks.len(), datas.len());
        for d in &datas {
            assert_eq!(blocks.get(&Cid::for_raw(d)), Some(d.as_slice()));
        }
        assert_eq!(
            blocks.iter().filter(|(c, b)| c.matches(b)).count(),
            datas.len()
        );
        assert_eq!(blocks.get(&Cid::for_raw(b"absent")), None);
    }
}
