use crate::error::{Kind, SyntaxError};
use crate::handle::check_label;
use crate::string_type::string_type;

/// A namespaced identifier such as `app.bsky.feed.post`: a reversed domain name (the
/// authority) followed by a name.
///
/// Kept as written: the authority is case-insensitive but the name is not, and authorities
/// must not publish NSIDs that differ only by case, so nothing is lowercased here.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nsid(String);

impl Nsid {
    /// Longest NSID accepted, in bytes (253 for the domain, 1 for the dot, 63 for the name).
    pub const MAX_LEN: usize = 317;

    /// Checks `s` against the NSID syntax and wraps it.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        check(s)?;
        Ok(Nsid(s.to_owned()))
    }

    /// The NSID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain authority, in NSID (reversed) order: `app.bsky.feed` for
    /// `app.bsky.feed.post`.
    pub fn authority(&self) -> &str {
        match self.0.rfind('.') {
            Some(i) => &self.0[..i],
            None => "",
        }
    }

    /// The final segment: `post` for `app.bsky.feed.post`.
    pub fn name(&self) -> &str {
        match self.0.rfind('.') {
            Some(i) => &self.0[i + 1..],
            None => &self.0,
        }
    }

    /// Consumes the NSID, returning its text.
    pub fn into_string(self) -> String {
        self.0
    }
}

string_type!(Nsid, "an NSID string");

fn check(s: &str) -> Result<(), SyntaxError> {
    let bad = |reason| Err(SyntaxError::invalid(Kind::Nsid, s, reason));
    if s.len() > Nsid::MAX_LEN {
        return Err(SyntaxError::too_long(Kind::Nsid, s.len(), Nsid::MAX_LEN));
    }
    let Some(dot) = s.rfind('.') else {
        return bad("needs at least three segments");
    };
    let (authority, name) = (&s[..dot], &s[dot + 1..]);
    // Only the total is bounded: the reference implementations and the interop fixtures
    // accept a domain part longer than a DNS name's 253 bytes.
    let mut segments = 0usize;
    for (i, seg) in authority.split('.').enumerate() {
        if let Err(reason) = check_label(seg.as_bytes()) {
            return bad(reason);
        }
        // The first segment is the TLD of the reversed domain; TLDs never start with a digit.
        if i == 0 && !seg.as_bytes()[0].is_ascii_alphabetic() {
            return bad("first segment must start with a letter");
        }
        segments += 1;
    }
    if segments < 2 {
        return bad("needs at least three segments");
    }
    let n = name.as_bytes();
    match n.first() {
        None => return bad("name is empty"),
        Some(c) if !c.is_ascii_alphabetic() => return bad("name must start with a letter"),
        Some(_) => {}
    }
    if n.len() > 63 {
        return bad("name longer than 63 characters");
    }
    if !n.iter().all(u8::is_ascii_alphanumeric) {
        return bad("name may only hold ASCII letters and digits");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_and_name_split_at_last_dot() {
        let n = Nsid::parse("app.bsky.feed.post").unwrap();
        assert_eq!(n.authority(), "app.bsky.feed");
        assert_eq!(n.name(), "post");
    }

    #[test]
    fn name_case_is_preserved() {
        assert_eq!(
            Nsid::parse("Com.Example.fooBar").unwrap().as_str(),
            "Com.Example.fooBar"
        );
    }
}
