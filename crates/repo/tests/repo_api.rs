//! The repository API: commits, write batches, firehose slices, record proofs, exports.

mod support;

use std::collections::{BTreeMap, HashSet};

use aerie_crypto::{KeyType, SigningKey};
use aerie_data::Cid;
use aerie_repo::Error;
use aerie_repo::car::CarReader;
use aerie_repo::commit::Commit;
use aerie_repo::mst::{Action, BlockSource, Key, MemoryBlocks, Mst};
use aerie_repo::repo::{CommitData, Repo, Write};
use aerie_repo::sync::{verify_commit_slice, verify_record_proof};
use aerie_repo::verify::{SignatureCheck, VerifyOptions, verify_car};
use aerie_syntax::{Did, Tid};
use proptest::prelude::*;
use support::Rng;

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn tid(n: u64) -> Tid {
    Tid::from_parts(1_700_000_000_000_000 + n * 1000, 0).unwrap()
}

fn key(coll: &str, n: u64) -> Key {
    Key::from_parts(coll, tid(n).as_str()).unwrap()
}

fn post(rng: &mut Rng) -> Vec<u8> {
    support::post(rng)
}

/// A store that follows the repository: keeps new blocks, drops removed ones.
struct Account {
    key: SigningKey,
    repo: Repo,
    store: MemoryBlocks,
    next_rev: u64,
}

impl Account {
    fn new() -> Account {
        let key = SigningKey::generate(KeyType::K256).unwrap();
        let (repo, first) = Repo::create(Did::parse(DID).unwrap(), &key, tid(1));
        let mut store = MemoryBlocks::new();
        store.extend(first.new_blocks);
        Account {
            key,
            repo,
            store,
            next_rev: 2,
        }
    }

    fn write(&mut self, writes: &[Write]) -> Result<CommitData, Error> {
        let rev = tid(self.next_rev);
        let data = self
            .repo
            .apply_writes(&self.store, writes, &self.key, rev)?;
        self.next_rev += 1;
        for cid in &data.removed_blocks {
            self.store.remove(cid);
        }
        self.store.extend(data.new_blocks.iter().cloned());
        Ok(data)
    }
}

#[test]
fn first_commit_is_signed_empty_tree_without_since() {
    let acct = Account::new();
    assert_eq!(acct.repo.data(), aerie_repo::mst::empty_root_cid());
    let commit = Commit::decode(acct.store.get(&acct.repo.commit_cid()).unwrap()).unwrap();
    commit.verify(&acct.key.public_key()).unwrap();
    assert_eq!(commit.rev(), tid(1));
    assert!(acct.store.contains(&aerie_repo::mst::empty_root_cid()));
}

#[test]
fn apply_writes_reports_ops_sorted_with_prev_and_since() {
    let mut acct = Account::new();
    let mut rng = Rng::new(1);
    let a = key("app.bsky.feed.post", 10);
    let b = key("app.bsky.feed.like", 11);
    let (ra, rb) = (post(&mut rng), post(&mut rng));
    let d1 = acct
        .write(&[
            Write::create(a.clone(), ra.clone()),
            Write::create(b.clone(), rb.clone()),
        ])
        .unwrap();
    assert_eq!(d1.since, Some(tid(1)));
    assert_eq!(d1.prev_data, Some(aerie_repo::mst::empty_root_cid()));
    assert_eq!(
        d1.ops.iter().map(|o| o.path.clone()).collect::<Vec<_>>(),
        vec![b.clone(), a.clone()]
    );
    assert!(
        d1.ops
            .iter()
            .all(|o| o.action == Action::Create && o.prev.is_none())
    );
    assert_eq!(
        acct.repo.get_record(&acct.store, &a).unwrap(),
        Some((Cid::for_cbor(&ra), ra.clone()))
    );

    let ra2 = post(&mut rng);
    let d2 = acct
        .write(&[
            Write::update(a.clone(), ra2.clone()),
            Write::delete(b.clone()),
        ])
        .unwrap();
    assert_eq!(d2.since, Some(tid(2)));
    assert_eq!(d2.prev_data, Some(d1.data));
    let upd = d2.ops.iter().find(|o| o.path == a).unwrap();
    assert_eq!(
        (upd.action, upd.cid, upd.prev),
        (
            Action::Update,
            Some(Cid::for_cbor(&ra2)),
            Some(Cid::for_cbor(&ra))
        )
    );
    let del = d2.ops.iter().find(|o| o.path == b).unwrap();
    assert_eq!(
        (del.action, del.cid, del.prev),
        (Action::Delete, None, Some(Cid::for_cbor(&rb)))
    );
    assert!(d2.removed_blocks.contains(&Cid::for_cbor(&ra)));
    assert!(d2.removed_blocks.contains(&Cid::for_cbor(&rb)));
    assert_eq!(acct.repo.get(&acct.store, &b).unwrap(), None);
}

#[test]
fn rejected_batches_leave_the_repository_unchanged() {
    let mut acct = Account::new();
    let mut rng = Rng::new(2);
    let a = key("app.bsky.feed.post", 10);
    acct.write(&[Write::create(a.clone(), post(&mut rng))])
        .unwrap();
    let (data, commit) = (acct.repo.data(), acct.repo.commit_cid());

    let fresh = key("app.bsky.feed.post", 12);
    let mut w = aerie_data::drisl::Writer::new();
    w.text("not a map");
    let cases: Vec<Vec<Write>> = vec![
        vec![
            Write::create(fresh.clone(), post(&mut rng)),
            Write::create(a.clone(), post(&mut rng)),
        ],
        vec![Write::update(key("app.bsky.feed.post", 99), post(&mut rng))],
        vec![Write::delete(key("app.bsky.feed.post", 99))],
        vec![
            Write::create(fresh.clone(), post(&mut rng)),
            Write::delete(fresh.clone()),
        ],
        vec![Write::create(fresh.clone(), w.into_inner())],
        vec![Write::create(
            fresh.clone(),
            vec![0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02],
        )],
    ];
    for writes in cases {
        assert!(acct.write(&writes).is_err(), "{writes:?} was accepted");
        assert_eq!((acct.repo.data(), acct.repo.commit_cid()), (data, commit));
        assert_eq!(acct.repo.get(&acct.store, &fresh).unwrap(), None);
    }
    // The repository still works afterwards.
    acct.write(&[Write::create(fresh, post(&mut rng))]).unwrap();
}

#[test]
fn revision_must_increase() {
    let mut acct = Account::new();
    let mut rng = Rng::new(3);
    let w = [Write::create(key("app.bsky.feed.post", 5), post(&mut rng))];
    let r = acct.repo.apply_writes(&acct.store, &w, &acct.key, tid(1));
    assert!(matches!(r, Err(Error::RevNotIncreasing { .. })));
    assert!(matches!(
        acct.repo.resign(&acct.key, tid(0)),
        Err(Error::RevNotIncreasing { .. })
    ));
}

#[test]
fn resign_keeps_data_and_moves_rev() {
    let mut acct = Account::new();
    let new_key = SigningKey::generate(KeyType::P256).unwrap();
    let d = acct.repo.resign(&new_key, tid(9)).unwrap();
    assert_eq!(d.data, acct.repo.data());
    assert_eq!(d.prev_data, Some(d.data));
    let c = Commit::decode(&d.new_blocks[0].1).unwrap();
    c.verify(&new_key.public_key()).unwrap();
    assert_eq!(c.rev(), tid(9));
}

/// After any sequence of batches the store holds exactly the current nodes and records
/// (plus commit blocks): nothing needed was removed, nothing stale kept.
fn assert_store_is_exact(acct: &Account) {
    let root = acct.repo.data();
    let mut expected: HashSet<Cid> = HashSet::new();
    let mut records = Vec::new();
    aerie_repo::mst::verify_tree(&acct.store, &root, |k, c| records.push((k.clone(), *c))).unwrap();
    let tree = Mst::load(root);
    for (k, c) in &records {
        expected.insert(*c);
        expected.extend(tree.search_path(&acct.store, k).unwrap());
    }
    expected.insert(root);
    let held: HashSet<Cid> = acct
        .store
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| Commit::decode(acct.store.get(c).unwrap()).is_err())
        .collect();
    assert_eq!(held, expected);
}

#[test]
fn full_export_verifies_and_lists_every_record() {
    let mut acct = Account::new();
    let mut rng = Rng::new(4);
    let writes: Vec<Write> = (0..300)
        .map(|i| {
            Write::create(
                key(
                    if i % 3 == 0 {
                        "app.bsky.feed.like"
                    } else {
                        "app.bsky.feed.post"
                    },
                    i,
                ),
                post(&mut rng),
            )
        })
        .collect();
    acct.write(&writes).unwrap();
    assert_store_is_exact(&acct);
    let car = acct.repo.write_car(&acct.store, Vec::new()).unwrap();
    let options = VerifyOptions {
        key: Some(acct.key.public_key()),
        ..VerifyOptions::default()
    };
    let v = verify_car(car.as_slice(), &options).unwrap();
    assert_eq!(v.report.signature, SignatureCheck::Valid);
    assert_eq!(v.report.records, 300);
    assert_eq!(v.report.per_collection["app.bsky.feed.like"], 100);
    assert_eq!(v.report.unreferenced_blocks, 0);
    assert_eq!(v.records().count(), 300);
    // Streamable order: commit first, then the root node.
    let mut r = CarReader::new(car.as_slice()).unwrap();
    assert_eq!(r.next_block().unwrap().unwrap().0, acct.repo.commit_cid());
    assert_eq!(r.next_block().unwrap().unwrap().0, acct.repo.data());
}

#[test]
fn record_proofs_show_presence_and_absence() {
    let mut acct = Account::new();
    let mut rng = Rng::new(5);
    let writes: Vec<Write> = (0..200)
        .map(|i| Write::create(key("app.bsky.feed.post", i * 2), post(&mut rng)))
        .collect();
    acct.write(&writes).unwrap();
    let did = Did::parse(DID).unwrap();
    let pk = acct.key.public_key();
    let present = key("app.bsky.feed.post", 20);
    let proof = acct.repo.record_proof(&acct.store, &present).unwrap();
    let (cid, bytes) = verify_record_proof(&proof, Some(&did), &pk, &present)
        .unwrap()
        .unwrap();
    assert_eq!(Some(cid), acct.repo.get(&acct.store, &present).unwrap());
    assert_eq!(Cid::for_cbor(&bytes), cid);

    let absent = key("app.bsky.feed.post", 21);
    let proof = acct.repo.record_proof(&acct.store, &absent).unwrap();
    assert_eq!(
        verify_record_proof(&proof, Some(&did), &pk, &absent).unwrap(),
        None
    );

    let other = SigningKey::generate(KeyType::K256).unwrap().public_key();
    assert!(matches!(
        verify_record_proof(&proof, Some(&did), &other, &absent),
        Err(Error::BadSignature { .. })
    ));
    let wrong_did = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
    assert!(matches!(
        verify_record_proof(&proof, Some(&wrong_did), &pk, &absent),
        Err(Error::WrongDid { .. })
    ));
}

#[test]
fn commit_slice_with_wrong_key_or_ops_is_refused() {
    let mut acct = Account::new();
    let mut rng = Rng::new(6);
    let writes: Vec<Write> = (0..50)
        .map(|i| Write::create(key("app.bsky.feed.post", i), post(&mut rng)))
        .collect();
    acct.write(&writes).unwrap();
    let d = acct
        .write(&[Write::create(
            key("app.bsky.feed.post", 1000),
            post(&mut rng),
        )])
        .unwrap();
    let slice = d.car_slice();
    let did = Did::parse(DID).unwrap();
    let pk = acct.key.public_key();
    assert_eq!(
        verify_commit_slice(&slice, &d.ops, Some(&did), &pk)
            .unwrap()
            .prev_data,
        d.prev_data.unwrap()
    );

    let other = SigningKey::generate(KeyType::K256).unwrap().public_key();
    assert!(matches!(
        verify_commit_slice(&slice, &d.ops, Some(&did), &other),
        Err(Error::BadSignature { .. })
    ));

    let mut wrong = d.ops.clone();
    wrong[0].cid = Some(Cid::for_cbor(b"\xa0"));
    assert!(verify_commit_slice(&slice, &wrong, Some(&did), &pk).is_err());

    // Without the ops, the computed root is the new root, not prevData.
    assert_ne!(
        verify_commit_slice(&slice, &[], Some(&did), &pk)
            .unwrap()
            .prev_data,
        d.prev_data.unwrap()
    );
}

/// One random batch against the current key set.
fn random_batch(rng: &mut Rng, live: &mut BTreeMap<Key, ()>, next: &mut u64) -> Vec<Write> {
    let n = 1 + rng.below(12) as usize;
    let mut writes = Vec::new();
    let mut used = HashSet::new();
    for _ in 0..n {
        let choice = rng.below(3);
        let existing: Vec<Key> = live.keys().cloned().collect();
        if choice == 0 || existing.is_empty() {
            *next += 1 + rng.below(3);
            let k = key(
                if rng.below(2) == 0 {
                    "app.bsky.feed.post"
                } else {
                    "app.bsky.graph.follow"
                },
                *next,
            );
            used.insert(k.clone());
            writes.push(Write::create(k, post(rng)));
        } else {
            let k = existing[rng.below(existing.len() as u64) as usize].clone();
            if !used.insert(k.clone()) {
                continue;
            }
            if choice == 1 {
                writes.push(Write::update(k, post(rng)));
            } else {
                writes.push(Write::delete(k));
            }
        }
    }
    for w in &writes {
        match w.action {
            Action::Delete => {
                live.remove(&w.key);
            }
            _ => {
                live.insert(w.key.clone(), ());
            }
        }
    }
    writes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn commit_slice_inversion_recovers_prev_data(seed in any::<u64>(), initial in 0usize..400, batches in 1usize..6) {
        let mut acct = Account::new();
        let mut rng = Rng::new(seed);
        let mut live = BTreeMap::new();
        let mut next = 100;
        if initial > 0 {
            let writes: Vec<Write> = (0..initial)
                .map(|i| {
                    let k = key("app.bsky.feed.post", 10_000 + i as u64 * 7);
                    live.insert(k.clone(), ());
                    Write::create(k, post(&mut rng))
                })
                .collect();
            acct.write(&writes).unwrap();
        }
        let did = Did::parse(DID).unwrap();
        let pk = acct.key.public_key();
        for _ in 0..batches {
            let writes = random_batch(&mut rng, &mut live, &mut next);
            let d = acct.write(&writes).unwrap();
            let checked = verify_commit_slice(&d.car_slice(), &d.ops, Some(&did), &pk).unwrap();
            prop_assert_eq!(Some(checked.prev_data), d.prev_data);
            prop_assert_eq!(checked.commit_cid, d.cid);
            // The new root is the canonical tree of the live keys.
            let mut fresh = Mst::build(live.keys().map(|k| (k.clone(), acct.repo.get(&acct.store, k).unwrap().unwrap()))).unwrap();
            prop_assert_eq!(fresh.commit().0, d.data);
        }
        assert_store_is_exact(&acct);
    }
}

/// A store that fails every read after a budget, like a database going away mid-batch.
struct Flaky<'a> {
    inner: &'a MemoryBlocks,
    budget: std::cell::Cell<usize>,
}

impl BlockSource for Flaky<'_> {
    fn block(
        &self,
        cid: &Cid,
    ) -> Result<Option<std::borrow::Cow<'_, [u8]>>, aerie_repo::mst::SourceError> {
        match self.budget.get() {
            0 => Err("storage went away".into()),
            n => {
                self.budget.set(n - 1);
                self.inner.block(cid)
            }
        }
    }
}

#[test]
fn storage_failure_mid_batch_leaves_the_repository_usable() {
    let mut acct = Account::new();
    let mut rng = Rng::new(7);
    let writes: Vec<Write> = (0..500)
        .map(|i| Write::create(key("app.bsky.feed.post", i), post(&mut rng)))
        .collect();
    acct.write(&writes).unwrap();
    let before = (acct.repo.data(), acct.repo.commit_cid());
    let batch: Vec<Write> = (0..20)
        .map(|i| Write::create(key("app.bsky.feed.like", 10_000 + i), post(&mut rng)))
        .collect();
    let mut failures = 0;
    for budget in 0..200 {
        let flaky = Flaky {
            inner: &acct.store,
            budget: std::cell::Cell::new(budget),
        };
        let mut repo = acct.repo.clone();
        match repo.apply_writes(&flaky, &batch, &acct.key, tid(1_000)) {
            Err(_) => {
                failures += 1;
                assert_eq!((repo.data(), repo.commit_cid()), before);
                // The same repository value then commits the batch on a healthy store.
                let d = repo
                    .apply_writes(&acct.store, &batch, &acct.key, tid(1_000))
                    .unwrap();
                assert_eq!(d.prev_data, Some(before.0));
            }
            Ok(_) => break,
        }
    }
    assert!(failures > 0, "the budget never ran out");
}
