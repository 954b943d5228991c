//! Lexicon documents: what the language allows, how refs resolve, and what a catalog with a
//! missing definition does.

mod support;

use aerie_data::Value;
use aerie_lexicon::{Catalog, ValidationError, ValidationStatus, validate_for_write};
use aerie_syntax::Nsid;
use serde_json::json;

fn doc(defs: serde_json::Value) -> serde_json::Value {
    json!({"lexicon": 1, "id": "com.example.test", "defs": defs})
}

fn refused(defs: serde_json::Value) -> String {
    match Catalog::check_document(&doc(defs.clone())) {
        Ok(_) => panic!("must be refused: {defs}"),
        Err(e) => e.to_string(),
    }
}

fn record_with(props: serde_json::Value) -> serde_json::Value {
    json!({"main": {"type": "record", "key": "tid", "record": {"type": "object", "properties": props}}})
}

#[test]
fn lexicon_with_no_defs_is_invalid() {
    let e = Catalog::check_document(&json!({"lexicon": 1, "id": "com.example.test", "defs": {}}));
    assert!(e.is_err());
}

#[test]
fn required_property_must_be_defined() {
    let e = refused(json!({"main": {"type": "object", "required": ["a"], "properties": {}}}));
    assert!(e.contains(r#"required field "a" is not defined"#), "{e}");
}

#[test]
fn closed_union_needs_refs() {
    let e = refused(record_with(
        json!({"u": {"type": "union", "refs": [], "closed": true}}),
    ));
    assert!(e.contains("closed union"), "{e}");
    // An empty open union is allowed: it is like unknown, but needs $type.
    assert!(
        Catalog::check_document(&doc(record_with(
            json!({"u": {"type": "union", "refs": []}})
        )))
        .is_ok()
    );
}

#[test]
fn unknown_string_format_is_invalid() {
    let e = refused(record_with(
        json!({"s": {"type": "string", "format": "email"}}),
    ));
    assert!(e.contains("unknown format"), "{e}");
}

#[test]
fn token_is_not_a_field_type() {
    refused(record_with(json!({"t": {"type": "token"}})));
}

#[test]
fn params_and_permission_are_not_named_defs() {
    refused(json!({"p": {"type": "params", "properties": {}}}));
    refused(json!({"p": {"type": "permission", "resource": "repo"}}));
    refused(json!({"u": {"type": "union", "refs": []}}));
}

#[test]
fn string_const_and_default_are_exclusive() {
    refused(record_with(
        json!({"s": {"type": "string", "const": "a", "default": "b"}}),
    ));
}

#[test]
fn blob_accept_supports_whole_globs_only() {
    for bad in ["*", "text/ht*", "image", "*/png"] {
        refused(record_with(json!({"b": {"type": "blob", "accept": [bad]}})));
    }
    for good in ["*/*", "image/*", "video/mp4"] {
        assert!(
            Catalog::check_document(&doc(record_with(
                json!({"b": {"type": "blob", "accept": [good]}})
            )))
            .is_ok()
        );
    }
}

#[test]
fn record_key_type_must_be_known() {
    refused(
        json!({"main": {"type": "record", "key": "uuid", "record": {"type": "object", "properties": {}}}}),
    );
    refused(
        json!({"main": {"type": "record", "key": "literal:", "record": {"type": "object", "properties": {}}}}),
    );
}

#[test]
fn subscription_message_must_be_a_union() {
    let e = refused(
        json!({"main": {"type": "subscription", "message": {"schema": {"type": "object", "properties": {}}}}}),
    );
    assert!(e.contains("must be a union"), "{e}");
}

#[test]
fn query_cannot_have_input() {
    refused(json!({"main": {"type": "query", "input": {"encoding": "application/json"}}}));
}

#[test]
fn duplicate_document_is_refused() {
    let mut c = Catalog::new();
    let text = doc(record_with(json!({}))).to_string();
    c.add_document(&text).expect("first load");
    assert!(matches!(
        c.add_document(&text),
        Err(ValidationError::DuplicateLexicon { .. })
    ));
}

/// A two-document catalog: `com.example.record` refers to `com.example.defs` locally
/// (`#local`), globally (`com.example.defs#thing`) and through an explicit `#main`.
fn two_docs() -> Catalog {
    let mut c = Catalog::new();
    c.add_document_json(&json!({
        "lexicon": 1, "id": "com.example.record",
        "defs": {
            "main": {"type": "record", "key": "any", "record": {"type": "object", "properties": {
                "local": {"type": "ref", "ref": "#local"},
                "thing": {"type": "ref", "ref": "com.example.defs#thing"},
                "main": {"type": "ref", "ref": "com.example.defs#main"},
                "u": {"type": "union", "refs": ["com.example.defs#thing", "com.example.defs"], "closed": true}
            }}},
            "local": {"type": "string", "maxLength": 3}
        }
    }))
    .expect("record doc");
    c.add_document_json(&json!({
        "lexicon": 1, "id": "com.example.defs",
        "defs": {
            "main": {"type": "object", "required": ["m"], "properties": {"m": {"type": "integer"}}},
            "thing": {"type": "object", "required": ["t"], "properties": {"t": {"type": "boolean"}}}
        }
    }))
    .expect("defs doc");
    c
}

fn validate(c: &Catalog, json: serde_json::Value) -> Result<(), String> {
    let mut json = json;
    json["$type"] = json!("com.example.record");
    let v = support::value(&json);
    c.validate_record(&Nsid::parse("com.example.record").expect("nsid"), &v)
        .map_err(|e| e.detail().unwrap_or_else(|| e.to_string()))
}

#[test]
fn refs_resolve_locally_globally_and_through_main() {
    let c = two_docs();
    assert_eq!(c.missing_refs(), vec![]);
    assert_eq!(
        validate(&c, json!({"local": "abcd"})),
        Err("Record/local must not be longer than 3 characters".into())
    );
    assert_eq!(
        validate(&c, json!({"thing": {"t": 1}})),
        Err("Record/thing/t must be a boolean".into())
    );
    assert_eq!(
        validate(&c, json!({"main": {}})),
        Err(r#"Record/main must have the property "m""#.into())
    );
    assert_eq!(
        validate(
            &c,
            json!({"local": "abc", "thing": {"t": true}, "main": {"m": 1}})
        ),
        Ok(())
    );
}

#[test]
fn union_members_match_by_type_with_or_without_main() {
    let c = two_docs();
    assert_eq!(
        validate(&c, json!({"u": {"$type": "com.example.defs", "m": 1}})),
        Ok(())
    );
    assert_eq!(
        validate(&c, json!({"u": {"$type": "com.example.defs#main", "m": 1}})),
        Ok(())
    );
    assert_eq!(
        validate(
            &c,
            json!({"u": {"$type": "com.example.defs#thing", "t": 3}})
        ),
        Err("Record/u/t must be a boolean".into())
    );
}

#[test]
fn missing_definition_is_reported_and_fails_open_when_optimistic() {
    let mut c = Catalog::new();
    c.add_document_json(&doc(record_with(
        json!({"x": {"type": "ref", "ref": "com.example.absent#x"}}),
    )))
    .expect("load");
    assert_eq!(
        c.missing_refs(),
        vec![(
            "com.example.test".to_owned(),
            "com.example.absent#x".to_owned()
        )]
    );
    let nsid = Nsid::parse("com.example.test").expect("nsid");
    let rec = support::value(&json!({"$type": "com.example.test", "x": {}}));
    assert!(matches!(
        c.validate_record(&nsid, &rec),
        Err(ValidationError::UnresolvedRef { .. })
    ));
    assert_eq!(
        validate_for_write(&c, &nsid, &rec, None),
        Ok(Some(ValidationStatus::Unknown))
    );
    assert!(validate_for_write(&c, &nsid, &rec, Some(true)).is_err());
}

#[test]
fn deeply_nested_value_is_refused_not_overflowing() {
    let mut c = Catalog::new();
    c.add_document_json(&json!({
        "lexicon": 1, "id": "com.example.tree",
        "defs": {
            "main": {"type": "record", "key": "any", "record": {"type": "object", "properties": {
                "node": {"type": "ref", "ref": "#node"}}}},
            "node": {"type": "object", "properties": {"child": {"type": "ref", "ref": "#node"}}}
        }
    }))
    .expect("load");
    let mut v = Value::Map(Default::default());
    for _ in 0..10_000 {
        v = Value::Map([("child".to_owned(), v)].into());
    }
    let rec = Value::Map(
        [
            ("$type".to_owned(), Value::String("com.example.tree".into())),
            ("node".to_owned(), v),
        ]
        .into(),
    );
    let err = c
        .validate_record(&Nsid::parse("com.example.tree").expect("nsid"), &rec)
        .expect_err("too deep");
    assert!(err.to_string().contains("nested too deeply"), "{err}");
    // Dropping a 10,000-deep tree recurses too; unwind it iteratively.
    let mut stack = vec![rec];
    while let Some(v) = stack.pop() {
        if let Value::Map(m) = v {
            stack.extend(m.into_values());
        }
    }
}
