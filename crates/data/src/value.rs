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

    /// `$type` of a map, if present and a string.
    pub fn type_name(&self) -> Option<&str> {
        self.as_map()?.get("$type")?.as_str()
    }
}
