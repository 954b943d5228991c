//! The directory's acceptance rules, driven through the sans-IO validator with time passed in.

use std::collections::BTreeMap;

use aerie_crypto::{KeyType, PublicKey, SigningKey};
use aerie_plc::{
    DocumentData, LegacyCreate, LogEntry, Operation, PlcError, PlcOperation, Service,
    SignedOperation, check_incoming, genesis, validate_next, verify_log,
};
use aerie_syntax::{Datetime, Did, Handle};

fn key(n: u8, key_type: KeyType) -> SigningKey {
    SigningKey::from_bytes(key_type, &[n; 32]).expect("valid scalar")
}

fn at(secs: i64) -> Datetime {
    Datetime::from_unix_micros(1_700_000_000_000_000 + secs * 1_000_000).expect("in range")
}

/// A DID's history under construction: appends accepted ops as the directory would.
struct Chain {
    did: Did,
    log: Vec<LogEntry>,
}

impl Chain {
    /// Genesis with rotation keys [high, low] (k256 and p256, to cover both curves).
    fn new(high: &SigningKey, low: &SigningKey, signer: &SigningKey) -> Chain {
        let (did, op) = genesis(
            &[high.public_key(), low.public_key()],
            &key(9, KeyType::K256).public_key(),
            &Handle::parse("alice.test").expect("handle"),
            "https://pds.test",
            signer,
        )
        .expect("genesis");
        let mut chain = Chain {
            did,
            log: Vec::new(),
        };
        chain.submit(op, at(0)).expect("genesis accepted");
        chain
    }

    fn submit(&mut self, op: SignedOperation, now: Datetime) -> Result<(), PlcError> {
        let accepted = validate_next(&self.did, &self.log, &op, &now)?;
        for e in &mut self.log {
            if accepted.nullified.contains(&e.cid) {
                e.nullified = true;
            }
        }
        self.log.push(LogEntry::new(self.did.clone(), op, now));
        Ok(())
    }

    fn head(&self) -> &SignedOperation {
        &self
            .log
            .iter()
            .rev()
            .find(|e| !e.nullified)
            .expect("non-empty")
            .operation
    }

    fn op(&self, i: usize) -> &SignedOperation {
        &self.log[i].operation
    }
}

/// An update following `prev` with a new handle.
fn rename(prev: &SignedOperation, handle: &str, signer: &SigningKey) -> SignedOperation {
    let mut next = PlcOperation::following(prev).expect("not a tombstone");
    next.also_known_as = vec![format!("at://{handle}")];
    Operation::Plc(next).sign(signer)
}

fn high() -> SigningKey {
    key(1, KeyType::K256)
}

fn low() -> SigningKey {
    key(2, KeyType::P256)
}

#[test]
fn genesis_derives_the_did_from_its_hash() {
    let chain = Chain::new(&high(), &low(), &low());
    assert_eq!(chain.op(0).genesis_did(), chain.did);
    assert!(aerie_plc::is_plc_did(&chain.did));
    let data = verify_log(&chain.did, &[chain.op(0).clone()])
        .expect("valid")
        .expect("live");
    assert_eq!(data.handle(), Some("alice.test"));
    assert_eq!(data.pds_endpoint(), Some("https://pds.test"));
    assert_eq!(
        data.atproto_signing_key(),
        Some(key(9, KeyType::K256).public_key())
    );
}

#[test]
fn genesis_for_another_did_is_rejected() {
    let (_, op) = genesis(
        &[high().public_key()],
        &high().public_key(),
        &Handle::parse("alice.test").expect("handle"),
        "pds.test",
        &high(),
    )
    .expect("genesis");
    let other = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").expect("did");
    let err = validate_next(&other, &[], &op, &at(0)).expect_err("wrong DID");
    assert!(
        matches!(err, PlcError::GenesisHashMismatch { expected } if expected == op.genesis_did())
    );
}

#[test]
fn genesis_must_be_signed_by_its_own_rotation_key() {
    let op = PlcOperation {
        rotation_keys: vec![high().public_key().to_did_key()],
        verification_methods: BTreeMap::new(),
        also_known_as: vec![],
        services: BTreeMap::new(),
        prev: None,
    };
    let signed = Operation::Plc(op).sign(&low());
    let did = signed.genesis_did();
    assert!(matches!(
        validate_next(&did, &[], &signed, &at(0)),
        Err(PlcError::InvalidSignature { .. })
    ));
    // The helper refuses to build such an operation at all.
    let err = genesis(
        &[high().public_key()],
        &high().public_key(),
        &Handle::parse("a.test").expect("handle"),
        "https://pds.test",
        &low(),
    );
    assert!(matches!(err, Err(PlcError::SignerNotRotationKey { .. })));
}

#[test]
fn genesis_cannot_be_a_tombstone_or_have_prev() {
    let chain = Chain::new(&high(), &low(), &high());
    let tomb = Operation::Tombstone {
        prev: chain.op(0).cid().to_string(),
    }
    .sign(&high());
    assert!(matches!(
        validate_next(&tomb.genesis_did(), &[], &tomb, &at(0)),
        Err(PlcError::ImproperGenesis(_))
    ));
    let with_prev = rename(chain.op(0), "b.test", &high());
    assert!(matches!(
        validate_next(&with_prev.genesis_did(), &[], &with_prev, &at(0)),
        Err(PlcError::ImproperGenesis(_))
    ));
}

#[test]
fn update_by_any_current_rotation_key_is_accepted() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let op = rename(chain.head(), "bob.test", &low());
    chain.submit(op, at(10)).expect("low key may update");
    let op = rename(chain.head(), "carol.test", &high());
    chain.submit(op, at(20)).expect("high key may update");
    let ops: Vec<_> = chain.log.iter().map(|e| e.operation.clone()).collect();
    let data = verify_log(&chain.did, &ops).expect("valid").expect("live");
    assert_eq!(data.handle(), Some("carol.test"));
}

#[test]
fn update_by_a_key_outside_rotation_keys_is_rejected() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let attacker = key(7, KeyType::K256);
    let op = rename(chain.head(), "evil.test", &attacker);
    assert!(matches!(
        chain.submit(op, at(10)),
        Err(PlcError::InvalidSignature { .. })
    ));
    // The signing key (verification method) is not a rotation key either.
    let op = rename(chain.head(), "evil.test", &key(9, KeyType::K256));
    assert!(matches!(
        chain.submit(op, at(10)),
        Err(PlcError::InvalidSignature { .. })
    ));
}

#[test]
fn prev_must_name_an_operation_in_history() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let mut op = PlcOperation::following(chain.head()).expect("live");
    op.prev = Some("bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".to_owned());
    assert!(matches!(
        chain.submit(Operation::Plc(op).sign(&high()), at(1)),
        Err(PlcError::Misordered { .. })
    ));
    let mut op = PlcOperation::following(chain.head()).expect("live");
    op.prev = Some("not a cid".to_owned());
    assert!(matches!(
        chain.submit(Operation::Plc(op).sign(&high()), at(1)),
        Err(PlcError::Misordered { .. })
    ));
    let mut op = PlcOperation::following(chain.head()).expect("live");
    op.prev = None;
    assert!(matches!(
        chain.submit(Operation::Plc(op).sign(&high()), at(1)),
        Err(PlcError::ImproperGenesis(_))
    ));
}

#[test]
fn recovery_by_higher_key_within_72h_nullifies_later_ops() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let genesis_op = chain.op(0).clone();
    chain
        .submit(rename(&genesis_op, "hijacked.test", &low()), at(100))
        .expect("low update");
    chain
        .submit(rename(chain.head(), "hijacked2.test", &low()), at(200))
        .expect("low update");

    let recovery = rename(&genesis_op, "recovered.test", &high());
    chain
        .submit(recovery.clone(), at(100 + 72 * 3600))
        .expect("recovery just inside the window");
    let flags: Vec<bool> = chain.log.iter().map(|e| e.nullified).collect();
    assert_eq!(flags, [false, true, true, false]);
    assert_eq!(chain.head(), &recovery);
}

#[test]
fn recovery_after_72h_is_rejected() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let genesis_op = chain.op(0).clone();
    chain
        .submit(rename(&genesis_op, "hijacked.test", &low()), at(100))
        .expect("low update");
    let recovery = rename(&genesis_op, "recovered.test", &high());
    let err = chain
        .submit(recovery, at(100 + 72 * 3600 + 1))
        .expect_err("too late");
    assert!(matches!(err, PlcError::LateRecovery { lapsed_secs } if lapsed_secs == 72 * 3600 + 1));
}

#[test]
fn fork_by_equal_or_lower_authority_is_rejected() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let genesis_op = chain.op(0).clone();
    chain
        .submit(rename(&genesis_op, "b.test", &low()), at(10))
        .expect("low update");
    // The same key cannot rewrite its own operation.
    let fork = rename(&genesis_op, "c.test", &low());
    assert!(matches!(
        chain.submit(fork, at(20)),
        Err(PlcError::InvalidSignature { .. })
    ));
    // Nobody outranks the top key.
    chain
        .submit(rename(chain.head(), "d.test", &high()), at(30))
        .expect("high update");
    let fork = rename(chain.op(1), "e.test", &high());
    assert!(matches!(
        chain.submit(fork, at(40)),
        Err(PlcError::InvalidSignature { .. })
    ));
}

#[test]
fn operations_after_a_tombstone_are_rejected() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let tomb = Operation::Tombstone {
        prev: chain.head().cid().to_string(),
    }
    .sign(&low());
    chain.submit(tomb.clone(), at(10)).expect("tombstone");
    let after = Operation::Tombstone {
        prev: tomb.cid().to_string(),
    }
    .sign(&high());
    assert!(matches!(
        chain.submit(after, at(20)),
        Err(PlcError::Tombstoned)
    ));
    let ops: Vec<_> = chain.log.iter().map(|e| e.operation.clone()).collect();
    assert_eq!(verify_log(&chain.did, &ops).expect("valid"), None);
    assert_eq!(
        DocumentData::from_operation(&chain.did, tomb.operation()),
        None
    );
}

#[test]
fn tombstone_can_be_undone_by_recovery() {
    let mut chain = Chain::new(&high(), &low(), &high());
    let genesis_op = chain.op(0).clone();
    let tomb = Operation::Tombstone {
        prev: genesis_op.cid().to_string(),
    }
    .sign(&low());
    chain.submit(tomb, at(10)).expect("tombstone");
    chain
        .submit(rename(&genesis_op, "back.test", &high()), at(20))
        .expect("recovery");
    assert!(chain.log[1].nullified);
}

#[test]
fn legacy_create_genesis_verifies_but_is_refused_anew() {
    let signing = key(3, KeyType::K256);
    let recovery = key(4, KeyType::K256);
    let op = Operation::LegacyCreate(LegacyCreate {
        signing_key: signing.public_key().to_did_key(),
        recovery_key: recovery.public_key().to_did_key(),
        handle: "old.test".to_owned(),
        service: "https://pds.test".to_owned(),
    })
    .sign(&signing);
    let did = op.genesis_did();
    validate_next(&did, &[], &op, &at(0)).expect("legacy genesis is valid history");
    let data = verify_log(&did, std::slice::from_ref(&op))
        .expect("valid")
        .expect("live");
    assert_eq!(
        data.rotation_keys,
        [
            recovery.public_key().to_did_key(),
            signing.public_key().to_did_key()
        ]
    );
    assert!(matches!(check_incoming(&op), Err(PlcError::LegacyCreate)));
}

fn base_op() -> PlcOperation {
    PlcOperation {
        rotation_keys: vec![high().public_key().to_did_key()],
        verification_methods: BTreeMap::from([(
            "atproto".to_owned(),
            low().public_key().to_did_key(),
        )]),
        also_known_as: vec!["at://alice.test".to_owned()],
        services: BTreeMap::new(),
        prev: None,
    }
}

fn incoming(op: PlcOperation) -> Result<(), PlcError> {
    check_incoming(&Operation::Plc(op).sign(&high()))
}

#[test]
fn incoming_limits_match_the_directory() {
    incoming(base_op()).expect("baseline passes");

    let mut op = base_op();
    op.rotation_keys = (10..16)
        .map(|n| key(n, KeyType::K256).public_key().to_did_key())
        .collect();
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "six rotation keys"
    );

    let mut op = base_op();
    op.rotation_keys.clear();
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "no rotation keys"
    );

    let mut op = base_op();
    op.rotation_keys.push(op.rotation_keys[0].clone());
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "duplicate rotation key"
    );

    let mut op = base_op();
    op.rotation_keys
        .push("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK".to_owned());
    assert!(
        matches!(incoming(op), Err(PlcError::InvalidRotationKey { .. })),
        "ed25519 rotation key"
    );

    let mut op = base_op();
    op.also_known_as.push("at://alice.test".to_owned());
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "duplicate alias"
    );

    let mut op = base_op();
    op.also_known_as = (0..11).map(|i| format!("at://{i}.test")).collect();
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "eleven aliases"
    );

    // Any did:key type is fine as a verification method, but it must be did:key + base58btc.
    let mut op = base_op();
    op.verification_methods.insert(
        "ed".to_owned(),
        "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK".to_owned(),
    );
    incoming(op).expect("ed25519 verification method allowed");
    let mut op = base_op();
    op.verification_methods
        .insert("bad".to_owned(), "did:key:z0OIl".to_owned());
    assert!(matches!(
        incoming(op),
        Err(PlcError::InvalidVerificationMethod { .. })
    ));
    let mut op = base_op();
    op.verification_methods
        .insert("x".repeat(33), low().public_key().to_did_key());
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "long method id"
    );

    let mut op = base_op();
    op.services.insert(
        "s".to_owned(),
        Service {
            service_type: "T".to_owned(),
            endpoint: "e".repeat(513),
        },
    );
    assert!(
        matches!(incoming(op), Err(PlcError::Constraint(_))),
        "long endpoint"
    );
}

#[test]
fn operations_over_7500_bytes_are_rejected() {
    let mut op = base_op();
    for i in 0..10 {
        op.services.insert(
            format!("service{i}"),
            Service {
                service_type: "T".repeat(200),
                endpoint: "e".repeat(500),
            },
        );
    }
    let signed = Operation::Plc(op).sign(&high());
    let size = signed.to_cbor().len();
    assert!(size > 7500, "{size}");
    assert!(matches!(
        check_incoming(&signed),
        Err(PlcError::TooLarge { max: 7500, .. })
    ));
}

#[test]
fn did_document_renders_multikey_methods_and_services() {
    let chain = Chain::new(&high(), &low(), &high());
    let data = DocumentData::from_operation(&chain.did, chain.op(0).operation()).expect("live");
    let doc = data.to_did_document();
    let did = chain.did.as_str();
    assert_eq!(doc["id"], did);
    assert_eq!(doc["@context"][0], "https://www.w3.org/ns/did/v1");
    assert_eq!(doc["@context"][1], "https://w3id.org/security/multikey/v1");
    assert_eq!(
        doc["@context"][2],
        "https://w3id.org/security/suites/secp256k1-2019/v1"
    );
    let vm = &doc["verificationMethod"][0];
    assert_eq!(vm["id"], format!("{did}#atproto"));
    assert_eq!(vm["type"], "Multikey");
    assert_eq!(vm["controller"], did);
    let multibase = vm["publicKeyMultibase"].as_str().expect("string");
    assert_eq!(
        PublicKey::parse_multikey(multibase),
        Ok(key(9, KeyType::K256).public_key())
    );
    assert_eq!(doc["service"][0]["id"], "#atproto_pds");
    assert_eq!(doc["service"][0]["type"], "AtprotoPersonalDataServer");
    assert_eq!(doc["service"][0]["serviceEndpoint"], "https://pds.test");
    assert_eq!(doc["alsoKnownAs"][0], "at://alice.test");

    let json = data.to_json();
    assert_eq!(json["did"], did);
    assert_eq!(json["rotationKeys"][0], high().public_key().to_did_key());
    assert_eq!(
        json["services"]["atproto_pds"]["endpoint"],
        "https://pds.test"
    );
}
