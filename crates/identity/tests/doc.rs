//! DID document reading: the fields atproto takes from a document, and what it refuses.

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_identity::{DidDocument, IdentityError};
use aerie_syntax::Did;
use serde_json::{Value, json};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn did() -> Did {
    Did::parse(DID).unwrap()
}

fn parse(doc: &Value) -> Result<DidDocument, IdentityError> {
    DidDocument::from_json(&did(), doc.to_string().as_bytes())
}

/// A document as a PLC directory renders it, with `key` as `#atproto`.
fn plc_doc(key: &PublicKey) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID,
        "alsoKnownAs": ["at://alice.example.com"],
        "verificationMethod": [{
            "id": format!("{DID}#atproto"),
            "type": "Multikey",
            "controller": DID,
            "publicKeyMultibase": key.to_multikey(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com",
        }],
    })
}

fn key(kind: KeyType) -> PublicKey {
    SigningKey::generate(kind).unwrap().public_key()
}

#[test]
fn plc_rendered_document_yields_handle_key_and_pds() {
    let k = key(KeyType::K256);
    let doc = parse(&plc_doc(&k)).unwrap();
    assert_eq!(doc.handle().unwrap().as_str(), "alice.example.com");
    assert_eq!(doc.signing_key().unwrap(), k);
    assert_eq!(
        doc.pds_endpoint().as_deref(),
        Some("https://pds.example.com")
    );
}

#[test]
fn document_round_trips_through_serde() {
    let doc = parse(&plc_doc(&key(KeyType::P256))).unwrap();
    let again: DidDocument = serde_json::from_value(serde_json::to_value(&doc).unwrap()).unwrap();
    assert_eq!(doc, again);
}

#[test]
fn id_must_be_the_resolved_did() {
    let mut doc = plc_doc(&key(KeyType::K256));
    doc["id"] = json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa");
    assert!(matches!(
        parse(&doc),
        Err(IdentityError::DocumentIdMismatch { .. })
    ));
}

#[test]
fn invalid_id_or_shape_is_malformed() {
    for doc in [
        json!({"id": "not a did"}),
        json!({"alsoKnownAs": []}),
        json!({"id": DID, "alsoKnownAs": "at://alice.example.com"}),
        json!([1, 2]),
    ] {
        assert!(
            matches!(parse(&doc), Err(IdentityError::MalformedDocument { .. })),
            "{doc}"
        );
    }
}

#[test]
fn oversized_document_is_refused_before_parsing() {
    let mut doc = plc_doc(&key(KeyType::K256));
    doc["padding"] = json!("x".repeat(aerie_identity::MAX_DOCUMENT_BYTES));
    assert!(matches!(
        parse(&doc),
        Err(IdentityError::MalformedDocument { .. })
    ));
}

#[test]
fn handle_is_first_valid_at_uri_entry() {
    let k = key(KeyType::K256);
    let check = |aka: Value, expect: Option<&str>| {
        let mut doc = plc_doc(&k);
        doc["alsoKnownAs"] = aka.clone();
        let doc = parse(&doc).unwrap();
        assert_eq!(
            doc.handle().map(|h| h.into_string()).as_deref(),
            expect,
            "{aka}"
        );
    };
    check(
        json!(["https://alice.example.com", "at://bob.example.com"]),
        Some("bob.example.com"),
    );
    check(
        json!(["at://not_a_handle", "at://Carol.Example.com"]),
        Some("carol.example.com"),
    );
    // Something after the handle makes it an AT-URI of a record, not a handle claim.
    check(
        json!(["at://alice.example.com/app.bsky.feed.post/3k"]),
        None,
    );
    check(json!(["at://did:plc:ewvi7nxzyoun6zhxrhs64oiz"]), None);
    check(json!([]), None);
}

#[test]
fn relative_and_absolute_ids_both_match() {
    let k = key(KeyType::P256);
    let mut doc = plc_doc(&k);
    doc["verificationMethod"][0]["id"] = json!("#atproto");
    doc["service"][0]["id"] = json!(format!("{DID}#atproto_pds"));
    let doc = parse(&doc).unwrap();
    assert_eq!(doc.signing_key().unwrap(), k);
    assert_eq!(
        doc.pds_endpoint().as_deref(),
        Some("https://pds.example.com")
    );
}

#[test]
fn ids_of_another_did_do_not_match() {
    let mut doc = plc_doc(&key(KeyType::K256));
    doc["verificationMethod"][0]["id"] = json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto");
    doc["service"][0]["id"] = json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto_pds");
    let doc = parse(&doc).unwrap();
    assert!(matches!(
        doc.signing_key(),
        Err(IdentityError::NoSigningKey { detail: None, .. })
    ));
    assert_eq!(doc.pds_endpoint(), None);
}

#[test]
fn legacy_verification_method_types_are_read() {
    for kind in [KeyType::K256, KeyType::P256] {
        let k = key(kind);
        let mut doc = plc_doc(&k);
        doc["verificationMethod"][0]["type"] = json!(kind.legacy_did_doc_suite());
        doc["verificationMethod"][0]["publicKeyMultibase"] = json!(format!(
            "z{}",
            bs58::encode(k.to_sec1_uncompressed()).into_string()
        ));
        assert_eq!(parse(&doc).unwrap().signing_key().unwrap(), k, "{kind}");
    }
}

#[test]
fn unusable_signing_keys_are_errors_with_detail() {
    let k = key(KeyType::K256);
    let cases = [
        ("type", json!("JsonWebKey2020")),
        ("publicKeyMultibase", json!("zNotAKey")),
        ("publicKeyMultibase", Value::Null),
        ("controller", json!("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")),
    ];
    for (field, value) in cases {
        let mut doc = plc_doc(&k);
        if value.is_null() {
            doc["verificationMethod"][0]
                .as_object_mut()
                .unwrap()
                .remove(field);
        } else {
            doc["verificationMethod"][0][field] = value.clone();
        }
        let err = parse(&doc).unwrap().signing_key().unwrap_err();
        assert!(
            matches!(
                err,
                IdentityError::NoSigningKey {
                    detail: Some(_),
                    ..
                }
            ),
            "{field}={value}: {err}"
        );
    }
}

#[test]
fn pds_endpoint_must_be_a_bare_http_origin_of_the_right_type() {
    let k = key(KeyType::K256);
    let check = |endpoint: Value, kind: &str, expect: Option<&str>| {
        let mut doc = plc_doc(&k);
        doc["service"][0]["serviceEndpoint"] = endpoint.clone();
        doc["service"][0]["type"] = json!(kind);
        let doc = parse(&doc).unwrap();
        assert_eq!(doc.pds_endpoint().as_deref(), expect, "{endpoint} {kind}");
    };
    let pds = "AtprotoPersonalDataServer";
    check(
        json!("https://pds.example.com/"),
        pds,
        Some("https://pds.example.com"),
    );
    check(
        json!("http://localhost:2583"),
        pds,
        Some("http://localhost:2583"),
    );
    check(json!("https://pds.example.com/xrpc"), pds, None);
    check(json!("https://user:pw@pds.example.com"), pds, None);
    check(json!("https://pds.example.com?x=1"), pds, None);
    check(json!("ftp://pds.example.com"), pds, None);
    check(json!("not a url"), pds, None);
    check(json!({"uri": "https://pds.example.com"}), pds, None);
    check(json!("https://pds.example.com"), "BskyAppView", None);
}

#[test]
fn any_service_is_found_by_id() {
    let mut doc = plc_doc(&key(KeyType::K256));
    doc["service"].as_array_mut().unwrap().push(json!({
        "id": "#bsky_appview",
        "type": "BskyAppView",
        "serviceEndpoint": "https://api.example.com",
    }));
    let doc = parse(&doc).unwrap();
    let svc = doc.service("bsky_appview").unwrap();
    assert_eq!(svc.endpoint_str(), Some("https://api.example.com"));
    assert_eq!(
        doc.service_origin("bsky_appview", "BskyAppView").as_deref(),
        Some("https://api.example.com")
    );
    assert!(doc.service("bsky_chat").is_none());
}
