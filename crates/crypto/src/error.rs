use crate::KeyType;

/// Everything that can go wrong parsing keys or checking signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A `did:key` string did not start with `did:key:`.
    #[error("not a did:key (expected prefix \"did:key:\")")]
    NotDidKey,
    /// A multibase string did not use base58btc (prefix `z`), the only base atproto uses.
    #[error("multibase key must be base58btc (prefix 'z')")]
    NotBase58btc,
    /// A multibase string was longer than any key encoding; refused before decoding because
    /// base58 decoding costs quadratic time.
    #[error("multibase key is {len} characters, longer than any key encoding")]
    KeyStringTooLong {
        /// Length of the string received.
        len: usize,
    },
    /// The base58btc body had a character outside the Bitcoin alphabet.
    #[error("invalid base58btc: {0}")]
    Base58(String),
    /// A multikey named a key type other than secp256k1 or P-256 (e.g. ed25519).
    #[error(
        "unsupported multicodec prefix {prefix:02x?}: only secp256k1 and P-256 keys are allowed"
    )]
    UnsupportedMulticodec {
        /// The first bytes of the decoded key (at most two).
        prefix: Vec<u8>,
    },
    /// A multikey held something other than a 33-byte compressed point.
    #[error("{key_type} multikey must hold a 33-byte compressed point, got {len} bytes")]
    NotCompressed {
        /// The curve named by the multicodec prefix.
        key_type: KeyType,
        /// Length of the key bytes after the prefix.
        len: usize,
    },
    /// The bytes are not a point on the curve (or not a valid SEC1 encoding).
    #[error("invalid {key_type} public key")]
    InvalidPublicKey {
        /// The curve the bytes were read for.
        key_type: KeyType,
    },
    /// The bytes are not a valid private scalar (wrong length, zero, or not below the order).
    #[error("invalid {key_type} private key")]
    InvalidPrivateKey {
        /// The curve the bytes were read for.
        key_type: KeyType,
    },
    /// A hex private key had non-hex characters or an odd length.
    #[error("private key is not valid hex")]
    InvalidHex,
    /// A signature was not 64 bytes (DER-encoded signatures end here, being 70 to 72 bytes).
    #[error("signature must be 64 bytes (compact r||s), got {len}")]
    SignatureLength {
        /// Length received.
        len: usize,
    },
    /// A 64-byte signature whose `r` or `s` is zero or not below the curve order.
    #[error("malformed signature: r or s out of range")]
    MalformedSignature,
    /// A signature in high-S form, which atproto refuses to rule out malleability.
    #[error("signature is not in low-S form")]
    HighS,
    /// The signature does not match the message and key.
    #[error("signature does not verify")]
    BadSignature,
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Rng(String),
}
