//! Replays every saved fuzz input (`/fuzz/corpus/<target>/*`) through the same entry points
//! the fuzz targets call, so a crash once found stays fixed.

use std::path::Path;

fn replay(target: &str, entry: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        entry(&bytes);
        n += 1;
    }
    assert!(n > 0, "no corpus files in {}", dir.display());
}

#[test]
fn cbor_decode_corpus_replays_without_panic() {
    replay("cbor_decode", aerie_repo::fuzz::cbor_decode);
}

#[test]
fn car_read_corpus_replays_without_panic() {
    replay("car_read", aerie_repo::fuzz::car_read);
}

#[test]
fn mst_node_decode_corpus_replays_without_panic() {
    replay("mst_node_decode", aerie_repo::fuzz::mst_node_decode);
}

#[test]
fn commit_verify_corpus_replays_without_panic() {
    replay("commit_verify", aerie_repo::fuzz::commit_verify);
}
