//! Validation is total: arbitrary data-model values against every builtin record type give a
//! result, never a panic. Values are drawn from the vocabulary the schemas use, so the walk
//! goes deep into embeds, facets and unions rather than stopping at the first property.

use std::collections::BTreeMap;

use aerie_data::{Cid, Value};
use aerie_lexicon::{Catalog, validate_for_write};
use aerie_syntax::Nsid;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "$type",
    "text",
    "createdAt",
    "embed",
    "images",
    "image",
    "alt",
    "aspectRatio",
    "width",
    "height",
    "facets",
    "index",
    "byteStart",
    "byteEnd",
    "features",
    "did",
    "uri",
    "cid",
    "record",
    "media",
    "external",
    "title",
    "description",
    "thumb",
    "video",
    "captions",
    "lang",
    "file",
    "labels",
    "values",
    "val",
    "reply",
    "root",
    "parent",
    "subject",
    "langs",
    "tags",
    "ref",
    "mimeType",
    "size",
    "policies",
    "labelValues",
    "allow",
    "list",
    "name",
    "purpose",
];

const STRINGS: &[&str] = &[
    "",
    "blob",
    "app.bsky.embed.images",
    "app.bsky.embed.record",
    "app.bsky.embed.recordWithMedia",
    "app.bsky.embed.external",
    "app.bsky.embed.video",
    "app.bsky.richtext.facet#link",
    "app.bsky.richtext.facet#mention",
    "com.atproto.label.defs#selfLabels",
    "app.bsky.feed.threadgate#listRule",
    "image/png",
    "video/mp4",
    "2024-01-01T00:00:00Z",
    "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
    "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l",
    "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq",
    "en",
    "🏳️‍🌈\r\n",
    "x#main",
];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Integer),
        (0..4_000_000i64).prop_map(Value::Integer),
        proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,8}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        any::<[u8; 4]>().prop_map(|b| Value::Link(Cid::for_raw(&b))),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6).prop_map(
                |kv| {
                    Value::Map(
                        kv.into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<BTreeMap<_, _>>(),
                    )
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn validation_never_panics(record in value(), validate in proptest::option::of(any::<bool>())) {
        let catalog = Catalog::builtin();
        for collection in catalog.record_types() {
            let nsid = Nsid::parse(collection).expect("builtin NSID");
            let _ = validate_for_write(catalog, &nsid, &record, validate);
            let _ = catalog.validate_record(&nsid, &record);
        }
    }
}

const SCHEMA_KEYS: &[&str] = &[
    "lexicon",
    "id",
    "defs",
    "main",
    "type",
    "record",
    "key",
    "properties",
    "required",
    "nullable",
    "items",
    "ref",
    "refs",
    "closed",
    "format",
    "maxLength",
    "minGraphemes",
    "accept",
    "maxSize",
    "enum",
    "const",
    "default",
    "parameters",
    "input",
    "output",
    "message",
    "schema",
    "encoding",
    "errors",
    "name",
    "permissions",
    "resource",
    "knownValues",
];

const SCHEMA_STRINGS: &[&str] = &[
    "record",
    "object",
    "string",
    "integer",
    "boolean",
    "bytes",
    "cid-link",
    "blob",
    "array",
    "ref",
    "union",
    "unknown",
    "token",
    "params",
    "query",
    "procedure",
    "subscription",
    "permission-set",
    "permission",
    "tid",
    "any",
    "literal:self",
    "literal:",
    "#main",
    "#x",
    "com.example.a",
    "com.example.a#b",
    "com..bad",
    "datetime",
    "uri",
    "image/*",
    "*",
    "application/json",
];

fn json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        (-3i64..5).prop_map(J::from),
        Just(J::from(1.5)),
        proptest::sample::select(SCHEMA_STRINGS).prop_map(J::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            proptest::collection::vec((proptest::sample::select(SCHEMA_KEYS), inner), 0..6)
                .prop_map(|kv| J::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn schema_loading_never_panics(defs in json(), main in json()) {
        let _ = Catalog::check_document(&defs);
        let doc = serde_json::json!({"lexicon": 1, "id": "com.example.a", "defs": {"main": main}});
        let _ = Catalog::check_document(&doc);
    }
}
