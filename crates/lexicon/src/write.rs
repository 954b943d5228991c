//! What a PDS does with lexicons when a record is written (`createRecord`, `putRecord`,
//! `applyWrites`): the `validate` flag, `validationStatus`, and the record key type.

use aerie_data::Value;
use aerie_syntax::{Datetime, Nsid, RecordKey, Tid};

use crate::ValidationError;
use crate::catalog::Catalog;
use crate::schema::KeyType;

/// The `validationStatus` a write reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValidationStatus {
    /// The record type is known and the record satisfies it.
    Valid,
    /// The record type is not known; the record was accepted unchecked.
    Unknown,
}

impl ValidationStatus {
    /// The wire form: `valid` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationStatus::Valid => "valid",
            ValidationStatus::Unknown => "unknown",
        }
    }
}

/// Applies the PDS's validation rules to a record about to be written to `collection`.
///
/// - `validate: Some(false)`: no lexicon validation; returns `Ok(None)` (the reference then
///   omits `validationStatus`).
/// - `validate: None` (optimistic, the default): a known record type must validate; an
///   unknown one is accepted with [`ValidationStatus::Unknown`].
/// - `validate: Some(true)`: the record type must be known and the record must validate.
///
/// When validating, a `$type` other than `collection` is refused; a missing `$type` is
/// allowed (the reference fills it in from the collection, and so must the caller before
/// storing). After schema validation a string `createdAt` must be a valid datetime even if
/// the schema does not say so, as the reference checks.
pub fn validate_for_write(
    catalog: &Catalog,
    collection: &Nsid,
    record: &Value,
    validate: Option<bool>,
) -> Result<Option<ValidationStatus>, ValidationError> {
    if validate == Some(false) {
        return Ok(None);
    }
    let Value::Map(map) = record else {
        return Err(ValidationError::InvalidRecord {
            collection: collection.as_str().to_owned(),
            path: "Record".into(),
            rule: "must be an object".into(),
        });
    };
    match map.get("$type") {
        None => {}
        Some(Value::String(t)) if t == collection.as_str() => {}
        Some(Value::String(t)) => {
            return Err(ValidationError::TypeMismatch {
                expected: collection.as_str().to_owned(),
                actual: t.clone(),
            });
        }
        Some(_) => {
            return Err(ValidationError::InvalidRecord {
                collection: collection.as_str().to_owned(),
                path: "Record/$type".into(),
                rule: "must be a string".into(),
            });
        }
    }
    match catalog.validate_fields(collection, record) {
        Ok(()) => {}
        Err(ValidationError::UnknownLexicon { .. })
        | Err(ValidationError::UnresolvedRef { .. })
            if validate.is_none() =>
        {
            // Fail-open: the reference reports "unknown" whenever a lexicon it needs is
            // missing, even one referenced from deep inside a known record type.
            return Ok(Some(ValidationStatus::Unknown));
        }
        Err(e) => return Err(e),
    }
    if let Some(Value::String(created)) = map.get("createdAt")
        && Datetime::parse(created).is_err()
    {
        return Err(ValidationError::InvalidRecord {
            collection: collection.as_str().to_owned(),
            path: "Record/createdAt".into(),
            rule: "must be an valid atproto datetime (both RFC-3339 and ISO-8601)".into(),
        });
    }
    Ok(Some(ValidationStatus::Valid))
}

/// Checks a record key against the `key` type of `collection`'s schema (`tid`, `nsid`,
/// `literal:<value>`, `any`). Unknown collections accept any syntactically valid key.
pub fn check_rkey(
    catalog: &Catalog,
    collection: &Nsid,
    rkey: &RecordKey,
) -> Result<(), ValidationError> {
    let Some(key) = catalog.record_key_type(collection) else {
        return Ok(());
    };
    let (ok, expected) = match key {
        KeyType::Any => return Ok(()),
        KeyType::Tid => (Tid::parse(rkey.as_str()).is_ok(), "a TID".to_owned()),
        KeyType::Nsid => (Nsid::parse(rkey.as_str()).is_ok(), "an NSID".to_owned()),
        KeyType::Literal(lit) => (rkey.as_str() == lit, format!("{lit:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(ValidationError::InvalidRecordKey {
            collection: collection.as_str().to_owned(),
            rkey: rkey.as_str().to_owned(),
            expected,
        })
    }
}
