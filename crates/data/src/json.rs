//! The atproto JSON mapping of the data model.
//!
//! - `{"$link": "<cid>"}` (exactly one key) is a CID link;
//! - `{"$bytes": "<base64>"}` (exactly one key; standard alphabet, padding optional on input,
//!   none on output) is a byte string;
//! - numbers must be integers in the signed 64-bit range; an integral float such as `123.0`
//!   is read as the integer, any other float is refused.
//!
//! Record-level checks (`$type`, blob shapes) are in [`validate_record`](crate::validate_record).

use std::collections::BTreeMap;
use std::fmt;

use data_encoding::{BASE64, BASE64_NOPAD};

use crate::drisl::Limits;
use crate::{Cid, Value};

/// Why JSON (or a [`Value`]) is not valid atproto data. `path` is a JSON-pointer-style
/// location such as `/rcrd/a/0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// A record must be an object at the top level.
    #[error("record is not an object (found {found})")]
    NotObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// A number with a fractional part, or non-finite: atproto has no floats.
    #[error("at {path}: {number} is a float (atproto allows only integers)")]
    Float {
        /// Where.
        path: String,
        /// The number as written.
        number: String,
    },
    /// An integer outside the signed 64-bit range.
    #[error("at {path}: {number} does not fit in a signed 64-bit integer")]
    IntegerRange {
        /// Where.
        path: String,
        /// The number as written.
        number: String,
    },
    /// A malformed `$link` object.
    #[error("at {path}: invalid $link: {reason}")]
    Link {
        /// Where.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A malformed `$bytes` object.
    #[error("at {path}: invalid $bytes: {reason}")]
    Bytes {
        /// Where.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// `$type` present but not a non-empty string.
    #[error("at {path}: $type must be a non-empty string")]
    Type {
        /// Where.
        path: String,
    },
    /// A malformed blob reference.
    #[error("at {path}: invalid blob: {reason}")]
    Blob {
        /// Where.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// Nesting deeper than the DRISL decoder would accept back.
    #[error("at {path}: nesting deeper than {max} levels")]
    Depth {
        /// Where.
        path: String,
        /// The limit.
        max: usize,
    },
}

/// One step of a location inside a value, kept borrowed so paths cost nothing until an
/// error needs one.
#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// A location inside a value, formatted as a JSON pointer.
pub(crate) struct Path<'a>(pub(crate) &'a [Seg<'a>]);

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for s in self.0 {
            match s {
                // JSON pointer escaping, so a key containing '/' stays unambiguous.
                Seg::Key(k) => write!(f, "/{}", k.replace('~', "~0").replace('/', "~1"))?,
                Seg::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}

/// The JSON form of a value.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Integer(i) => J::Number((*i).into()),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => single("$bytes", J::String(BASE64_NOPAD.encode(b))),
        Value::Link(c) => single("$link", J::String(c.to_string())),
        Value::Array(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

fn single(key: &str, v: serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(key.to_owned(), v);
    serde_json::Value::Object(m)
}

/// Read JSON as a data-model value (the `$link` / `$bytes` / integer rules above).
///
/// Nesting is limited to [`Limits::DEFAULT`]'s depth, so whatever this accepts encodes to
/// DRISL that [`drisl::decode`](crate::drisl::decode) accepts back.
pub fn from_json(j: &serde_json::Value) -> Result<Value, JsonError> {
    let mut path = Vec::new();
    convert(j, &mut path, 0)
}

fn convert<'a>(
    j: &'a serde_json::Value,
    path: &mut Vec<Seg<'a>>,
    depth: usize,
) -> Result<Value, JsonError> {
    use serde_json::Value as J;
    let max = Limits::DEFAULT.max_depth;
    Ok(match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::String(s) => Value::String(s.clone()),
        J::Number(n) => Value::Integer(number(n, path)?),
        J::Array(items) => {
            if depth >= max {
                return Err(JsonError::Depth {
                    path: Path(path).to_string(),
                    max,
                });
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                out.push(convert(item, path, depth + 1)?);
                path.pop();
            }
            Value::Array(out)
        }
        J::Object(obj) => {
            if let Some(l) = obj.get("$link") {
                return link(obj.len(), l).map_err(|reason| JsonError::Link {
                    path: Path(path).to_string(),
                    reason,
                });
            }
            if let Some(b) = obj.get("$bytes") {
                return bytes(obj.len(), b).map_err(|reason| JsonError::Bytes {
                    path: Path(path).to_string(),
                    reason,
                });
            }
            if depth >= max {
                return Err(JsonError::Depth {
                    path: Path(path).to_string(),
                    max,
                });
            }
            let mut out = BTreeMap::new();
            for (k, v) in obj {
                path.push(Seg::Key(k));
                out.insert(k.clone(), convert(v, path, depth + 1)?);
                path.pop();
            }
            Value::Map(out)
        }
    })
}

fn number(n: &serde_json::Number, path: &[Seg<'_>]) -> Result<i64, JsonError> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.is_u64() {
        return Err(JsonError::IntegerRange {
            path: Path(path).to_string(),
            number: n.to_string(),
        });
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if !f.is_finite() || f.fract() != 0.0 {
        return Err(JsonError::Float {
            path: Path(path).to_string(),
            number: n.to_string(),
        });
    }
    // -2^63 is exactly representable; 2^63 is the first integral float beyond i64::MAX.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_63..TWO_63).contains(&f) {
        return Err(JsonError::IntegerRange {
            path: Path(path).to_string(),
            number: n.to_string(),
        });
    }
    Ok(f as i64)
}

fn link(keys: usize, v: &serde_json::Value) -> Result<Value, String> {
    if keys != 1 {
        return Err(format!("object has {keys} keys, a link has exactly one"));
    }
    let s = v
        .as_str()
        .ok_or_else(|| "value is not a string".to_owned())?;
    s.parse::<Cid>().map(Value::Link).map_err(|e| e.to_string())
}

fn bytes(keys: usize, v: &serde_json::Value) -> Result<Value, String> {
    if keys != 1 {
        return Err(format!("object has {keys} keys, $bytes has exactly one"));
    }
    let s = v
        .as_str()
        .ok_or_else(|| "value is not a string".to_owned())?;
    // Padding is optional on input: padded strings must be padded correctly.
    let enc = if s.ends_with('=') {
        &BASE64
    } else {
        &BASE64_NOPAD
    };
    enc.decode(s.as_bytes())
        .map(Value::Bytes)
        .map_err(|e| format!("not standard base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_float_is_an_integer() {
        assert_eq!(from_json(&json!(123.0)).unwrap(), Value::Integer(123));
        assert_eq!(from_json(&json!(-0.0)).unwrap(), Value::Integer(0));
    }

    #[test]
    fn rejects_real_floats() {
        assert!(
            matches!(from_json(&json!({"a": [1.5]})), Err(JsonError::Float { path, .. }) if path == "/a/0")
        );
    }

    #[test]
    fn rejects_integers_outside_i64() {
        assert!(matches!(
            from_json(&json!(u64::MAX)),
            Err(JsonError::IntegerRange { .. })
        ));
        assert!(matches!(
            from_json(&json!(1e19)),
            Err(JsonError::IntegerRange { .. })
        ));
        assert_eq!(
            from_json(&json!(i64::MIN)).unwrap(),
            Value::Integer(i64::MIN)
        );
    }

    #[test]
    fn bytes_padding_is_optional_on_input_and_absent_on_output() {
        let v = from_json(&json!({"$bytes": "aGk="})).unwrap();
        assert_eq!(v, from_json(&json!({"$bytes": "aGk"})).unwrap());
        assert_eq!(to_json(&v), json!({"$bytes": "aGk"}));
        assert!(from_json(&json!({"$bytes": "aGk=="})).is_err());
        assert!(
            from_json(&json!({"$bytes": "aG-_"})).is_err(),
            "url-safe alphabet is not standard"
        );
    }

    #[test]
    fn rejects_link_with_uppercase_or_wrong_base() {
        assert!(
            from_json(
                &json!({"$link": "BAFYREIDFAYVFUWQA7QLNOPDJIQRXZS6BLMOEU4RUJCJTNCI5BELUDIRZ2A"})
            )
            .is_err()
        );
        assert!(
            from_json(&json!({"$link": "zdpuAyvkgEoLXaTJbk2ZHUAyFcJJkmRa1i8VVbzBj7y6SBhYZ"}))
                .is_err()
        );
    }

    #[test]
    fn rejects_nesting_beyond_decoder_depth() {
        let mut j = json!(1);
        for _ in 0..64 {
            j = json!([j]);
        }
        assert!(from_json(&j).is_ok());
        let j = json!({ "k": j });
        assert!(matches!(
            from_json(&j),
            Err(JsonError::Depth { max: 64, .. })
        ));
    }

    #[test]
    fn error_paths_escape_slashes() {
        let e = from_json(&json!({"a/b": {"$link": 1}})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at /a~1b: invalid $link: value is not a string"
        );
    }
}
