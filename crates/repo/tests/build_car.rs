//! `RepoCarWriter`: the whole-repository CAR from records, on any number of threads.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;

use aerie_crypto::{KeyType, SigningKey};
use aerie_data::Cid;
use aerie_repo::build::RepoCarWriter;
use aerie_repo::car::read_car_slice;
use aerie_repo::mst::{Key, Mst, MstError};
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car_bytes};
use aerie_syntax::{Did, Tid};

mod support;

fn did() -> Did {
    Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap()
}

fn rev() -> Tid {
    Tid::from_parts(1_800_000_000_000_000, 3).unwrap()
}

fn write(records: &[(Key, Vec<u8>)], key: &SigningKey, threads: usize) -> Vec<u8> {
    let mut out = Vec::new();
    RepoCarWriter::new()
        .write(
            &did(),
            rev(),
            key,
            records,
            &mut out,
            NonZeroUsize::new(threads),
        )
        .unwrap();
    out
}

#[test]
fn the_file_is_the_same_on_any_number_of_threads_and_holds_the_built_tree() {
    let key = SigningKey::from_bytes(KeyType::P256, &[3u8; 32]).unwrap();
    for n in [0usize, 1, 2, 100, 5000, 30_000] {
        let posts = support::posts(n, n as u64 + 1);
        let records: Vec<(Key, Vec<u8>)> = posts
            .iter()
            .map(|(k, _, b)| (k.clone(), b.clone()))
            .collect();
        let one = write(&records, &key, 1);
        for threads in [2, 3, 8] {
            assert!(
                one == write(&records, &key, threads),
                "{n} records, {threads} threads"
            );
        }
        // The same blocks and root as the reference bulk build.
        let mut expected: BTreeSet<Cid> = posts.iter().map(|(_, c, _)| *c).collect();
        let root = Mst::build_root(posts.iter().map(|(k, c, _)| (k, *c)), &mut |c, _| {
            expected.insert(*c);
        })
        .unwrap();
        let options = VerifyOptions {
            key: Some(key.public_key()),
            did: Some(did()),
            ..VerifyOptions::default()
        };
        let verified = verify_car_bytes(&one, &options).unwrap();
        assert_eq!(verified.report.signature, SignatureCheck::Valid);
        assert_eq!(verified.report.data, root, "{n} records");
        assert_eq!(verified.report.records, n as u64);
        assert_eq!(verified.report.unreferenced_blocks, 0);
        assert_eq!(verified.commit.rev(), rev());
        let car = read_car_slice(&one, Default::default()).unwrap();
        let mut found: BTreeSet<Cid> = car.blocks.iter().map(|(c, _)| c).collect();
        assert!(found.remove(&verified.report.commit_cid));
        assert_eq!(found, expected, "{n} records");
    }
}

#[test]
fn records_out_of_order_are_refused_naming_the_key() {
    let key = SigningKey::from_bytes(KeyType::K256, &[4u8; 32]).unwrap();
    let posts = support::posts(10_000, 7);
    let mut records: Vec<(Key, Vec<u8>)> = posts
        .iter()
        .map(|(k, _, b)| (k.clone(), b.clone()))
        .collect();
    records.swap(6000, 6001);
    let want = records[6001].0.to_string();
    for threads in [1, 2, 5] {
        let err = RepoCarWriter::new()
            .write(
                &did(),
                rev(),
                &key,
                &records,
                &mut Vec::new(),
                NonZeroUsize::new(threads),
            )
            .unwrap_err();
        assert!(
            matches!(&err, MstError::Unsorted { key } if *key == want),
            "{threads} threads: {err:?}"
        );
    }
}

#[test]
fn the_writer_reuses_its_buffers_across_repositories() {
    let key = SigningKey::from_bytes(KeyType::K256, &[4u8; 32]).unwrap();
    let mut writer = RepoCarWriter::new();
    let mut out = Vec::new();
    for (n, seed) in [(20_000usize, 1u64), (300, 2), (9000, 3)] {
        let records: Vec<(Key, Vec<u8>)> = support::posts(n, seed)
            .into_iter()
            .map(|(k, _, b)| (k, b))
            .collect();
        writer
            .write(
                &did(),
                rev(),
                &key,
                &records,
                &mut out,
                NonZeroUsize::new(2),
            )
            .unwrap();
        assert_eq!(out, write(&records, &key, 1), "{n} records after a reuse");
    }
}
