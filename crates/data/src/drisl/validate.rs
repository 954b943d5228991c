//! Checking DRISL without decoding it: [`validate`] answers whether bytes are exactly one
//! item [`decode`](super::decode) would accept, at a few hundred megabytes a second, with no
//! allocation.
//!
//! The fast path walks the bytes with an explicit stack and answers only "certainly valid";
//! anything else, every invalid input included, goes to [`Reader::skip`](super::Reader::skip),
//! which decides and names the fault. So the fast path may be stricter than the rules (it
//! never is, as far as the `cbor_decode` fuzz target can tell) but never looser.

use super::{DecodeError, Limits, Reader};

/// Check that `bytes` is exactly one valid item under the default [`Limits`] (what
/// [`decode`](super::decode) accepts), without building a value.
pub fn validate(bytes: &[u8]) -> Result<(), DecodeError> {
    if certainly_valid(bytes) {
        return Ok(());
    }
    let mut r = Reader::new(bytes);
    r.skip()?;
    r.finish()
}

/// One open array or map.
#[derive(Clone, Copy)]
struct Frame {
    /// Items still to read (a map counts its keys and values).
    left: usize,
    map: bool,
    /// The previous key of a map (start, length); length `usize::MAX` before the first.
    prev: (usize, usize),
}

/// True only if `b` is one valid item with nothing after it. False means "not sure".
fn certainly_valid(b: &[u8]) -> bool {
    const NONE: (usize, usize) = (0, usize::MAX);
    let limits = Limits::DEFAULT;
    let mut stack = [Frame {
        left: 0,
        map: false,
        prev: NONE,
    }; 64];
    let mut depth = 0usize;
    let mut p = 0usize;
    loop {
        let Some(&first) = b.get(p) else {
            return false;
        };
        let major = first >> 5;
        let key = depth > 0 && stack[depth - 1].map && stack[depth - 1].left % 2 == 0;
        if major == 7 {
            if key || !matches!(first, 0xf4..=0xf6) {
                return false;
            }
            p += 1;
        } else {
            // The argument, in its shortest form only.
            let (arg, head) = match first & 0x1f {
                v @ 0..=23 => (u64::from(v), 1),
                24 => match b.get(p + 1) {
                    Some(&v) if v >= 24 => (u64::from(v), 2),
                    _ => return false,
                },
                25 => match b.get(p + 1..p + 3) {
                    Some(&[x, y]) => match u64::from(u16::from_be_bytes([x, y])) {
                        v if v > 0xff => (v, 3),
                        _ => return false,
                    },
                    _ => return false,
                },
                26 => match b
                    .get(p + 1..p + 5)
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                {
                    Some(w) => match u64::from(u32::from_be_bytes(w)) {
                        v if v > 0xffff => (v, 5),
                        _ => return false,
                    },
                    None => return false,
                },
                27 => match b
                    .get(p + 1..p + 9)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                {
                    Some(w) => match u64::from_be_bytes(w) {
                        v if v > 0xffff_ffff => (v, 9),
                        _ => return false,
                    },
                    None => return false,
                },
                _ => return false,
            };
            if key && major != 3 {
                return false;
            }
            let body = p + head;
            let left = b.len() - body;
            match major {
                // Integers must fit an i64 either way.
                0 | 1 => {
                    if arg > i64::MAX as u64 {
                        return false;
                    }
                    p = body;
                }
                2 | 3 => {
                    if arg > left as u64 {
                        return false;
                    }
                    let end = body + arg as usize;
                    if major == 3 {
                        let s = &b[body..end];
                        if !s.is_ascii() && std::str::from_utf8(s).is_err() {
                            return false;
                        }
                        if key {
                            // Strictly after the previous key: shorter first, then bytewise.
                            let frame = &mut stack[depth - 1];
                            let (ps, pl) = frame.prev;
                            if pl != usize::MAX && (pl, &b[ps..ps + pl]) >= (s.len(), s) {
                                return false;
                            }
                            frame.prev = (body, s.len());
                        }
                    }
                    p = end;
                }
                4 | 5 => {
                    let items = if major == 5 {
                        arg.checked_mul(2)
                    } else {
                        Some(arg)
                    };
                    // Each item takes a byte at least; containers nest at most `max_depth`.
                    let fits = if major == 5 {
                        arg <= (left / 2) as u64
                    } else {
                        arg <= left as u64
                    };
                    if !fits
                        || depth >= limits.max_depth
                        || depth >= stack.len()
                        || arg > limits.max_container_len as u64
                    {
                        return false;
                    }
                    p = body;
                    let Some(items) = items.filter(|&n| n > 0) else {
                        // An empty container is complete at once.
                        if !complete(&mut stack, &mut depth) {
                            return p == b.len();
                        }
                        continue;
                    };
                    stack[depth] = Frame {
                        left: items as usize,
                        map: major == 5,
                        prev: NONE,
                    };
                    depth += 1;
                    continue;
                }
                // Tag 42 over the 37-byte string 0x00 + CIDv1 (dag-cbor or raw) sha2-256.
                _ => {
                    if arg != 42 {
                        return false;
                    }
                    match b.get(body..body + 39) {
                        Some([0x58, 0x25, 0x00, 0x01, 0x71 | 0x55, 0x12, 0x20, ..]) => {
                            p = body + 39
                        }
                        _ => return false,
                    }
                }
            }
        }
        if !complete(&mut stack, &mut depth) {
            return p == b.len();
        }
    }
}

/// Count one finished item against the open containers, closing those it completes.
/// Returns false when the finished item was the top-level one.
fn complete(stack: &mut [Frame; 64], depth: &mut usize) -> bool {
    loop {
        if *depth == 0 {
            return false;
        }
        let top = &mut stack[*depth - 1];
        top.left -= 1;
        if top.left > 0 {
            return true;
        }
        *depth -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_takes_ordinary_records_and_agrees_with_the_reader() {
        let mut w = super::super::Writer::new();
        w.map(5).text("text").text("héllo wörld");
        w.text("$type").text("app.bsky.feed.post");
        w.text("langs").array(2).text("en").text("fr");
        w.text("reply")
            .map(2)
            .text("root")
            .link(&crate::Cid::for_cbor(b"x"));
        w.text("parent").opt_link(None);
        w.text("createdAt").text("2024-01-01T00:00:00.000Z");
        let record = w.into_inner();
        assert!(certainly_valid(&record));
        assert!(validate(&record).is_ok());
        // Every truncation and every single-byte change: never "certainly valid" where the
        // reader refuses.
        for cut in 0..record.len() {
            assert!(!certainly_valid(&record[..cut]));
            assert!(validate(&record[..cut]).is_err());
        }
        for i in 0..record.len() {
            for bit in 0..8 {
                let mut bad = record.clone();
                bad[i] ^= 1 << bit;
                let mut r = Reader::new(&bad);
                let reader_ok = r.skip().and_then(|()| r.finish()).is_ok();
                if certainly_valid(&bad) {
                    assert!(reader_ok, "byte {i} bit {bit}");
                }
                assert_eq!(validate(&bad).is_ok(), reader_ok, "byte {i} bit {bit}");
            }
        }
    }
}
