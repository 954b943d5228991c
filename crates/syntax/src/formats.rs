//! Lexicon string formats that are checked but not given a type here: `cid` (parsed into
//! `aerie_data::Cid` where the bytes matter) and `uri` (passed through as text).

/// Longest `uri` accepted, in bytes.
pub const URI_MAX_LEN: usize = 8 * 1024;

/// Whether `s` passes the loose Lexicon `cid` string syntax: 8–256 characters of
/// `A-Z a-z 0-9 + =` (any multibase encoding), but not a CIDv0 (`Qm…`, which atproto
/// dropped). Decoding and checking the CID itself is `aerie_data::Cid`'s job.
pub fn is_valid_cid_string(s: &str) -> bool {
    (8..=256).contains(&s.len())
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'=')
        // Every CIDv0 is a base58btc sha2-256 multihash, which always begins "Qm"; no
        // multibase prefix is 'Q', so this cannot reject a CIDv1.
        && !s.starts_with("Qm")
}

/// Whether `s` passes the Lexicon `uri` syntax: an RFC 3986 scheme (a letter, then letters,
/// digits, `+ - .`), a `:`, and a non-empty remainder without whitespace or control
/// characters; at most [`URI_MAX_LEN`] bytes.
///
/// Deliberately loose past the scheme, like the reference implementations: the format is
/// for pass-through, and real URIs break RFC 3986's character rules often enough.
pub fn is_valid_uri(s: &str) -> bool {
    if s.len() > URI_MAX_LEN {
        return false;
    }
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    sb.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sb.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_scheme_follows_rfc3986() {
        assert!(is_valid_uri("svn+ssh://host/x"));
        assert!(!is_valid_uri("1http://host"));
        assert!(!is_valid_uri("ht_tp://host"));
        assert!(!is_valid_uri("https://host/\u{7f}"));
    }

    #[test]
    fn cid_v0_is_rejected() {
        assert!(!is_valid_cid_string(
            "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"
        ));
        assert!(is_valid_cid_string(
            "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        ));
    }
}
