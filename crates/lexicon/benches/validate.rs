//! Validation speed of a typical post: text with a mention and a link facet, two languages,
//! and an image embed with alt text and aspect ratio.

use std::collections::BTreeMap;

use aerie_data::{Cid, Value};
use aerie_lexicon::{Catalog, validate_for_write};
use aerie_syntax::Nsid;

fn main() {
    divan::main();
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(BTreeMap::from(entries.map(|(k, v)| (k.to_owned(), v))))
}

fn typical_post() -> Value {
    post_with_text(
        "Hello @alice.example.com, have a look at https://example.com/some/article \
         and tell me what you think about it. Photos from the weekend below!",
    )
}

fn post_with_text(text: &str) -> Value {
    let cid = Cid::for_raw(b"a picture");
    let facet = |start: i64, end: i64, feature: Value| {
        map([
            ("$type", s("app.bsky.richtext.facet")),
            (
                "index",
                map([
                    ("byteStart", Value::Integer(start)),
                    ("byteEnd", Value::Integer(end)),
                ]),
            ),
            ("features", Value::Array(vec![feature])),
        ])
    };
    map([
        ("$type", s("app.bsky.feed.post")),
        ("text", s(text)),
        ("createdAt", s("2024-11-25T22:43:10.123Z")),
        ("langs", Value::Array(vec![s("en"), s("pt-BR")])),
        (
            "facets",
            Value::Array(vec![
                facet(
                    6,
                    24,
                    map([
                        ("$type", s("app.bsky.richtext.facet#mention")),
                        ("did", s("did:plc:ewvi7nxzyoun6zhxrhs64oiz")),
                    ]),
                ),
                facet(
                    41,
                    73,
                    map([
                        ("$type", s("app.bsky.richtext.facet#link")),
                        ("uri", s("https://example.com/some/article")),
                    ]),
                ),
            ]),
        ),
        (
            "embed",
            map([
                ("$type", s("app.bsky.embed.images")),
                (
                    "images",
                    Value::Array(vec![map([
                        ("alt", s("A dog running on a beach")),
                        (
                            "image",
                            map([
                                ("$type", s("blob")),
                                ("ref", Value::Link(cid)),
                                ("mimeType", s("image/jpeg")),
                                ("size", Value::Integer(412_345)),
                            ]),
                        ),
                        (
                            "aspectRatio",
                            map([
                                ("width", Value::Integer(1600)),
                                ("height", Value::Integer(1200)),
                            ]),
                        ),
                    ])]),
                ),
            ]),
        ),
    ])
}

#[divan::bench]
fn typical_post_with_facets_and_image(bencher: divan::Bencher) {
    let catalog = Catalog::builtin();
    let collection = Nsid::parse("app.bsky.feed.post").expect("valid NSID");
    let post = typical_post();
    assert!(validate_for_write(catalog, &collection, &post, None).is_ok());
    bencher.bench(|| {
        validate_for_write(
            catalog,
            divan::black_box(&collection),
            divan::black_box(&post),
            None,
        )
    });
}

/// The same post with mixed Japanese and emoji text: 320 chars, 230 graphemes, 1,020 bytes.
/// More chars than the 300-grapheme limit, so the grapheme segmentation actually runs.
#[divan::bench]
fn post_with_text_needing_grapheme_segmentation(bencher: divan::Bencher) {
    let catalog = Catalog::builtin();
    let collection = Nsid::parse("app.bsky.feed.post").expect("valid NSID");
    let text = "週末の写真です。".repeat(25) + &"🏳️‍🌈".repeat(30);
    let post = post_with_text(&text);
    assert!(validate_for_write(catalog, &collection, &post, None).is_ok());
    bencher.bench(|| {
        validate_for_write(
            catalog,
            divan::black_box(&collection),
            divan::black_box(&post),
            None,
        )
    });
}
