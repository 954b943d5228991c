use k256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256};

use crate::{CryptoError, DID_KEY_PREFIX, KeyType, SIGNATURE_LEN};

/// Longest multibase key string accepted: an uncompressed 65-byte point is at most 89 base58
/// characters, plus `z`. Anything longer is refused before the quadratic base58 decode.
const MAX_MULTIBASE_LEN: usize = 96;

/// A public key of either curve.
///
/// Equality, ordering and hashing follow the curve and the compressed point, so two parses of
/// the same key compare equal whatever textual form they came from.
#[derive(Clone, Copy)]
pub struct PublicKey {
    inner: Inner,
    /// The 33-byte compressed SEC1 point, kept because every textual form uses it and
    /// recomputing it costs a field inversion.
    compressed: [u8; 33],
}

#[derive(Clone, Copy)]
enum Inner {
    K256(k256::ecdsa::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    pub(crate) fn from_k256(key: k256::ecdsa::VerifyingKey) -> PublicKey {
        let mut compressed = [0u8; 33];
        compressed.copy_from_slice(key.to_sec1_point(true).as_bytes());
        PublicKey {
            inner: Inner::K256(key),
            compressed,
        }
    }

    pub(crate) fn from_p256(key: p256::ecdsa::VerifyingKey) -> PublicKey {
        let mut compressed = [0u8; 33];
        compressed.copy_from_slice(key.to_sec1_point(true).as_bytes());
        PublicKey {
            inner: Inner::P256(key),
            compressed,
        }
    }

    /// A key from a SEC1 point, compressed (33 bytes) or uncompressed (65 bytes).
    pub fn from_sec1(key_type: KeyType, bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        let bad = || CryptoError::InvalidPublicKey { key_type };
        // The identity point has a one-byte SEC1 encoding the curve crates reject anyway;
        // checking the length keeps every accepted form one of the two atproto uses.
        if bytes.len() != 33 && bytes.len() != 65 {
            return Err(bad());
        }
        match key_type {
            KeyType::K256 => k256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKey::from_k256)
                .map_err(|_| bad()),
            KeyType::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(PublicKey::from_p256)
                .map_err(|_| bad()),
        }
    }

    /// Parses `did:key:z…` (a multikey behind the `did:key:` prefix).
    pub fn parse_did_key(did_key: &str) -> Result<PublicKey, CryptoError> {
        let multikey = did_key
            .strip_prefix(DID_KEY_PREFIX)
            .ok_or(CryptoError::NotDidKey)?;
        PublicKey::parse_multikey(multikey)
    }

    /// Parses a multikey (`publicKeyMultibase` of a `Multikey` verification method):
    /// `z` + base58btc(multicodec varint + 33-byte compressed point). Uncompressed points are
    /// refused, as the atproto cryptography spec requires the compressed form here.
    pub fn parse_multikey(multikey: &str) -> Result<PublicKey, CryptoError> {
        let bytes = decode_base58btc(multikey)?;
        let key_type = KeyType::from_multicodec_prefix(&bytes).ok_or_else(|| {
            CryptoError::UnsupportedMulticodec {
                prefix: bytes.iter().take(2).copied().collect(),
            }
        })?;
        let point = &bytes[2..];
        if point.len() != 33 {
            return Err(CryptoError::NotCompressed {
                key_type,
                len: point.len(),
            });
        }
        PublicKey::from_sec1(key_type, point)
    }

    /// Parses the deprecated DID-document form (`publicKeyMultibase` of an
    /// `EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019` method):
    /// `z` + base58btc(SEC1 point) with no multicodec prefix. The spec describes the
    /// uncompressed point; the interop fixtures also carry compressed ones, so both are read.
    pub fn from_legacy_multibase(
        key_type: KeyType,
        multibase: &str,
    ) -> Result<PublicKey, CryptoError> {
        let bytes = decode_base58btc(multibase)?;
        PublicKey::from_sec1(key_type, &bytes)
    }

    /// Reads a DID document verification method by its `type` and `publicKeyMultibase`:
    /// `Multikey`, or one of the two legacy suite names. `None` for any other type.
    pub fn from_verification_method(
        method_type: &str,
        public_key_multibase: &str,
    ) -> Option<Result<PublicKey, CryptoError>> {
        match method_type {
            "Multikey" => Some(PublicKey::parse_multikey(public_key_multibase)),
            "EcdsaSecp256k1VerificationKey2019" => Some(PublicKey::from_legacy_multibase(
                KeyType::K256,
                public_key_multibase,
            )),
            "EcdsaSecp256r1VerificationKey2019" => Some(PublicKey::from_legacy_multibase(
                KeyType::P256,
                public_key_multibase,
            )),
            _ => None,
        }
    }

    /// The curve of this key.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            Inner::K256(_) => KeyType::K256,
            Inner::P256(_) => KeyType::P256,
        }
    }

    /// The 33-byte compressed SEC1 point.
    pub fn to_sec1_compressed(&self) -> [u8; 33] {
        self.compressed
    }

    /// The 65-byte uncompressed SEC1 point (`04 || x || y`).
    pub fn to_sec1_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        match &self.inner {
            Inner::K256(k) => out.copy_from_slice(k.to_sec1_point(false).as_bytes()),
            Inner::P256(k) => out.copy_from_slice(k.to_sec1_point(false).as_bytes()),
        }
        out
    }

    /// The multikey form: `z` + base58btc(multicodec varint + compressed point).
    pub fn to_multikey(&self) -> String {
        let mut bytes = [0u8; 35];
        bytes[..2].copy_from_slice(&self.key_type().multicodec_prefix());
        bytes[2..].copy_from_slice(&self.compressed);
        let mut out = String::with_capacity(50);
        out.push('z');
        out.push_str(&bs58::encode(bytes).into_string());
        out
    }

    /// The `did:key:z…` form.
    pub fn to_did_key(&self) -> String {
        let mut out = String::with_capacity(58);
        out.push_str(DID_KEY_PREFIX);
        out.push_str(&self.to_multikey());
        out
    }

    /// Strict atproto verification of a signature over SHA-256(`msg`): exactly 64 bytes
    /// (`r || s`), both scalars in range, `s` in low-S form, and a valid ECDSA signature.
    /// Use this for commits, PLC operations and anything persisted.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify_inner(msg, sig, false)
    }

    /// Like [`PublicKey::verify`] but also accepts high-S signatures. Only for inter-service
    /// JWTs, where the reference verifier tolerates them (`allowMalleableSig`); DER is still
    /// refused.
    pub fn verify_allow_high_s(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.verify_inner(msg, sig, true)
    }

    fn verify_inner(&self, msg: &[u8], sig: &[u8], allow_high_s: bool) -> Result<(), CryptoError> {
        if sig.len() != SIGNATURE_LEN {
            return Err(CryptoError::SignatureLength { len: sig.len() });
        }
        let digest = Sha256::digest(msg);
        match &self.inner {
            Inner::K256(key) => {
                let sig = k256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| CryptoError::MalformedSignature)?;
                let low = sig.normalize_s();
                if low != sig && !allow_high_s {
                    return Err(CryptoError::HighS);
                }
                // k256's verifier itself rejects high-S, so the lenient path verifies the
                // normalised twin, which is valid exactly when the original is.
                key.verify_prehash(&digest, &low)
                    .map_err(|_| CryptoError::BadSignature)
            }
            Inner::P256(key) => {
                let sig = p256::ecdsa::Signature::from_slice(sig)
                    .map_err(|_| CryptoError::MalformedSignature)?;
                let low = sig.normalize_s();
                // p256's verifier accepts high-S, so atproto's rule is enforced here.
                if low != sig && !allow_high_s {
                    return Err(CryptoError::HighS);
                }
                key.verify_prehash(&digest, &low)
                    .map_err(|_| CryptoError::BadSignature)
            }
        }
    }
}

/// Decodes a `z`-prefixed base58btc multibase string, bounding its length first.
fn decode_base58btc(s: &str) -> Result<Vec<u8>, CryptoError> {
    if s.len() > MAX_MULTIBASE_LEN {
        return Err(CryptoError::KeyStringTooLong { len: s.len() });
    }
    let body = s.strip_prefix('z').ok_or(CryptoError::NotBase58btc)?;
    bs58::decode(body)
        .into_vec()
        .map_err(|e| CryptoError::Base58(e.to_string()))
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key_type() == other.key_type() && self.compressed == other.compressed
    }
}

impl Eq for PublicKey {}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key_type().hash(state);
        self.compressed.hash(state);
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key_type(), self.compressed).cmp(&(other.key_type(), other.compressed))
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_did_key())
    }
}

/// Displays the `did:key:` form.
impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_did_key())
    }
}

/// Parses the `did:key:` form.
impl std::str::FromStr for PublicKey {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicKey::parse_did_key(s)
    }
}
