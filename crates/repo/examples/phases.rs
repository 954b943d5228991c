use aerie_repo::build::RepoCarWriter;
use std::num::NonZeroUsize;
#[path = "../tests/support/mod.rs"]
mod support;
fn main() {
    let posts = support::posts(100_000, 2);
    let records: Vec<(&aerie_repo::mst::Key, &[u8])> =
        posts.iter().map(|(k, _, b)| (k, b.as_slice())).collect();
    let key =
        aerie_crypto::SigningKey::from_bytes(aerie_crypto::KeyType::K256, &[9u8; 32]).unwrap();
    let did = aerie_syntax::Did::parse("did:plc:ewvi7nxzyoun6zhxrhs64oiz").unwrap();
    let rev = aerie_syntax::Tid::from_parts(1_800_000_000_000_000, 0).unwrap();
    let mut w = RepoCarWriter::new();
    let mut out = Vec::new();
    for th in [2usize, 2, 2, 1] {
        let t = std::time::Instant::now();
        w.write(&did, rev, &key, &records, &mut out, NonZeroUsize::new(th))
            .unwrap();
        let tw = t.elapsed();
        let opts = aerie_repo::verify::VerifyOptions {
            key: Some(key.public_key()),
            threads: NonZeroUsize::new(th),
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let v = aerie_repo::verify::verify_car_bytes(&out, &opts).unwrap();
        let tv = t.elapsed();
        let t = std::time::Instant::now();
        drop(v);
        println!(
            "threads {th}: write {tw:?} verify {tv:?} drop {:?}",
            t.elapsed()
        );
    }
}
