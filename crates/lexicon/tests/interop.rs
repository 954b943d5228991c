//! The atproto interop fixtures for Lexicon (shared/interop/lexicon): schema documents that
//! must load or be refused, and records that must validate or fail against the fixture catalog.

mod support;

use aerie_lexicon::Catalog;
use aerie_syntax::Nsid;

fn fixture_catalog() -> Catalog {
    let mut catalog = Catalog::new();
    let dir = aerie_interop::path("lexicon/catalog/record.json");
    let dir = dir.parent().expect("catalog directory");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read catalog dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "fixture catalog has {} files",
        files.len()
    );
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read schema");
        if let Err(e) = catalog.add_document(&text) {
            panic!("fixture catalog schema {} must load: {e}", f.display());
        }
    }
    catalog
}

fn name(case: &serde_json::Value) -> &str {
    case["name"].as_str().expect("case name")
}

#[test]
fn valid_lexicon_documents_load() {
    for case in aerie_interop::json_cases("lexicon/lexicon-valid.json") {
        if let Err(e) = Catalog::check_document(&case["lexicon"]) {
            panic!("{}: must load, got {e}", name(&case));
        }
    }
}

#[test]
fn invalid_lexicon_documents_are_refused() {
    for case in aerie_interop::json_cases("lexicon/lexicon-invalid.json") {
        match Catalog::check_document(&case["lexicon"]) {
            Ok(id) => panic!("{}: must be refused, loaded as {id}", name(&case)),
            Err(e) => println!("{}: {e}", name(&case)),
        }
    }
}

#[test]
fn valid_record_data_validates() {
    let catalog = fixture_catalog();
    for case in aerie_interop::json_cases("lexicon/record-data-valid.json") {
        let record = support::value(&case["data"]);
        let nsid = Nsid::parse(case["data"]["$type"].as_str().expect("$type")).expect("nsid");
        if let Err(e) = catalog.validate_record(&nsid, &record) {
            panic!("{}: must validate, got {e}", name(&case));
        }
    }
}

#[test]
fn invalid_record_data_fails() {
    let catalog = fixture_catalog();
    for case in aerie_interop::json_cases("lexicon/record-data-invalid.json") {
        let record = support::value(&case["data"]);
        let nsid = Nsid::parse(case["data"]["$type"].as_str().expect("$type")).expect("nsid");
        if catalog.validate_record(&nsid, &record).is_ok() {
            panic!("{}: must fail validation", name(&case));
        }
    }
}

/// The invalid fixtures that leave out the required `integer` would fail for that alone;
/// with it filled in they still fail, so the rule each is named after is the one checked.
#[test]
fn invalid_record_data_fails_for_its_own_reason() {
    let catalog = fixture_catalog();
    for case in aerie_interop::json_cases("lexicon/record-data-invalid.json") {
        let mut data = case["data"].clone();
        if name(&case) == "missing required field" {
            continue;
        }
        data.as_object_mut()
            .expect("object")
            .entry("integer")
            .or_insert(serde_json::json!(1));
        let nsid = Nsid::parse(data["$type"].as_str().expect("$type")).expect("nsid");
        match catalog.validate_record(&nsid, &support::value(&data)) {
            Ok(()) => panic!("{}: must fail validation", name(&case)),
            Err(e) => {
                println!("{}: {e}", name(&case));
                let detail = e.detail().unwrap_or_default();
                assert!(
                    !detail.contains("\"integer\""),
                    "{}: failed only for the missing integer: {e}",
                    name(&case)
                );
            }
        }
    }
}
