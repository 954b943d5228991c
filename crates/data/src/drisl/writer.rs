//! Canonical DRISL writer: shortest-form heads, definite lengths, tag 42 for links.
//!
//! The writer does not sort map keys: callers that write maps by hand must emit keys in
//! canonical order (length first, then bytewise). [`encode`](super::encode) sorts for
//! [`Value`](crate::Value) maps.

use crate::Cid;

/// Appends canonical DRISL items to a byte buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }

    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    /// The bytes written so far.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Forget everything written, keeping the allocation.
    #[inline]
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Write a major type with its argument in shortest form.
    #[inline]
    fn head(&mut self, major: u8, arg: u64) {
        let m = major << 5;
        if arg < 24 {
            self.buf.push(m | arg as u8);
        } else if arg <= u8::MAX as u64 {
            self.buf.extend_from_slice(&[m | 24, arg as u8]);
        } else if arg <= u16::MAX as u64 {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(arg as u16).to_be_bytes());
        } else if arg <= u32::MAX as u64 {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(arg as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&arg.to_be_bytes());
        }
    }

    /// An unsigned integer.
    #[inline]
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.head(0, v);
        self
    }

    /// A signed integer.
    pub fn int(&mut self, v: i64) -> &mut Self {
        if v >= 0 {
            self.head(0, v as u64);
        } else {
            // -1 - v, computed without overflow for i64::MIN.
            self.head(1, !(v as u64));
        }
        self
    }

    /// A text string.
    #[inline]
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// A byte string.
    #[inline]
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.head(2, b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    /// The head of an array of `len` items; write the items next.
    #[inline]
    pub fn array(&mut self, len: usize) -> &mut Self {
        self.head(4, len as u64);
        self
    }

    /// The head of a map of `len` pairs; write key, value, key, value... in canonical order.
    #[inline]
    pub fn map(&mut self, len: usize) -> &mut Self {
        self.head(5, len as u64);
        self
    }

    /// A boolean.
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(if v { 0xf5 } else { 0xf4 });
        self
    }

    /// `null`.
    #[inline]
    pub fn null(&mut self) -> &mut Self {
        self.buf.push(0xf6);
        self
    }

    /// A CID link: tag 42 over a byte string of 0x00 followed by the binary CID.
    #[inline]
    pub fn link(&mut self, cid: &Cid) -> &mut Self {
        // d8 2a = tag(42); 58 25 = bytes(37)
        self.buf.extend_from_slice(&[0xd8, 0x2a, 0x58, 0x25, 0x00]);
        self.buf.extend_from_slice(cid.as_bytes());
        self
    }

    /// A link, or `null` when absent.
    #[inline]
    pub fn opt_link(&mut self, cid: Option<&Cid>) -> &mut Self {
        match cid {
            Some(c) => self.link(c),
            None => self.null(),
        }
    }

    /// Append bytes that already are one canonical item.
    #[inline]
    pub fn raw(&mut self, item: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(item);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_shortest_form() {
        let mut w = Writer::new();
        w.uint(23)
            .uint(24)
            .uint(255)
            .uint(256)
            .uint(65536)
            .uint(1 << 32);
        assert_eq!(
            w.as_slice(),
            &[
                0x17, 0x18, 24, 0x18, 255, 0x19, 1, 0, 0x1a, 0, 1, 0, 0, 0x1b, 0, 0, 0, 1, 0, 0, 0,
                0
            ]
        );
    }

    #[test]
    fn negative_integers() {
        let mut w = Writer::new();
        w.int(-1).int(-24).int(-25).int(i64::MIN);
        assert_eq!(
            w.as_slice(),
            &[
                0x20, 0x37, 0x38, 24, 0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
    }

    #[test]
    fn empty_mst_node() {
        let mut w = Writer::new();
        w.map(2).text("e").array(0).text("l").null();
        assert_eq!(w.as_slice(), &[0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6]);
    }
}
