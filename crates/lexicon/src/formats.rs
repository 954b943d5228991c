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

/// Whether `s` has more than `max` grapheme clusters. Graphemes never outnumber chars, and
/// chars never outnumber bytes, so the cheap counts settle most strings without segmenting.
pub(crate) fn more_graphemes_than(s: &str, max: u64) -> bool {
    if s.len() as u64 <= max {
        return false;
    }
    if s.is_ascii() {
        return ascii_graphemes(s) > max;
    }
    if s.chars().count() as u64 <= max {
        return false;
    }
    count_graphemes_up_to(s, max) > max
}

/// Whether `s` has fewer than `min` grapheme clusters.
pub(crate) fn fewer_graphemes_than(s: &str, min: u64) -> bool {
    if (s.len() as u64) < min {
        return true;
    }
    if s.is_ascii() {
        return ascii_graphemes(s) < min;
    }
    if (s.chars().count() as u64) < min {
        return true;
    }
    count_graphemes_up_to(s, min) < min
}

/// In ASCII only CR LF joins two characters into one grapheme cluster (UAX #29 rule GB3).
fn ascii_graphemes(s: &str) -> u64 {
    let crlf = s.as_bytes().windows(2).filter(|w| w == b"\r\n").count();
    (s.len() - crlf) as u64
}

/// Grapheme count of `s`, stopping once it passes `limit`.
fn count_graphemes_up_to(s: &str, limit: u64) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(list: &[&str], mime: &str) -> bool {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        mime_accepted(&list, mime)
    }

    #[test]
    fn accept_matches_exact_type_glob_and_any() {
        assert!(accept(&["image/png"], "image/png"));
        assert!(!accept(&["image/png"], "image/jpeg"));
        assert!(accept(&["image/*"], "image/webp"));
        assert!(!accept(&["image/*"], "video/mp4"));
        assert!(!accept(&["image/*"], "imagex/png"));
        assert!(accept(&["*/*"], "application/octet-stream"));
        assert!(accept(&["text/vtt", "image/*"], "IMAGE/PNG"));
    }

    fn graphemes(s: &str) -> u64 {
        use unicode_segmentation::UnicodeSegmentation;
        s.graphemes(true).count() as u64
    }

    /// The shortcuts must agree with a plain count at, just under and just over the limit.
    #[test]
    fn grapheme_limits_agree_with_full_segmentation() {
        let samples = [
            "",
            "plain ascii",
            "line\r\nbreaks\r\n",
            "\r\n\r\n\r",
            "週末の写真です",
            "🏳️‍🌈🇩🇪👩‍👩‍👦‍👦",
            "e\u{301}e\u{301}e\u{301}",
            "mixed 🏳️‍🌈 text é",
        ];
        for s in samples {
            let n = graphemes(s);
            for limit in n.saturating_sub(2)..=n + 2 {
                assert_eq!(more_graphemes_than(s, limit), n > limit, "{s:?} > {limit}");
                assert_eq!(fewer_graphemes_than(s, limit), n < limit, "{s:?} < {limit}");
            }
        }
    }
}
