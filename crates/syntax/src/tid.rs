use std::fmt;

use crate::error::{Kind, SyntaxError};
use crate::string_type::string_type;

/// The base32 "sortable" alphabet: digit order matches byte order, so comparing two TID
/// strings compares the integers they encode.
const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A timestamp identifier: a 64-bit integer (top bit zero, then 53 bits of microseconds
/// since the Unix epoch, then a 10-bit clock id) written as 13 base32-sortable characters.
///
/// Used as repository revisions and as record keys. Ordering is the string ordering, which
/// is also the numeric ordering. `Copy`: it is 13 bytes.
///
/// The syntax admits every 64-bit value, so a parsed TID may have the reserved top bit set
/// (first character `c` to `j`); its [`timestamp_micros`](Tid::timestamp_micros) then
/// exceeds [`Tid::MAX_MICROS`]. TIDs built here never set it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid([u8; Tid::LEN]);

impl Tid {
    /// Length of every TID string.
    pub const LEN: usize = 13;

    /// Largest timestamp a TID can hold, in microseconds (2^53 − 1, in the year 2255).
    pub const MAX_MICROS: u64 = (1 << 53) - 1;

    /// Largest clock id (10 bits).
    pub const MAX_CLOCK_ID: u16 = 1023;

    /// The zero TID, `2222222222222`; it sorts before every other TID.
    pub const ZERO: Tid = Tid([b'2'; Tid::LEN]);

    /// Checks `s` against the TID syntax: exactly 13 characters of the base32-sortable
    /// alphabet, the first no later than `j` (the top bit must be zero).
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        let bad = |reason| Err(SyntaxError::invalid(Kind::Tid, s, reason));
        let Ok(bytes) = <[u8; Tid::LEN]>::try_from(s.as_bytes()) else {
            return bad("must be exactly 13 characters");
        };
        if !bytes.iter().all(|&c| digit(c).is_some()) {
            return bad("may only hold the characters 2-7 and a-z");
        }
        if digit(bytes[0]).unwrap_or(u8::MAX) > 15 {
            // 13 digits carry 65 bits; a first digit of 16 or more would need the 65th.
            return bad("first character must be one of 2-7 or a-j (a TID is 64 bits)");
        }
        Ok(Tid(bytes))
    }

    /// Builds a TID from a timestamp (microseconds since the Unix epoch, at most
    /// [`Tid::MAX_MICROS`]) and a clock id (at most [`Tid::MAX_CLOCK_ID`]).
    pub fn from_parts(micros: u64, clock_id: u16) -> Result<Self, SyntaxError> {
        if micros > Self::MAX_MICROS || clock_id > Self::MAX_CLOCK_ID {
            return Err(SyntaxError::TidOutOfRange {
                micros,
                clock_id,
                max_micros: Self::MAX_MICROS,
            });
        }
        Ok(Self::encode((micros << 10) | u64::from(clock_id)))
    }

    /// Builds a TID from its integer form. Every `u64` has a TID spelling; a well-formed
    /// TID keeps the top bit zero, which [`from_parts`](Self::from_parts) guarantees.
    pub fn from_u64(value: u64) -> Self {
        Self::encode(value)
    }

    /// A fresh TID from the process-wide [`TidClock`](crate::TidClock): never repeats and
    /// never goes backwards within this process.
    pub fn now() -> Self {
        crate::clock::global().next()
    }

    /// A TID from the process-wide clock strictly greater than `prev` (a commit's `rev`
    /// after the previous commit's, which may come from another clock or host); see
    /// [`TidClock::next_after`](crate::TidClock::next_after).
    pub fn next_after(prev: &Tid) -> Result<Self, crate::SyntaxError> {
        crate::clock::global().next_after(prev)
    }

    /// The TID as text.
    pub fn as_str(&self) -> &str {
        // Only ever filled from ALPHABET (in `encode`) or checked against it (in `parse`),
        // so the bytes are ASCII and this never takes the fallback.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The integer the TID encodes.
    pub fn as_u64(&self) -> u64 {
        self.0.iter().fold(0u64, |acc, &c| {
            (acc << 5) | u64::from(digit(c).unwrap_or(0))
        })
    }

    /// The timestamp part: microseconds since the Unix epoch (above [`Tid::MAX_MICROS`] only
    /// if the reserved top bit is set).
    pub fn timestamp_micros(&self) -> u64 {
        self.as_u64() >> 10
    }

    /// The clock id part (0–1023).
    pub fn clock_id(&self) -> u16 {
        (self.as_u64() & 0x3ff) as u16
    }

    fn encode(value: u64) -> Self {
        let mut out = [0u8; Tid::LEN];
        for (i, slot) in out.iter_mut().rev().enumerate() {
            *slot = ALPHABET[((value >> (5 * i)) & 31) as usize];
        }
        Tid(out)
    }
}

fn digit(c: u8) -> Option<u8> {
    match c {
        b'2'..=b'7' => Some(c - b'2'),
        b'a'..=b'z' => Some(c - b'a' + 6),
        _ => None,
    }
}

impl fmt::Debug for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Tid").field(&self.as_str()).finish()
    }
}

string_type!(Tid, "a TID string");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_all_twos() {
        assert_eq!(Tid::from_parts(0, 0).unwrap(), Tid::ZERO);
        assert_eq!(Tid::ZERO.as_str(), "2222222222222");
    }

    #[test]
    fn largest_well_formed_tid_is_bzzzzzzzzzzzz() {
        let t = Tid::from_parts(Tid::MAX_MICROS, Tid::MAX_CLOCK_ID).unwrap();
        assert_eq!(t.as_str(), "bzzzzzzzzzzzz");
        assert_eq!(t.as_u64(), u64::MAX >> 1);
    }

    #[test]
    fn top_bit_set_is_syntax_valid_and_decodes() {
        let t = Tid::parse("jzzzzzzzzzzzz").unwrap();
        assert_eq!(t.as_u64(), u64::MAX);
        assert_eq!(Tid::from_u64(u64::MAX), t);
        assert!(t.timestamp_micros() > Tid::MAX_MICROS);
    }

    #[test]
    fn known_tid_decodes_to_its_parts() {
        // 3jzfcijpj2z2a is the example from the spec; its clock id is the last two digits.
        let t = Tid::parse("3jzfcijpj2z2a").unwrap();
        assert_eq!(
            Tid::from_parts(t.timestamp_micros(), t.clock_id()).unwrap(),
            t
        );
        assert_eq!(
            t.clock_id(),
            (u16::from(digit(b'2').unwrap()) << 5) | u16::from(digit(b'a').unwrap())
        );
    }

    #[test]
    fn from_parts_rejects_out_of_range() {
        assert!(Tid::from_parts(Tid::MAX_MICROS + 1, 0).is_err());
        assert!(Tid::from_parts(0, 1024).is_err());
    }
}
