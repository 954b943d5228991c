use crate::error::{Kind, SyntaxError};
use crate::string_type::string_type;

/// A BCP-47 language tag (RFC 5646), as the Lexicon `language` format, e.g. `en`, `pt-BR`,
/// `zh-Hant`, `i-default`.
///
/// Accepts the well-formed grammar with the reference implementation's narrowing: the
/// primary language subtag is 2–3 lower-case letters (the 4- and 5–8-letter forms are not
/// in use). Also rejects a repeated variant or extension singleton (RFC 5646 §2.2.5,
/// §2.2.6), compared case-insensitively. The 26 grandfathered tags are accepted as
/// registered, and a tag may be private use only (`x-…`). Kept as written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Language(String);

/// Grandfathered tags (RFC 5646 §2.2.8), in their registered spelling.
const GRANDFATHERED: [&str; 26] = [
    "en-GB-oed",
    "i-ami",
    "i-bnn",
    "i-default",
    "i-enochian",
    "i-hak",
    "i-klingon",
    "i-lux",
    "i-mingo",
    "i-navajo",
    "i-pwn",
    "i-tao",
    "i-tay",
    "i-tsu",
    "sgn-BE-FR",
    "sgn-BE-NL",
    "sgn-CH-DE",
    "art-lojban",
    "cel-gaulish",
    "no-bok",
    "no-nyn",
    "zh-guoyu",
    "zh-hakka",
    "zh-min",
    "zh-min-nan",
    "zh-xiang",
];

impl Language {
    /// Longest tag accepted, in bytes. The grammar has no limit; this bounds the work and
    /// memory a hostile input can ask for while leaving room for long extension chains.
    pub const MAX_LEN: usize = 256;

    /// Checks `s` against the language tag grammar and wraps it.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        if s.len() > Self::MAX_LEN {
            return Err(SyntaxError::too_long(
                Kind::Language,
                s.len(),
                Self::MAX_LEN,
            ));
        }
        if !GRANDFATHERED.contains(&s) {
            check(s).map_err(|reason| SyntaxError::invalid(Kind::Language, s, reason))?;
        }
        Ok(Language(s.to_owned()))
    }

    /// The tag as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`pt` in `pt-BR`); empty for a private-use-only tag.
    pub fn primary(&self) -> &str {
        let first = self.0.split('-').next().unwrap_or("");
        if first.eq_ignore_ascii_case("x") {
            ""
        } else {
            first
        }
    }
}

string_type!(Language, "a BCP-47 language tag");

fn alpha(t: &str) -> bool {
    t.bytes().all(|c| c.is_ascii_alphabetic())
}

fn digits(t: &str) -> bool {
    t.bytes().all(|c| c.is_ascii_digit())
}

fn alnum(t: &str) -> bool {
    t.bytes().all(|c| c.is_ascii_alphanumeric())
}

/// Checks a private-use sequence after its `x`: one or more subtags of 1–8 alphanumerics.
fn private_use<'a>(mut rest: impl Iterator<Item = &'a str>) -> Result<(), &'static str> {
    let mut any = false;
    for t in rest.by_ref() {
        if !(1..=8).contains(&t.len()) || !alnum(t) {
            return Err("private-use subtags are 1-8 letters or digits");
        }
        any = true;
    }
    if any {
        Ok(())
    } else {
        Err("private-use 'x' needs at least one subtag")
    }
}

/// The langtag grammar, walked subtag by subtag. Each position is decided by a subtag's
/// length and character class alone (extlang 3 letters, script 4 letters, region 2 letters
/// or 3 digits, variant 5-8 alphanumerics or a digit and 3 alphanumerics, singleton 1), so
/// one greedy pass accepts exactly what the ABNF does.
fn check(s: &str) -> Result<(), &'static str> {
    let mut tags = s.split('-').peekable();
    let first = tags.next().unwrap_or("");
    if first.eq_ignore_ascii_case("x") {
        return private_use(tags);
    }
    if !(2..=3).contains(&first.len()) || !first.bytes().all(|c| c.is_ascii_lowercase()) {
        return Err("primary language subtag must be 2-3 lower-case letters");
    }
    let mut extlangs = 0;
    while extlangs < 3 && tags.peek().is_some_and(|t| t.len() == 3 && alpha(t)) {
        tags.next();
        extlangs += 1;
    }
    if tags.peek().is_some_and(|t| t.len() == 4 && alpha(t)) {
        tags.next();
    }
    if tags
        .peek()
        .is_some_and(|t| (t.len() == 2 && alpha(t)) || (t.len() == 3 && digits(t)))
    {
        tags.next();
    }
    // Variants: at most a handful in practice, so a linear scan beats a set.
    let mut variants: Vec<&str> = Vec::new();
    while let Some(t) = tags.peek().copied() {
        let is_variant = ((5..=8).contains(&t.len()) && alnum(t))
            || (t.len() == 4 && t.as_bytes()[0].is_ascii_digit() && alnum(t));
        if !is_variant {
            break;
        }
        if variants.iter().any(|v| v.eq_ignore_ascii_case(t)) {
            return Err("repeated variant subtag");
        }
        variants.push(t);
        tags.next();
    }
    let mut singletons: Vec<u8> = Vec::new();
    while let Some(t) = tags.next() {
        match t.as_bytes() {
            [c] if c.eq_ignore_ascii_case(&b'x') => return private_use(tags),
            [c] if c.is_ascii_alphanumeric() => {
                let c = c.to_ascii_lowercase();
                if singletons.contains(&c) {
                    return Err("repeated extension singleton");
                }
                singletons.push(c);
                let mut any = false;
                while tags
                    .peek()
                    .is_some_and(|t| (2..=8).contains(&t.len()) && alnum(t))
                {
                    tags.next();
                    any = true;
                }
                if !any {
                    return Err("extension singleton needs at least one 2-8 character subtag");
                }
            }
            _ => return Err("subtag out of place or malformed"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_subtag_is_exposed() {
        assert_eq!(Language::parse("pt-BR").unwrap().primary(), "pt");
        assert_eq!(Language::parse("x-whatever").unwrap().primary(), "");
    }

    #[test]
    fn too_many_extlangs_are_rejected() {
        assert!(Language::parse("zh-yue-abc-def").is_ok());
        assert!(Language::parse("zh-yue-abc-def-ghi").is_err());
    }

    #[test]
    fn empty_subtags_are_rejected() {
        for s in ["", "en--US", "en-", "-en", "en-a", "en-x", "en-x-"] {
            assert!(Language::parse(s).is_err(), "{s:?}");
        }
    }
}
