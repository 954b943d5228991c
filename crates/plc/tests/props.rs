//! Arbitrary JSON never panics the operation reader or the validator.

use aerie_plc::{SignedOperation, check_incoming, validate_next, verify_log};
use aerie_syntax::{Datetime, Did};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        "[a-z:._#/0-9]{0,24}".prop_map(Json::from),
        prop_oneof![
            Just("plc_operation"),
            Just("plc_tombstone"),
            Just("create"),
            Just("did:key:zQ3sh")
        ]
        .prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("prev".to_owned()),
                    Just("sig".to_owned()),
                    Just("rotationKeys".to_owned()),
                    Just("verificationMethods".to_owned()),
                    Just("alsoKnownAs".to_owned()),
                    Just("services".to_owned()),
                    Just("endpoint".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn reader_and_validator_never_panic(v in arb_json(), fields in arb_json()) {
        // Also try shapes close to a real operation, with arbitrary field values.
        let mut near = json!({"type": "plc_operation", "rotationKeys": [], "verificationMethods": {},
                              "alsoKnownAs": [], "services": {}, "prev": null, "sig": ""});
        if let (Some(obj), Json::Object(extra)) = (near.as_object_mut(), &fields) {
            for (k, val) in extra {
                obj.insert(k.clone(), val.clone());
            }
        }
        let did = Did::parse("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").expect("did");
        let now = Datetime::parse("2026-01-01T00:00:00Z").expect("now");
        for candidate in [&v, &near] {
            if let Ok(op) = SignedOperation::from_json(candidate) {
                let _ = check_incoming(&op);
                let _ = validate_next(&did, &[], &op, &now);
                let _ = verify_log(&did, std::slice::from_ref(&op));
                prop_assert_eq!(SignedOperation::from_json(&op.to_json()).ok(), Some(op));
            }
        }
    }
}
