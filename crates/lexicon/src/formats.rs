//! String formats and blob MIME matching.
//!
//! The identifier formats defer to `aerie-syntax`, so a record field and an XRPC parameter
//! accept exactly the same strings. Messages are the reference's wording.

use aerie_syntax::{AtIdentifier, AtUri, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid};

use crate::schema::Format;

/// Checks `s` against `format`; on failure, the rule broken.
pub(crate) fn check(format: Format, s: &str) -> Result<(), &'static str> {
    let (ok, rule) = match format {
        Format::Datetime => (
            Datetime::parse(s).is_ok(),
            "must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
        ),
        Format::Uri => (aerie_syntax::is_valid_uri(s), "must be a uri"),
        Format::AtUri => (AtUri::parse(s).is_ok(), "must be a valid at-uri"),
        Format::Did => (Did::parse(s).is_ok(), "must be a valid did"),
        Format::Handle => (Handle::parse(s).is_ok(), "must be a valid handle"),
        Format::AtIdentifier => (
            AtIdentifier::parse(s).is_ok(),
            "must be a valid did or a handle",
        ),
        Format::Nsid => (Nsid::parse(s).is_ok(), "must be a valid nsid"),
        Format::Cid => (aerie_syntax::is_valid_cid_string(s), "must be a cid string"),
        Format::Language => (
            Language::parse(s).is_ok(),
            "must be a well-formed BCP 47 language tag",
        ),
        Format::Tid => (
            Tid::parse(s).is_ok(),
            "must be a valid TID (timestamp identifier)",
        ),
        Format::RecordKey => (RecordKey::parse(s).is_ok(), "must be a valid Record Key"),
    };
    if ok { Ok(()) } else { Err(rule) }
}

/// Whether `mime` matches one `accept` entry: exact, `type/*`, or `*/*`. MIME types are
/// case-insensitive (RFC 2045), so the comparison is too.
pub(crate) fn mime_accepted(accept: &[String], mime: &str) -> bool {
    accept.iter().any(|pattern| {
        if pattern == "*/*" {
            return true;
        }
        match pattern.strip_suffix("/*") {
            Some(ty) => mime
                .split_once('/')
                .is_some_and(|(t, _)| t.eq_ignore_ascii_case(ty)),
            None => pattern.eq_ignore_ascii_case(mime),
        }
    })
}

/// Grapheme count of `s`, stopping early once it exceeds `limit` (the caller only needs to
/// know "more than limit").
pub(crate) fn graphemes_up_to(s: &str, limit: u64) -> u64 {
    if s.is_ascii() {
        // In ASCII only CR LF joins two characters into one grapheme cluster (UAX #29 GB3).
        let crlf = s.as_bytes().windows(2).filter(|w| w == b"\r\n").count();
        return (s.len() - crlf) as u64;
    }
    use unicode_segmentation::UnicodeSegmentation;
    let mut n = 0u64;
    for _ in s.graphemes(true) {
        n += 1;
        if n > limit {
            break;
        }
    }
    n
}
