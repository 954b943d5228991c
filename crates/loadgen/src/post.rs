//! Realistic `app.bsky.feed.post` records: varied text lengths, English language tag, a link
//! facet on some posts, replies on others. Content is chosen by a small deterministic PRNG so
//! runs are comparable across servers.

use aerie_syntax::Datetime;
use serde_json::{Value, json};

use crate::xrpc::StrongRef;

/// xorshift64*: plenty for picking words and records, no dependency, never zero.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // The mix keeps nearby seeds (worker 0, 1, 2...) from producing similar streams.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough index below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "today",
    "finally",
    "shipped",
    "coffee",
    "morning",
    "thread",
    "about",
    "protocol",
    "server",
    "rust",
    "garden",
    "weekend",
    "reading",
    "new",
    "release",
    "notes",
    "really",
    "enjoyed",
    "this",
    "talk",
    "on",
    "federation",
    "and",
    "small",
    "web",
    "ideas",
    "photo",
    "from",
    "the",
    "hike",
    "yesterday",
    "anyone",
    "else",
    "seeing",
    "slow",
    "trains",
    "great",
    "question",
    "honestly",
    "not",
    "sure",
    "why",
    "it",
    "works",
    "but",
    "it",
    "does",
];

/// A reply target: the thread root and the post being answered.
#[derive(Clone)]
pub(crate) struct Thread {
    pub root: StrongRef,
    pub parent: StrongRef,
}

/// Builds one post. `n` makes link URLs distinct; `reply_to` makes it a reply.
pub(crate) fn post(rng: &mut Rng, n: u64, reply_to: Option<&Thread>) -> Value {
    // Lengths spread like real posts: many short ones, some near the 300-grapheme limit.
    let target_len = match rng.below(10) {
        0..=4 => 20 + rng.below(60),
        5..=8 => 80 + rng.below(120),
        _ => 200 + rng.below(80),
    };
    let with_link = rng.below(3) == 0;
    // app.bsky.feed.post allows 300 graphemes; the text is ASCII, so bytes count graphemes.
    // A link needs at most 47 bytes (" https://example.com/notes/" + 20 digits).
    let limit = if with_link { 300 - 47 } else { 300 };
    let mut text = String::with_capacity(target_len + 48);
    while text.len() < target_len {
        let word = WORDS[rng.below(WORDS.len())];
        if text.len() + 1 + word.len() > limit {
            break;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(word);
    }
    let mut record = json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "langs": ["en"],
        "createdAt": Datetime::now().as_str(),
    });
    let Some(map) = record.as_object_mut() else {
        return record;
    };
    if with_link {
        let link = format!("https://example.com/notes/{n}");
        let mut text = text;
        text.push(' ');
        // Facet offsets are UTF-8 byte offsets; the text is ASCII so bytes and chars agree.
        let start = text.len();
        text.push_str(&link);
        let end = text.len();
        map.insert("text".to_owned(), text.into());
        map.insert(
            "facets".to_owned(),
            json!([{
                "index": { "byteStart": start, "byteEnd": end },
                "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": link }],
            }]),
        );
    }
    if let Some(thread) = reply_to {
        map.insert(
            "reply".to_owned(),
            json!({
                "root": { "uri": thread.root.uri, "cid": thread.root.cid },
                "parent": { "uri": thread.parent.uri, "cid": thread.parent.cid },
            }),
        );
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong(n: u32) -> StrongRef {
        StrongRef {
            uri: format!("at://did:plc:abc/app.bsky.feed.post/{n}"),
            cid: "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm".to_owned(),
        }
    }

    #[test]
    fn posts_stay_within_the_lexicon_text_limit() {
        let mut rng = Rng::new(7);
        for n in 0..500 {
            let p = post(&mut rng, n, None);
            let text = p["text"].as_str().unwrap();
            // app.bsky.feed.post: maxLength 3000 bytes, maxGraphemes 300 (ASCII: one each).
            assert!(!text.is_empty() && text.len() <= 300, "{}", text.len());
            assert!(Datetime::parse(p["createdAt"].as_str().unwrap()).is_ok());
        }
    }

    #[test]
    fn link_facets_cover_exactly_the_link() {
        let mut rng = Rng::new(1);
        let mut seen = 0;
        for n in 0..100 {
            let p = post(&mut rng, n, None);
            let Some(facets) = p.get("facets") else {
                continue;
            };
            seen += 1;
            let text = p["text"].as_str().unwrap();
            let idx = &facets[0]["index"];
            let (s, e) = (
                idx["byteStart"].as_u64().unwrap() as usize,
                idx["byteEnd"].as_u64().unwrap() as usize,
            );
            assert_eq!(
                &text[s..e],
                facets[0]["features"][0]["uri"].as_str().unwrap()
            );
        }
        assert!(seen > 10, "some posts carry a link facet ({seen})");
    }

    #[test]
    fn replies_reference_root_and_parent() {
        let mut rng = Rng::new(3);
        let thread = Thread {
            root: strong(1),
            parent: strong(2),
        };
        let p = post(&mut rng, 0, Some(&thread));
        assert_eq!(p["reply"]["root"]["uri"], thread.root.uri.as_str());
        assert_eq!(p["reply"]["parent"]["uri"], thread.parent.uri.as_str());
    }

    #[test]
    fn rng_indices_stay_in_range_and_vary() {
        let mut rng = Rng::new(0);
        let picks: Vec<usize> = (0..1000).map(|_| rng.below(7)).collect();
        assert!(picks.iter().all(|&i| i < 7));
        for v in 0..7 {
            assert!(picks.contains(&v), "{v} never drawn");
        }
    }
}
