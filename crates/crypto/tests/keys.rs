//! Rules for keys and signatures beyond the interop fixtures.

use aerie_crypto::{CryptoError, KeyType, PublicKey, SigningKey};

const BOTH: [KeyType; 2] = [KeyType::K256, KeyType::P256];

/// Curve orders, big-endian, to check low-S by arithmetic independent of the curve crates.
const N_K256: [u8; 32] = hex32("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
const N_P256: [u8; 32] = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// n/2 (rounded down), big-endian.
fn half(n: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u8;
    for (o, &b) in out.iter_mut().zip(n) {
        *o = (b >> 1) | (carry << 7);
        carry = b & 1;
    }
    out
}

/// n - s, big-endian.
fn negate(n: &[u8; 32], s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

fn order(key_type: KeyType) -> [u8; 32] {
    match key_type {
        KeyType::K256 => N_K256,
        KeyType::P256 => N_P256,
    }
}

fn fixed_key(key_type: KeyType) -> SigningKey {
    SigningKey::from_bytes(key_type, &[7u8; 32]).expect("valid scalar")
}

#[test]
fn signing_never_yields_high_s() {
    for key_type in BOTH {
        let key = SigningKey::generate(key_type).expect("rng");
        let half_n = half(&order(key_type));
        for i in 0u32..1000 {
            let sig = key.sign(&i.to_be_bytes());
            assert!(
                sig[32..] <= half_n[..],
                "{key_type} signature {i} is high-S"
            );
        }
    }
}

#[test]
fn signature_verifies_and_binds_message_and_key() {
    for key_type in BOTH {
        let key = SigningKey::generate(key_type).expect("rng");
        let other = SigningKey::generate(key_type).expect("rng");
        let sig = key.sign(b"message");
        assert_eq!(key.public_key().verify(b"message", &sig), Ok(()));
        assert_eq!(
            key.public_key().verify(b"messagf", &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            other.public_key().verify(b"message", &sig),
            Err(CryptoError::BadSignature)
        );
    }
}

#[test]
fn rejects_high_s_twin_of_valid_signature() {
    for key_type in BOTH {
        let key = fixed_key(key_type);
        let sig = key.sign(b"twin");
        let mut high = sig;
        high[32..].copy_from_slice(&negate(&order(key_type), &sig[32..]));
        assert_eq!(
            key.public_key().verify(b"twin", &high),
            Err(CryptoError::HighS),
            "{key_type}"
        );
        assert_eq!(
            key.public_key().verify_allow_high_s(b"twin", &high),
            Ok(()),
            "{key_type}"
        );
    }
}

#[test]
fn rejects_wrong_length_signature() {
    for key_type in BOTH {
        let key = fixed_key(key_type);
        let sig = key.sign(b"x");
        let public = key.public_key();
        assert_eq!(
            public.verify(b"x", &sig[..63]),
            Err(CryptoError::SignatureLength { len: 63 })
        );
        let mut long = sig.to_vec();
        long.push(0);
        assert_eq!(
            public.verify(b"x", &long),
            Err(CryptoError::SignatureLength { len: 65 })
        );
        assert_eq!(
            public.verify(b"x", &[]),
            Err(CryptoError::SignatureLength { len: 0 })
        );
    }
}

#[test]
fn rejects_out_of_range_scalars() {
    for key_type in BOTH {
        let public = fixed_key(key_type).public_key();
        assert_eq!(
            public.verify(b"x", &[0u8; 64]),
            Err(CryptoError::MalformedSignature)
        );
        let mut r_is_n = [1u8; 64];
        r_is_n[..32].copy_from_slice(&order(key_type));
        assert_eq!(
            public.verify(b"x", &r_is_n),
            Err(CryptoError::MalformedSignature)
        );
    }
}

#[test]
fn did_key_round_trips() {
    for key_type in BOTH {
        for _ in 0..20 {
            let public = SigningKey::generate(key_type).expect("rng").public_key();
            let did_key = public.to_did_key();
            let prefix = match key_type {
                KeyType::K256 => "did:key:zQ3s",
                KeyType::P256 => "did:key:zDna",
            };
            assert!(did_key.starts_with(prefix), "{did_key}");
            let parsed: PublicKey = did_key.parse().expect("parse");
            assert_eq!(parsed, public);
            assert_eq!(parsed.key_type(), key_type);
            assert_eq!(PublicKey::parse_multikey(&public.to_multikey()), Ok(public));
            assert_eq!(
                PublicKey::from_sec1(key_type, &public.to_sec1_uncompressed()),
                Ok(public)
            );
        }
    }
}

#[test]
fn legacy_multibase_reads_uncompressed_point() {
    for key_type in BOTH {
        let public = fixed_key(key_type).public_key();
        let legacy = format!("z{}", bs58_encode(public.to_sec1_uncompressed()));
        assert_eq!(
            PublicKey::from_legacy_multibase(key_type, &legacy),
            Ok(public)
        );
    }
}

#[test]
fn private_key_round_trips_through_bytes_and_hex() {
    for key_type in BOTH {
        let key = SigningKey::generate(key_type).expect("rng");
        let again = SigningKey::from_bytes(key_type, &key.to_bytes()).expect("bytes");
        assert_eq!(again.to_bytes(), key.to_bytes());
        let from_hex = SigningKey::from_hex(key_type, &key.to_hex().to_uppercase()).expect("hex");
        assert_eq!(from_hex.public_key(), key.public_key());
    }
}

#[test]
fn rejects_unknown_multicodec() {
    // An ed25519 did:key from the did:key spec: valid multibase, unsupported curve.
    let ed25519 = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    assert_eq!(
        PublicKey::parse_did_key(ed25519),
        Err(CryptoError::UnsupportedMulticodec {
            prefix: vec![0xed, 0x01]
        })
    );
    assert_eq!(
        PublicKey::parse_multikey("z"),
        Err(CryptoError::UnsupportedMulticodec { prefix: vec![] })
    );
}

#[test]
fn rejects_malformed_key_strings() {
    let public = fixed_key(KeyType::K256).public_key();
    let multikey = public.to_multikey();
    assert_eq!(
        PublicKey::parse_did_key(&multikey),
        Err(CryptoError::NotDidKey)
    );
    assert_eq!(
        PublicKey::parse_multikey(&multikey[1..]),
        Err(CryptoError::NotBase58btc)
    );
    assert!(matches!(
        PublicKey::parse_multikey("z0OIl"),
        Err(CryptoError::Base58(_))
    ));
    let long = format!("z{}", "2".repeat(200));
    assert_eq!(
        PublicKey::parse_multikey(&long),
        Err(CryptoError::KeyStringTooLong { len: 201 })
    );

    // A multikey carrying the uncompressed point is refused: the spec fixes compressed.
    let mut uncompressed = KeyType::K256.multicodec_prefix().to_vec();
    uncompressed.extend_from_slice(&public.to_sec1_uncompressed());
    let text = format!("z{}", bs58_encode(uncompressed));
    assert_eq!(
        PublicKey::parse_multikey(&text),
        Err(CryptoError::NotCompressed {
            key_type: KeyType::K256,
            len: 65
        })
    );

    // A point not on the curve.
    let mut off_curve = KeyType::P256.multicodec_prefix().to_vec();
    off_curve.push(0x02);
    off_curve.extend_from_slice(&[0xff; 32]);
    let text = format!("z{}", bs58_encode(off_curve));
    assert_eq!(
        PublicKey::parse_multikey(&text),
        Err(CryptoError::InvalidPublicKey {
            key_type: KeyType::P256
        })
    );
}

#[test]
fn rejects_invalid_private_keys() {
    for key_type in BOTH {
        let err = CryptoError::InvalidPrivateKey { key_type };
        assert_eq!(
            SigningKey::from_bytes(key_type, &[0u8; 32]),
            Err(err.clone())
        );
        assert_eq!(
            SigningKey::from_bytes(key_type, &[1u8; 31]),
            Err(err.clone())
        );
        assert_eq!(SigningKey::from_bytes(key_type, &order(key_type)), Err(err));
        assert_eq!(
            SigningKey::from_hex(key_type, "xyz"),
            Err(CryptoError::InvalidHex)
        );
    }
}

#[test]
fn debug_output_hides_the_secret() {
    let key = SigningKey::from_bytes(KeyType::K256, &[0x5a; 32]).expect("key");
    let debug = format!("{key:?}");
    assert!(!debug.contains(&key.to_hex()), "{debug}");
    assert!(!debug.contains("5a5a5a"), "{debug}");
    assert!(!debug.contains("90, 90"), "{debug}");
    assert!(debug.contains(&key.public_key().to_did_key()), "{debug}");
}

#[test]
fn signing_is_deterministic() {
    for key_type in BOTH {
        let key = fixed_key(key_type);
        assert_eq!(key.sign(b"same"), key.sign(b"same"));
    }
}

fn bs58_encode(bytes: impl AsRef<[u8]>) -> String {
    bs58::encode(bytes).into_string()
}
