use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::at_identifier::AtIdentifier;
use crate::did::Did;
use crate::error::{Kind, SyntaxError};
use crate::nsid::Nsid;
use crate::recordkey::RecordKey;
use crate::string_type::string_type;

/// An `at://` URI in the restricted form Lexicon uses:
/// `at://AUTHORITY[/COLLECTION[/RKEY]]`, where the authority is a DID or handle, the
/// collection an NSID and the last segment a record key. No query, fragment, trailing
/// slash, user info or port.
///
/// The text is kept normalised: a handle authority is lowercased (like [`Handle`]);
/// everything else is case-sensitive and kept as written. Equality, ordering and hashing
/// follow that text.
///
/// [`Handle`]: crate::Handle
#[derive(Clone)]
pub struct AtUri {
    text: String,
    authority: AtIdentifier,
    collection: Option<Nsid>,
    rkey: Option<RecordKey>,
}

impl AtUri {
    /// Longest AT-URI accepted, in bytes.
    pub const MAX_LEN: usize = 8 * 1024;

    /// Parses the restricted (Lexicon) AT-URI form.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        let bad = |reason| SyntaxError::invalid(Kind::AtUri, s, reason);
        if s.len() > Self::MAX_LEN {
            return Err(SyntaxError::too_long(Kind::AtUri, s.len(), Self::MAX_LEN));
        }
        let rest = s
            .strip_prefix("at://")
            .ok_or_else(|| bad("must start with \"at://\""))?;
        let mut parts = rest.split('/');
        let authority = parts
            .next()
            .and_then(|a| AtIdentifier::parse(a).ok())
            .ok_or_else(|| bad("authority is not a valid DID or handle"))?;
        let collection = match parts.next() {
            None => None,
            Some(c) => Some(Nsid::parse(c).map_err(|_| bad("collection is not a valid NSID"))?),
        };
        let rkey = match parts.next() {
            None => None,
            Some(k) => Some(RecordKey::parse(k).map_err(|_| bad("record key is not valid"))?),
        };
        if parts.next().is_some() {
            return Err(bad("more than three path segments"));
        }
        Ok(Self::assemble(authority, collection, rkey))
    }

    /// Builds an AT-URI from parsed parts; a record key needs a collection.
    ///
    /// No length check is needed: the longest DID, NSID and record key together stay well
    /// under [`AtUri::MAX_LEN`].
    pub fn from_parts(
        authority: AtIdentifier,
        collection: Option<Nsid>,
        rkey: Option<RecordKey>,
    ) -> Result<Self, SyntaxError> {
        if rkey.is_some() && collection.is_none() {
            return Err(SyntaxError::RecordKeyWithoutCollection);
        }
        Ok(Self::assemble(authority, collection, rkey))
    }

    /// The URI of one record: `at://<authority>/<collection>/<rkey>`.
    pub fn record(authority: impl Into<AtIdentifier>, collection: Nsid, rkey: RecordKey) -> Self {
        Self::assemble(authority.into(), Some(collection), Some(rkey))
    }

    fn assemble(
        authority: AtIdentifier,
        collection: Option<Nsid>,
        rkey: Option<RecordKey>,
    ) -> Self {
        let len = 5
            + authority.as_str().len()
            + collection.as_ref().map_or(0, |c| c.as_str().len() + 1)
            + rkey.as_ref().map_or(0, |k| k.as_str().len() + 1);
        let mut text = String::with_capacity(len);
        text.push_str("at://");
        text.push_str(authority.as_str());
        if let Some(c) = &collection {
            text.push('/');
            text.push_str(c.as_str());
            if let Some(k) = &rkey {
                text.push('/');
                text.push_str(k.as_str());
            }
        }
        AtUri {
            text,
            authority,
            collection,
            rkey,
        }
    }

    /// The URI as (normalised) text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The repository named by the URI: a DID or a handle.
    pub fn authority(&self) -> &AtIdentifier {
        &self.authority
    }

    /// The authority, if it is a DID.
    pub fn did(&self) -> Option<&Did> {
        self.authority.as_did()
    }

    /// The collection NSID, if the URI has a path.
    pub fn collection(&self) -> Option<&Nsid> {
        self.collection.as_ref()
    }

    /// The record key, if the URI names a record.
    pub fn rkey(&self) -> Option<&RecordKey> {
        self.rkey.as_ref()
    }
}

impl std::fmt::Debug for AtUri {
    /// Just the text: the parsed parts repeat it and would only add noise to logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AtUri").field(&self.text).finish()
    }
}

impl PartialEq for AtUri {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for AtUri {}

impl PartialOrd for AtUri {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AtUri {
    fn cmp(&self, other: &Self) -> Ordering {
        self.text.cmp(&other.text)
    }
}

impl Hash for AtUri {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

string_type!(AtUri, "an at:// URI");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_exposed() {
        let u = AtUri::parse("at://did:plc:asdf123/app.bsky.feed.post/3jzfcijpj2z2a").unwrap();
        assert_eq!(u.did().map(Did::as_str), Some("did:plc:asdf123"));
        assert_eq!(u.collection().map(Nsid::as_str), Some("app.bsky.feed.post"));
        assert_eq!(u.rkey().map(RecordKey::as_str), Some("3jzfcijpj2z2a"));
    }

    #[test]
    fn handle_authority_is_lowercased() {
        let u = AtUri::parse("at://Alice.Example.COM/app.bsky.feed.post").unwrap();
        assert_eq!(u.as_str(), "at://alice.example.com/app.bsky.feed.post");
    }

    #[test]
    fn record_key_without_collection_is_refused() {
        let did = AtIdentifier::parse("did:plc:x").unwrap();
        let err = AtUri::from_parts(did, None, Some(RecordKey::parse("self").unwrap()));
        assert_eq!(err.unwrap_err(), SyntaxError::RecordKeyWithoutCollection);
    }

    #[test]
    fn from_parts_matches_parse() {
        let u = AtUri::record(
            Did::parse("did:plc:x").unwrap(),
            Nsid::parse("app.bsky.actor.profile").unwrap(),
            RecordKey::parse("self").unwrap(),
        );
        assert_eq!(
            u,
            AtUri::parse("at://did:plc:x/app.bsky.actor.profile/self").unwrap()
        );
    }
}
