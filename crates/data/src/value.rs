//! The atproto data model as an owned tree.

use std::collections::BTreeMap;

use crate::Cid;

/// One value of the atproto data model. Floats do not exist here: atproto forbids them.
///
/// Maps are `BTreeMap`s, which order keys bytewise; the DRISL encoder re-sorts them into
/// canonical length-first order when writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A signed 64-bit integer.
    Integer(i64),
    /// A UTF-8 string.
    String(String),
    /// A byte string (`{"$bytes": ...}` in JSON).
    Bytes(Vec<u8>),
    /// A CID link (tag 42; `{"$link": ...}` in JSON).
    Link(Cid),
    /// An array.
    Array(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The CID, if this is a link.
    pub fn as_link(&self) -> Option<&Cid> {
        match self {
            Value::Link(c) => Some(c),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value under `key`, if this is a map holding it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?.get(key)
    }

    /// `$type` of a map, if present and a string.
    pub fn type_name(&self) -> Option<&str> {
        self.as_map()?.get("$type")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_return_none_for_other_variants() {
        let cid = Cid::for_raw(b"");
        let m = Value::Map(BTreeMap::from([
            ("$type".to_owned(), Value::String("x.y.z".into())),
            ("l".to_owned(), Value::Link(cid)),
            ("b".to_owned(), Value::Bytes(vec![1])),
            ("a".to_owned(), Value::Array(vec![Value::Null])),
            ("t".to_owned(), Value::Bool(true)),
        ]));
        assert_eq!(m.type_name(), Some("x.y.z"));
        assert_eq!(m.get("l").and_then(Value::as_link), Some(&cid));
        assert_eq!(m.get("b").and_then(Value::as_bytes), Some(&[1u8][..]));
        assert!(
            m.get("a")
                .and_then(Value::as_array)
                .is_some_and(|a| a[0].is_null())
        );
        assert_eq!(m.get("t").and_then(Value::as_bool), Some(true));
        assert_eq!(m.get("t").and_then(Value::as_i64), None);
        assert_eq!(Value::Integer(1).get("l"), None);
        assert_eq!(Value::Integer(1).type_name(), None);
    }
}
