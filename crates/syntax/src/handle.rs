use std::borrow::Cow;

use crate::error::{Kind, SyntaxError};
use crate::string_type::string_type;

/// A handle: a DNS hostname naming an account, stored lowercase.
///
/// Handles are case-insensitive, so [`Handle::parse`] lowercases and two spellings of one
/// handle compare equal. Policy (reserved TLDs, the `handle.invalid` sentinel) is kept out
/// of parsing: see [`Handle::has_disallowed_tld`] and [`Handle::is_invalid_sentinel`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(Cow<'static, str>);

/// Top-level domains that are syntactically fine but must not be registered or resolved.
const DISALLOWED_TLDS: [&str; 8] = [
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];

impl Handle {
    /// Longest handle accepted, in bytes (the DNS hostname limit).
    pub const MAX_LEN: usize = 253;

    /// The sentinel `handle.invalid`, shown when an account has no verified handle.
    pub const INVALID: Handle = Handle(Cow::Borrowed("handle.invalid"));

    /// Checks `s` against the handle syntax and stores it lowercased.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        if s.bytes().any(|c| c.is_ascii_uppercase()) {
            Ok(Handle(Cow::Owned(s.to_ascii_lowercase())))
        } else {
            Ok(Handle(Cow::Owned(s.to_owned())))
        }
    }

    /// The handle as lowercase text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last label, e.g. `social` in `alice.bsky.social`.
    pub fn tld(&self) -> &str {
        match self.0.rfind('.') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// Whether the TLD is one that must never be registered or resolved: `.alt`, `.arpa`,
    /// `.example`, `.internal`, `.invalid`, `.local`, `.localhost`, `.onion`, and `.test`
    /// unless `allow_test` (development setups use `.test`).
    pub fn has_disallowed_tld(&self, allow_test: bool) -> bool {
        let tld = self.tld();
        DISALLOWED_TLDS.contains(&tld) || (!allow_test && tld == "test")
    }

    /// Whether this is the `handle.invalid` sentinel.
    pub fn is_invalid_sentinel(&self) -> bool {
        self.0 == Self::INVALID.0
    }

    /// Consumes the handle, returning its text.
    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

string_type!(Handle, "a handle (hostname)");

fn check(s: &str) -> Result<(), SyntaxError> {
    let bad = |reason| Err(SyntaxError::invalid(Kind::Handle, s, reason));
    if s.len() > Handle::MAX_LEN {
        return Err(SyntaxError::too_long(
            Kind::Handle,
            s.len(),
            Handle::MAX_LEN,
        ));
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in s.split('.') {
        if let Err(reason) = check_label(label.as_bytes()) {
            return bad(reason);
        }
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return bad("needs at least two labels");
    }
    // Keeps IP addresses out and matches modern TLD rules: a TLD never starts with a digit.
    if !last.as_bytes()[0].is_ascii_alphabetic() {
        return bad("last label must start with a letter");
    }
    Ok(())
}

/// A DNS label: 1-63 ASCII letters, digits and hyphens, not starting or ending with a
/// hyphen. Shared with the domain part of an NSID.
pub(crate) fn check_label(label: &[u8]) -> Result<(), &'static str> {
    match label {
        [] => Err("empty label"),
        _ if label.len() > 63 => Err("label longer than 63 characters"),
        [b'-', ..] | [.., b'-'] => Err("label starts or ends with '-'"),
        _ if !label
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-') =>
        {
            Err("label may only hold ASCII letters, digits and '-'")
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stores_lowercase() {
        let h = Handle::parse("Alice.BSKY.Social").unwrap();
        assert_eq!(h.as_str(), "alice.bsky.social");
        assert_eq!(h, Handle::parse("alice.bsky.social").unwrap());
    }

    #[test]
    fn disallowed_tlds_are_policy_not_syntax() {
        for s in [
            "a.alt",
            "a.arpa",
            "a.example",
            "a.internal",
            "a.invalid",
            "a.local",
            "a.localhost",
            "a.onion",
        ] {
            let h = Handle::parse(s).unwrap();
            assert!(h.has_disallowed_tld(true), "{s}");
        }
        let t = Handle::parse("alice.test").unwrap();
        assert!(t.has_disallowed_tld(false));
        assert!(!t.has_disallowed_tld(true));
        assert!(
            !Handle::parse("alice.bsky.social")
                .unwrap()
                .has_disallowed_tld(false)
        );
    }

    #[test]
    fn invalid_sentinel_parses_and_is_recognised() {
        assert_eq!(Handle::parse("handle.invalid").unwrap(), Handle::INVALID);
        assert!(
            Handle::parse("HANDLE.invalid")
                .unwrap()
                .is_invalid_sentinel()
        );
        assert!(!Handle::parse("x.invalid").unwrap().is_invalid_sentinel());
    }
}
