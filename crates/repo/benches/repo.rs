//! MST, CAR and full-verification benchmarks over post-like records with TID keys.
//!
//! Run: `cargo bench -p aerie-repo --bench repo` (add `-- <filter>` for one group). The
//! headline pair is `headline::pipeline_100k` against `headline::sha256_baseline_100k`: the
//! build + CAR write + full verify of 100k records, and plain SHA-256 over the same blocks.

use std::num::NonZeroUsize;
use std::sync::LazyLock;

use aerie_crypto::{KeyType, SigningKey};
use aerie_data::Cid;
use aerie_repo::build::RepoCarWriter;
use aerie_repo::car::CarReader;
use aerie_repo::mst::{Key, MemoryBlocks, Mst};
use aerie_repo::verify::{VerifyOptions, verify_car, verify_car_bytes};
use aerie_syntax::{Did, Tid};
use divan::{Bencher, black_box};
use sha2::{Digest, Sha256};

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    divan::main();
}

type Records = Vec<(Key, Cid, Vec<u8>)>;

static POSTS_10K: LazyLock<Records> = LazyLock::new(|| support::posts(10_000, 1));
static POSTS_100K: LazyLock<Records> = LazyLock::new(|| support::posts(100_000, 2));
static POSTS_1M: LazyLock<Records> = LazyLock::new(|| support::posts(1_000_000, 3));

fn posts(n: usize) -> &'static Records {
    match n {
        10_000 => &POSTS_10K,
        100_000 => &POSTS_100K,
        _ => &POSTS_1M,
    }
}

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(KeyType::K256, &[9u8; 32]).expect("valid key")
}

fn did() -> Did {
    Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").expect("did")
}

fn rev() -> Tid {
    Tid::from_parts(1_800_000_000_000_000, 0).expect("tid")
}

/// The records as the CAR writer takes them (borrowed).
fn view(records: &Records) -> Vec<(&Key, &[u8])> {
    records.iter().map(|(k, _, b)| (k, b.as_slice())).collect()
}

/// A full repository CAR (commit, records, nodes) for `records`.
fn repo_car(records: &Records, key: &SigningKey) -> Vec<u8> {
    let mut out = Vec::new();
    RepoCarWriter::new()
        .write(&did(), rev(), key, &view(records), &mut out, None)
        .expect("sorted");
    out
}

/// Verification options with the key and a thread count (`None`: automatic).
fn verify_options(key: &SigningKey, threads: Option<usize>) -> VerifyOptions {
    VerifyOptions {
        key: Some(key.public_key()),
        threads: threads.and_then(NonZeroUsize::new),
        ..VerifyOptions::default()
    }
}

mod mst {
    use super::*;

    /// Bulk build from sorted entries, hashing every node.
    #[divan::bench(args = [10_000, 100_000], sample_count = 10)]
    fn build(bencher: Bencher, n: usize) {
        let records = posts(n);
        bencher.bench(|| {
            let entries = records.iter().map(|(k, c, _)| (k.clone(), *c));
            black_box(Mst::build_with(entries, &mut |_, _| {}).expect("sorted").1)
        });
    }

    /// The layer of 100k keys (one SHA-256 compression each, on a pre-padded block).
    #[divan::bench(sample_count = 20)]
    fn layer_of_100k(bencher: Bencher) {
        let records = posts(100_000);
        bencher.bench(|| {
            let mut acc = 0u8;
            for (k, _, _) in records {
                acc ^= aerie_repo::mst::layer_of(black_box(k.as_bytes()));
            }
            acc
        });
    }

    /// The same layers through the streaming hasher (`Sha256::digest`), for comparison.
    #[divan::bench(sample_count = 20)]
    fn layer_streaming_100k(bencher: Bencher) {
        let records = posts(100_000);
        bencher.bench(|| {
            let mut acc = 0u8;
            for (k, _, _) in records {
                let d = Sha256::digest(black_box(k.as_bytes()));
                let mut zeros = 0u32;
                for &b in d.iter() {
                    zeros += b.leading_zeros();
                    if b != 0 {
                        break;
                    }
                }
                acc ^= (zeros / 2) as u8;
            }
            acc
        });
    }

    /// Bulk build of a million records (slow: few samples).
    #[divan::bench(sample_count = 2, sample_size = 1)]
    fn build_1m(bencher: Bencher) {
        let records = posts(1_000_000);
        bencher.bench(|| {
            let entries = records.iter().map(|(k, c, _)| (k.clone(), *c));
            black_box(Mst::build_with(entries, &mut |_, _| {}).expect("sorted").1)
        });
    }

    /// One new record into a stored 100k-record tree: load the path from the block store,
    /// insert, re-hash the changed nodes.
    #[divan::bench(sample_count = 200)]
    fn single_insert_100k(bencher: Bencher) {
        let records = posts(100_000);
        let mut mst = Mst::build(records.iter().map(|(k, c, _)| (k.clone(), *c))).expect("sorted");
        let (root, nodes) = mst.commit();
        let store: MemoryBlocks = nodes.into_iter().collect();
        let key = Key::from_parts("app.bsky.feed.post", "3zzzzzzzzzzz2").expect("key");
        let value = Cid::for_cbor(b"\xa0");
        bencher
            .with_inputs(|| Mst::load(root))
            .bench_local_values(|mut tree| {
                tree.put(&store, key.clone(), value).expect("put");
                black_box(tree.commit_with(&mut |_, _| {}))
            });
    }
}

mod diff {
    use super::*;

    /// Diff of two stored 100k-record trees that differ in 100 scattered keys (50 updated,
    /// 50 created): only the differing paths are read.
    #[divan::bench(sample_count = 50)]
    fn diff_100k_100_changes(bencher: Bencher) {
        let records = posts(100_000);
        let mut store = MemoryBlocks::new();
        let mut old = Mst::build(records.iter().map(|(k, c, _)| (k.clone(), *c))).expect("sorted");
        let (old_root, nodes) = old.commit();
        store.extend(nodes);
        let mut new = Mst::load(old_root);
        let changed = Cid::for_cbor(b"\xa0");
        for i in 0..50 {
            new.put(&store, records[i * 1999].0.clone(), changed)
                .expect("put");
            let key =
                Key::from_parts("app.bsky.feed.post", &format!("3zzzzzzzz{i:03}2")).expect("key");
            new.put(&store, key, changed).expect("put");
        }
        let (new_root, nodes) = new.commit();
        store.extend(nodes);
        bencher.bench(|| {
            let d = Mst::diff(&Mst::load(old_root), &Mst::load(new_root), &store).expect("diff");
            black_box(d.ops.len())
        });
    }
}

mod sync {
    use super::*;
    use aerie_repo::repo::{Repo, Write};

    /// What a relay does per `#commit`: parse the slice, check the signature, invert one
    /// create on a 100k-record repository.
    #[divan::bench(sample_count = 100)]
    fn verify_commit_slice_1_op_100k(bencher: Bencher) {
        let records = posts(100_000);
        let key = signing_key();
        let did = Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").expect("did");
        let mut store = MemoryBlocks::new();
        let (mut repo, first) = Repo::create(
            did.clone(),
            &key,
            Tid::from_parts(1_700_000_000_000_000, 0).expect("tid"),
        );
        store.extend(first.new_blocks);
        let writes: Vec<Write> = records
            .iter()
            .map(|(k, _, b)| Write::create(k.clone(), b.clone()))
            .collect();
        let d = repo
            .apply_writes(
                &store,
                &writes,
                &key,
                Tid::from_parts(1_800_000_000_000_000, 0).expect("tid"),
            )
            .expect("apply");
        store.extend(d.new_blocks);
        let one = Key::from_parts("app.bsky.feed.post", "3zzzzzzzzzzz2").expect("key");
        let d = repo
            .apply_writes(
                &store,
                &[Write::create(one, records[0].2.clone())],
                &key,
                Tid::from_parts(1_800_000_000_000_001, 0).expect("tid"),
            )
            .expect("apply");
        let slice = d.car_slice();
        let public = key.public_key();
        bencher
            .counter(divan::counter::BytesCount::new(slice.len()))
            .bench(|| {
                let v = aerie_repo::sync::verify_commit_slice(&slice, &d.ops, Some(&did), &public)
                    .expect("valid");
                black_box(v.prev_data)
            });
    }
}

mod car {
    use super::*;

    /// `RepoCarWriter`: hash 100k records, build the MST, sign, write the CAR (buffers
    /// reused), on every core.
    #[divan::bench(args = [None, Some(1)], sample_count = 10)]
    fn write_100k(bencher: Bencher, threads: Option<usize>) {
        let records = view(posts(100_000));
        let key = signing_key();
        let (mut writer, mut out) = (RepoCarWriter::new(), Vec::new());
        let threads = threads.and_then(NonZeroUsize::new);
        bencher.bench_local(|| {
            writer
                .write(&did(), rev(), &key, &records, &mut out, threads)
                .expect("sorted");
            black_box(out.len())
        });
    }

    #[divan::bench(sample_count = 10)]
    fn read_100k(bencher: Bencher) {
        let car = repo_car(posts(100_000), &signing_key());
        bencher
            .counter(divan::counter::BytesCount::new(car.len()))
            .bench(|| {
                let mut r = CarReader::new(car.as_slice()).expect("header");
                let mut n = 0usize;
                while let Some((_, b)) = r.next_block().expect("block") {
                    n += b.len();
                }
                black_box(n)
            });
    }
}

mod verify {
    use super::*;

    /// `verify_car` over a `Read`: blocks copied into a `CarBlocks` arena as they stream.
    #[divan::bench(sample_count = 10)]
    fn full_verify_100k(bencher: Bencher) {
        let key = signing_key();
        let car = repo_car(posts(100_000), &key);
        let options = verify_options(&key, None);
        bencher
            .counter(divan::counter::BytesCount::new(car.len()))
            .bench(|| {
                black_box(
                    verify_car(car.as_slice(), &options)
                        .expect("valid")
                        .report
                        .records,
                )
            });
    }
}

mod verify_in_place {
    use super::*;

    /// `full_verify_100k` over the CAR in memory: the same checks, blocks indexed in place,
    /// on every core (`None`) or one.
    #[divan::bench(args = [None, Some(1)], sample_count = 10)]
    fn full_verify_bytes_100k(bencher: Bencher, threads: Option<usize>) {
        let key = signing_key();
        let car = repo_car(posts(100_000), &key);
        let options = verify_options(&key, threads);
        bencher
            .counter(divan::counter::BytesCount::new(car.len()))
            .bench(|| {
                black_box(
                    verify_car_bytes(&car, &options)
                        .expect("valid")
                        .report
                        .records,
                )
            });
    }
}

mod headline {
    use super::*;

    /// Records hashed to CIDs, MST built and hashed, commit signed, repository CAR written
    /// to memory (`RepoCarWriter`, buffers reused as a server exporting repeatedly would),
    /// then fully verified from that memory (signature, every block's hash once, canonical
    /// MST, every record strictly validated), on every core.
    #[divan::bench(sample_count = 10)]
    fn pipeline_100k(bencher: Bencher) {
        pipeline(bencher, None);
    }

    /// [`pipeline_100k`] on the calling thread only.
    #[divan::bench(sample_count = 10)]
    fn pipeline_1_thread_100k(bencher: Bencher) {
        pipeline(bencher, Some(1));
    }

    fn pipeline(bencher: Bencher, threads: Option<usize>) {
        let records = view(posts(100_000));
        let key = signing_key();
        let options = verify_options(&key, threads);
        let (mut writer, mut car) = (RepoCarWriter::new(), Vec::new());
        let threads = threads.and_then(NonZeroUsize::new);
        bencher.bench_local(|| {
            writer
                .write(&did(), rev(), &key, &records, &mut car, threads)
                .expect("sorted");
            black_box(
                verify_car_bytes(&car, &options)
                    .expect("valid")
                    .report
                    .records,
            )
        });
    }

    /// SHA-256 over every block of the same repository CAR, block by block, on one thread.
    #[divan::bench(sample_count = 10)]
    fn sha256_baseline_100k(bencher: Bencher) {
        let car = repo_car(posts(100_000), &signing_key());
        let mut blocks = Vec::new();
        let mut r = CarReader::new(car.as_slice()).expect("header");
        while let Some((_, b)) = r.next_block().expect("block") {
            blocks.push(b.to_vec());
        }
        bencher
            .counter(divan::counter::BytesCount::new(car.len()))
            .bench(|| {
                let mut acc = 0u8;
                for b in &blocks {
                    acc ^= Sha256::digest(b)[0];
                }
                black_box(acc)
            });
    }
}
