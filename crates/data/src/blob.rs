//! Blob references and the record-level data-model checks.

use std::collections::BTreeMap;

use crate::json::{JsonError, Path, Seg};
use crate::{Cid, Codec, Value};

/// A reference to a blob from a record.
///
/// The current form is `{"$type": "blob", "ref": <raw-codec link>, "mimeType": "...",
/// "size": n}`. Early records used `{"cid": "<cid string>", "mimeType": "..."}` without a
/// size; such refs can be read (and written back unchanged) but not created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    cid: Cid,
    mime_type: String,
    /// `None` only for a legacy ref read from an existing record.
    size: Option<u64>,
}

impl BlobRef {
    /// A current-form blob reference.
    pub fn new(cid: Cid, mime_type: impl Into<String>, size: u64) -> BlobRef {
        BlobRef {
            cid,
            mime_type: mime_type.into(),
            size: Some(size),
        }
    }

    /// The blob's CID.
    pub fn cid(&self) -> &Cid {
        &self.cid
    }

    /// The declared MIME type.
    pub fn mime_type(&self) -> &str {
        &self.mime_type
    }

    /// The declared size in bytes; `None` for a legacy ref.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Whether this is the legacy `{cid, mimeType}` form.
    pub fn is_legacy(&self) -> bool {
        self.size.is_none()
    }

    /// Read either form from a value.
    pub fn from_value(v: &Value) -> Result<BlobRef, JsonError> {
        Self::parse(v, &[])
    }

    /// The value form: current form, or the legacy form for a legacy ref.
    pub fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("mimeType".to_owned(), Value::String(self.mime_type.clone()));
        match self.size {
            Some(size) => {
                m.insert("$type".to_owned(), Value::String("blob".to_owned()));
                m.insert("ref".to_owned(), Value::Link(self.cid));
                // Sizes above i64::MAX cannot come from a parsed ref; saturate rather than wrap.
                m.insert(
                    "size".to_owned(),
                    Value::Integer(i64::try_from(size).unwrap_or(i64::MAX)),
                );
            }
            None => {
                m.insert("cid".to_owned(), Value::String(self.cid.to_string()));
            }
        }
        Value::Map(m)
    }

    fn parse(v: &Value, path: &[Seg<'_>]) -> Result<BlobRef, JsonError> {
        let err = |reason: &str| JsonError::Blob {
            path: Path(path).to_string(),
            reason: reason.to_owned(),
        };
        let m = v.as_map().ok_or_else(|| err("not an object"))?;
        let mime_type = match m.get("mimeType") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) => return Err(err("mimeType is empty")),
            Some(_) => return Err(err("mimeType is not a string")),
            None => return Err(err("mimeType is missing")),
        };
        if m.contains_key("$type") {
            if v.type_name() != Some("blob") {
                return Err(err("$type is not \"blob\""));
            }
            if m.len() != 4 {
                return Err(err(
                    "a blob has exactly the keys $type, ref, mimeType and size",
                ));
            }
            let cid = match m.get("ref") {
                Some(Value::Link(c)) if c.codec() == Codec::Raw => *c,
                Some(Value::Link(_)) => return Err(err("ref is not a raw-codec CID")),
                Some(_) => return Err(err("ref is not a link")),
                None => return Err(err("ref is missing")),
            };
            let size = match m.get("size") {
                Some(Value::Integer(n)) => {
                    u64::try_from(*n).map_err(|_| err("size is negative"))?
                }
                Some(_) => return Err(err("size is not an integer")),
                None => return Err(err("size is missing")),
            };
            Ok(BlobRef {
                cid,
                mime_type,
                size: Some(size),
            })
        } else {
            if m.len() != 2 {
                return Err(err("a legacy blob has exactly the keys cid and mimeType"));
            }
            let cid = match m.get("cid") {
                Some(Value::String(s)) => {
                    s.parse::<Cid>().map_err(|e| err(&format!("cid: {e}")))?
                }
                _ => return Err(err("cid is missing or not a string")),
            };
            Ok(BlobRef {
                cid,
                mime_type,
                size: None,
            })
        }
    }
}

/// Whether a map is shaped like a legacy blob ref: exactly `cid` and `mimeType`, both strings.
fn is_legacy_shape(m: &BTreeMap<String, Value>) -> bool {
    m.len() == 2
        && matches!(m.get("cid"), Some(Value::String(_)))
        && matches!(m.get("mimeType"), Some(Value::String(_)))
}

impl Value {
    /// Every blob reference in this value, in document order (maps by key), current and
    /// legacy forms. A map with `$type: "blob"` that is malformed is an error, as is a
    /// legacy-shaped map whose `cid` does not parse.
    pub fn blob_refs(&self) -> Result<Vec<BlobRef>, JsonError> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        walk(self, &mut path, &mut |v, path| {
            if let Value::Map(m) = v
                && (v.type_name() == Some("blob") || is_legacy_shape(m))
            {
                out.push(BlobRef::parse(v, path)?);
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(out)
    }
}

/// Check the data-model rules the atproto interop "invalid" fixtures test, beyond what
/// [`from_json`](crate::json::from_json) and [`drisl::decode`](crate::drisl::decode) already
/// enforce: the top level is an object; wherever `$type` appears it is a non-empty string;
/// every `$type: "blob"` object is a well-formed blob ref (raw-codec `ref`, non-empty
/// `mimeType`, integer `size` >= 0, no other keys).
///
/// Whether the record's own `$type` names the right collection is the lexicon layer's job.
pub fn validate_record(v: &Value) -> Result<(), JsonError> {
    let found = match v {
        Value::Map(_) => "",
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Integer(_) => "integer",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Link(_) => "link",
        Value::Array(_) => "array",
    };
    if !found.is_empty() {
        return Err(JsonError::NotObject { found });
    }
    let mut path = Vec::new();
    walk(v, &mut path, &mut |v, path| {
        if let Value::Map(m) = v
            && let Some(t) = m.get("$type")
        {
            match t {
                Value::String(s) if !s.is_empty() => {}
                _ => {
                    return Err(JsonError::Type {
                        path: Path(path).to_string(),
                    });
                }
            }
            if v.type_name() == Some("blob") {
                BlobRef::parse(v, path)?;
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// A visitor for [`walk`]: given a value and its location, returns whether to descend into it.
type Visit<'a, 'f> = dyn FnMut(&'a Value, &[Seg<'a>]) -> Result<bool, JsonError> + 'f;

/// Visit `v` and its descendants.
fn walk<'a>(v: &'a Value, path: &mut Vec<Seg<'a>>, f: &mut Visit<'a, '_>) -> Result<(), JsonError> {
    if !f(v, path)? {
        return Ok(());
    }
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(item, path, f)?;
                path.pop();
            }
        }
        Value::Map(m) => {
            for (k, item) in m {
                path.push(Seg::Key(k));
                walk(item, path, f)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;
    use serde_json::json;

    const RAW: &str = "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity";
    const CBOR: &str = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";

    fn v(j: serde_json::Value) -> Value {
        from_json(&j).unwrap()
    }

    #[test]
    fn blob_ref_round_trips_current_form() {
        let j = json!({"$type": "blob", "ref": {"$link": RAW}, "mimeType": "image/png", "size": 5});
        let b = BlobRef::from_value(&v(j.clone())).unwrap();
        assert_eq!(
            (b.cid().to_string().as_str(), b.mime_type(), b.size()),
            (RAW, "image/png", Some(5))
        );
        assert_eq!(b.to_value(), v(j));
    }

    #[test]
    fn legacy_blob_ref_is_read_and_written_back_unchanged() {
        let j = json!({"cid": RAW, "mimeType": "image/jpeg"});
        let b = BlobRef::from_value(&v(j.clone())).unwrap();
        assert!(b.is_legacy());
        assert_eq!(b.to_value(), v(j));
    }

    #[test]
    fn blob_ref_rejects_dag_cbor_ref_negative_size_empty_mime_and_extra_keys() {
        for j in [
            json!({"$type": "blob", "ref": {"$link": CBOR}, "mimeType": "a/b", "size": 1}),
            json!({"$type": "blob", "ref": {"$link": RAW}, "mimeType": "a/b", "size": -1}),
            json!({"$type": "blob", "ref": {"$link": RAW}, "mimeType": "", "size": 1}),
            json!({"$type": "blob", "ref": {"$link": RAW}, "mimeType": "a/b", "size": 1, "x": 1}),
            json!({"$type": "blob", "ref": RAW, "mimeType": "a/b", "size": 1}),
        ] {
            assert!(BlobRef::from_value(&v(j.clone())).is_err(), "{j}");
            assert!(
                validate_record(&v(json!({ "b": j.clone() }))).is_err(),
                "{j}"
            );
        }
    }

    #[test]
    fn blob_refs_finds_nested_current_and_legacy_refs() {
        let rec = v(json!({
            "$type": "app.bsky.feed.post",
            "embed": {"images": [
                {"image": {"$type": "blob", "ref": {"$link": RAW}, "mimeType": "image/png", "size": 9}},
                {"image": {"cid": RAW, "mimeType": "image/jpeg"}},
            ]},
            "text": "hi",
        }));
        let refs = rec.blob_refs().unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].size(), Some(9));
        assert!(refs[1].is_legacy());
    }

    #[test]
    fn blob_refs_reports_malformed_blob_with_path() {
        let rec = v(json!({"a": [{"$type": "blob", "mimeType": "x/y", "size": 1}]}));
        let e = rec.blob_refs().unwrap_err();
        assert_eq!(
            e.to_string(),
            "at /a/0: invalid blob: a blob has exactly the keys $type, ref, mimeType and size"
        );
    }

    #[test]
    fn nested_type_must_be_non_empty_string() {
        assert!(validate_record(&v(json!({"a": {"b": {"$type": ""}}}))).is_err());
        assert!(validate_record(&v(json!({"a": {"b": {"$type": 1}}}))).is_err());
        assert!(validate_record(&v(json!({"a": {"b": {"$type": "x.y.z"}}}))).is_ok());
    }

    #[test]
    fn record_must_be_an_object() {
        assert_eq!(
            validate_record(&Value::Array(vec![])),
            Err(JsonError::NotObject { found: "array" })
        );
    }
}
