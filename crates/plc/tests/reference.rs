//! Byte-for-byte agreement with the did:plc reference library (@did-plc/lib 0.0.4).
//!
//! The vectors below were printed by `tests/reference/gen.sh` (which installs the library
//! outside the repository and runs `gen.mjs`) from fixed keys; secp256k1 signing there is
//! deterministic, so our operations must come out identical: same JSON, same signature,
//! same CID, same DID. The reference also accepted each chain before printing it.

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_plc::{
    LegacyCreate, LogEntry, Operation, PlcOperation, SignedOperation, genesis, validate_next,
    verify_log,
};
use aerie_syntax::{Datetime, Did, Handle};

const DID: &str = "did:plc:e2ahth2wdx2hfwsvmq76ye32";
const GENESIS: &str = r#"{"type":"plc_operation","verificationMethods":{"atproto":"did:key:zQ3shT1GokQF68docxRmRpQTjnaB66odZYc2tfAv6YMNJqS7g"},"rotationKeys":["did:key:zQ3shgVXZLaMzm5S5x7XzGUG6YFHFLtoEMiv9ao2Bqa7hGyg2","did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb"],"alsoKnownAs":["at://alice.test"],"services":{"atproto_pds":{"type":"AtprotoPersonalDataServer","endpoint":"https://pds.test"}},"prev":null,"sig":"guUtEDsJvchjaT9RAA1_ByILiI6KaDfCu0R-eyC-zxkVLIzz60NWxwpILmiH-6DfJoWKLftovNjZUAXRRaeGUQ"}"#;
const GENESIS_CID: &str = "bafyreibgqb4z6vq56rznuvleh7wbg6xk7lo4bfjjtxvim5ynpd7k6pfyt4";
const HANDLE: &str = r#"{"type":"plc_operation","verificationMethods":{"atproto":"did:key:zQ3shT1GokQF68docxRmRpQTjnaB66odZYc2tfAv6YMNJqS7g"},"rotationKeys":["did:key:zQ3shgVXZLaMzm5S5x7XzGUG6YFHFLtoEMiv9ao2Bqa7hGyg2","did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb"],"alsoKnownAs":["at://bob.test"],"services":{"atproto_pds":{"type":"AtprotoPersonalDataServer","endpoint":"https://pds.test"}},"prev":"bafyreibgqb4z6vq56rznuvleh7wbg6xk7lo4bfjjtxvim5ynpd7k6pfyt4","sig":"qy31EyRGUHEhaVvSNLwx36vYq637X4WRNKSeuy7T_gUktTq3x6Srg08lyzLCNN-YCvm5cM2dL2OgEzTTdizHyA"}"#;
const HANDLE_CID: &str = "bafyreigbnv7b6ix2cyc4gxeeqfz3ps3u4yy7eicguqcplgqkjoqlhubvci";
const TOMBSTONE: &str = r#"{"type":"plc_tombstone","prev":"bafyreigbnv7b6ix2cyc4gxeeqfz3ps3u4yy7eicguqcplgqkjoqlhubvci","sig":"Rl4jiHnK7XQOjJT0d6E18f3KvWCWgOPs53uC95rxkZljLvJEPqXaMgUtMb_7x_9-K85i4XO5GZO4Tb3x4-tZuA"}"#;
const TOMBSTONE_CID: &str = "bafyreih4ywvu3nf67hgk227d4p4hb66cc5rbq5p2qyckbi75hjsfdlom24";
const LEGACY: &str = r#"{"type":"create","signingKey":"did:key:zQ3shT1GokQF68docxRmRpQTjnaB66odZYc2tfAv6YMNJqS7g","recoveryKey":"did:key:zQ3shgVXZLaMzm5S5x7XzGUG6YFHFLtoEMiv9ao2Bqa7hGyg2","handle":"old.test","service":"https://pds.test","prev":null,"sig":"zgY5puPVywMABbXVdjfbBwFxy-ozw6BpxOrLZJnqk5UYtX8rmE88gelMdv7XWPqzMvVxFXcR6tRN7dUhcxfuhQ"}"#;
const LEGACY_CID: &str = "bafyreihi7ylcwg7ip5vzjzprynjkjlynwjsrsj4ogjovi27b2h3bbowu3m";
const LEGACY_DID: &str = "did:plc:5d7bmky35b7wxfhf6hbvfjfp";
/// The P-256 key of the interop fixture `crypto/w3c_didkey_P256.json`.
const P256_ROTATION: &str = "did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb";

fn k256(byte: u8) -> SigningKey {
    SigningKey::from_bytes(KeyType::K256, &[byte; 32]).expect("valid scalar")
}

fn reference(json: &str) -> SignedOperation {
    SignedOperation::from_json(&serde_json::from_str(json).expect("JSON")).expect("operation")
}

#[test]
fn genesis_matches_reference_byte_for_byte() {
    let rotation = k256(1);
    let p256 = PublicKey::parse_did_key(P256_ROTATION).expect("p256 did:key");
    let (did, op) = genesis(
        &[rotation.public_key(), p256],
        &k256(3).public_key(),
        &Handle::parse("alice.test").expect("handle"),
        "https://pds.test",
        &rotation,
    )
    .expect("genesis");
    let expected = reference(GENESIS);
    assert_eq!(op, expected);
    assert_eq!(
        op.to_json(),
        serde_json::from_str::<serde_json::Value>(GENESIS).expect("JSON")
    );
    assert_eq!(op.cid().to_string(), GENESIS_CID);
    assert_eq!(did.as_str(), DID);
}

#[test]
fn update_and_tombstone_match_reference() {
    let rotation = k256(1);
    let genesis_op = reference(GENESIS);
    let mut next = PlcOperation::following(&genesis_op).expect("live");
    next.also_known_as = vec!["at://bob.test".to_owned()];
    let handle = Operation::Plc(next).sign(&rotation);
    assert_eq!(handle, reference(HANDLE));
    assert_eq!(handle.cid().to_string(), HANDLE_CID);

    let tomb = Operation::Tombstone {
        prev: handle.cid().to_string(),
    }
    .sign(&rotation);
    assert_eq!(tomb, reference(TOMBSTONE));
    assert_eq!(tomb.cid().to_string(), TOMBSTONE_CID);
}

#[test]
fn reference_chain_is_accepted_op_by_op() {
    let did = Did::parse(DID).expect("did");
    let ops = [reference(GENESIS), reference(HANDLE), reference(TOMBSTONE)];
    let mut log: Vec<LogEntry> = Vec::new();
    let now = Datetime::parse("2026-01-01T00:00:00.000Z").expect("datetime");
    for op in &ops {
        let accepted = validate_next(&did, &log, op, &now).expect("reference op accepted");
        assert!(accepted.nullified.is_empty());
        log.push(LogEntry::new(did.clone(), op.clone(), now.clone()));
    }
    assert_eq!(
        verify_log(&did, &ops).expect("valid chain"),
        None,
        "ends tombstoned"
    );
}

#[test]
fn legacy_create_matches_reference() {
    let signing = k256(3);
    let op = Operation::LegacyCreate(LegacyCreate {
        signing_key: signing.public_key().to_did_key(),
        recovery_key: k256(1).public_key().to_did_key(),
        handle: "old.test".to_owned(),
        service: "https://pds.test".to_owned(),
    })
    .sign(&signing);
    assert_eq!(op, reference(LEGACY));
    assert_eq!(op.cid().to_string(), LEGACY_CID);
    assert_eq!(op.genesis_did().as_str(), LEGACY_DID);
    let did = Did::parse(LEGACY_DID).expect("did");
    let data = verify_log(&did, &[op]).expect("valid").expect("live");
    assert_eq!(data.also_known_as, ["at://old.test"]);
}
