//! Upload speed: a body streamed in 64 KiB chunks into a temporary file (hash, size
//! check, sniff, write, fsync), then the file removed again. The fsync makes the figure
//! depend on the disk; compare runs on the same machine only.
//!
//! Run: `cargo bench -p aerie-blob --bench upload -- --sample-count 20`

use aerie_blob::BlobStore;
use divan::{Bencher, black_box};
use futures_util::stream;

fn main() {
    divan::main();
}

const CHUNK: usize = 64 * 1024;

#[divan::bench(args = [64 * 1024, 1024 * 1024, 5 * 1024 * 1024])]
fn put_temp_stream(bencher: Bencher, size: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(BlobStore::open(dir.path())).expect("store");
    let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
    bencher
        .counter(divan::counter::BytesCount::new(size))
        .bench_local(|| {
            rt.block_on(async {
                let chunks = stream::iter(data.chunks(CHUNK).map(Ok::<_, std::io::Error>));
                let temp = store
                    .put_temp_stream(chunks, u64::MAX, None)
                    .await
                    .expect("upload");
                store.delete_temp(&temp.key).await.expect("cleanup");
                black_box(temp.cid)
            })
        });
}

#[divan::bench]
fn sniff_jpeg_head() -> Option<&'static str> {
    aerie_blob::sniff(black_box(
        b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0",
    ))
}
