//! The crate's one error type.

/// Why a lexicon document or a record was refused.
///
/// Messages follow the reference implementation (`@atproto/lexicon` and the PDS), so a client
/// sees the same text from Aerie as from the reference PDS: for example
/// `Invalid app.bsky.feed.post record: Record must have the property "text"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A schema document is not a valid lexicon.
    #[error("invalid lexicon {id}: {reason}")]
    InvalidLexicon {
        /// The document's `id`, or `?` when it has none.
        id: String,
        /// What is wrong, naming the def and field (`defs.main.record: must have type "object"`).
        reason: String,
    },
    /// A document with this NSID is already in the catalog.
    #[error("lexicon {id} has already been registered")]
    DuplicateLexicon {
        /// The document's NSID.
        id: String,
    },
    /// No record schema is known for this collection.
    #[error("Lexicon not found: lex:{nsid}")]
    UnknownLexicon {
        /// The collection (record type) asked for.
        nsid: String,
    },
    /// A schema refers to a definition the catalog does not hold.
    #[error("Lexicon not found: lex:{reference} (referenced at {path})")]
    UnresolvedRef {
        /// Where in the record the reference was followed.
        path: String,
        /// The missing definition, `nsid` or `nsid#name`.
        reference: String,
    },
    /// The record's `$type` does not name the collection it is written to.
    #[error("Invalid $type: expected {expected}, got {actual}")]
    TypeMismatch {
        /// The collection.
        expected: String,
        /// The record's `$type`.
        actual: String,
    },
    /// The record breaks its schema at `path`.
    #[error("Invalid {collection} record: {path} {rule}")]
    InvalidRecord {
        /// The record type.
        collection: String,
        /// Where it failed, `/`-separated from the root `Record` (`Record/embed/images/0/alt`).
        path: String,
        /// The rule broken, worded like the reference (`must be a string`).
        rule: String,
    },
    /// The record key does not have the form the schema's `key` demands.
    #[error("Invalid record key for {collection}: {rkey:?} is not {expected}")]
    InvalidRecordKey {
        /// The record type.
        collection: String,
        /// The key given.
        rkey: String,
        /// What the schema asks for (`a TID`, `an NSID`, `"self"`).
        expected: String,
    },
}

impl ValidationError {
    /// For [`ValidationError::InvalidRecord`]: the failure without the collection prefix, as
    /// `@atproto/lexicon` words it (`Record/text must be a string`).
    pub fn detail(&self) -> Option<String> {
        match self {
            ValidationError::InvalidRecord { path, rule, .. } => Some(format!("{path} {rule}")),
            _ => None,
        }
    }
}
