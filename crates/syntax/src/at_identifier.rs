use crate::did::Did;
use crate::error::{Kind, SyntaxError};
use crate::handle::Handle;
use crate::string_type::string_type;

/// An account named either by DID or by handle, as in an AT-URI authority or an API
/// parameter of format `at-identifier`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AtIdentifier {
    /// A DID.
    Did(Did),
    /// A handle (lowercased).
    Handle(Handle),
}

impl AtIdentifier {
    /// Parses a DID (anything starting with `did:`) or else a handle.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        // Handles never contain ':', so the prefix decides; the error then names what the
        // string was taken for.
        if s.starts_with("did:") {
            Did::parse(s).map(AtIdentifier::Did)
        } else {
            Handle::parse(s)
                .map(AtIdentifier::Handle)
                .map_err(|e| match e {
                    SyntaxError::Invalid { reason, .. } => {
                        SyntaxError::invalid(Kind::AtIdentifier, s, reason)
                    }
                    other => other,
                })
        }
    }

    /// The identifier as text (a handle lowercased).
    pub fn as_str(&self) -> &str {
        match self {
            AtIdentifier::Did(d) => d.as_str(),
            AtIdentifier::Handle(h) => h.as_str(),
        }
    }

    /// The DID, if this is one.
    pub fn as_did(&self) -> Option<&Did> {
        match self {
            AtIdentifier::Did(d) => Some(d),
            AtIdentifier::Handle(_) => None,
        }
    }

    /// The handle, if this is one.
    pub fn as_handle(&self) -> Option<&Handle> {
        match self {
            AtIdentifier::Did(_) => None,
            AtIdentifier::Handle(h) => Some(h),
        }
    }
}

impl From<Did> for AtIdentifier {
    fn from(d: Did) -> Self {
        AtIdentifier::Did(d)
    }
}

impl From<Handle> for AtIdentifier {
    fn from(h: Handle) -> Self {
        AtIdentifier::Handle(h)
    }
}

string_type!(AtIdentifier, "a DID or a handle");
