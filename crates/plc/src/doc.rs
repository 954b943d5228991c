//! The identity state of a DID (the directory's `/data` form) and its DID document.

use std::collections::BTreeMap;

use aerie_crypto::{KeyType, PublicKey};
use aerie_data::drisl::canonical_key_order;
use aerie_syntax::Did;
use serde_json::{Value as Json, json};

use crate::op::{
    ATPROTO_PDS_SERVICE, ATPROTO_PDS_TYPE, ATPROTO_VERIFICATION_METHOD, Operation, Service,
};

/// The identity state set by the latest operation of a live DID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentData {
    /// The DID.
    pub did: Did,
    /// `did:key` rotation keys, highest authority first.
    pub rotation_keys: Vec<String>,
    /// Verification method id to `did:key`.
    pub verification_methods: BTreeMap<String, String>,
    /// Aliases.
    pub also_known_as: Vec<String>,
    /// Service id to service.
    pub services: BTreeMap<String, Service>,
}

impl DocumentData {
    /// The state `op` sets for `did`; `None` for a tombstone (the DID is deactivated).
    pub fn from_operation(did: &Did, op: &Operation) -> Option<DocumentData> {
        let n = op.normalized()?;
        Some(DocumentData {
            did: did.clone(),
            rotation_keys: n.rotation_keys,
            verification_methods: n.verification_methods,
            also_known_as: n.also_known_as,
            services: n.services,
        })
    }

    /// The atproto signing key (`verificationMethods.atproto`), if it is a k256/p256 key.
    pub fn atproto_signing_key(&self) -> Option<PublicKey> {
        PublicKey::parse_did_key(self.verification_methods.get(ATPROTO_VERIFICATION_METHOD)?).ok()
    }

    /// The PDS endpoint (`services.atproto_pds` of type `AtprotoPersonalDataServer`).
    pub fn pds_endpoint(&self) -> Option<&str> {
        let s = self.services.get(ATPROTO_PDS_SERVICE)?;
        (s.service_type == ATPROTO_PDS_TYPE).then_some(s.endpoint.as_str())
    }

    /// The claimed handle: the first `at://` alias, without the prefix (unverified; the
    /// caller must check it resolves back to the DID).
    pub fn handle(&self) -> Option<&str> {
        self.also_known_as
            .iter()
            .find_map(|a| a.strip_prefix("at://"))
    }

    /// The `/data` JSON form: `{did, verificationMethods, rotationKeys, alsoKnownAs, services}`.
    pub fn to_json(&self) -> Json {
        let vms: serde_json::Map<String, Json> = sorted(&self.verification_methods)
            .into_iter()
            .map(|(id, k)| (id.clone(), Json::from(k.as_str())))
            .collect();
        let services: serde_json::Map<String, Json> = sorted(&self.services)
            .into_iter()
            .map(|(id, s)| {
                (
                    id.clone(),
                    json!({"type": s.service_type, "endpoint": s.endpoint}),
                )
            })
            .collect();
        json!({
            "did": self.did.as_str(),
            "verificationMethods": vms,
            "rotationKeys": self.rotation_keys,
            "alsoKnownAs": self.also_known_as,
            "services": services,
        })
    }

    /// The DID document, rendered as the reference directory does: verification methods
    /// as `Multikey` with id `<did>#<id>`, services with id `#<id>`, and a JSON-LD context per
    /// key type in use.
    pub fn to_did_document(&self) -> Json {
        let did = self.did.as_str();
        let mut context = vec![
            "https://www.w3.org/ns/did/v1".to_owned(),
            "https://w3id.org/security/multikey/v1".to_owned(),
        ];
        let mut methods = Vec::with_capacity(self.verification_methods.len());
        for (id, key) in sorted(&self.verification_methods) {
            // Since did:plc v0.2 verification methods may hold any did:key; only the two
            // blessed curves add a suite context, others are still listed as Multikey.
            let suite = match PublicKey::parse_did_key(key).map(|k| k.key_type()) {
                Ok(KeyType::K256) => Some("https://w3id.org/security/suites/secp256k1-2019/v1"),
                Ok(KeyType::P256) => Some("https://w3id.org/security/suites/ecdsa-2019/v1"),
                Err(_) => None,
            };
            if let Some(suite) = suite
                && !context.iter().any(|c| c == suite)
            {
                context.push(suite.to_owned());
            }
            methods.push(json!({
                "id": format!("{did}#{id}"),
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": key.strip_prefix(aerie_crypto::DID_KEY_PREFIX).unwrap_or(key),
            }));
        }
        let services: Vec<Json> = sorted(&self.services)
            .into_iter()
            .map(|(id, s)| json!({"id": format!("#{id}"), "type": s.service_type, "serviceEndpoint": s.endpoint}))
            .collect();
        json!({
            "@context": context,
            "id": did,
            "alsoKnownAs": self.also_known_as,
            "verificationMethod": methods,
            "service": services,
        })
    }
}

/// Entries in canonical key order, the order the reference directory's store returns them.
fn sorted<V>(map: &BTreeMap<String, V>) -> Vec<(&String, &V)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| canonical_key_order(a.0, b.0));
    entries
}
