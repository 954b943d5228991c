//! aerie-crypto: the two atproto key types, their textual forms, and strict signatures.
//!
//! atproto signs with ECDSA over SHA-256 of the message, on secp256k1 ([`KeyType::K256`]) or
//! NIST P-256 ([`KeyType::P256`]). Signatures travel as the compact 64-byte `r || s` form and
//! must be "low-S": of the two valid `s` values for a signature, only the one at most n/2 is
//! accepted, so a third party cannot mint a second valid signature for the same message. DER
//! signatures are refused.
//!
//! - [`SigningKey`]: a private key; [`SigningKey::sign`] always yields low-S signatures (p256
//!   does not normalise by itself, so this crate does).
//! - [`PublicKey`]: a public key with its textual forms (`did:key:z…`, the multibase
//!   "multikey" of DID documents, and the legacy uncompressed multibase) and
//!   [`PublicKey::verify`] (strict) / [`PublicKey::verify_allow_high_s`] (for inter-service
//!   JWTs, where the reference implementation tolerates high-S).
//!
//! ```
//! use aerie_crypto::{KeyType, PublicKey, SigningKey};
//!
//! let key = SigningKey::generate(KeyType::K256)?;
//! let did_key = key.public_key().to_did_key();
//! let sig = key.sign(b"hello");
//!
//! let public = PublicKey::parse_did_key(&did_key)?;
//! public.verify(b"hello", &sig)?;
//! assert!(public.verify(b"other", &sig).is_err());
//! # Ok::<(), aerie_crypto::CryptoError>(())
//! ```
//!
//! Architecture invariant: no I/O and no async here; randomness comes only from the OS via
//! `getrandom` in [`SigningKey::generate`].
#![deny(missing_docs)]

mod error;
mod public;
mod signing;

pub use error::CryptoError;
pub use public::PublicKey;
pub use signing::SigningKey;

/// Length of a compact `r || s` signature.
pub const SIGNATURE_LEN: usize = 64;

/// The `did:key:` prefix of a public key's DID form.
pub const DID_KEY_PREFIX: &str = "did:key:";

/// The two elliptic curves atproto uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// secp256k1 ("k256"); the reference PDS creates account signing keys of this type.
    K256,
    /// NIST P-256 (secp256r1, "p256").
    P256,
}

impl KeyType {
    /// The JWT / JWS `alg` for signatures by this key type.
    pub fn jwt_alg(self) -> &'static str {
        match self {
            KeyType::K256 => "ES256K",
            KeyType::P256 => "ES256",
        }
    }

    /// The unsigned-varint multicodec prefix of a compressed public key of this type
    /// (`secp256k1-pub` 0xe7, `p256-pub` 0x1200).
    pub fn multicodec_prefix(self) -> [u8; 2] {
        match self {
            KeyType::K256 => [0xe7, 0x01],
            KeyType::P256 => [0x80, 0x24],
        }
    }

    /// The key type whose multicodec prefix starts `bytes`, if any.
    fn from_multicodec_prefix(bytes: &[u8]) -> Option<KeyType> {
        match bytes {
            [0xe7, 0x01, ..] => Some(KeyType::K256),
            [0x80, 0x24, ..] => Some(KeyType::P256),
            _ => None,
        }
    }

    /// The deprecated DID-document verification method type naming this curve
    /// (`EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019`).
    pub fn legacy_did_doc_suite(self) -> &'static str {
        match self {
            KeyType::K256 => "EcdsaSecp256k1VerificationKey2019",
            KeyType::P256 => "EcdsaSecp256r1VerificationKey2019",
        }
    }

    /// The key type named by a JWT `alg` (`ES256K` or `ES256`).
    pub fn from_jwt_alg(alg: &str) -> Option<KeyType> {
        match alg {
            "ES256K" => Some(KeyType::K256),
            "ES256" => Some(KeyType::P256),
            _ => None,
        }
    }
}

impl std::fmt::Display for KeyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyType::K256 => "k256",
            KeyType::P256 => "p256",
        })
    }
}
