//! Verification on several threads must be indistinguishable from one thread: the same
//! report and entries for a valid repository, and the same error (the first fault in file
//! and walk order) for every damaged one.

use std::num::NonZeroUsize;

use aerie_crypto::{KeyType, SigningKey};
use aerie_repo::car::{push_header, push_section, read_car_slice};
use aerie_repo::commit::UnsignedCommit;
use aerie_repo::mst::Mst;
use aerie_repo::verify::{VerifyOptions, verify_car, verify_car_bytes};
use aerie_syntax::{Did, Tid};

mod support;

/// A repository CAR of `n` posts: commit, nodes, records; and its key.
fn repo(n: usize, seed: u64) -> (Vec<u8>, SigningKey) {
    let key = SigningKey::from_bytes(KeyType::K256, &[5u8; 32]).unwrap();
    let records = support::posts(n, seed);
    let mut nodes = Vec::new();
    let data = Mst::build_root(records.iter().map(|(k, c, _)| (k, *c)), &mut |c, b| {
        push_section(&mut nodes, c, b)
    })
    .unwrap();
    let commit = UnsignedCommit {
        did: Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap(),
        data,
        rev: Tid::from_parts(1_800_000_000_000_000, 0).unwrap(),
        prev: None,
    }
    .sign(&key);
    let (ccid, cbytes) = commit.to_block();
    let mut car = Vec::new();
    push_header(&mut car, &[ccid]);
    push_section(&mut car, &ccid, &cbytes);
    car.extend_from_slice(&nodes);
    for (_, c, b) in &records {
        push_section(&mut car, c, b);
    }
    (car, key)
}

fn options(key: &SigningKey, threads: usize) -> VerifyOptions {
    VerifyOptions {
        key: Some(key.public_key()),
        threads: NonZeroUsize::new(threads),
        ..VerifyOptions::default()
    }
}

/// The outcome of every way to verify `car`, which must all agree; returns it.
fn agreed_outcome(car: &[u8], key: &SigningKey) -> String {
    let streamed = format!("{:?}", verify_car(car, &options(key, 1)).map(|v| v.report));
    for threads in [1, 2, 3, 4, 7] {
        let in_place = verify_car_bytes(car, &options(key, threads)).map(|v| v.report);
        assert_eq!(
            streamed,
            format!("{in_place:?}"),
            "streamed and in-place verification on {threads} threads disagree"
        );
    }
    streamed
}

#[test]
fn a_valid_repository_verifies_alike_on_any_number_of_threads() {
    let (car, key) = repo(3000, 11);
    let one = verify_car_bytes(&car, &options(&key, 1)).unwrap();
    for threads in [2, 3, 4, 8, 64] {
        let many = verify_car_bytes(&car, &options(&key, threads)).unwrap();
        assert_eq!(format!("{:?}", one.report), format!("{:?}", many.report));
        assert_eq!(one.entries, many.entries, "{threads} threads");
    }
    assert_eq!(one.report.records, 3000);
    assert!(agreed_outcome(&car, &key).starts_with("Ok("));
    // The automatic choice reads the same.
    let auto = read_car_slice(&car, Default::default()).unwrap();
    assert_eq!(auto.blocks.len() as u64, one.report.blocks);
}

#[test]
fn every_damage_gives_the_same_error_on_any_number_of_threads() {
    let (car, key) = repo(1500, 12);
    let mut rng = support::Rng::new(99);
    let mut errors = 0;
    for round in 0..120 {
        let mut bad = car.clone();
        match round % 4 {
            // One byte changed anywhere (header, lengths, CIDs, nodes, records).
            0 | 1 => {
                let at = rng.below(bad.len() as u64) as usize;
                bad[at] ^= 1 << rng.below(8);
            }
            // Cut short.
            2 => bad.truncate(rng.below(bad.len() as u64) as usize),
            // A run of bytes moved elsewhere (sections out of step).
            _ => {
                let a = rng.below(bad.len() as u64) as usize;
                let len = (rng.below(600) as usize).min(bad.len() - a);
                let run: Vec<u8> = bad.drain(a..a + len).collect();
                let b = rng.below(bad.len() as u64) as usize;
                bad.splice(b..b, run);
            }
        }
        if agreed_outcome(&bad, &key).starts_with("Err(") {
            errors += 1;
        }
    }
    assert!(errors > 60, "only {errors} of 120 damaged files failed");
}

#[test]
fn two_faults_report_the_first_in_file_order() {
    let (car, key) = repo(2000, 13);
    // Damage a record near the end and another near the start: the early one wins, whoever
    // reads which region.
    let mut bad = car.clone();
    let late = bad.len() - 100;
    bad[late] ^= 0x40;
    let early = bad.len() / 5;
    bad[early] ^= 0x40;
    let outcome = agreed_outcome(&bad, &key);
    let mut only_early = car.clone();
    only_early[early] ^= 0x40;
    assert_eq!(outcome, agreed_outcome(&only_early, &key));
}

/// A raw block made of things that look exactly like CAR sections: a thread that starts
/// reading inside it finds a convincing chain of sections that are not there. The split must
/// notice (the previous region does not end where the guess began) and read on in order.
#[test]
fn section_lookalikes_inside_a_block_do_not_fool_the_split() {
    let (car, key) = repo(150, 14);
    let mut fake = Vec::new();
    for i in 0..4000u32 {
        fake.push(36 + 10);
        fake.extend_from_slice(&[0x01, 0x71, 0x12, 0x20]);
        fake.extend_from_slice(&[i as u8; 32]);
        fake.extend_from_slice(&[0xa0; 10]);
    }
    let raw = aerie_data::Cid::for_raw(&fake);
    for place in [car.len() / 3, car.len()] {
        // Put the block at a section boundary: re-read the CAR's sections and insert it
        // after the last one starting before `place`.
        let mut with_fake = Vec::new();
        let mut reader = aerie_repo::car::SliceReader::new(&car).unwrap();
        push_header(&mut with_fake, reader.roots());
        let mut inserted = false;
        while let Some((cid, bytes)) = reader.next_block().unwrap() {
            if !inserted && reader.offset() as usize >= place {
                push_section(&mut with_fake, &raw, &fake);
                inserted = true;
            }
            push_section(&mut with_fake, &cid, bytes);
        }
        if !inserted {
            push_section(&mut with_fake, &raw, &fake);
        }
        let outcome = agreed_outcome(&with_fake, &key);
        assert!(outcome.contains("unreferenced_blocks: 1"), "{outcome}");
        // Damage after the lookalikes must still be found and named the same way.
        let mut bad = with_fake.clone();
        let at = bad.len() - 50;
        bad[at] ^= 0x01;
        assert!(agreed_outcome(&bad, &key).starts_with("Err("));
    }
}
