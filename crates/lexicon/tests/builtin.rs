//! The builtin catalog: every shipped record type with a valid and an invalid example, the
//! PDS's `validate` flag, blob constraints and record key types.

mod support;

use aerie_lexicon::{
    Catalog, KeyType, ValidationError, ValidationStatus, check_rkey, validate_for_write,
};
use aerie_syntax::{Nsid, RecordKey};

const CID: &str = "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq";
const NOW: &str = "2024-11-25T22:43:10.123Z";
const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";
const POST_URI: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l";
const LIST_URI: &str = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.graph.list/3l6oveex3ii2l";

fn nsid(s: &str) -> Nsid {
    Nsid::parse(s).expect("test NSID")
}

/// Fills `{cid}`, `{now}`, `{did}`, `{post}`, `{list}` into a JSON template.
fn fill(template: &str) -> String {
    template
        .replace("{cid}", CID)
        .replace("{now}", NOW)
        .replace("{did}", DID)
        .replace("{post}", POST_URI)
        .replace("{list}", LIST_URI)
}

fn blob(mime: &str, size: u64) -> String {
    format!(r#"{{"$type":"blob","ref":{{"$link":"{CID}"}},"mimeType":"{mime}","size":{size}}}"#)
}

/// Validates `json` as a record of `collection` with the builtin catalog.
fn check(collection: &str, json: &str) -> Result<(), ValidationError> {
    let record = support::parse(&fill(json));
    Catalog::builtin().validate_record(&nsid(collection), &record)
}

fn expect_valid(collection: &str, json: &str) {
    if let Err(e) = check(collection, json) {
        panic!("{collection}: must validate, got {e}\n{json}");
    }
}

fn expect_invalid(collection: &str, json: &str, detail: &str) {
    match check(collection, json) {
        Ok(()) => panic!("{collection}: must fail with {detail:?}\n{json}"),
        Err(e) => assert_eq!(e.detail().as_deref(), Some(detail), "{collection}: {e}"),
    }
}

/// (collection, a valid record, an invalid record, the invalid one's expected detail)
const TABLE: &[(&str, &str, &str, &str)] = &[
    (
        "app.bsky.feed.post",
        r#"{"$type":"app.bsky.feed.post","text":"hello","createdAt":"{now}","langs":["en"],
            "tags":["rust"],"labels":{"$type":"com.atproto.label.defs#selfLabels","values":[{"val":"nudity"}]},
            "reply":{"root":{"uri":"{post}","cid":"{cid}"},"parent":{"uri":"{post}","cid":"{cid}"}},
            "facets":[{"index":{"byteStart":0,"byteEnd":5},"features":[{"$type":"app.bsky.richtext.facet#tag","tag":"hi"}]}]}"#,
        r#"{"$type":"app.bsky.feed.post","createdAt":"{now}"}"#,
        r#"Record must have the property "text""#,
    ),
    (
        "app.bsky.feed.like",
        r#"{"$type":"app.bsky.feed.like","subject":{"uri":"{post}","cid":"{cid}"},"createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.feed.like","subject":{"uri":"{post}","cid":"not-a-cid"},"createdAt":"{now}"}"#,
        "Record/subject/cid must be a cid string",
    ),
    (
        "app.bsky.feed.repost",
        r#"{"$type":"app.bsky.feed.repost","subject":{"uri":"{post}","cid":"{cid}"},"createdAt":"{now}",
            "via":{"uri":"{post}","cid":"{cid}"}}"#,
        r#"{"$type":"app.bsky.feed.repost","subject":{"uri":"https://example.com","cid":"{cid}"},"createdAt":"{now}"}"#,
        "Record/subject/uri must be a valid at-uri",
    ),
    (
        "app.bsky.graph.follow",
        r#"{"$type":"app.bsky.graph.follow","subject":"{did}","createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.graph.follow","subject":"alice.example.com","createdAt":"{now}"}"#,
        "Record/subject must be a valid did",
    ),
    (
        "app.bsky.graph.block",
        r#"{"$type":"app.bsky.graph.block","subject":"{did}","createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.graph.block","subject":"{did}","createdAt":"2024-11-25"}"#,
        "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
    ),
    (
        "app.bsky.graph.list",
        r#"{"$type":"app.bsky.graph.list","name":"Friends","purpose":"app.bsky.graph.defs#curatelist",
            "createdAt":"{now}","avatar":BLOB_PNG}"#,
        r#"{"$type":"app.bsky.graph.list","name":"","purpose":"app.bsky.graph.defs#curatelist","createdAt":"{now}"}"#,
        "Record/name must not be shorter than 1 characters",
    ),
    (
        "app.bsky.graph.listitem",
        r#"{"$type":"app.bsky.graph.listitem","subject":"{did}","list":"{list}","createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.graph.listitem","subject":"{did}","createdAt":"{now}"}"#,
        r#"Record must have the property "list""#,
    ),
    (
        "app.bsky.graph.listblock",
        r#"{"$type":"app.bsky.graph.listblock","subject":"{list}","createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.graph.listblock","subject":42,"createdAt":"{now}"}"#,
        "Record/subject must be a string",
    ),
    (
        "app.bsky.graph.starterpack",
        r#"{"$type":"app.bsky.graph.starterpack","name":"Rustaceans","list":"{list}","createdAt":"{now}",
            "feeds":[{"uri":"at://{did}/app.bsky.feed.generator/rust"}]}"#,
        r#"{"$type":"app.bsky.graph.starterpack","name":"Rustaceans","list":"{list}","createdAt":"{now}",
            "feeds":[{"uri":"a"},{"uri":"b"},{"uri":"c"},{"uri":"d"}]}"#,
        "Record/feeds must not have more than 3 elements",
    ),
    (
        "app.bsky.graph.verification",
        r#"{"$type":"app.bsky.graph.verification","subject":"{did}","handle":"alice.example.com",
            "displayName":"Alice","createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.graph.verification","subject":"{did}","handle":"not a handle",
            "displayName":"Alice","createdAt":"{now}"}"#,
        "Record/handle must be a valid handle",
    ),
    (
        "app.bsky.graph.referencelistoptout",
        r#"{"$type":"app.bsky.graph.referencelistoptout","subject":"{list}","createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.graph.referencelistoptout","subject":"{list}"}"#,
        r#"Record must have the property "createdAt""#,
    ),
    (
        "app.bsky.actor.profile",
        r#"{"$type":"app.bsky.actor.profile","displayName":"Alice","description":"hi","avatar":BLOB_PNG,
            "pinnedPost":{"uri":"{post}","cid":"{cid}"},"createdAt":"{now}"}"#,
        r#"{"$type":"app.bsky.actor.profile","displayName":"Alice","avatar":BLOB_GIF}"#,
        "Record/avatar has MIME type image/gif, which is not one of (image/png|image/jpeg)",
    ),
    (
        "app.bsky.actor.status",
        r#"{"$type":"app.bsky.actor.status","status":"app.bsky.actor.status#live","durationMinutes":30,
            "createdAt":"{now}","embed":{"$type":"app.bsky.embed.external",
            "external":{"uri":"https://example.com/live","title":"Live","description":"now"}}}"#,
        r#"{"$type":"app.bsky.actor.status","status":"app.bsky.actor.status#live","createdAt":"{now}",
            "embed":{"$type":"app.bsky.embed.external","external":{"uri":"https://example.com/live","title":"Live"}}}"#,
        r#"Record/embed/external must have the property "description""#,
    ),
    (
        "app.bsky.actor.contentVisibilityDeclaration",
        r#"{"$type":"app.bsky.actor.contentVisibilityDeclaration","hideFromAlgorithmicRecommendations":true}"#,
        r#"{"$type":"app.bsky.actor.contentVisibilityDeclaration","hideFromAlgorithmicRecommendations":"yes"}"#,
        "Record/hideFromAlgorithmicRecommendations must be a boolean",
    ),
    (
        "app.bsky.feed.threadgate",
        r#"{"$type":"app.bsky.feed.threadgate","post":"{post}","createdAt":"{now}",
            "allow":[{"$type":"app.bsky.feed.threadgate#mentionRule"},
                     {"$type":"app.bsky.feed.threadgate#listRule","list":"{list}"}],
            "hiddenReplies":["{post}"]}"#,
        r#"{"$type":"app.bsky.feed.threadgate","post":"{post}","createdAt":"{now}",
            "allow":[{"$type":"app.bsky.feed.threadgate#listRule"}]}"#,
        r#"Record/allow/0 must have the property "list""#,
    ),
    (
        "app.bsky.feed.postgate",
        r#"{"$type":"app.bsky.feed.postgate","post":"{post}","createdAt":"{now}",
            "embeddingRules":[{"$type":"app.bsky.feed.postgate#disableRule"}],"detachedEmbeddingUris":["{post}"]}"#,
        r#"{"$type":"app.bsky.feed.postgate","post":"{post}","createdAt":"{now}","embeddingRules":[{}]}"#,
        r#"Record/embeddingRules/0 must be an object which includes the "$type" property"#,
    ),
    (
        "app.bsky.feed.generator",
        r#"{"$type":"app.bsky.feed.generator","did":"did:web:feeds.example.com","displayName":"Rust",
            "description":"Posts about Rust","createdAt":"{now}","acceptsInteractions":true,
            "contentMode":"app.bsky.feed.defs#contentModeUnspecified"}"#,
        r#"{"$type":"app.bsky.feed.generator","did":"did:web:feeds.example.com",
            "displayName":"A feed name that is far too long to fit","createdAt":"{now}"}"#,
        "Record/displayName must not be longer than 24 graphemes",
    ),
    (
        "app.bsky.labeler.service",
        r#"{"$type":"app.bsky.labeler.service","createdAt":"{now}","policies":{"labelValues":["spam","!warn"],
            "labelValueDefinitions":[{"identifier":"spam","severity":"alert","blurs":"none",
            "locales":[{"lang":"en","name":"Spam","description":"Unwanted"}]}]},
            "reasonTypes":["com.atproto.moderation.defs#reasonSpam"],"subjectTypes":["account"]}"#,
        r#"{"$type":"app.bsky.labeler.service","createdAt":"{now}","policies":{"labelValueDefinitions":[]}}"#,
        r#"Record/policies must have the property "labelValues""#,
    ),
    (
        "app.bsky.notification.declaration",
        r#"{"$type":"app.bsky.notification.declaration","allowSubscriptions":"followers"}"#,
        r#"{"$type":"app.bsky.notification.declaration","allowSubscriptions":null}"#,
        "Record/allowSubscriptions must be a string",
    ),
    (
        "chat.bsky.actor.declaration",
        r#"{"$type":"chat.bsky.actor.declaration","allowIncoming":"following"}"#,
        r#"{"$type":"chat.bsky.actor.declaration","allowIncoming":["all"]}"#,
        "Record/allowIncoming must be a string",
    ),
    (
        "com.atproto.lexicon.schema",
        r#"{"$type":"com.atproto.lexicon.schema","lexicon":1,"id":"com.example.thing","defs":{}}"#,
        r#"{"$type":"com.atproto.lexicon.schema","lexicon":"1"}"#,
        "Record/lexicon must be an integer",
    ),
    (
        "com.germnetwork.declaration",
        r#"{"$type":"com.germnetwork.declaration","version":"1.0.0","currentKey":{"$bytes":"AAECAw"}}"#,
        r#"{"$type":"com.germnetwork.declaration","version":"1","currentKey":{"$bytes":"AAECAw"}}"#,
        "Record/version must not be shorter than 5 characters",
    ),
];

fn expand(json: &str) -> String {
    json.replace("BLOB_PNG", &blob("image/png", 12_345))
        .replace("BLOB_GIF", &blob("image/gif", 12_345))
}

#[test]
fn every_builtin_record_type_accepts_a_valid_record() {
    for (collection, valid, _, _) in TABLE {
        expect_valid(collection, &expand(valid));
    }
}

#[test]
fn every_builtin_record_type_rejects_an_invalid_record_naming_the_path() {
    for (collection, _, invalid, detail) in TABLE {
        expect_invalid(collection, &expand(invalid), detail);
    }
}

#[test]
fn table_covers_every_builtin_record_type() {
    let mut covered: Vec<&str> = TABLE.iter().map(|t| t.0).collect();
    covered.sort_unstable();
    assert_eq!(covered, Catalog::builtin().record_types());
}

#[test]
fn builtin_catalog_resolves_every_reference() {
    assert_eq!(
        Catalog::builtin().missing_refs(),
        Vec::<(String, String)>::new()
    );
}

#[test]
fn builtin_catalog_holds_the_referenced_defs() {
    let c = Catalog::builtin();
    for doc in [
        "com.atproto.repo.strongRef",
        "com.atproto.label.defs",
        "app.bsky.richtext.facet",
        "app.bsky.embed.images",
        "app.bsky.embed.video",
        "app.bsky.embed.external",
        "app.bsky.embed.record",
        "app.bsky.embed.recordWithMedia",
        "app.bsky.embed.defs",
        "app.bsky.graph.defs",
        "app.bsky.labeler.defs",
    ] {
        assert!(
            c.contains(&nsid(doc)),
            "{doc} missing from the builtin catalog"
        );
    }
}

const POST_WITH: &str =
    r#"{"$type":"app.bsky.feed.post","text":"look","createdAt":"{now}","embed":EMBED}"#;

fn post_with(embed: &str) -> String {
    POST_WITH.replace("EMBED", embed)
}

#[test]
fn post_embeds_validate_through_the_union() {
    let image = |b: &str| {
        format!(r#"{{"alt":"a dog","image":{b},"aspectRatio":{{"width":4,"height":3}}}}"#)
    };
    let images = format!(
        r#"{{"$type":"app.bsky.embed.images","images":[{}]}}"#,
        image(&blob("image/jpeg", 100_000))
    );
    let video = format!(
        r#"{{"$type":"app.bsky.embed.video","video":{},"alt":"clip","captions":[{{"lang":"en","file":{}}}]}}"#,
        blob("video/mp4", 5_000_000),
        blob("text/vtt", 1000)
    );
    let external = format!(
        r#"{{"$type":"app.bsky.embed.external","external":{{"uri":"https://example.com","title":"t","description":"d","thumb":{}}}}}"#,
        blob("image/webp", 1000)
    );
    let record = r#"{"$type":"app.bsky.embed.record","record":{"uri":"{post}","cid":"{cid}"}}"#;
    let with_media = format!(
        r#"{{"$type":"app.bsky.embed.recordWithMedia","record":{{"record":{{"uri":"{{post}}","cid":"{{cid}}"}}}},"media":{images}}}"#
    );
    for embed in [&images, &video, &external, record, &with_media] {
        expect_valid("app.bsky.feed.post", &post_with(embed));
    }
}

#[test]
fn post_embed_errors_name_the_nested_path() {
    let no_alt = format!(
        r#"{{"$type":"app.bsky.embed.images","images":[{{"image":{}}}]}}"#,
        blob("image/png", 10)
    );
    expect_invalid(
        "app.bsky.feed.post",
        &post_with(&no_alt),
        r#"Record/embed/images/0 must have the property "alt""#,
    );
    let bad_alt = format!(
        r#"{{"$type":"app.bsky.embed.images","images":[{{"alt":7,"image":{}}}]}}"#,
        blob("image/png", 10)
    );
    expect_invalid(
        "app.bsky.feed.post",
        &post_with(&bad_alt),
        "Record/embed/images/0/alt must be a string",
    );
    let media = format!(
        r#"{{"$type":"app.bsky.embed.recordWithMedia","record":{{"record":{{"uri":"{{post}}","cid":"{{cid}}"}}}},
            "media":{{"$type":"app.bsky.embed.images","images":[{{"alt":"","image":{}}}]}}}}"#,
        blob("application/pdf", 10)
    );
    expect_invalid(
        "app.bsky.feed.post",
        &post_with(&media),
        "Record/embed/media/images/0/image has MIME type application/pdf, which is not one of (image/*)",
    );
}

#[test]
fn blob_over_max_size_is_rejected() {
    let big = format!(
        r#"{{"$type":"app.bsky.embed.images","images":[{{"alt":"","image":{}}}]}}"#,
        blob("image/png", 2_000_001)
    );
    expect_invalid(
        "app.bsky.feed.post",
        &post_with(&big),
        "Record/embed/images/0/image must not be larger than 2000000 bytes",
    );
    let at_limit = big.replace("2000001", "2000000");
    expect_valid("app.bsky.feed.post", &post_with(&at_limit));
}

#[test]
fn blob_accept_globs_match_the_type_only() {
    let video_as_image = format!(
        r#"{{"$type":"app.bsky.embed.video","video":{}}}"#,
        blob("image/mp4", 10)
    );
    expect_invalid(
        "app.bsky.feed.post",
        &post_with(&video_as_image),
        "Record/embed/video has MIME type image/mp4, which is not one of (video/mp4)",
    );
}

#[test]
fn malformed_blob_ref_is_not_a_blob() {
    for bad in [
        r#"{"$type":"blob","ref":"{cid}","mimeType":"image/png","size":1}"#.to_owned(),
        r#"{"$type":"blob","ref":{"$link":"{cid}"},"mimeType":"image/png"}"#.to_owned(),
        r#"{"$type":"blob","ref":{"$link":"{cid}"},"mimeType":"image/png","size":-1}"#.to_owned(),
        r#"{"$type":"blob","ref":{"$link":"{cid}"},"mimeType":"image/png","size":1,"extra":1}"#
            .to_owned(),
    ] {
        let json = format!(r#"{{"$type":"app.bsky.actor.profile","avatar":{bad}}}"#);
        expect_invalid(
            "app.bsky.actor.profile",
            &json,
            "Record/avatar should be a blob ref",
        );
    }
}

#[test]
fn legacy_blob_ref_is_checked_for_mime_type() {
    let legacy =
        r#"{"$type":"app.bsky.actor.profile","avatar":{"cid":"{cid}","mimeType":"image/png"}}"#;
    expect_valid("app.bsky.actor.profile", legacy);
    let wrong = legacy.replace("image/png", "image/gif");
    expect_invalid(
        "app.bsky.actor.profile",
        &wrong,
        "Record/avatar has MIME type image/gif, which is not one of (image/png|image/jpeg)",
    );
}

#[test]
fn open_union_accepts_unlisted_types() {
    let embed = r#"{"$type":"com.example.embed.poll","options":["a","b"]}"#;
    expect_valid("app.bsky.feed.post", &post_with(embed));
}

#[test]
fn post_text_limits_count_graphemes_and_bytes() {
    let post = |text: &str| {
        format!(
            r#"{{"$type":"app.bsky.feed.post","text":{},"createdAt":"{{now}}"}}"#,
            serde_json::json!(text)
        )
    };
    expect_valid("app.bsky.feed.post", &post(&"a".repeat(300)));
    expect_invalid(
        "app.bsky.feed.post",
        &post(&"a".repeat(301)),
        "Record/text must not be longer than 300 graphemes",
    );
    // 300 family emoji: 300 graphemes but 7,500 bytes, over the 3,000-byte limit.
    expect_invalid(
        "app.bsky.feed.post",
        &post(&"👩‍👩‍👦‍👦".repeat(300)),
        "Record/text must not be longer than 3000 characters",
    );
    // 100 of them: 2,500 bytes and 100 graphemes, within both limits.
    expect_valid("app.bsky.feed.post", &post(&"👩‍👩‍👦‍👦".repeat(100)));
    // CR LF is one grapheme: 200 of them are 400 bytes but 200 graphemes.
    expect_valid("app.bsky.feed.post", &post(&"\r\n".repeat(200)));
}

#[test]
fn record_type_must_match_the_schema() {
    let err = check(
        "app.bsky.feed.like",
        r#"{"$type":"app.bsky.feed.post","text":"","createdAt":"{now}"}"#,
    )
    .expect_err("mismatched $type");
    assert!(matches!(err, ValidationError::TypeMismatch { .. }), "{err}");
    let err = check(
        "app.bsky.feed.like",
        r#"{"subject":{"uri":"{post}","cid":"{cid}"},"createdAt":"{now}"}"#,
    )
    .expect_err("missing $type");
    assert_eq!(
        err.detail().as_deref(),
        Some("Record/$type must be a string")
    );
    let err = check(
        "app.bsky.feed.post",
        r#"{"$type":"app.bsky.feed.post#main","text":"","createdAt":"{now}"}"#,
    )
    .expect_err("#main suffix on a record type");
    assert!(matches!(err, ValidationError::TypeMismatch { .. }), "{err}");
}

// --- the PDS's validate flag ---

fn write(
    collection: &str,
    json: &str,
    validate: Option<bool>,
) -> Result<Option<ValidationStatus>, ValidationError> {
    validate_for_write(
        Catalog::builtin(),
        &nsid(collection),
        &support::parse(&fill(json)),
        validate,
    )
}

const GOOD_POST: &str = r#"{"$type":"app.bsky.feed.post","text":"hi","createdAt":"{now}"}"#;
const BAD_POST: &str = r#"{"$type":"app.bsky.feed.post","createdAt":"{now}"}"#;
const UNKNOWN: &str = r#"{"$type":"com.example.thing","anything":[1,2,3]}"#;

#[test]
fn unset_validate_checks_known_types() {
    assert_eq!(
        write("app.bsky.feed.post", GOOD_POST, None),
        Ok(Some(ValidationStatus::Valid))
    );
    let err = write("app.bsky.feed.post", BAD_POST, None).expect_err("post without text");
    assert_eq!(
        err.to_string(),
        r#"Invalid app.bsky.feed.post record: Record must have the property "text""#
    );
}

#[test]
fn unset_validate_accepts_unknown_types_as_unknown() {
    assert_eq!(
        write("com.example.thing", UNKNOWN, None),
        Ok(Some(ValidationStatus::Unknown))
    );
}

#[test]
fn validate_true_rejects_unknown_types() {
    let err = write("com.example.thing", UNKNOWN, Some(true)).expect_err("unknown type");
    assert_eq!(err.to_string(), "Lexicon not found: lex:com.example.thing");
    assert_eq!(
        write("app.bsky.feed.post", GOOD_POST, Some(true)),
        Ok(Some(ValidationStatus::Valid))
    );
    assert!(write("app.bsky.feed.post", BAD_POST, Some(true)).is_err());
}

#[test]
fn validate_false_skips_validation() {
    assert_eq!(write("app.bsky.feed.post", BAD_POST, Some(false)), Ok(None));
    assert_eq!(write("com.example.thing", UNKNOWN, Some(false)), Ok(None));
    // Even a $type naming another collection is the caller's business without validation.
    assert_eq!(
        write("app.bsky.feed.like", GOOD_POST, Some(false)),
        Ok(None)
    );
}

#[test]
fn write_refuses_a_type_other_than_the_collection() {
    let err = write("app.bsky.feed.like", GOOD_POST, None).expect_err("post into likes");
    assert_eq!(
        err.to_string(),
        "Invalid $type: expected app.bsky.feed.like, got app.bsky.feed.post"
    );
}

#[test]
fn write_allows_a_missing_type() {
    let post = r#"{"text":"hi","createdAt":"{now}"}"#;
    assert_eq!(
        write("app.bsky.feed.post", post, None),
        Ok(Some(ValidationStatus::Valid))
    );
}

#[test]
fn write_checks_created_at_even_without_a_format() {
    // com.atproto.lexicon.schema has no createdAt property; the reference still checks it.
    let rec = r#"{"$type":"com.atproto.lexicon.schema","lexicon":1,"createdAt":"yesterday"}"#;
    let err = write("com.atproto.lexicon.schema", rec, None).expect_err("bad createdAt");
    assert_eq!(
        err.detail().as_deref(),
        Some("Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)")
    );
}

#[test]
fn validation_status_wire_names() {
    assert_eq!(ValidationStatus::Valid.as_str(), "valid");
    assert_eq!(ValidationStatus::Unknown.as_str(), "unknown");
}

// --- record keys ---

fn rkey(collection: &str, key: &str) -> Result<(), ValidationError> {
    check_rkey(
        Catalog::builtin(),
        &nsid(collection),
        &RecordKey::parse(key).expect("record key"),
    )
}

#[test]
fn tid_keyed_collections_reject_other_keys() {
    assert!(rkey("app.bsky.feed.post", "3l6oveex3ii2l").is_ok());
    let err = rkey("app.bsky.feed.post", "my-post").expect_err("non-TID post key");
    assert_eq!(
        err.to_string(),
        r#"Invalid record key for app.bsky.feed.post: "my-post" is not a TID"#
    );
}

#[test]
fn literal_self_collections_take_only_self() {
    assert!(rkey("app.bsky.actor.profile", "self").is_ok());
    assert!(rkey("app.bsky.actor.profile", "3l6oveex3ii2l").is_err());
    assert_eq!(
        Catalog::builtin().record_key_type(&nsid("app.bsky.actor.profile")),
        Some(&KeyType::Literal("self".into()))
    );
}

#[test]
fn nsid_and_any_keys() {
    assert!(rkey("com.atproto.lexicon.schema", "com.example.thing").is_ok());
    assert!(rkey("com.atproto.lexicon.schema", "3l6oveex3ii2l").is_err());
    assert!(rkey("app.bsky.feed.generator", "whats-hot").is_ok());
}

#[test]
fn unknown_collections_accept_any_key() {
    assert!(rkey("com.example.thing", "anything-goes").is_ok());
}
