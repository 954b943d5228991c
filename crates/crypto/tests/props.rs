//! Properties over arbitrary input: parsers and verifiers never panic, and signatures made
//! by any key over any message verify under that key only.

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use proptest::prelude::*;

fn key_type() -> impl Strategy<Value = KeyType> {
    prop_oneof![Just(KeyType::K256), Just(KeyType::P256)]
}

proptest! {
    #[test]
    fn key_parsers_never_panic(s in ".{0,120}", b58 in "[1-9A-HJ-NP-Za-km-z]{0,100}") {
        let _ = PublicKey::parse_did_key(&s);
        let _ = PublicKey::parse_multikey(&s);
        let _ = PublicKey::parse_multikey(&format!("z{b58}"));
        let _ = PublicKey::parse_did_key(&format!("did:key:z{b58}"));
        let _ = PublicKey::from_legacy_multibase(KeyType::K256, &format!("z{b58}"));
        let _ = PublicKey::from_legacy_multibase(KeyType::P256, &format!("z{b58}"));
        let _ = SigningKey::from_hex(KeyType::K256, &s);
    }

    #[test]
    fn sec1_and_private_key_bytes_never_panic(kt in key_type(), bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = PublicKey::from_sec1(kt, &bytes);
        let _ = SigningKey::from_bytes(kt, &bytes);
    }

    #[test]
    fn signatures_verify_under_their_key_only(
        kt in key_type(),
        secret in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..300),
        junk in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        // Scalars out of range are rare; those cases only check the error path.
        let Ok(key) = SigningKey::from_bytes(kt, &secret) else { return Ok(()); };
        let public = key.public_key();
        let sig = key.sign(&msg);
        prop_assert!(public.verify(&msg, &sig).is_ok());
        let mut other = msg.clone();
        other.push(0);
        prop_assert!(public.verify(&other, &sig).is_err());
        prop_assert!(public.verify(&msg, &junk).is_err());
        prop_assert_eq!(PublicKey::parse_did_key(&public.to_did_key()), Ok(public));
    }
}
