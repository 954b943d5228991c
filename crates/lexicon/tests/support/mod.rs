//! Test support: lexicon JSON → data-model values.
//!
//! Written here (not taken from aerie-data) because the fixtures carry `$bytes` strings with
//! non-zero trailing bits (`"123"`), which a strict codec may refuse but the fixture expects
//! to validate.

use std::collections::BTreeMap;

use aerie_data::{Cid, Value};
use serde_json::Value as Json;

pub fn value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Integer(n.as_i64().expect("fixture numbers are integers")),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(value).collect()),
        Json::Object(o) => {
            if o.len() == 1 {
                if let Some(Json::String(link)) = o.get("$link") {
                    return Value::Link(link.parse::<Cid>().expect("fixture $link is a CID"));
                }
                if let Some(Json::String(b64)) = o.get("$bytes") {
                    let mut spec = data_encoding::BASE64_NOPAD.specification();
                    spec.check_trailing_bits = false;
                    let engine = spec.encoding().expect("base64 spec");
                    return Value::Bytes(engine.decode(b64.as_bytes()).expect("fixture $bytes"));
                }
            }
            Value::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), value(v)))
                    .collect::<BTreeMap<_, _>>(),
            )
        }
    }
}

/// Parses JSON text and converts it.
#[allow(dead_code)]
pub fn parse(text: &str) -> Value {
    value(&serde_json::from_str(text).expect("test JSON"))
}
