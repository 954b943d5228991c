//! The atproto interop data-model fixtures, every case.

use aerie_data::json::{from_json, to_json};
use aerie_data::{Cid, drisl, validate_record};
use data_encoding::BASE64_NOPAD;

#[test]
fn fixtures_json_encodes_to_exact_cbor_and_cid_and_back() {
    for case in aerie_interop::json_cases("data-model/data-model-fixtures.json") {
        let json = &case["json"];
        let cbor = BASE64_NOPAD
            .decode(case["cbor_base64"].as_str().unwrap().as_bytes())
            .unwrap();
        let cid: Cid = case["cid"].as_str().unwrap().parse().unwrap();

        let value = from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let encoded = drisl::encode(&value);
        assert_eq!(encoded, cbor, "encoding of {json}");
        assert_eq!(Cid::for_cbor(&encoded), cid, "CID of {json}");

        let decoded = drisl::decode(&cbor).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(decoded, value);
        assert_eq!(&to_json(&decoded), json, "CBOR back to JSON");
        validate_record(&decoded).unwrap();
    }
}

#[test]
fn valid_cases_are_accepted() {
    for case in aerie_interop::json_cases("data-model/data-model-valid.json") {
        let json = &case["json"];
        let value = from_json(json).unwrap_or_else(|e| panic!("{}: {e}", case["note"]));
        validate_record(&value).unwrap_or_else(|e| panic!("{}: {e}", case["note"]));
        // And the DRISL form survives a round trip.
        assert_eq!(
            drisl::decode(&drisl::encode(&value)).unwrap(),
            value,
            "{}",
            case["note"]
        );
    }
}

#[test]
fn invalid_cases_are_rejected() {
    for case in aerie_interop::json_cases("data-model/data-model-invalid.json") {
        let result = from_json(&case["json"]).and_then(|v| validate_record(&v));
        assert!(result.is_err(), "accepted invalid case: {}", case["note"]);
    }
}
