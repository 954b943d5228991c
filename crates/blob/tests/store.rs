//! The disk blob store against real files in a temporary directory.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aerie_blob::{BlobError, BlobStore, TempKey, WRITE_BUFFER};
use aerie_data::{Cid, Codec};
use aerie_syntax::Did;
use futures_util::{StreamExt, stream};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

const MIB: u64 = 1024 * 1024;

async fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = BlobStore::open(dir.path()).await.expect("open store");
    (dir, store)
}

fn did(s: &str) -> Did {
    Did::parse(s).expect("valid DID")
}

fn temp_files(root: &Path) -> Vec<std::fs::DirEntry> {
    std::fs::read_dir(root.join("tmp"))
        .expect("tmp dir")
        .map(|e| e.expect("entry"))
        .collect()
}

/// Deterministic, incompressible-looking test content.
fn chunk(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (i.wrapping_mul(31) ^ j.wrapping_mul(7)) as u8)
        .collect()
}

async fn put(store: &BlobStore, data: &[u8], declared: Option<&str>) -> aerie_blob::TempBlob {
    let chunks = stream::iter([Ok::<_, std::io::Error>(data.to_vec())]);
    store
        .put_temp_stream(chunks, 5 * MIB, declared)
        .await
        .expect("upload")
}

async fn read_all(store: &BlobStore, did: &Did, cid: &Cid) -> Vec<u8> {
    let blob = store.get(did, cid).await.expect("get");
    let size = blob.size();
    let mut out = Vec::new();
    blob.into_file().read_to_end(&mut out).await.expect("read");
    assert_eq!(out.len() as u64, size, "size reported by get");
    out
}

#[tokio::test]
async fn ten_megabyte_upload_is_written_chunk_by_chunk_not_buffered() {
    let (dir, store) = store().await;
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 160; // 10 MiB
    let root = dir.path().to_owned();
    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(chunk(i, CHUNK));
    }
    let expected = Cid::from_digest(Codec::Raw, expected.finalize().into());

    // Before handing out each chunk, the body checks that what it handed out so far is on
    // disk, give or take the store's write buffer and one write in flight.
    let body = stream::unfold(0usize, move |i| {
        let root = root.clone();
        async move {
            if i == CHUNKS {
                return None;
            }
            let files = temp_files(&root);
            assert_eq!(files.len(), 1, "one temporary file while uploading");
            let on_disk = files[0].metadata().expect("stat").len() as usize;
            let handed_out = i * CHUNK;
            assert!(
                on_disk + 2 * WRITE_BUFFER >= handed_out,
                "only {on_disk} of {handed_out} bytes reached the disk"
            );
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from(chunk(i, CHUNK))),
                i + 1,
            ))
        }
    });
    let temp = store
        .put_temp_stream(body, 20 * MIB, None)
        .await
        .expect("upload");
    assert_eq!(temp.size, (CHUNK * CHUNKS) as u64);
    assert_eq!(temp.cid, expected);
    assert_eq!(temp.mime, "application/octet-stream");

    let did = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    store
        .make_permanent(&did, &temp.key, &temp.cid)
        .await
        .expect("permanent");
    let back = read_all(&store, &did, &temp.cid).await;
    assert_eq!(
        Cid::for_raw(&back),
        temp.cid,
        "stored bytes hash to the reported CID"
    );
}

#[tokio::test]
async fn upload_fails_as_soon_as_it_exceeds_the_limit_and_leaves_no_file() {
    let (dir, store) = store().await;
    let pulled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = pulled.clone();
    let body = stream::iter(0..10).map(move |i| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, std::io::Error>(chunk(i, 300))
    });
    let err = store
        .put_temp_stream(body, 1000, None)
        .await
        .expect_err("over the limit");
    assert!(
        matches!(err, BlobError::TooLarge { limit: 1000 }),
        "{err:?}"
    );
    // 3 chunks make 900 bytes; the 4th passes 1000 and nothing more is read.
    assert_eq!(pulled.load(std::sync::atomic::Ordering::SeqCst), 4);
    assert!(temp_files(dir.path()).is_empty(), "partial upload removed");
}

#[tokio::test]
async fn upload_of_exactly_the_limit_is_accepted() {
    let (_dir, store) = store().await;
    let data = chunk(1, 1000);
    let body = stream::iter([Ok::<_, std::io::Error>(data.clone())]);
    let temp = store
        .put_temp_stream(body, 1000, None)
        .await
        .expect("at the limit");
    assert_eq!(temp.size, 1000);
}

#[tokio::test]
async fn cid_is_raw_sha256_of_the_content() {
    let (_dir, store) = store().await;
    for len in [0usize, 1, 4099, 4100, 4101, 65_536, 200_003] {
        let data = chunk(len, len);
        // Uneven chunking must not change the hash.
        let pieces: Vec<_> = data
            .chunks(777)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect();
        let temp = store
            .put_temp_stream(stream::iter(pieces), 5 * MIB, None)
            .await
            .expect("upload");
        assert_eq!(temp.cid, Cid::for_raw(&data), "len {len}");
        assert_eq!(temp.cid.codec(), Codec::Raw);
        assert_eq!(temp.size, len as u64);
    }
}

#[tokio::test]
async fn mime_is_sniffed_from_the_stream_even_when_split_across_chunks() {
    let (_dir, store) = store().await;
    let webp = b"RIFF\x24\0\0\0WEBPVP8 and the rest".to_vec();
    let pieces: Vec<_> = webp
        .chunks(3)
        .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
        .collect();
    let temp = store
        .put_temp_stream(stream::iter(pieces), MIB, Some("*/*"))
        .await
        .expect("upload");
    assert_eq!(temp.mime, "image/webp");
    let text = put(&store, b"just words", Some("text/plain; charset=utf-8")).await;
    assert_eq!(text.mime, "text/plain");
    let unknown = put(&store, b"just words", Some("*/*")).await;
    assert_eq!(unknown.mime, "application/octet-stream");
}

#[tokio::test]
async fn reader_uploads_behave_like_stream_uploads() {
    let (_dir, store) = store().await;
    let data = [b"%PDF-1.7\n".to_vec(), chunk(3, 150_000)].concat();
    let temp = store
        .put_temp_reader(&data[..], MIB, None)
        .await
        .expect("upload");
    assert_eq!(temp.cid, Cid::for_raw(&data));
    assert_eq!(temp.mime, "application/pdf");
    let err = store
        .put_temp_reader(&data[..], 100_000, None)
        .await
        .expect_err("too large");
    assert!(matches!(err, BlobError::TooLarge { limit: 100_000 }));
}

#[tokio::test]
async fn body_error_aborts_the_upload_and_removes_the_file() {
    let (dir, store) = store().await;
    let body = stream::iter([
        Ok(chunk(0, 1000)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ]);
    let err = store
        .put_temp_stream(body, MIB, None)
        .await
        .expect_err("body failed");
    assert!(matches!(err, BlobError::Body { .. }), "{err:?}");
    assert!(temp_files(dir.path()).is_empty());
}

#[tokio::test]
async fn dropping_an_unfinished_upload_removes_the_file() {
    let (dir, store) = store().await;
    let mut upload = store.begin_temp(MIB).await.expect("begin");
    upload.write(&chunk(0, 5000)).await.expect("write");
    assert_eq!(upload.len(), 5000);
    assert_eq!(temp_files(dir.path()).len(), 1);
    drop(upload);
    assert!(temp_files(dir.path()).is_empty());
}

#[tokio::test]
async fn temporary_blobs_are_not_served_until_made_permanent() {
    let (dir, store) = store().await;
    let alice = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let temp = put(&store, b"\xff\xd8\xff\xe0 a jpeg", Some("image/jpeg")).await;
    assert!(matches!(
        store.get(&alice, &temp.cid).await,
        Err(BlobError::NotFound { .. })
    ));
    assert!(!store.exists(&alice, &temp.cid).await.expect("exists"));

    store
        .make_permanent(&alice, &temp.key, &temp.cid)
        .await
        .expect("permanent");
    assert!(store.exists(&alice, &temp.cid).await.expect("exists"));
    assert_eq!(
        read_all(&store, &alice, &temp.cid).await,
        b"\xff\xd8\xff\xe0 a jpeg"
    );
    assert!(
        temp_files(dir.path()).is_empty(),
        "temporary file moved, not copied"
    );
    let on_disk = dir
        .path()
        .join("blocks")
        .join(alice.as_str())
        .join(temp.cid.to_string());
    assert!(on_disk.is_file(), "layout blocks/<did>/<cid>");

    // Another account does not see it: blobs are per account.
    let bob = did("did:plc:bv6ggog3tya2z3vxsub7hnal");
    assert!(matches!(
        store.get(&bob, &temp.cid).await,
        Err(BlobError::NotFound { .. })
    ));

    // Retrying (after a crash before the PDS recorded success) is harmless.
    store
        .make_permanent(&alice, &temp.key, &temp.cid)
        .await
        .expect("idempotent retry");
    assert_eq!(
        read_all(&store, &alice, &temp.cid).await,
        b"\xff\xd8\xff\xe0 a jpeg"
    );
    // But a used-up key cannot make a blob appear where it never was.
    let elsewhere = store.make_permanent(&bob, &temp.key, &temp.cid).await;
    assert!(
        matches!(elsewhere, Err(BlobError::TempNotFound { .. })),
        "{elsewhere:?}"
    );
}

#[tokio::test]
async fn streamed_download_returns_the_content() {
    let (_dir, store) = store().await;
    let alice = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let data = chunk(9, 300_000);
    let temp = put(&store, &data, None).await;
    store
        .make_permanent(&alice, &temp.key, &temp.cid)
        .await
        .expect("permanent");
    let blob = store.get(&alice, &temp.cid).await.expect("get");
    assert_eq!(blob.size(), data.len() as u64);
    let mut out = Vec::new();
    let mut s = std::pin::pin!(blob.into_stream());
    while let Some(piece) = s.next().await {
        out.extend_from_slice(&piece.expect("chunk"));
    }
    assert_eq!(out, data);
}

#[tokio::test]
async fn make_permanent_refuses_a_dag_cbor_cid() {
    let (_dir, store) = store().await;
    let temp = put(&store, b"abc", None).await;
    let cbor = Cid::for_cbor(b"abc");
    let err = store
        .make_permanent(&did("did:plc:ewvi7nxzyoun6zhxrhs64oiz"), &temp.key, &cbor)
        .await
        .expect_err("not raw");
    assert!(matches!(err, BlobError::NotRawCid(c) if c == cbor));
}

#[tokio::test]
async fn delete_removes_one_blob_and_delete_all_one_account() {
    let (_dir, store) = store().await;
    let alice = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let bob = did("did:plc:bv6ggog3tya2z3vxsub7hnal");
    let mut alice_cids = Vec::new();
    for i in 0..3u8 {
        let t = put(&store, &[i; 10], None).await;
        store
            .make_permanent(&alice, &t.key, &t.cid)
            .await
            .expect("permanent");
        alice_cids.push(t.cid);
    }
    let shared = put(&store, &[0u8; 10], None).await;
    store
        .make_permanent(&bob, &shared.key, &shared.cid)
        .await
        .expect("permanent");
    assert_eq!(shared.cid, alice_cids[0], "same bytes, same CID");

    assert!(store.delete(&alice, &alice_cids[1]).await.expect("delete"));
    assert!(
        !store
            .delete(&alice, &alice_cids[1])
            .await
            .expect("delete twice")
    );
    assert!(!store.exists(&alice, &alice_cids[1]).await.expect("exists"));
    assert!(store.exists(&alice, &alice_cids[2]).await.expect("exists"));

    store.delete_all(&alice).await.expect("delete all");
    for cid in &alice_cids {
        assert!(!store.exists(&alice, cid).await.expect("exists"));
    }
    assert!(
        store.exists(&bob, &shared.cid).await.expect("exists"),
        "other account untouched"
    );
    store
        .delete_all(&alice)
        .await
        .expect("deleting nothing is fine");
}

#[tokio::test]
async fn quarantined_blob_is_hidden_until_released() {
    let (_dir, store) = store().await;
    let alice = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let t = put(&store, b"taken down", None).await;
    store
        .make_permanent(&alice, &t.key, &t.cid)
        .await
        .expect("permanent");

    store.quarantine(&alice, &t.cid).await.expect("quarantine");
    assert!(matches!(
        store.get(&alice, &t.cid).await,
        Err(BlobError::NotFound { .. })
    ));
    let twice = store.quarantine(&alice, &t.cid).await;
    assert!(
        matches!(twice, Err(BlobError::NotFound { .. })),
        "{twice:?}"
    );

    store
        .unquarantine(&alice, &t.cid)
        .await
        .expect("unquarantine");
    assert_eq!(read_all(&store, &alice, &t.cid).await, b"taken down");

    store.quarantine(&alice, &t.cid).await.expect("quarantine");
    assert!(
        store
            .delete(&alice, &t.cid)
            .await
            .expect("delete finds quarantined copy")
    );
    assert!(matches!(
        store.unquarantine(&alice, &t.cid).await,
        Err(BlobError::NotFound { .. })
    ));
}

#[tokio::test]
async fn temp_sweep_lists_only_uploads_older_than_the_grace_period() {
    let (dir, store) = store().await;
    let old = put(&store, b"old", None).await;
    let fresh = put(&store, b"fresh", None).await;
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("tmp").join(old.key.as_str()))
        .expect("open")
        .set_modified(two_hours_ago)
        .expect("set mtime");
    // Stray files the store did not create are never listed (or deleted).
    std::fs::write(dir.path().join("tmp").join("README"), "x").expect("stray");

    let listed = store
        .list_temp_older_than(Duration::from_secs(3600))
        .await
        .expect("list");
    assert_eq!(listed, vec![old.key.clone()]);
    let cutoff = store
        .list_temp_modified_before(two_hours_ago)
        .await
        .expect("list");
    assert!(cutoff.is_empty(), "cutoff is exclusive");

    assert!(store.delete_temp(&old.key).await.expect("delete"));
    assert!(!store.delete_temp(&old.key).await.expect("delete twice"));
    assert!(
        store
            .list_temp_older_than(Duration::from_secs(3600))
            .await
            .expect("list")
            .is_empty()
    );
    // The fresh upload is still there to be made permanent.
    let alice = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    store
        .make_permanent(&alice, &fresh.key, &fresh.cid)
        .await
        .expect("permanent");
}

#[tokio::test]
async fn very_long_did_gets_a_hashed_directory() {
    let (dir, store) = store().await;
    let long = did(&format!("did:web:{}.example.com", "a".repeat(300)));
    let t = put(&store, b"long did", None).await;
    store
        .make_permanent(&long, &t.key, &t.cid)
        .await
        .expect("permanent");
    assert_eq!(read_all(&store, &long, &t.cid).await, b"long did");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("blocks"))
        .expect("blocks")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(
        names[0].starts_with("did-sha256-") && names[0].len() == 11 + 64,
        "{names:?}"
    );
}

#[test]
fn temp_keys_that_could_name_other_paths_are_refused() {
    for bad in [
        "",
        "../../etc/passwd",
        "0123456789abcdef0123456789ABCDEF",
        "0123456789abcdef",
        "0123456789abcdef0123456789abcdef0",
    ] {
        assert!(
            matches!(TempKey::parse(bad), Err(BlobError::InvalidTempKey(_))),
            "{bad:?}"
        );
    }
    assert!(TempKey::parse("0123456789abcdef0123456789abcdef").is_ok());
}

#[tokio::test]
async fn reopening_a_store_keeps_its_blobs() {
    let (dir, store) = store().await;
    let alice = did("did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    let t = put(&store, b"durable", None).await;
    store
        .make_permanent(&alice, &t.key, &t.cid)
        .await
        .expect("permanent");
    let pending = put(&store, b"pending", None).await;
    drop(store);
    let reopened = BlobStore::open(dir.path()).await.expect("reopen");
    assert_eq!(read_all(&reopened, &alice, &t.cid).await, b"durable");
    reopened
        .make_permanent(&alice, &pending.key, &pending.cid)
        .await
        .expect("temp survives reopen");
}
