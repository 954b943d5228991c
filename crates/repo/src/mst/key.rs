//! MST keys (repository paths) and their layers.

use std::fmt;

use aerie_data::Cid;
use sha2::{Digest, Sha256};

use super::MstError;

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// A validated MST key: `<collection>/<record key>`, ordered bytewise.
///
/// Both segments are non-empty and use only `A-Z a-z 0-9 . - _ ~ :`; the whole key is at most
/// [`MAX_KEY_LEN`] bytes. The repository spec's character list omits `:`, but record keys allow
/// it and the reference implementations accept it, so we do too.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(Box<str>);

impl Key {
    /// Validate a key.
    pub fn parse(s: &str) -> Result<Key, MstError> {
        check_key(s.as_bytes())?;
        Ok(Key(s.into()))
    }

    /// Validate a key given as bytes (as found in a node's `k` field).
    pub fn from_bytes(b: &[u8]) -> Result<Key, MstError> {
        check_key(b)?;
        // check_key only admits ASCII, so this cannot fail; map it anyway rather than unwrap.
        let s = std::str::from_utf8(b).map_err(|_| invalid(b, "not UTF-8"))?;
        Ok(Key(s.into()))
    }

    /// A key from bytes already known to pass [`is_valid_key`] (decoded by a node reader
    /// that checked them).
    pub(crate) fn from_valid_bytes(b: &[u8]) -> Key {
        debug_assert!(is_valid_key(b));
        // Valid keys are ASCII, so the first arm is the only one taken.
        match std::str::from_utf8(b) {
            Ok(s) => Key(s.into()),
            Err(_) => Key(String::from_utf8_lossy(b).into()),
        }
    }

    /// Build `collection/rkey` from its parts.
    pub fn from_parts(collection: &str, rkey: &str) -> Result<Key, MstError> {
        let mut s = String::with_capacity(collection.len() + 1 + rkey.len());
        s.push_str(collection);
        s.push('/');
        s.push_str(rkey);
        check_key(s.as_bytes())?;
        Ok(Key(s.into_boxed_str()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as bytes (what is hashed and compared).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The collection segment (before the `/`).
    pub fn collection(&self) -> &str {
        self.0.split_once('/').map_or("", |(c, _)| c)
    }

    /// The record key segment (after the `/`).
    pub fn rkey(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, r)| r)
    }

    /// This key's layer in the tree.
    pub fn layer(&self) -> u8 {
        layer_of(self.as_bytes())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", &*self.0)
    }
}

impl std::str::FromStr for Key {
    type Err = MstError;
    fn from_str(s: &str) -> Result<Key, MstError> {
        Key::parse(s)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A key borrowed from an [`Entries`] list: the accessors of [`Key`] without owning it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyRef<'a>(&'a str);

impl<'a> KeyRef<'a> {
    /// The key as text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The key as bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }

    /// The collection segment (before the `/`).
    pub fn collection(&self) -> &'a str {
        self.0.split_once('/').map_or("", |(c, _)| c)
    }

    /// The record key segment (after the `/`).
    pub fn rkey(&self) -> &'a str {
        self.0.split_once('/').map_or("", |(_, r)| r)
    }

    /// An owned copy.
    pub fn to_key(&self) -> Key {
        Key(self.0.into())
    }
}

impl fmt::Display for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for KeyRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

impl PartialEq<Key> for KeyRef<'_> {
    fn eq(&self, other: &Key) -> bool {
        self.0 == other.as_str()
    }
}

/// The entries of a tree in key order: keys end to end in one string, with their record
/// CIDs. A verified 100k-record repository holds them in three allocations instead of one
/// per key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Entries {
    keys: String,
    /// End of each key in `keys`.
    ends: Vec<u32>,
    cids: Vec<Cid>,
}

impl Entries {
    /// No entries, with room for `n`.
    pub fn with_capacity(n: usize) -> Entries {
        Entries {
            keys: String::with_capacity(n * 32),
            ends: Vec::with_capacity(n),
            cids: Vec::with_capacity(n),
        }
    }

    /// Append an entry (the caller keeps keys ascending).
    pub fn push(&mut self, key: &Key, cid: Cid) {
        self.push_str(key.as_str(), cid);
    }

    /// Append a key given as bytes already known valid (ASCII).
    pub(crate) fn push_valid(&mut self, key: &[u8], cid: Cid) {
        debug_assert!(is_valid_key(key));
        match std::str::from_utf8(key) {
            Ok(s) => self.push_str(s, cid),
            Err(_) => self.push_str(&String::from_utf8_lossy(key), cid),
        }
    }

    fn push_str(&mut self, key: &str, cid: Cid) {
        self.keys.push_str(key);
        // Key text stays far below 4 GiB: every key costs at least a 37-byte section.
        self.ends.push(self.keys.len() as u32);
        self.cids.push(cid);
    }

    /// Append every entry of `other`.
    pub(crate) fn append(&mut self, other: &Entries) {
        let base = self.keys.len() as u32;
        self.keys.push_str(&other.keys);
        self.ends.extend(other.ends.iter().map(|e| e + base));
        self.cids.extend_from_slice(&other.cids);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.cids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.cids.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<(KeyRef<'_>, &Cid)> {
        let end = *self.ends.get(i)? as usize;
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
        Some((KeyRef(self.keys.get(start..end)?), self.cids.get(i)?))
    }

    /// The last entry.
    pub fn last(&self) -> Option<(KeyRef<'_>, &Cid)> {
        self.get(self.len().checked_sub(1)?)
    }

    /// Every entry in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (KeyRef<'_>, &Cid)> + '_ {
        (0..self.len()).map(move |i| {
            let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
            let end = self.ends[i] as usize;
            (KeyRef(&self.keys[start..end]), &self.cids[i])
        })
    }

    /// Contiguous runs of at most `n` entries each (for splitting work between threads).
    pub(crate) fn runs(&self, n: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let n = n.max(1);
        (0..self.len())
            .step_by(n)
            .map(move |a| a..(a + n).min(self.len()))
    }
}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Entries {
    type Item = (KeyRef<'a>, &'a Cid);
    type IntoIter = Box<dyn ExactSizeIterator<Item = (KeyRef<'a>, &'a Cid)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

fn invalid(b: &[u8], reason: &'static str) -> MstError {
    MstError::InvalidKey {
        key: String::from_utf8_lossy(b).into_owned(),
        reason,
    }
}

fn allowed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b'~' | b':')
}

/// [`allowed`] as a table, for the hot path of [`is_valid_key`].
const ALLOWED: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':');
        c += 1;
    }
    t
};

/// Whether [`check_key`] would accept `b`, without building an error (node decoding asks
/// once per entry; the slow path names the fault).
pub(crate) fn is_valid_key(b: &[u8]) -> bool {
    if b.len() > MAX_KEY_LEN {
        return false;
    }
    let Some(slash) = b.iter().position(|&c| c == b'/') else {
        return false;
    };
    slash > 0
        && slash + 1 < b.len()
        && b[..slash].iter().all(|&c| ALLOWED[usize::from(c)])
        && b[slash + 1..].iter().all(|&c| ALLOWED[usize::from(c)])
}

fn check_key(b: &[u8]) -> Result<(), MstError> {
    if b.len() > MAX_KEY_LEN {
        return Err(invalid(b, "longer than 1024 bytes"));
    }
    let Some(slash) = b.iter().position(|&c| c == b'/') else {
        return Err(invalid(b, "no '/' between collection and record key"));
    };
    let (coll, rkey) = (&b[..slash], &b[slash + 1..]);
    if coll.is_empty() || rkey.is_empty() {
        return Err(invalid(b, "empty collection or record key"));
    }
    if !coll.iter().all(|&c| allowed(c)) || !rkey.iter().all(|&c| allowed(c)) {
        return Err(invalid(
            b,
            "character outside A-Za-z0-9 . - _ ~ : (or a second '/')",
        ));
    }
    Ok(())
}

/// SHA-256 initial hash value (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Longest input that fits one padded SHA-256 block (64 bytes minus the 0x80 marker and the
/// 8-byte bit length).
const ONE_BLOCK_MAX: usize = 55;

/// The layer of any byte string: leading zero bits of its SHA-256, halved (fanout 4).
///
/// Repository keys are short (`collection/rkey`, typically 30-50 bytes), so they fit one
/// compression block: the block is padded here on the stack and handed straight to the
/// compression function, which skips the streaming hasher's buffering and finalisation. This
/// runs once per key in every build and every verification, so the setup cost matters.
pub fn layer_of(key: &[u8]) -> u8 {
    let mut state = SHA256_IV;
    if key.len() <= ONE_BLOCK_MAX {
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        block[key.len()] = 0x80;
        let bits = (key.len() as u64) * 8;
        block[56..].copy_from_slice(&bits.to_be_bytes());
        sha2::block_api::compress256(&mut state, &[block]);
    } else {
        let digest: [u8; 32] = Sha256::digest(key).into();
        for (word, chunk) in state.iter_mut().zip(digest.chunks_exact(4)) {
            *word = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
    }
    // The digest is the state words in big-endian order, so its leading zero bits are the
    // words' leading zeros up to the first non-zero word.
    let mut zeros = 0u32;
    for word in state {
        zeros += word.leading_zeros();
        if word != 0 {
            break;
        }
    }
    (zeros / 2) as u8
}

/// Length of the common prefix of two byte strings (the `p` of prefix compression).
pub fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    // Eight bytes at a time: the first differing bit of the XOR marks the first differing
    // byte (little-endian, so counting from the low end).
    let word = |c: &[u8]| <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes);
    let mut same = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let d = word(x) ^ word(y);
        if d != 0 {
            return same + (d.trailing_zeros() / 8) as usize;
        }
        same += 8;
    }
    same + a[same..]
        .iter()
        .zip(&b[same..])
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference definition: leading zero bits of the full streaming SHA-256, halved.
    fn reference_layer(key: &[u8]) -> u8 {
        let digest = Sha256::digest(key);
        let mut zeros = 0u32;
        for &b in digest.iter() {
            zeros += b.leading_zeros();
            if b != 0 {
                break;
            }
        }
        (zeros / 2) as u8
    }

    #[test]
    fn layer_of_equals_streaming_sha256_across_the_one_block_boundary() {
        // Lengths 0..=130 cover the one-block path (<= 55), the boundary and the fallback.
        for len in 0..=130usize {
            for seed in 0..64u8 {
                let key: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                    .collect();
                assert_eq!(
                    layer_of(&key),
                    reference_layer(&key),
                    "len {len} seed {seed}"
                );
            }
        }
    }

    #[test]
    fn common_prefix_len_matches_the_bytewise_definition() {
        let bytewise = |a: &[u8], b: &[u8]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let base: Vec<u8> = (0..40u8).collect();
        for len_a in [0usize, 1, 7, 8, 9, 16, 17, 40] {
            for len_b in [0usize, 3, 8, 15, 16, 24, 40] {
                for flip in 0..40usize {
                    let a = &base[..len_a];
                    let mut b = base[..len_b].to_vec();
                    if let Some(x) = b.get_mut(flip) {
                        *x ^= 0x10;
                    }
                    assert_eq!(
                        common_prefix_len(a, &b),
                        bytewise(a, &b),
                        "{len_a} {len_b} {flip}"
                    );
                }
            }
        }
    }

    #[test]
    fn layer_of_finds_deep_layers_like_the_reference() {
        // Search keys until several reach layer >= 2 so the multi-bit count is exercised.
        let mut deep = 0;
        for i in 0..20_000u32 {
            let key = format!("app.bsky.feed.post/{i:013}");
            let l = layer_of(key.as_bytes());
            assert_eq!(l, reference_layer(key.as_bytes()), "{key}");
            if l >= 2 {
                deep += 1;
            }
        }
        assert!(deep > 10, "only {deep} keys at layer >= 2");
    }
}
