use aerie_syntax::Did;

/// Why an operation, a log or the directory's store was refused.
///
/// The `Display` text of the variants a client can cause is what the directory server sends
/// back as `{"message": ...}` with status 400, so it names the rule that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlcError {
    /// The operation JSON does not have the shape of any operation type.
    #[error("invalid operation: {reason}")]
    Malformed {
        /// What was wrong (missing field, wrong type, unknown field).
        reason: String,
    },
    /// A rotation key is not a k256 or p256 `did:key`.
    #[error("invalid rotation key {key}: {source}")]
    InvalidRotationKey {
        /// The key as written.
        key: String,
        /// Why it did not parse.
        source: aerie_crypto::CryptoError,
    },
    /// A verification method is not a syntactically valid `did:key` (`did:key:z` + base58btc).
    #[error("invalid verification method {id}: {key}")]
    InvalidVerificationMethod {
        /// The method id (map key).
        id: String,
        /// The key as written.
        key: String,
    },
    /// A size or count limit on incoming operations was exceeded, or an entry was repeated.
    #[error("{0}")]
    Constraint(String),
    /// The operation's DRISL encoding exceeds the directory's size limit.
    #[error("operation too large ({size} bytes; {max} bytes maximum in DAG-CBOR encoding)")]
    TooLarge {
        /// Encoded size of the signed operation.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The `sig` field is not canonical unpadded base64url of 64 bytes.
    #[error("signature is not canonical base64url of a 64-byte compact signature")]
    SignatureEncoding,
    /// No allowed rotation key verifies the signature.
    #[error("invalid signature on operation {cid}")]
    InvalidSignature {
        /// CID of the rejected operation.
        cid: String,
    },
    /// The genesis operation does not hash to the DID it was submitted for.
    #[error("hash of genesis operation does not match DID identifier: expected {expected}")]
    GenesisHashMismatch {
        /// The DID the operation derives.
        expected: Did,
    },
    /// A genesis operation that is a tombstone or has a non-null `prev`, or an operation with
    /// a null `prev` for a DID that already exists.
    #[error("improper genesis: {0}")]
    ImproperGenesis(&'static str),
    /// A legacy `create` operation anywhere but at the start of a log, or submitted anew.
    #[error("legacy \"create\" operations are only valid as the genesis of an existing log")]
    LegacyCreate,
    /// `prev` names no operation in the DID's current history.
    #[error("operations not correctly ordered: prev {prev} is not in the DID's history")]
    Misordered {
        /// The `prev` the operation named.
        prev: String,
    },
    /// The operation builds on a tombstone.
    #[error("DID is tombstoned")]
    Tombstoned,
    /// A recovery (fork) came after the 72-hour window of the first operation it would nullify.
    #[error(
        "recovery operation occurred outside the 72 hour recovery window ({lapsed_secs} s lapsed)"
    )]
    LateRecovery {
        /// Seconds between the first nullified operation and now.
        lapsed_secs: i64,
    },
    /// The DID is not a `did:plc` of 24 base32 characters.
    #[error("not a did:plc identifier: {0}")]
    NotPlcDid(String),
    /// The genesis helper was given a signer that is not one of the rotation keys.
    #[error("the signer {signer} is not one of the rotation keys")]
    SignerNotRotationKey {
        /// The signer's `did:key`.
        signer: String,
    },
    /// Reading or writing the directory's log file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line of the directory's log file could not be read back.
    #[error("log file {path} line {line}: {reason}")]
    CorruptLog {
        /// The log file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

impl PlcError {
    pub(crate) fn malformed(reason: impl Into<String>) -> PlcError {
        PlcError::Malformed {
            reason: reason.into(),
        }
    }

    /// Whether the error is the client's fault (a bad operation) rather than the server's
    /// (its store failed).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, PlcError::Io { .. } | PlcError::CorruptLog { .. })
    }
}
