//! Canonical encoding of [`Value`].

use super::writer::Writer;
use crate::Value;

/// Encode a value as canonical DRISL.
pub fn encode(v: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    encode_into(v, &mut w);
    w.into_inner()
}

/// Append the canonical DRISL encoding of `v` to `w`.
pub fn encode_into(v: &Value, w: &mut Writer) {
    match v {
        Value::Null => {
            w.null();
        }
        Value::Bool(b) => {
            w.bool(*b);
        }
        Value::Integer(i) => {
            w.int(*i);
        }
        Value::String(s) => {
            w.text(s);
        }
        Value::Bytes(b) => {
            w.bytes(b);
        }
        Value::Link(c) => {
            w.link(c);
        }
        Value::Array(items) => {
            w.array(items.len());
            for item in items {
                encode_into(item, w);
            }
        }
        Value::Map(map) => {
            w.map(map.len());
            // A BTreeMap iterates bytewise; a stable sort by length then gives canonical
            // order (length first, bytewise within a length).
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by_key(|(k, _)| k.len());
            for (k, item) in entries {
                w.text(k);
                encode_into(item, w);
            }
        }
    }
}
