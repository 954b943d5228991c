//! Test and benchmark inputs: realistic records under TID record keys.
#![allow(dead_code)]

use aerie_data::Cid;
use aerie_data::drisl::Writer;
use aerie_repo::mst::Key;
use aerie_syntax::Tid;

/// A small deterministic generator (xorshift64*), so inputs are reproducible without a
/// dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the",
    "relay",
    "sky",
    "post",
    "morning",
    "coffee",
    "repo",
    "merkle",
    "tree",
    "signed",
    "commit",
    "firehose",
    "federation",
    "today",
    "again",
    "small",
    "world",
    "hello",
    "writing",
    "code",
    "rust",
    "birds",
    "weather",
    "train",
    "late",
    "why",
    "is",
    "it",
    "always",
    "like",
];

/// A post-like record (`app.bsky.feed.post`), canonical DRISL, 150-300 bytes.
pub fn post(rng: &mut Rng) -> Vec<u8> {
    let target = 90 + rng.below(150) as usize;
    let mut text = String::with_capacity(target + 12);
    while text.len() < target {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len() as u64) as usize]);
    }
    let secs = 1_700_000_000 + rng.below(60_000_000);
    let created = format!(
        "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + secs % 12,
        1 + secs % 28,
        secs % 24,
        secs % 60,
        (secs / 7) % 60,
        secs % 1000
    );
    let mut w = Writer::with_capacity(320);
    // Canonical key order: text, $type, langs, createdAt.
    w.map(4).text("text").text(&text);
    w.text("$type").text("app.bsky.feed.post");
    w.text("langs").array(1).text("en");
    w.text("createdAt").text(&created);
    w.into_inner()
}

/// `n` ascending TID record keys.
pub fn tids(n: usize, seed: u64) -> Vec<Tid> {
    let mut rng = Rng::new(seed);
    let mut micros = 1_700_000_000_000_000u64;
    (0..n)
        .map(|_| {
            micros += 1 + rng.below(5_000_000);
            Tid::from_parts(micros, (rng.below(32)) as u16).expect("valid TID parts")
        })
        .collect()
}

/// `n` post records under `app.bsky.feed.post/<tid>`, sorted by key, with their CIDs.
pub fn posts(n: usize, seed: u64) -> Vec<(Key, Cid, Vec<u8>)> {
    let mut rng = Rng::new(seed ^ 0xabcdef);
    tids(n, seed)
        .into_iter()
        .map(|tid| {
            let key = Key::from_parts("app.bsky.feed.post", tid.as_str()).expect("valid key");
            let record = post(&mut rng);
            (key, Cid::for_cbor(&record), record)
        })
        .collect()
}
