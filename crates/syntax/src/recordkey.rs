use crate::error::{Kind, SyntaxError};
use crate::string_type::string_type;

/// A record key: the last part of a record's path in a repository (`self`, a TID, …).
///
/// Case-sensitive, 1–512 characters of `A-Z a-z 0-9 . - _ : ~`, and never `.` or `..`
/// (which would read as path navigation).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordKey(String);

impl RecordKey {
    /// Longest record key accepted, in bytes.
    pub const MAX_LEN: usize = 512;

    /// Checks `s` against the record-key syntax and wraps it.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(RecordKey(s.to_owned()))
    }

    /// The record key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the record key, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<crate::Tid> for RecordKey {
    /// Every TID is a valid record key (the usual key type for collections of posts).
    fn from(tid: crate::Tid) -> Self {
        RecordKey(tid.as_str().to_owned())
    }
}

string_type!(RecordKey, "a record key string");

fn check(s: &str) -> Result<(), SyntaxError> {
    let bad = |reason| Err(SyntaxError::invalid(Kind::RecordKey, s, reason));
    if s.len() > RecordKey::MAX_LEN {
        return Err(SyntaxError::too_long(
            Kind::RecordKey,
            s.len(),
            RecordKey::MAX_LEN,
        ));
    }
    if s.is_empty() {
        return bad("empty");
    }
    if s == "." || s == ".." {
        return bad("must not be \".\" or \"..\"");
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_' | b':' | b'~'))
    {
        return bad("may only hold ASCII letters, digits and . - _ : ~");
    }
    Ok(())
}
