use aerie_crypto::PublicKey;
use aerie_syntax::{Did, Handle};
use serde::{Deserialize, Serialize};

use crate::IdentityError;

/// Fragment of the atproto repository signing key.
pub const ATPROTO_KEY_ID: &str = "atproto";
/// Fragment of the PDS service entry.
pub const ATPROTO_PDS_ID: &str = "atproto_pds";
/// `type` of the PDS service entry.
pub const ATPROTO_PDS_TYPE: &str = "AtprotoPersonalDataServer";

/// Largest DID document accepted, in bytes. PLC caps operations at 7,500 bytes, so a real
/// document is far smaller; the cap only keeps a hostile `did:web` host from making us parse
/// megabytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// A DID document as atproto reads it: `id`, `alsoKnownAs`, `verificationMethod` and
/// `service`. Everything else (`@context`, `controller`, ...) is ignored, and entries of
/// shapes atproto does not use (a `publicKeyJwk` method, an object endpoint) are kept but
/// never selected.
///
/// This is a wire type: it derives serde so a PDS can serve it back, and its accessors do
/// the atproto-specific selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DidDocument {
    /// The DID this document describes.
    pub id: Did,
    /// URIs the subject is also known as; the handle is the first valid `at://` one.
    #[serde(rename = "alsoKnownAs", default, skip_serializing_if = "Vec::is_empty")]
    pub also_known_as: Vec<String>,
    /// Public keys.
    #[serde(
        rename = "verificationMethod",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub verification_method: Vec<VerificationMethod>,
    /// Service endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<Service>,
}

/// One entry of `verificationMethod`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationMethod {
    /// `#atproto` or `did:…#atproto`.
    pub id: String,
    /// `Multikey`, or a legacy suite name.
    #[serde(rename = "type")]
    pub kind: String,
    /// The DID controlling the key.
    #[serde(default)]
    pub controller: String,
    /// The key, for the types atproto reads.
    #[serde(
        rename = "publicKeyMultibase",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub public_key_multibase: Option<String>,
}

/// One entry of `service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// `#atproto_pds` or `did:…#atproto_pds`.
    pub id: String,
    /// `AtprotoPersonalDataServer`, `AtprotoLabeler`, `BskyAppView`...
    #[serde(rename = "type")]
    pub kind: String,
    /// Usually a URL string; DID core also allows maps and sets, which atproto never uses.
    #[serde(rename = "serviceEndpoint")]
    pub endpoint: serde_json::Value,
}

impl Service {
    /// The endpoint when it is a plain string.
    pub fn endpoint_str(&self) -> Option<&str> {
        self.endpoint.as_str()
    }
}

impl DidDocument {
    /// Parses a document fetched for `did`, checking that its `id` is `did`.
    pub fn from_json(did: &Did, bytes: &[u8]) -> Result<DidDocument, IdentityError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(IdentityError::MalformedDocument {
                did: did.to_string(),
                reason: format!(
                    "{} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit",
                    bytes.len()
                ),
            });
        }
        let doc: DidDocument =
            serde_json::from_slice(bytes).map_err(|e| IdentityError::MalformedDocument {
                did: did.to_string(),
                reason: e.to_string(),
            })?;
        if &doc.id != did {
            return Err(IdentityError::DocumentIdMismatch {
                expected: did.to_string(),
                found: doc.id.to_string(),
            });
        }
        Ok(doc)
    }

    /// Whether an entry id names `fragment` of this document: the relative `#fragment` or
    /// the absolute `did…#fragment`.
    fn id_matches(&self, id: &str, fragment: &str) -> bool {
        let Some((prefix, frag)) = id.split_once('#') else {
            return false;
        };
        frag == fragment && (prefix.is_empty() || prefix == self.id.as_str())
    }

    /// The claimed handle: the first `alsoKnownAs` entry that is `at://` followed by a
    /// syntactically valid handle and nothing else. Unverified: see
    /// [`crate::Resolver::resolve_identity`] for the bidirectional check.
    pub fn handle(&self) -> Option<Handle> {
        self.also_known_as
            .iter()
            .filter_map(|aka| aka.strip_prefix("at://"))
            .find_map(|rest| Handle::parse(rest).ok())
    }

    /// The verification method with id `#fragment` (relative or absolute).
    pub fn verification_method(&self, fragment: &str) -> Option<&VerificationMethod> {
        self.verification_method
            .iter()
            .find(|m| self.id_matches(&m.id, fragment))
    }

    /// The public key of verification method `#fragment`: `None` if there is no such
    /// method, an error if it is there but unusable (unknown type, bad key, other
    /// controller).
    pub fn key(&self, fragment: &str) -> Option<Result<PublicKey, IdentityError>> {
        let method = self.verification_method(fragment)?;
        Some(self.read_key(method))
    }

    fn read_key(&self, method: &VerificationMethod) -> Result<PublicKey, IdentityError> {
        let unusable = |detail: String| IdentityError::NoSigningKey {
            did: self.id.to_string(),
            detail: Some(detail),
        };
        // A key controlled by someone else is not the subject's key, whatever its id says.
        if !method.controller.is_empty() && method.controller != self.id.as_str() {
            return Err(unusable(format!(
                "{} is controlled by {}",
                method.id, method.controller
            )));
        }
        let multibase = method
            .public_key_multibase
            .as_deref()
            .ok_or_else(|| unusable(format!("{} has no publicKeyMultibase", method.id)))?;
        match PublicKey::from_verification_method(&method.kind, multibase) {
            Some(Ok(key)) => Ok(key),
            Some(Err(e)) => Err(unusable(format!("{}: {e}", method.id))),
            None => Err(unusable(format!(
                "{} has unsupported type {}",
                method.id, method.kind
            ))),
        }
    }

    /// The atproto repository signing key (`#atproto`).
    pub fn signing_key(&self) -> Result<PublicKey, IdentityError> {
        self.key(ATPROTO_KEY_ID).unwrap_or_else(|| {
            Err(IdentityError::NoSigningKey {
                did: self.id.to_string(),
                detail: None,
            })
        })
    }

    /// The service entry with id `#fragment` (relative or absolute), of any type.
    pub fn service(&self, fragment: &str) -> Option<&Service> {
        self.service
            .iter()
            .find(|s| self.id_matches(&s.id, fragment))
    }

    /// The endpoint of service `#fragment` when its type is `kind`, as a bare origin
    /// (`scheme://host[:port]`, no trailing slash); `None` if absent, of another type, or
    /// not an http(s) origin. Used with `#atproto_pds`/`AtprotoPersonalDataServer`, and for
    /// `atproto-proxy` targets.
    pub fn service_origin(&self, fragment: &str, kind: &str) -> Option<String> {
        let service = self.service(fragment)?;
        if service.kind != kind {
            return None;
        }
        bare_origin(service.endpoint_str()?)
    }

    /// The endpoint of service `#fragment`, whatever its type, as a bare http(s) origin
    /// (the target of an `atproto-proxy` header).
    pub fn service_endpoint(&self, fragment: &str) -> Option<String> {
        bare_origin(self.service(fragment)?.endpoint_str()?)
    }

    /// The PDS endpoint (`#atproto_pds` of type `AtprotoPersonalDataServer`) as a bare
    /// origin.
    pub fn pds_endpoint(&self) -> Option<String> {
        self.service_origin(ATPROTO_PDS_ID, ATPROTO_PDS_TYPE)
    }
}

/// `url` as `scheme://host[:port]` if it is an http(s) URL with a host, no credentials, no
/// query or fragment, and an empty path. A single trailing slash is tolerated and dropped
/// (the reference PDS writes endpoints both ways).
pub(crate) fn bare_origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || parsed.path() != "/"
    {
        return None;
    }
    let origin = parsed.origin().ascii_serialization();
    Some(origin)
}
