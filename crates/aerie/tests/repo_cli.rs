//! `aerie repo inspect|verify|export` run as a real binary on CARs built here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aerie_crypto::{KeyType, SigningKey};
use aerie_data::Cid;
use aerie_data::drisl::Writer;
use aerie_repo::car::write_car;
use aerie_repo::commit::UnsignedCommit;
use aerie_repo::mst::{Key, MemoryBlocks, Mst};
use aerie_repo::repo::{Repo, Write};
use aerie_syntax::{Did, Tid};

const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

fn record(text: &str) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(3)
        .text("text")
        .text(text)
        .text("$type")
        .text("app.bsky.feed.post");
    w.text("createdAt").text("2024-05-01T12:00:00.000Z");
    w.into_inner()
}

fn tid(n: u64) -> Tid {
    Tid::from_parts(1_700_000_000_000_000 + n * 1000, 3).unwrap()
}

/// A repository with 3 posts and 2 likes, its signing key, and the CAR of its current state.
fn sample_repo() -> (SigningKey, Vec<u8>) {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let mut store = MemoryBlocks::new();
    let (mut repo, first) = Repo::create(Did::parse(DID).unwrap(), &key, tid(1));
    store.extend(first.new_blocks);
    let writes: Vec<Write> = (0..3)
        .map(|i| {
            Write::create(
                Key::from_parts("app.bsky.feed.post", tid(10 + i).as_str()).unwrap(),
                record(&format!("post {i}")),
            )
        })
        .chain((0..2).map(|i| {
            Write::create(
                Key::from_parts("app.bsky.feed.like", tid(20 + i).as_str()).unwrap(),
                record(&format!("like {i}")),
            )
        }))
        .collect();
    let data = repo.apply_writes(&store, &writes, &key, tid(2)).unwrap();
    for cid in &data.removed_blocks {
        store.remove(cid);
    }
    store.extend(data.new_blocks);
    let car = write_car(&[repo.commit_cid()], store.iter());
    (key, car)
}

/// A CAR whose single record is `record` (any bytes), correctly linked and signed.
fn car_with_record(record: &[u8]) -> (SigningKey, Vec<u8>) {
    let key = SigningKey::generate(KeyType::K256).unwrap();
    let rcid = Cid::for_cbor(record);
    let mut mst = Mst::build([(
        Key::from_parts("app.bsky.feed.post", tid(5).as_str()).unwrap(),
        rcid,
    )])
    .unwrap();
    let (data, nodes) = mst.commit();
    let commit = UnsignedCommit {
        did: Did::parse(DID).unwrap(),
        data,
        rev: tid(6),
        prev: None,
    }
    .sign(&key);
    let (ccid, cbytes) = commit.to_block();
    let mut blocks = vec![(ccid, cbytes), (rcid, record.to_vec())];
    blocks.extend(nodes);
    (
        key,
        write_car(&[ccid], blocks.iter().map(|(c, b)| (c, b.as_slice()))),
    )
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn aerie(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aerie"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure must be one `error: ...` line, exit status 1, and never a panic.
fn assert_clean_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "expected {needle:?} in {err}");
}

fn verify(path: &Path, key: Option<&SigningKey>) -> Output {
    let p = path.to_str().unwrap();
    match key {
        Some(k) => aerie(&["repo", "verify", p, "--key", &k.public_key().to_did_key()]),
        None => aerie(&["repo", "verify", p]),
    }
}

#[test]
fn verify_with_the_right_key_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (key, car) = sample_repo();
    let p = write_file(dir.path(), "repo.car", &car);
    let o = verify(&p, Some(&key));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("signature:   ok"));
}

#[test]
fn verify_without_key_says_signature_not_checked_and_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    let (_, car) = sample_repo();
    let p = write_file(dir.path(), "repo.car", &car);
    let o = verify(&p, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("signature NOT checked: no --key given"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn verify_with_a_wrong_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (_, car) = sample_repo();
    let other = SigningKey::generate(KeyType::P256).unwrap();
    let p = write_file(dir.path(), "repo.car", &car);
    let o = verify(&p, Some(&other));
    assert_clean_error(&o, "signature does not verify");
    assert!(stdout(&o).contains("BAD"));
}

#[test]
fn inspect_reports_account_and_counts_per_collection() {
    let dir = tempfile::tempdir().unwrap();
    let (_, car) = sample_repo();
    let p = write_file(dir.path(), "repo.car", &car);
    let o = aerie(&["repo", "inspect", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("did:         {DID}")), "{out}");
    assert!(out.contains(&format!("rev:         {}", tid(2))), "{out}");
    assert!(
        out.contains("signature:   no key given; signature not checked"),
        "{out}"
    );
    assert!(out.contains("records:     5"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("app.bsky.feed.post")
                && l.trim_end().ends_with(" 3")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("app.bsky.feed.like")
                && l.trim_end().ends_with(" 2")),
        "{out}"
    );
    assert!(
        out.contains(&format!("bytes:       {}", car.len())),
        "{out}"
    );
}

#[test]
fn export_writes_sorted_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (_, car) = sample_repo();
    let p = write_file(dir.path(), "repo.car", &car);
    let o = aerie(&["repo", "export", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let uris: Vec<&str> = lines.iter().map(|l| l["uri"].as_str().unwrap()).collect();
    let mut sorted = uris.clone();
    sorted.sort();
    assert_eq!(uris, sorted);
    assert!(uris[0].starts_with(&format!("at://{DID}/app.bsky.feed.like/")));
    assert_eq!(lines[0]["value"]["$type"], "app.bsky.feed.post");
    assert_eq!(lines[0]["value"]["text"], "like 0");
    let cid: Cid = lines[0]["cid"].as_str().unwrap().parse().unwrap();
    assert_eq!(cid, Cid::for_cbor(&record("like 0")));
}

#[test]
fn empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "empty.car", b"");
    assert_clean_error(&verify(&p, None), "empty CAR");
}

#[test]
fn missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("absent.car");
    assert_clean_error(&verify(&p, None), "absent.car");
}

#[test]
fn truncated_file_is_an_error_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (key, car) = sample_repo();
    let p = write_file(dir.path(), "cut.car", &car[..car.len() - 10]);
    assert_clean_error(&verify(&p, Some(&key)), "truncated at byte");
}

#[test]
fn garbage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(
        dir.path(),
        "garbage.car",
        b"this is not a CAR file at all, just text\n",
    );
    assert_clean_error(&verify(&p, None), "error");
}

#[test]
fn absurd_section_length_is_refused_without_reading_on() {
    let dir = tempfile::tempdir().unwrap();
    let (key, car) = sample_repo();
    let header_len = car[0] as usize + 1;
    let mut bad = car[..header_len].to_vec();
    bad.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    let p = write_file(dir.path(), "huge.car", &bad);
    assert_clean_error(&verify(&p, Some(&key)), "exceeds the limit");
}

#[test]
fn block_whose_hash_does_not_match_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, mut car) = sample_repo();
    let last = car.len() - 1;
    car[last] ^= 0x01;
    let p = write_file(dir.path(), "flipped.car", &car);
    assert_clean_error(&verify(&p, Some(&key)), "does not match its hash");
}

#[test]
fn deeply_nested_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut deep = Writer::new();
    deep.map(1).text("a");
    for _ in 0..5000 {
        deep.array(1);
    }
    deep.null();
    let (key, car) = car_with_record(deep.as_slice());
    let p = write_file(dir.path(), "deep.car", &car);
    assert_clean_error(&verify(&p, Some(&key)), "app.bsky.feed.post/");
}

#[test]
fn record_that_is_not_a_map_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = Writer::new();
    w.text("just a string");
    let (key, car) = car_with_record(w.as_slice());
    let p = write_file(dir.path(), "string.car", &car);
    assert_clean_error(&verify(&p, Some(&key)), "not a map");
}

#[test]
fn missing_record_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, car) = car_with_record(&record("x"));
    // Rebuild the CAR without the record block.
    let mut r = aerie_repo::car::CarReader::new(car.as_slice()).unwrap();
    let roots = r.roots().to_vec();
    let rcid = Cid::for_cbor(&record("x"));
    let mut blocks = Vec::new();
    while let Some((c, b)) = r.next_block().unwrap() {
        if c != rcid {
            blocks.push((c, b.to_vec()));
        }
    }
    let p = write_file(
        dir.path(),
        "norecord.car",
        &write_car(&roots, blocks.iter().map(|(c, b)| (c, b.as_slice()))),
    );
    assert_clean_error(&verify(&p, Some(&key)), "missing block");
}

#[test]
fn bad_key_argument_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, car) = sample_repo();
    let p = write_file(dir.path(), "repo.car", &car);
    let o = aerie(&[
        "repo",
        "verify",
        p.to_str().unwrap(),
        "--key",
        "did:key:zNotAKey",
    ]);
    assert_clean_error(&o, "--key");
}
