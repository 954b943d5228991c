//! Sign and verify speed for both curves over a 200-byte message (about a commit's size).
//!
//! Run: `cargo bench -p aerie-crypto --bench sig -- --sample-count 100`

use aerie_crypto::{KeyType, SigningKey};
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const MSG: [u8; 200] = [0x42; 200];

fn key(key_type: KeyType) -> SigningKey {
    SigningKey::from_bytes(key_type, &[0x17; 32]).expect("fixed scalar is valid")
}

#[divan::bench(args = [KeyType::K256, KeyType::P256])]
fn sign(bencher: Bencher, key_type: KeyType) {
    let key = key(key_type);
    bencher.bench_local(|| key.sign(black_box(&MSG)));
}

#[divan::bench(args = [KeyType::K256, KeyType::P256])]
fn verify(bencher: Bencher, key_type: KeyType) {
    let key = key(key_type);
    let public = key.public_key();
    let sig = key.sign(&MSG);
    bencher.bench_local(|| public.verify(black_box(&MSG), black_box(&sig)));
}

#[divan::bench(args = [KeyType::K256, KeyType::P256])]
fn parse_did_key(bencher: Bencher, key_type: KeyType) {
    let did_key = key(key_type).public_key().to_did_key();
    bencher.bench_local(|| aerie_crypto::PublicKey::parse_did_key(black_box(&did_key)));
}
