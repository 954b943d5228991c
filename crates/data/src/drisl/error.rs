//! Decode errors: where in the input, and what rule the bytes broke.

use crate::CidError;

/// Why DRISL bytes were refused, and at which byte.
///
/// `offset` is the position of the head of the offending item (or of the first trailing byte),
/// counted from the start of the slice given to the reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset, kind }
    }
}

/// The rule a DRISL input broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended in the middle of an item (or held no item at all).
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A string, array or map declares more content than the input has left.
    #[error("declared length {declared} exceeds the {left} bytes left")]
    LengthExceedsInput {
        /// The length in the head.
        declared: u64,
        /// Bytes left after the head.
        left: usize,
    },
    /// An integer, length or tag was not written in its shortest form.
    #[error("integer or length not in shortest form")]
    NonMinimal,
    /// An indefinite-length string, array or map (DRISL allows only definite lengths).
    #[error("indefinite-length item")]
    Indefinite,
    /// A "break" byte (0xff) outside any indefinite-length item.
    #[error("unexpected break byte")]
    UnexpectedBreak,
    /// Additional information 28-30, which CBOR reserves.
    #[error("reserved additional information {0}")]
    Reserved(u8),
    /// A half, single or double precision float: atproto has no floats.
    #[error("floating-point number (atproto data has no floats)")]
    Float,
    /// The `undefined` simple value.
    #[error("undefined value")]
    Undefined,
    /// A simple value other than false, true and null.
    #[error("unsupported simple value {0}")]
    SimpleValue(u8),
    /// A tag other than 42 (CID link).
    #[error("unsupported tag {0} (only 42, CID link)")]
    Tag(u64),
    /// Tag 42 around something other than a byte string.
    #[error("tag 42 (CID link) does not wrap a byte string")]
    LinkNotBytes,
    /// Tag 42 content without the leading 0x00 multibase-identity byte.
    #[error("CID link lacks the 0x00 prefix byte")]
    LinkPrefix,
    /// Tag 42 content is not a blessed CID (CIDv1, sha2-256, dag-cbor or raw).
    #[error("CID link: {0}")]
    Cid(CidError),
    /// A text string that is not valid UTF-8.
    #[error("text string is not valid UTF-8")]
    InvalidUtf8,
    /// A map key that is not a text string.
    #[error("map key is not a text string")]
    KeyNotText,
    /// A map key that sorts before the key preceding it.
    #[error("map keys not in canonical order")]
    KeyOrder,
    /// A map key that repeats the key preceding it.
    #[error("duplicate map key {0:?}")]
    DuplicateKey(String),
    /// An integer outside the signed 64-bit range atproto allows.
    #[error("integer does not fit in a signed 64-bit integer")]
    IntegerOverflow,
    /// Bytes after the single item the input should hold.
    #[error("{0} trailing bytes after the item")]
    TrailingBytes(usize),
    /// Arrays and maps nested deeper than the limit.
    #[error("nesting deeper than {0} levels")]
    DepthLimit(usize),
    /// An array or map with more entries than the limit.
    #[error("container of {len} entries exceeds the limit of {max}")]
    ContainerTooLong {
        /// Entries declared.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A hand-written decoder expected one kind of item and found another.
    #[error("expected {expected}, found {found}")]
    UnexpectedType {
        /// What the caller asked for.
        expected: &'static str,
        /// What the input holds.
        found: &'static str,
    },
    /// A hand-written decoder expected a specific map key.
    #[error("expected map key {expected:?}, found {found:?}")]
    UnexpectedKey {
        /// The key the schema requires here.
        expected: &'static str,
        /// The key found.
        found: String,
    },
}
