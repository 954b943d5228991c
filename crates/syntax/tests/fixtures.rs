//! One test per interop fixture file in `syntax/`: every `*_valid.txt` line must parse,
//! every `*_invalid.txt` and `*_parse_invalid.txt` line must be rejected. Lines are used
//! exactly as written (leading and trailing spaces are test cases).

use aerie_syntax::{
    AtIdentifier, AtUri, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid,
    is_valid_cid_string, is_valid_uri,
};

/// Runs `accepts` over every value of `file`, expecting `valid` for each, and reports all
/// mismatches at once.
fn check(file: &str, valid: bool, accepts: impl Fn(&str) -> bool) {
    let cases = aerie_interop::lines(&format!("syntax/{file}"));
    let wrong: Vec<&String> = cases.iter().filter(|s| accepts(s) != valid).collect();
    assert!(
        wrong.is_empty(),
        "{file}: {} of {} cases {}: {wrong:#?}",
        wrong.len(),
        cases.len(),
        if valid { "rejected" } else { "accepted" }
    );
}

macro_rules! fixture_tests {
    ($($name:ident: $file:literal => $valid:literal, $accepts:expr;)*) => {
        $(
            #[test]
            fn $name() {
                check($file, $valid, $accepts);
            }
        )*
    };
}

fixture_tests! {
    atidentifier_valid_parse: "atidentifier_syntax_valid.txt" => true, |s| AtIdentifier::parse(s).is_ok();
    atidentifier_invalid_rejected: "atidentifier_syntax_invalid.txt" => false, |s| AtIdentifier::parse(s).is_ok();
    aturi_valid_parse: "aturi_syntax_valid.txt" => true, |s| AtUri::parse(s).is_ok();
    aturi_invalid_rejected: "aturi_syntax_invalid.txt" => false, |s| AtUri::parse(s).is_ok();
    cid_valid_pass: "cid_syntax_valid.txt" => true, is_valid_cid_string;
    cid_invalid_rejected: "cid_syntax_invalid.txt" => false, is_valid_cid_string;
    datetime_valid_parse: "datetime_syntax_valid.txt" => true, |s| Datetime::parse(s).is_ok();
    datetime_invalid_rejected: "datetime_syntax_invalid.txt" => false, |s| Datetime::parse(s).is_ok();
    datetime_parse_invalid_rejected: "datetime_parse_invalid.txt" => false, |s| Datetime::parse(s).is_ok();
    did_valid_parse: "did_syntax_valid.txt" => true, |s| Did::parse(s).is_ok();
    did_invalid_rejected: "did_syntax_invalid.txt" => false, |s| Did::parse(s).is_ok();
    handle_valid_parse: "handle_syntax_valid.txt" => true, |s| Handle::parse(s).is_ok();
    handle_invalid_rejected: "handle_syntax_invalid.txt" => false, |s| Handle::parse(s).is_ok();
    language_valid_parse: "language_syntax_valid.txt" => true, |s| Language::parse(s).is_ok();
    language_invalid_rejected: "language_syntax_invalid.txt" => false, |s| Language::parse(s).is_ok();
    language_parse_invalid_rejected: "language_parse_invalid.txt" => false, |s| Language::parse(s).is_ok();
    nsid_valid_parse: "nsid_syntax_valid.txt" => true, |s| Nsid::parse(s).is_ok();
    nsid_invalid_rejected: "nsid_syntax_invalid.txt" => false, |s| Nsid::parse(s).is_ok();
    recordkey_valid_parse: "recordkey_syntax_valid.txt" => true, |s| RecordKey::parse(s).is_ok();
    recordkey_invalid_rejected: "recordkey_syntax_invalid.txt" => false, |s| RecordKey::parse(s).is_ok();
    tid_valid_parse: "tid_syntax_valid.txt" => true, |s| Tid::parse(s).is_ok();
    tid_invalid_rejected: "tid_syntax_invalid.txt" => false, |s| Tid::parse(s).is_ok();
    uri_valid_pass: "uri_syntax_valid.txt" => true, is_valid_uri;
    uri_invalid_rejected: "uri_syntax_invalid.txt" => false, is_valid_uri;
}

/// Guards against a fixture file being added upstream without a test here.
#[test]
fn every_syntax_fixture_file_has_a_test() {
    let src = include_str!("fixtures.rs");
    let dir = aerie_interop::path("syntax/did_syntax_valid.txt");
    let dir = dir.parent().expect("fixture file has a parent directory");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("fixture directory is readable")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 24,
        "expected the 24 syntax fixture files, found {names:?}"
    );
    for n in names {
        assert!(
            src.contains(&format!("\"{n}\"")),
            "no test reads syntax/{n}"
        );
    }
}

/// Serde goes through `parse`: an invalid value is a deserialisation error.
#[test]
fn serde_rejects_invalid_values() {
    let ok: Did = serde_json::from_str("\"did:plc:abc\"").expect("valid DID deserialises");
    assert_eq!(
        serde_json::to_string(&ok).expect("serialises"),
        "\"did:plc:abc\""
    );
    assert!(serde_json::from_str::<Did>("\"did:plc:\"").is_err());
    assert!(serde_json::from_str::<Handle>("\"john..test\"").is_err());
    let h: Handle = serde_json::from_str("\"John.Test\"").expect("valid handle");
    assert_eq!(h.as_str(), "john.test");
    assert!(serde_json::from_str::<AtUri>("\"at://did:plc:x/\"").is_err());
    assert!(serde_json::from_str::<Tid>("\"3JZFCIJPJ2Z2A\"").is_err());
    let id: AtIdentifier = serde_json::from_str("\"did:web:example.com\"").expect("DID identifier");
    assert!(id.as_did().is_some());
}
