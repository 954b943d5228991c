use std::fmt;

/// Which identifier or format a [`SyntaxError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A DID (`did:method:identifier`).
    Did,
    /// A handle (a DNS hostname).
    Handle,
    /// A DID or a handle.
    AtIdentifier,
    /// A namespaced identifier (`com.example.fooBar`).
    Nsid,
    /// A timestamp identifier.
    Tid,
    /// A repository record key.
    RecordKey,
    /// An `at://` URI in its Lexicon (restricted) form.
    AtUri,
    /// A Lexicon `datetime` string.
    Datetime,
    /// A BCP-47 language tag.
    Language,
}

impl Kind {
    /// The name used in messages, matching the Lexicon string format names.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Did => "did",
            Kind::Handle => "handle",
            Kind::AtIdentifier => "at-identifier",
            Kind::Nsid => "nsid",
            Kind::Tid => "tid",
            Kind::RecordKey => "record-key",
            Kind::AtUri => "at-uri",
            Kind::Datetime => "datetime",
            Kind::Language => "language",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string was rejected, or a value could not be built.
///
/// Messages quote at most the first [`QUOTE_LIMIT`] bytes of the input, so an 8 KiB string
/// from the network does not end up whole in a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The string breaks a syntax rule of its kind.
    #[error("invalid {kind} {input:?}: {reason}")]
    Invalid {
        /// What was being parsed.
        kind: Kind,
        /// The start of the rejected input.
        input: String,
        /// The rule that failed.
        reason: &'static str,
    },
    /// The string is longer than its kind allows.
    #[error("{kind} is {len} bytes long; the limit is {max}")]
    TooLong {
        /// What was being parsed.
        kind: Kind,
        /// Length of the input in bytes.
        len: usize,
        /// The limit for this kind, in bytes.
        max: usize,
    },
    /// A TID part does not fit: the timestamp has 53 bits and the clock id 10.
    #[error(
        "TID parts out of range: timestamp {micros} µs (max {max_micros}), clock id {clock_id} (max 1023)"
    )]
    TidOutOfRange {
        /// The timestamp asked for, in microseconds since the Unix epoch.
        micros: u64,
        /// The clock id asked for.
        clock_id: u16,
        /// The largest timestamp a TID can hold.
        max_micros: u64,
    },
    /// No TID can be greater than the given one (its timestamp is already the maximum).
    #[error("no TID is greater than {prev}")]
    TidExhausted {
        /// The TID that has no successor.
        prev: String,
    },
    /// An AT-URI was assembled with a record key but without a collection.
    #[error("an AT-URI with a record key must also have a collection")]
    RecordKeyWithoutCollection,
}

/// How many bytes of a rejected input a [`SyntaxError::Invalid`] keeps.
pub const QUOTE_LIMIT: usize = 80;

impl SyntaxError {
    pub(crate) fn invalid(kind: Kind, input: &str, reason: &'static str) -> Self {
        let mut end = input.len().min(QUOTE_LIMIT);
        while !input.is_char_boundary(end) {
            end -= 1;
        }
        SyntaxError::Invalid {
            kind,
            input: input[..end].to_owned(),
            reason,
        }
    }

    pub(crate) fn too_long(kind: Kind, len: usize, max: usize) -> Self {
        SyntaxError::TooLong { kind, len, max }
    }

    /// The kind of value the error is about, when it is about a parsed string.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            SyntaxError::Invalid { kind, .. } | SyntaxError::TooLong { kind, .. } => Some(*kind),
            SyntaxError::TidOutOfRange { .. } | SyntaxError::TidExhausted { .. } => Some(Kind::Tid),
            SyntaxError::RecordKeyWithoutCollection => Some(Kind::AtUri),
        }
    }
}
