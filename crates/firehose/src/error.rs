//! The crate's one error type.

use aerie_data::drisl::DecodeError;

/// A boxed error from an [`EventLog`](crate::EventLog) implementation (SQLite, I/O, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a frame could not be built or decoded, or why the event log failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The header or body of a frame is not strict DRISL.
    #[error("frame {part} is not valid DRISL: {source}")]
    Cbor {
        /// `"header"` or `"body"`.
        part: &'static str,
        /// The decoder's error (with the byte offset inside that part).
        source: DecodeError,
    },
    /// The frame header is well-formed CBOR but not a valid event-stream header.
    #[error("bad frame header: {reason}")]
    Header {
        /// What is wrong.
        reason: &'static str,
    },
    /// A required field of a message is missing.
    #[error("{message} is missing required field {field:?}")]
    MissingField {
        /// The message type, e.g. `"#commit"`.
        message: &'static str,
        /// The field name.
        field: &'static str,
    },
    /// A field holds a value of the right CBOR type but invalid syntax (a DID, TID, datetime,
    /// record path, action or seq).
    #[error("{message} field {field:?} is invalid: {reason}")]
    InvalidField {
        /// The message type, e.g. `"#commit"`.
        message: &'static str,
        /// The field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A `#commit` carries more ops than the protocol allows.
    #[error("#commit carries {count} ops; at most {max} are allowed")]
    TooManyOps {
        /// Ops in the event.
        count: usize,
        /// The limit (200).
        max: usize,
    },
    /// The `blocks` CAR slice of a `#commit` or `#sync` is larger than the protocol allows.
    #[error("{message} blocks are {len} bytes; at most {max} are allowed")]
    BlocksTooLarge {
        /// The message type.
        message: &'static str,
        /// Bytes in `blocks`.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A whole encoded frame is larger than the firehose allows.
    #[error("frame is {len} bytes; at most {max} are allowed")]
    FrameTooLarge {
        /// Bytes in the frame.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An op's `cid`/`prev` presence does not match its action.
    #[error("op {action} on {path}: {reason}")]
    InvalidOp {
        /// The action.
        action: &'static str,
        /// The record path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The durable event log failed.
    #[error("event log: {source}")]
    Log {
        /// The implementation's error.
        source: BoxError,
    },
}

impl Error {
    /// Wrap an [`EventLog`](crate::EventLog) implementation's error.
    pub fn log(source: impl Into<BoxError>) -> Error {
        Error::Log {
            source: source.into(),
        }
    }
}
