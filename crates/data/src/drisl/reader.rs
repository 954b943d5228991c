//! Strict DRISL pull reader over a byte slice.
//!
//! Every item is checked as it is read: shortest-form heads and lengths, definite lengths,
//! no floats, `undefined` or other simple values, only tag 42 (with its 0x00 prefix and a
//! blessed CID), UTF-8 text, text map keys. Key *order* is checked by [`Reader::next_key`] and
//! [`Reader::expect_key`] (and by [`decode`](super::decode)); [`Reader::map_len`] alone does not,
//! because a fixed-schema decoder that expects keys in canonical order enforces it anyway.
//!
//! Declared lengths are compared with the bytes left before anything is allocated, so a huge
//! declared length in a tiny input fails at once.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::error::{DecodeError, DecodeErrorKind as K};
use super::limits::Limits;
use crate::{Cid, Value};

/// Canonical DRISL map-key order: shorter keys first, equal lengths bytewise.
pub fn canonical_key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// The kind of the next item, from its first byte only (its content is not yet checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ItemType {
    /// Major type 0 or 1.
    Integer,
    /// Byte string.
    Bytes,
    /// Text string.
    Text,
    /// Array.
    Array,
    /// Map.
    Map,
    /// A tag (only 42, a CID link, will read successfully).
    Link,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
    /// Anything else (floats, undefined, break, other simple values): always an error to read.
    Invalid,
}

/// One checked item head (or complete scalar).
enum Token<'a> {
    Uint(u64),
    /// A negative integer `-1 - n`, holding `n`.
    Neg(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(usize),
    Map(usize),
    Link(Cid),
    Bool(bool),
    Null,
}

impl Token<'_> {
    fn name(&self) -> &'static str {
        match self {
            Token::Uint(_) => "unsigned integer",
            Token::Neg(_) => "negative integer",
            Token::Bytes(_) => "byte string",
            Token::Text(_) => "text string",
            Token::Array(_) => "array",
            Token::Map(_) => "map",
            Token::Link(_) => "CID link",
            Token::Bool(_) => "boolean",
            Token::Null => "null",
        }
    }
}

/// A strict pull reader. Read items in order with the typed methods; call
/// [`finish`](Reader::finish) at the end to refuse trailing bytes.
///
/// After an error the reader's position is unspecified: stop reading.
///
/// ```
/// use aerie_data::drisl::{Reader, Writer};
/// let mut w = Writer::new();
/// w.map(2).text("e").array(0).text("l").null();
/// let mut r = Reader::new(w.as_slice());
/// assert_eq!(r.map_len()?, 2);
/// r.expect_key("e")?;
/// assert_eq!(r.array_len()?, 0);
/// r.expect_key("l")?;
/// assert_eq!(r.opt_link()?, None);
/// r.finish()?;
/// # Ok::<(), aerie_data::drisl::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Whether every byte has been read.
    pub fn is_at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Succeeds only if every byte has been read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        let left = self.buf.len().saturating_sub(self.pos);
        if left == 0 {
            Ok(())
        } else {
            Err(DecodeError::new(self.pos, K::TrailingBytes(left)))
        }
    }

    /// Whether the next item is `null` (without consuming it).
    pub fn is_null(&self) -> bool {
        self.buf.get(self.pos) == Some(&0xf6)
    }

    /// The kind of the next item, from its first byte; `None` at the end of input.
    pub fn peek_type(&self) -> Option<ItemType> {
        let b = *self.buf.get(self.pos)?;
        Some(match b >> 5 {
            0 | 1 => ItemType::Integer,
            2 => ItemType::Bytes,
            3 => ItemType::Text,
            4 => ItemType::Array,
            5 => ItemType::Map,
            6 => ItemType::Link,
            _ => match b {
                0xf4 | 0xf5 => ItemType::Bool,
                0xf6 => ItemType::Null,
                _ => ItemType::Invalid,
            },
        })
    }

    /// The head of a map: its number of entries. Read `len` key/value pairs next.
    pub fn map_len(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Map(n) => Ok(n),
            t => Err(self.unexpected(start, "map", &t)),
        }
    }

    /// The head of an array: its number of items.
    pub fn array_len(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Array(n) => Ok(n),
            t => Err(self.unexpected(start, "array", &t)),
        }
    }

    /// A text string, borrowed from the input.
    pub fn text(&mut self) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Text(s) => Ok(s),
            t => Err(self.unexpected(start, "text string", &t)),
        }
    }

    /// A byte string, borrowed from the input.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Bytes(b) => Ok(b),
            t => Err(self.unexpected(start, "byte string", &t)),
        }
    }

    /// An integer in the signed 64-bit range.
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Uint(v) => uint_to_i64(start, v),
            Token::Neg(n) => neg_to_i64(start, n),
            t => Err(self.unexpected(start, "integer", &t)),
        }
    }

    /// A non-negative integer (the full unsigned 64-bit range).
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Uint(v) => Ok(v),
            t => Err(self.unexpected(start, "unsigned integer", &t)),
        }
    }

    /// A boolean.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Bool(b) => Ok(b),
            t => Err(self.unexpected(start, "boolean", &t)),
        }
    }

    /// `null`.
    pub fn null(&mut self) -> Result<(), DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Null => Ok(()),
            t => Err(self.unexpected(start, "null", &t)),
        }
    }

    /// A CID link (tag 42).
    pub fn link(&mut self) -> Result<Cid, DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Link(c) => Ok(c),
            t => Err(self.unexpected(start, "CID link", &t)),
        }
    }

    /// A CID link or `null`.
    pub fn opt_link(&mut self) -> Result<Option<Cid>, DecodeError> {
        if self.is_null() {
            self.pos += 1;
            Ok(None)
        } else {
            self.link().map(Some)
        }
    }

    /// A map key that must sort strictly after `prev` (the previous key of the same map, or
    /// `None` for the first key) in canonical order.
    pub fn next_key(&mut self, prev: Option<&str>) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let key = match self.token()? {
            Token::Text(s) => s,
            _ => return Err(DecodeError::new(start, K::KeyNotText)),
        };
        if let Some(p) = prev {
            match canonical_key_order(p, key) {
                Ordering::Less => {}
                Ordering::Equal => {
                    return Err(DecodeError::new(start, K::DuplicateKey(key.into())));
                }
                Ordering::Greater => return Err(DecodeError::new(start, K::KeyOrder)),
            }
        }
        Ok(key)
    }

    /// A map key that must be exactly `key`. A fixed-schema decoder that calls this for each
    /// field in canonical order enforces key order and uniqueness with it.
    pub fn expect_key(&mut self, key: &'static str) -> Result<(), DecodeError> {
        let start = self.pos;
        // Fast path for short keys (fixed schemas use one-letter keys): such a key has exactly
        // one encoding, its one-byte head (major type 3, length below 24, so minimal) followed
        // by its bytes, which are valid UTF-8 because `key` is a `str`. Comparing the raw bytes
        // is therefore the same check as decoding the text and comparing, without the generic
        // token path and a `memcmp` call per key. Anything else takes the full path below,
        // which also produces the error.
        let k = key.as_bytes();
        if k.len() < 24 {
            let end = start + 1 + k.len();
            if let Some((&head, body)) = self.buf.get(start..end).and_then(|b| b.split_first())
                && head == 0x60 | k.len() as u8
                && body.iter().zip(k).all(|(a, b)| a == b)
            {
                self.pos = end;
                return Ok(());
            }
        }
        match self.token()? {
            Token::Text(s) if s == key => Ok(()),
            Token::Text(s) => Err(DecodeError::new(
                start,
                K::UnexpectedKey {
                    expected: key,
                    found: s.into(),
                },
            )),
            _ => Err(DecodeError::new(start, K::KeyNotText)),
        }
    }

    /// Check and pass over one complete item (all rules, key order included), with the
    /// default limits, so an item passes `skip` exactly when [`decode`](super::decode) would
    /// accept it.
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        self.skip_nested(0, &Limits::DEFAULT)
    }

    /// Check one complete item and return its bytes (useful to pass an item on unchanged).
    pub fn item_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        self.skip()?;
        Ok(&self.buf[start..self.pos])
    }

    /// Read one complete item as an owned [`Value`], with all the rules of
    /// [`decode`](super::decode) except the trailing-bytes check.
    pub fn value(&mut self, limits: &Limits) -> Result<Value, DecodeError> {
        self.value_nested(limits, 0)
    }

    fn value_nested(&mut self, limits: &Limits, depth: usize) -> Result<Value, DecodeError> {
        let start = self.pos;
        Ok(match self.token()? {
            Token::Uint(v) => Value::Integer(uint_to_i64(start, v)?),
            Token::Neg(n) => Value::Integer(neg_to_i64(start, n)?),
            Token::Bytes(b) => Value::Bytes(b.to_vec()),
            Token::Text(s) => Value::String(s.to_owned()),
            Token::Link(c) => Value::Link(c),
            Token::Bool(b) => Value::Bool(b),
            Token::Null => Value::Null,
            Token::Array(n) => {
                check_container(start, depth, n, limits)?;
                // `n` is at most the bytes left (checked in `token`), so this allocation is
                // bounded by the input size.
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value_nested(limits, depth + 1)?);
                }
                Value::Array(items)
            }
            Token::Map(n) => {
                check_container(start, depth, n, limits)?;
                let mut map = BTreeMap::new();
                let mut prev = None;
                for _ in 0..n {
                    let key = self.next_key(prev)?;
                    let v = self.value_nested(limits, depth + 1)?;
                    map.insert(key.to_owned(), v);
                    prev = Some(key);
                }
                Value::Map(map)
            }
        })
    }

    fn skip_nested(&mut self, depth: usize, limits: &Limits) -> Result<(), DecodeError> {
        let start = self.pos;
        match self.token()? {
            Token::Bytes(_) | Token::Text(_) => {}
            Token::Link(_) | Token::Bool(_) | Token::Null => {}
            // Integer range is part of the atproto data model, so skipping checks it too.
            Token::Uint(v) => {
                uint_to_i64(start, v)?;
            }
            Token::Neg(n) => {
                neg_to_i64(start, n)?;
            }
            Token::Array(n) => {
                check_container(start, depth, n, limits)?;
                for _ in 0..n {
                    self.skip_nested(depth + 1, limits)?;
                }
            }
            Token::Map(n) => {
                check_container(start, depth, n, limits)?;
                let mut prev = None;
                for _ in 0..n {
                    prev = Some(self.next_key(prev)?);
                    self.skip_nested(depth + 1, limits)?;
                }
            }
        }
        Ok(())
    }

    fn unexpected(
        &mut self,
        start: usize,
        expected: &'static str,
        found: &Token<'_>,
    ) -> DecodeError {
        self.pos = start;
        DecodeError::new(
            start,
            K::UnexpectedType {
                expected,
                found: found.name(),
            },
        )
    }

    /// Read `n` bytes of content that belong to the item whose head starts at `start`.
    fn take(&mut self, start: usize, n: u64) -> Result<&'a [u8], DecodeError> {
        let left = self.buf.len() - self.pos;
        if n > left as u64 {
            return Err(DecodeError::new(
                start,
                K::LengthExceedsInput { declared: n, left },
            ));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// The argument of the head at `start` whose additional information is `info`, checked
    /// for shortest form; leaves the position after the head.
    fn argument(&mut self, start: usize, major: u8, info: u8) -> Result<u64, DecodeError> {
        let width = match info {
            0..=23 => {
                self.pos = start + 1;
                return Ok(u64::from(info));
            }
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 if (2..=5).contains(&major) => return Err(DecodeError::new(start, K::Indefinite)),
            _ => return Err(DecodeError::new(start, K::Reserved(info))),
        };
        let body = self
            .buf
            .get(start + 1..start + 1 + width)
            .ok_or(DecodeError::new(start, K::UnexpectedEnd))?;
        let v = body.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        // The smallest value that needs this width; anything below fits a shorter head.
        let min = match width {
            1 => 24,
            2 => 0x100,
            4 => 0x1_0000,
            _ => 0x1_0000_0000,
        };
        if v < min {
            return Err(DecodeError::new(start, K::NonMinimal));
        }
        self.pos = start + 1 + width;
        Ok(v)
    }

    fn token(&mut self) -> Result<Token<'a>, DecodeError> {
        let start = self.pos;
        let initial = *self
            .buf
            .get(start)
            .ok_or(DecodeError::new(start, K::UnexpectedEnd))?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if major == 7 {
            let t = match initial {
                0xf4 => Token::Bool(false),
                0xf5 => Token::Bool(true),
                0xf6 => Token::Null,
                0xf7 => return Err(DecodeError::new(start, K::Undefined)),
                0xf8 => {
                    let v = *self
                        .buf
                        .get(start + 1)
                        .ok_or(DecodeError::new(start, K::UnexpectedEnd))?;
                    return Err(DecodeError::new(start, K::SimpleValue(v)));
                }
                0xf9..=0xfb => return Err(DecodeError::new(start, K::Float)),
                0xff => return Err(DecodeError::new(start, K::UnexpectedBreak)),
                0xfc..=0xfe => return Err(DecodeError::new(start, K::Reserved(info))),
                _ => return Err(DecodeError::new(start, K::SimpleValue(info))),
            };
            self.pos = start + 1;
            return Ok(t);
        }
        let arg = self.argument(start, major, info)?;
        let left = self.buf.len() - self.pos;
        Ok(match major {
            0 => Token::Uint(arg),
            1 => Token::Neg(arg),
            2 => Token::Bytes(self.take(start, arg)?),
            3 => {
                let b = self.take(start, arg)?;
                Token::Text(
                    std::str::from_utf8(b).map_err(|_| DecodeError::new(start, K::InvalidUtf8))?,
                )
            }
            // Every item takes at least one byte, so a count beyond the bytes left cannot be
            // honest; refusing it here bounds every later allocation by the input size.
            4 => {
                if arg > left as u64 {
                    return Err(DecodeError::new(
                        start,
                        K::LengthExceedsInput {
                            declared: arg,
                            left,
                        },
                    ));
                }
                Token::Array(arg as usize)
            }
            5 => {
                if arg > (left / 2) as u64 {
                    return Err(DecodeError::new(
                        start,
                        K::LengthExceedsInput {
                            declared: arg,
                            left,
                        },
                    ));
                }
                Token::Map(arg as usize)
            }
            _ => {
                if arg != 42 {
                    return Err(DecodeError::new(start, K::Tag(arg)));
                }
                Token::Link(self.link_content()?)
            }
        })
    }

    /// The byte string inside tag 42: 0x00 then a blessed binary CID.
    fn link_content(&mut self) -> Result<Cid, DecodeError> {
        let start = self.pos;
        let initial = *self
            .buf
            .get(start)
            .ok_or(DecodeError::new(start, K::UnexpectedEnd))?;
        if initial >> 5 != 2 {
            return Err(DecodeError::new(start, K::LinkNotBytes));
        }
        let len = self.argument(start, 2, initial & 0x1f)?;
        let b = self.take(start, len)?;
        match b.split_first() {
            Some((0, cid)) => Cid::from_bytes(cid).map_err(|e| DecodeError::new(start, K::Cid(e))),
            _ => Err(DecodeError::new(start, K::LinkPrefix)),
        }
    }
}

fn uint_to_i64(start: usize, v: u64) -> Result<i64, DecodeError> {
    i64::try_from(v).map_err(|_| DecodeError::new(start, K::IntegerOverflow))
}

fn neg_to_i64(start: usize, n: u64) -> Result<i64, DecodeError> {
    // -1 - n fits i64 exactly when n <= i64::MAX.
    let n = i64::try_from(n).map_err(|_| DecodeError::new(start, K::IntegerOverflow))?;
    Ok(-1 - n)
}

fn check_container(
    start: usize,
    depth: usize,
    len: usize,
    limits: &Limits,
) -> Result<(), DecodeError> {
    if depth >= limits.max_depth {
        return Err(DecodeError::new(start, K::DepthLimit(limits.max_depth)));
    }
    if len > limits.max_container_len {
        return Err(DecodeError::new(
            start,
            K::ContainerTooLong {
                len: len as u64,
                max: limits.max_container_len,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An array head declaring `n` items followed by `n` nulls.
    fn array_of_nulls(n: usize) -> Vec<u8> {
        let mut bytes = vec![0x9a];
        bytes.extend_from_slice(&(n as u32).to_be_bytes());
        bytes.resize(bytes.len() + n, 0xf6);
        bytes
    }

    #[test]
    fn skip_applies_max_container_len_like_decode() {
        let max = Limits::DEFAULT.max_container_len;
        let over = array_of_nulls(max + 1);
        let skipped = Reader::new(&over).skip().unwrap_err();
        let decoded = super::super::decode(&over).unwrap_err();
        assert_eq!(skipped.kind, decoded.kind);
        assert_eq!(
            skipped.kind,
            K::ContainerTooLong {
                len: max as u64 + 1,
                max
            }
        );
        let at_limit = array_of_nulls(max);
        let mut r = Reader::new(&at_limit);
        r.skip().unwrap();
        r.finish().unwrap();
    }

    #[test]
    fn expect_key_accepts_only_the_minimal_encoding_of_the_key() {
        // Minimal head 0x61 then "e": accepted, position after it.
        let mut r = Reader::new(&[0x61, b'e', 0xf6]);
        r.expect_key("e").unwrap();
        assert_eq!(r.position(), 2);
        // The same text behind a one-byte length argument is not minimal.
        let err = Reader::new(&[0x78, 0x01, b'e'])
            .expect_key("e")
            .unwrap_err();
        assert_eq!(err.kind, K::NonMinimal);
        // Another key, a shorter or longer key sharing the prefix, and a byte string with
        // the same content are refused.
        assert!(Reader::new(&[0x61, b'l']).expect_key("e").is_err());
        assert!(Reader::new(&[0x62, b'e', b'x']).expect_key("e").is_err());
        assert!(Reader::new(&[0x61, b'e']).expect_key("ex").is_err());
        assert!(Reader::new(&[0x41, b'e']).expect_key("e").is_err());
        // Truncated input.
        assert_eq!(
            Reader::new(&[0x61]).expect_key("e").unwrap_err().kind,
            K::LengthExceedsInput {
                declared: 1,
                left: 0
            }
        );
        // A 24-byte key (beyond the one-byte head) still goes through the full path.
        let long = "abcdefghijklmnopqrstuvwx";
        let mut bytes = vec![0x78, 24];
        bytes.extend_from_slice(long.as_bytes());
        let mut r = Reader::new(&bytes);
        r.expect_key(long).unwrap();
        r.finish().unwrap();
    }
}
