//! The atproto interop fixtures under `crypto/`: every case must pass.

use aerie_crypto::{CryptoError, KeyType, PublicKey, SigningKey};
use data_encoding::{BASE64, BASE64_NOPAD};

fn field<'a>(case: &'a serde_json::Value, name: &str) -> &'a str {
    case[name]
        .as_str()
        .unwrap_or_else(|| panic!("fixture case lacks string {name}: {case}"))
}

/// The fixtures write standard base64 without padding; tolerate padding should it appear.
fn b64(s: &str) -> Vec<u8> {
    BASE64_NOPAD
        .decode(s.as_bytes())
        .or_else(|_| BASE64.decode(s.as_bytes()))
        .unwrap_or_else(|e| panic!("fixture base64 {s}: {e}"))
}

#[test]
fn signature_fixtures_verify_exactly_when_valid() {
    let cases = aerie_interop::json_cases("crypto/signature-fixtures.json");
    for case in &cases {
        let comment = field(case, "comment");
        let key_type = KeyType::from_jwt_alg(field(case, "algorithm")).expect("known alg");
        let msg = b64(field(case, "messageBase64"));
        let sig = b64(field(case, "signatureBase64"));
        let valid = case["validSignature"].as_bool().expect("validSignature");
        let tags: Vec<&str> = case["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t.as_str())
            .collect();

        let from_did = PublicKey::parse_did_key(field(case, "publicKeyDid")).expect(comment);
        assert_eq!(from_did.key_type(), key_type, "{comment}");
        assert_eq!(
            from_did.to_did_key(),
            field(case, "publicKeyDid"),
            "{comment}: did:key round trip"
        );

        let suite = field(case, "didDocSuite");
        assert_eq!(suite, key_type.legacy_did_doc_suite(), "{comment}");
        let from_doc =
            PublicKey::from_verification_method(suite, field(case, "publicKeyMultibase"))
                .expect("legacy suite is known")
                .expect(comment);
        assert_eq!(
            from_doc, from_did,
            "{comment}: legacy multibase names the same key"
        );

        let result = from_did.verify(&msg, &sig);
        if valid {
            assert_eq!(result, Ok(()), "{comment}");
        } else {
            let err = result.expect_err(comment);
            if tags.contains(&"high-s") {
                assert_eq!(err, CryptoError::HighS, "{comment}");
                // The lenient JWT verifier accepts exactly these.
                assert_eq!(
                    from_did.verify_allow_high_s(&msg, &sig),
                    Ok(()),
                    "{comment}"
                );
            }
            if tags.contains(&"der-encoded") {
                assert!(
                    matches!(err, CryptoError::SignatureLength { .. }),
                    "{comment}: {err}"
                );
                assert!(
                    from_did.verify_allow_high_s(&msg, &sig).is_err(),
                    "{comment}"
                );
            }
        }
    }
}

#[test]
fn w3c_did_key_k256_from_hex_private_keys() {
    let cases = aerie_interop::json_cases("crypto/w3c_didkey_K256.json");
    for case in &cases {
        let key =
            SigningKey::from_hex(KeyType::K256, field(case, "privateKeyBytesHex")).expect("key");
        let did_key = field(case, "publicDidKey");
        assert_eq!(key.public_key().to_did_key(), did_key);
        assert_eq!(
            PublicKey::parse_did_key(did_key).expect("parse"),
            key.public_key()
        );
    }
}

#[test]
fn w3c_did_key_p256_from_base58_private_keys() {
    let cases = aerie_interop::json_cases("crypto/w3c_didkey_P256.json");
    for case in &cases {
        let bytes = bs58::decode(field(case, "privateKeyBytesBase58"))
            .into_vec()
            .expect("base58");
        let key = SigningKey::from_bytes(KeyType::P256, &bytes).expect("key");
        let did_key = field(case, "publicDidKey");
        assert_eq!(key.public_key().to_did_key(), did_key);
        assert_eq!(
            PublicKey::parse_did_key(did_key).expect("parse"),
            key.public_key()
        );
    }
}
