//! DRISL encode/decode speed on two typical shapes: a post record and a 16-entry MST node.
//!
//! Run: `cargo bench -p aerie-data --bench drisl -- --sample-count 200`

use aerie_data::drisl::{self, Reader, Writer};
use aerie_data::json::from_json;
use aerie_data::{Cid, Value};
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

fn post() -> Value {
    from_json(&serde_json::json!({
        "$type": "app.bsky.feed.post",
        "text": "Reading the DRISL spec on a train; the canonical key order is length-first, which surprised me.",
        "createdAt": "2026-11-25T22:40:00.000Z",
        "langs": ["en"],
        "reply": {
            "root": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l2s5xxv2ze2c",
                     "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"},
            "parent": {"uri": "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l2s5xxv2ze2c",
                       "cid": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"}
        },
        "embed": {"$type": "app.bsky.embed.images", "images": [{
            "alt": "a train window",
            "image": {"$type": "blob", "ref": {"$link": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity"},
                      "mimeType": "image/jpeg", "size": 123456}
        }]}
    }))
    .expect("valid post")
}

/// An MST node: `{e: [{k, p, t, v} x16], l}` with prefix-compressed keys.
fn mst_node() -> Value {
    let entries = (0..16u8)
        .map(|i| {
            let key = if i == 0 {
                format!("app.bsky.feed.post/3l2s5xxv2ze{i:02}").into_bytes()
            } else {
                format!("{i:02}").into_bytes()
            };
            Value::Map(
                [
                    ("k".to_owned(), Value::Bytes(key)),
                    ("p".to_owned(), Value::Integer(if i == 0 { 0 } else { 29 })),
                    (
                        "t".to_owned(),
                        if i % 3 == 0 {
                            Value::Link(Cid::for_cbor(&[i, 1]))
                        } else {
                            Value::Null
                        },
                    ),
                    ("v".to_owned(), Value::Link(Cid::for_cbor(&[i]))),
                ]
                .into(),
            )
        })
        .collect();
    Value::Map(
        [
            ("e".to_owned(), Value::Array(entries)),
            ("l".to_owned(), Value::Link(Cid::for_cbor(b"l"))),
        ]
        .into(),
    )
}

#[divan::bench(name = "post: encode Value")]
fn post_encode(b: Bencher) {
    let v = post();
    b.bench(|| drisl::encode(black_box(&v)));
}

#[divan::bench(name = "post: decode Value")]
fn post_decode(b: Bencher) {
    let bytes = drisl::encode(&post());
    b.bench(|| drisl::decode(black_box(&bytes)).expect("decodes"));
}

#[divan::bench(name = "post: decode Ipld (serde_ipld_dagcbor)")]
fn post_decode_oracle(b: Bencher) {
    let bytes = drisl::encode(&post());
    b.bench(|| {
        serde_ipld_dagcbor::from_slice::<ipld_core::ipld::Ipld>(black_box(&bytes)).expect("decodes")
    });
}

#[divan::bench(name = "post: skip (validate only)")]
fn post_skip(b: Bencher) {
    let bytes = drisl::encode(&post());
    b.bench(|| Reader::new(black_box(&bytes)).skip().expect("valid"));
}

#[divan::bench(name = "mst16: encode Value")]
fn mst_encode(b: Bencher) {
    let v = mst_node();
    b.bench(|| drisl::encode(black_box(&v)));
}

#[divan::bench(name = "mst16: decode Value")]
fn mst_decode(b: Bencher) {
    let bytes = drisl::encode(&mst_node());
    b.bench(|| drisl::decode(black_box(&bytes)).expect("decodes"));
}

#[divan::bench(name = "mst16: decode Ipld (serde_ipld_dagcbor)")]
fn mst_decode_oracle(b: Bencher) {
    let bytes = drisl::encode(&mst_node());
    b.bench(|| {
        serde_ipld_dagcbor::from_slice::<ipld_core::ipld::Ipld>(black_box(&bytes)).expect("decodes")
    });
}

/// The fixed-schema path an MST codec takes: Writer calls in canonical key order.
#[divan::bench(name = "mst16: encode with Writer")]
fn mst_encode_writer(b: Bencher) {
    let node = fixed_node();
    let mut w = Writer::with_capacity(1400);
    b.bench_local(|| {
        w.clear();
        let (entries, left) = black_box(&node);
        w.map(2).text("e").array(entries.len());
        for (k, p, t, v) in entries {
            w.map(4)
                .text("k")
                .bytes(k)
                .text("p")
                .uint(*p)
                .text("t")
                .opt_link(t.as_ref())
                .text("v")
                .link(v);
        }
        w.text("l").opt_link(left.as_ref());
        w.as_slice().len()
    });
}

/// The fixed-schema path an MST codec takes: Reader calls with expected keys.
#[divan::bench(name = "mst16: decode with Reader")]
fn mst_decode_reader(b: Bencher) {
    let bytes = drisl::encode(&mst_node());
    b.bench(|| read_fixed(black_box(&bytes)).expect("decodes"));
}

type Entry = (Vec<u8>, u64, Option<Cid>, Cid);

fn fixed_node() -> (Vec<Entry>, Option<Cid>) {
    let bytes = drisl::encode(&mst_node());
    read_fixed(&bytes).expect("decodes")
}

fn read_fixed(bytes: &[u8]) -> Result<(Vec<Entry>, Option<Cid>), drisl::DecodeError> {
    let mut r = Reader::new(bytes);
    r.map_len()?;
    r.expect_key("e")?;
    let n = r.array_len()?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        r.map_len()?;
        r.expect_key("k")?;
        let k = r.bytes()?.to_vec();
        r.expect_key("p")?;
        let p = r.uint()?;
        r.expect_key("t")?;
        let t = r.opt_link()?;
        r.expect_key("v")?;
        let v = r.link()?;
        entries.push((k, p, t, v));
    }
    r.expect_key("l")?;
    let l = r.opt_link()?;
    r.finish()?;
    Ok((entries, l))
}
