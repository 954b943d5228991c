use k256::ecdsa::signature::Signer;

use crate::{CryptoError, KeyType, PublicKey, SIGNATURE_LEN};

/// A private key of either curve. Its secret never appears in `Debug` output, and the
/// underlying scalar is zeroised on drop by the curve crates.
#[derive(Clone)]
pub struct SigningKey {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    K256(k256::ecdsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

impl SigningKey {
    /// A fresh random key from the operating system's random number generator.
    pub fn generate(key_type: KeyType) -> Result<SigningKey, CryptoError> {
        // A uniformly random 32-byte string is a valid scalar except with probability about
        // 2^-32 (P-256) or 2^-128 (secp256k1); retrying keeps the result uniform.
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| CryptoError::Rng(e.to_string()))?;
            let key = SigningKey::from_bytes(key_type, &bytes);
            bytes.fill(0);
            if let Ok(key) = key {
                return Ok(key);
            }
        }
    }

    /// A key from its 32-byte big-endian scalar.
    pub fn from_bytes(key_type: KeyType, bytes: &[u8]) -> Result<SigningKey, CryptoError> {
        let bad = || CryptoError::InvalidPrivateKey { key_type };
        // The curve crates zero-pad slices as short as 24 bytes; a truncated key is a caller
        // bug that padding would turn into a different key, so only exactly 32 bytes pass.
        if bytes.len() != 32 {
            return Err(bad());
        }
        let inner = match key_type {
            KeyType::K256 => {
                Inner::K256(k256::ecdsa::SigningKey::from_slice(bytes).map_err(|_| bad())?)
            }
            KeyType::P256 => {
                Inner::P256(p256::ecdsa::SigningKey::from_slice(bytes).map_err(|_| bad())?)
            }
        };
        Ok(SigningKey { inner })
    }

    /// A key from the hex form of its scalar (as in the reference PDS's
    /// `*_PRIVATE_KEY_HEX` settings); either letter case is accepted.
    pub fn from_hex(key_type: KeyType, hex: &str) -> Result<SigningKey, CryptoError> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(hex.trim().as_bytes())
            .map_err(|_| CryptoError::InvalidHex)?;
        SigningKey::from_bytes(key_type, &bytes)
    }

    /// The 32-byte big-endian scalar. Handle with care: this is the secret.
    pub fn to_bytes(&self) -> [u8; 32] {
        match &self.inner {
            Inner::K256(k) => k.to_bytes().into(),
            Inner::P256(k) => k.to_bytes().into(),
        }
    }

    /// Lower-case hex of [`SigningKey::to_bytes`].
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.to_bytes())
    }

    /// The curve of this key.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            Inner::K256(_) => KeyType::K256,
            Inner::P256(_) => KeyType::P256,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match &self.inner {
            Inner::K256(k) => PublicKey::from_k256(*k.verifying_key()),
            Inner::P256(k) => PublicKey::from_p256(*k.verifying_key()),
        }
    }

    /// Signs SHA-256(`msg`) with deterministic ECDSA (RFC 6979) and returns the compact
    /// `r || s` signature, always in low-S form.
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        // Both curves' `Signer` impls hash with SHA-256 (their `DigestAlgorithm`).
        match &self.inner {
            Inner::K256(k) => {
                let sig: k256::ecdsa::Signature = k.sign(msg);
                // k256 already normalises; normalising again is free insurance.
                sig.normalize_s().to_bytes().into()
            }
            Inner::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(msg);
                // p256 returns high-S about half the time; atproto verifiers reject those.
                sig.normalize_s().to_bytes().into()
            }
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_type", &self.key_type())
            .field("public_key", &self.public_key().to_did_key())
            .finish_non_exhaustive()
    }
}

impl PartialEq for SigningKey {
    /// Compares the public halves, which identify the secret without touching it in
    /// variable time.
    fn eq(&self, other: &Self) -> bool {
        self.public_key() == other.public_key()
    }
}

impl Eq for SigningKey {}
