//! Full verification of repository CARs: each rule, broken once.

use aerie_crypto::{KeyType, SigningKey};
use aerie_data::Cid;
use aerie_repo::Error;
use aerie_repo::car::write_car;
use aerie_repo::commit::UnsignedCommit;
use aerie_repo::mst::{EntryData, Key, MstError, NodeData, layer_of};
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car};
use aerie_syntax::{Did, Tid};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn record() -> Vec<u8> {
    let mut w = aerie_data::drisl::Writer::new();
    w.map(1).text("$type").text("app.bsky.feed.like");
    w.into_inner()
}

/// A CAR with the given roots whose commit points at `data`, plus `blocks`.
fn car(key: &SigningKey, data: Cid, roots: Option<Vec<Cid>>, blocks: &[(Cid, Vec<u8>)]) -> Vec<u8> {
    let commit = UnsignedCommit {
        did: Did::parse(DID).unwrap(),
        data,
        rev: Tid::from_parts(1_700_000_000_000_000, 1).unwrap(),
        prev: None,
    }
    .sign(key);
    let (ccid, cbytes) = commit.to_block();
    let mut all = vec![(ccid, cbytes)];
    all.extend(blocks.iter().cloned());
    let roots = roots.unwrap_or(vec![ccid]);
    write_car(&roots, all.iter().map(|(c, b)| (c, b.as_slice())))
}

fn leaf(keys: &[&str], value: Cid) -> (Cid, Vec<u8>) {
    let node = NodeData {
        left: None,
        entries: keys
            .iter()
            .map(|k| EntryData {
                key: Key::parse(k).unwrap(),
                value,
                right: None,
            })
            .collect(),
    };
    let bytes = node.encode();
    (Cid::for_cbor(&bytes), bytes)
}

fn check(bytes: &[u8], key: Option<&SigningKey>) -> Result<aerie_repo::verify::Verified, Error> {
    let options = VerifyOptions {
        key: key.map(|k| k.public_key()),
        ..VerifyOptions::default()
    };
    verify_car(bytes, &options)
}

/// Keys of layer 0, so a single leaf holding them is canonical.
fn layer0_keys(n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("app.bsky.feed.like/k{i}"))
        .filter(|k| layer_of(k.as_bytes()) == 0)
        .take(n)
        .collect()
}

#[test]
fn a_canonical_single_leaf_repository_verifies() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let rec = record();
    let rcid = Cid::for_cbor(&rec);
    let keys = layer0_keys(3);
    let (ncid, node) = leaf(&keys.iter().map(String::as_str).collect::<Vec<_>>(), rcid);
    let extra = (Cid::for_raw(b"unrelated"), b"unrelated".to_vec());
    let bytes = car(
        &key,
        ncid,
        None,
        &[(ncid, node.clone()), (rcid, rec), extra.clone(), extra],
    );
    let v = check(&bytes, Some(&key)).unwrap();
    assert_eq!(v.report.signature, SignatureCheck::Valid);
    assert_eq!(v.report.records, 3);
    assert_eq!(v.report.mst_nodes, 1);
    assert_eq!(v.report.unreferenced_blocks, 1);
    assert_eq!(v.report.duplicate_blocks, 1);
}

#[test]
fn key_in_the_wrong_layer_is_not_canonical() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let rec = record();
    let rcid = Cid::for_cbor(&rec);
    let high = (0..)
        .map(|i| format!("app.bsky.feed.like/h{i}"))
        .find(|k| layer_of(k.as_bytes()) > 0)
        .unwrap();
    let mut keys = layer0_keys(2);
    keys.push(high);
    keys.sort();
    let (ncid, node) = leaf(&keys.iter().map(String::as_str).collect::<Vec<_>>(), rcid);
    let bytes = car(&key, ncid, None, &[(ncid, node), (rcid, rec)]);
    assert!(matches!(
        check(&bytes, Some(&key)),
        Err(Error::Mst(MstError::NotCanonical { .. }))
    ));
}

#[test]
fn missing_mst_node_is_refused() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let (ncid, _) = leaf(&[layer0_keys(1)[0].as_str()], Cid::for_cbor(&record()));
    let bytes = car(&key, ncid, None, &[]);
    assert!(matches!(check(&bytes, None), Err(Error::Mst(MstError::MissingBlock(c))) if c == ncid));
}

#[test]
fn two_roots_are_refused() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let empty = aerie_repo::mst::empty_root_cid();
    let one = car(&key, empty, None, &[]);
    let root = aerie_repo::car::CarReader::new(one.as_slice())
        .unwrap()
        .roots()[0];
    let bytes = car(&key, empty, Some(vec![root, root]), &[]);
    assert!(matches!(check(&bytes, None), Err(Error::RootCount(2))));
    let bytes = car(&key, empty, Some(vec![]), &[]);
    assert!(matches!(check(&bytes, None), Err(Error::RootCount(0))));
}

#[test]
fn root_that_is_not_a_commit_is_refused() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let rec = record();
    let rcid = Cid::for_cbor(&rec);
    let bytes = car(
        &key,
        aerie_repo::mst::empty_root_cid(),
        Some(vec![rcid]),
        &[(rcid, rec)],
    );
    assert!(matches!(
        check(&bytes, None),
        Err(Error::CommitDecode { .. })
    ));
}

#[test]
fn commit_for_another_did_is_refused_when_did_is_given() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let empty = aerie_repo::mst::empty_root_cid();
    let bytes = car(
        &key,
        empty,
        None,
        &[(empty, vec![0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6])],
    );
    let options = VerifyOptions {
        did: Some(Did::parse("did:web:example.com").unwrap()),
        ..VerifyOptions::default()
    };
    assert!(matches!(
        verify_car(bytes.as_slice(), &options),
        Err(Error::WrongDid { .. })
    ));
    let v = check(&bytes, None).unwrap();
    assert_eq!(v.report.signature, SignatureCheck::NotChecked);
    assert_eq!(v.report.records, 0);
}

#[test]
fn wrong_key_is_reported_not_accepted() {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let other = SigningKey::generate(KeyType::K256).unwrap();
    let empty = aerie_repo::mst::empty_root_cid();
    let bytes = car(
        &key,
        empty,
        None,
        &[(empty, vec![0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6])],
    );
    let v = check(&bytes, Some(&other)).unwrap();
    assert!(matches!(v.report.signature, SignatureCheck::Invalid(_)));
}
