use crate::error::{Kind, SyntaxError};
use crate::string_type::string_type;

/// A decentralized identifier, `did:<method>:<method-specific-id>`.
///
/// Syntax only: any lowercase method is accepted here; whether the method is supported
/// (`plc`, `web`) is a resolution question. DIDs are case-sensitive and are never
/// normalised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Did(String);

impl Did {
    /// Longest DID accepted, in bytes (the spec's hard limit; 64 is recommended).
    pub const MAX_LEN: usize = 2048;

    /// Checks `s` against the DID syntax and wraps it.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Did(s.to_owned()))
    }

    /// The DID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The method name, e.g. `plc` for `did:plc:…`.
    pub fn method(&self) -> &str {
        let rest = &self.0[4..];
        match rest.find(':') {
            Some(i) => &rest[..i],
            None => rest,
        }
    }

    /// The method-specific identifier, everything after `did:<method>:`.
    pub fn identifier(&self) -> &str {
        let rest = &self.0[4..];
        match rest.find(':') {
            Some(i) => &rest[i + 1..],
            None => "",
        }
    }

    /// Consumes the DID, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

string_type!(Did, "a DID string");

fn check(s: &str) -> Result<(), SyntaxError> {
    let bad = |reason| Err(SyntaxError::invalid(Kind::Did, s, reason));
    if s.len() > Did::MAX_LEN {
        return Err(SyntaxError::too_long(Kind::Did, s.len(), Did::MAX_LEN));
    }
    let Some(rest) = s.strip_prefix("did:") else {
        return bad("must start with lowercase \"did:\"");
    };
    let b = rest.as_bytes();
    let method_len = b.iter().take_while(|c| c.is_ascii_lowercase()).count();
    if method_len == 0 {
        return bad("method must be one or more lowercase letters");
    }
    if b.get(method_len) != Some(&b':') {
        return bad("method must be lowercase letters followed by ':'");
    }
    let id = &b[method_len + 1..];
    let Some(&last) = id.last() else {
        return bad("method-specific identifier is empty");
    };
    if !id
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'%' | b'-'))
    {
        return bad("identifier may only hold ASCII letters, digits and . _ : % -");
    }
    // A trailing ':' or '%' would leave an empty segment or a dangling percent escape.
    if last == b':' || last == b'%' {
        return bad("must not end with ':' or '%'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_and_identifier_split_at_first_colon() {
        let d = Did::parse("did:web:localhost%3A1234:x").unwrap();
        assert_eq!(d.method(), "web");
        assert_eq!(d.identifier(), "localhost%3A1234:x");
    }

    #[test]
    fn rejects_over_2048_bytes() {
        let s = format!("did:plc:{}", "a".repeat(2041));
        assert!(matches!(Did::parse(&s), Err(SyntaxError::TooLong { .. })));
        assert!(Did::parse(&s[..2048]).is_ok());
    }
}
