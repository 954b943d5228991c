//! Whatever arrives in an `Authorization` header or a fetched document, parsing returns an
//! answer and never panics.

use aerie_crypto::{KeyType, SigningKey};
use aerie_identity::DidDocument;
use aerie_identity::service_auth::{self, Audience, Expectations, MintRequest};
use aerie_syntax::Did;
use proptest::prelude::*;

fn token() -> String {
    let key = SigningKey::from_hex(
        KeyType::K256,
        "9085d2bef69286a6cbb51623c8fa258629945cd55ca705cc4e66700396894e0c",
    )
    .unwrap();
    service_auth::mint(
        &key,
        &MintRequest {
            iss: &Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap(),
            aud: "did:web:pds.example.com",
            lxm: None,
            iat: 0,
            exp: 60,
        },
    )
    .unwrap()
}

fn check_token(text: &str) {
    let aud = Audience::new(Did::parse("did:web:pds.example.com").unwrap());
    let expect = Expectations {
        audience: Some(&aud),
        lxm: Some("com.atproto.repo.uploadBlob"),
        now: 30,
    };
    if let Ok(t) = service_auth::decode(text) {
        let _ = t.check_claims(&expect);
        let key = SigningKey::generate(KeyType::P256).unwrap().public_key();
        let _ = t.verify_signature(&key);
    }
}

proptest! {
    #[test]
    fn arbitrary_text_is_never_a_panic(text in ".{0,600}") {
        check_token(&text);
    }

    #[test]
    fn mutated_tokens_are_never_a_panic(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
        let mut bytes = token().into_bytes();
        let pos = pos % bytes.len();
        bytes[pos] = byte;
        bytes.truncate(bytes.len() - cut % bytes.len());
        check_token(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_document_bytes_are_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let did = Did::parse("did:web:example.com").unwrap();
        if let Ok(doc) = DidDocument::from_json(&did, &bytes) {
            let _ = (doc.handle(), doc.signing_key(), doc.pds_endpoint());
        }
    }

    #[test]
    fn json_shaped_documents_are_never_a_panic(
        aka in proptest::collection::vec(".{0,40}", 0..4),
        vm_id in ".{0,30}",
        vm_type in prop_oneof![Just("Multikey".to_owned()), Just("EcdsaSecp256k1VerificationKey2019".to_owned()), ".{0,20}"],
        multibase in ".{0,120}",
        endpoint in ".{0,80}",
    ) {
        let doc = serde_json::json!({
            "id": "did:web:example.com",
            "alsoKnownAs": aka,
            "verificationMethod": [{"id": vm_id, "type": vm_type, "controller": "did:web:example.com", "publicKeyMultibase": multibase}],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": endpoint}],
        });
        let did = Did::parse("did:web:example.com").unwrap();
        let doc = DidDocument::from_json(&did, doc.to_string().as_bytes()).unwrap();
        let _ = (doc.handle(), doc.signing_key(), doc.pds_endpoint(), doc.key(&vm_id));
    }
}
