//! Operation types, their canonical DRISL encoding, JSON form, signing and DID derivation.

use std::collections::BTreeMap;

use aerie_crypto::{PublicKey, SigningKey};
use aerie_data::Cid;
use aerie_data::drisl::{Writer, canonical_key_order};
use aerie_syntax::{Did, Handle};
use data_encoding::BASE64URL_NOPAD;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::PlcError;

/// The `type` of a regular operation.
pub const TYPE_OPERATION: &str = "plc_operation";
/// The `type` of a tombstone.
pub const TYPE_TOMBSTONE: &str = "plc_tombstone";
/// The `type` of the deprecated genesis format.
pub const TYPE_LEGACY_CREATE: &str = "create";
/// The service id atproto reads a PDS from.
pub const ATPROTO_PDS_SERVICE: &str = "atproto_pds";
/// The service type of an atproto PDS.
pub const ATPROTO_PDS_TYPE: &str = "AtprotoPersonalDataServer";
/// The verification method id of the atproto signing key.
pub const ATPROTO_VERIFICATION_METHOD: &str = "atproto";

/// A service entry: `{type, endpoint}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service type, e.g. `AtprotoPersonalDataServer`.
    pub service_type: String,
    /// The endpoint URL.
    pub endpoint: String,
}

/// A regular (`plc_operation`) operation without its signature.
///
/// Strings are kept exactly as written, because the signature and the CID cover these
/// bytes; [`crate::check_incoming`] applies the directory's rules to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlcOperation {
    /// `did:key` rotation keys, highest authority first.
    pub rotation_keys: Vec<String>,
    /// Verification method id (without `#`) to `did:key`.
    pub verification_methods: BTreeMap<String, String>,
    /// Aliases, e.g. `at://alice.example.com`.
    pub also_known_as: Vec<String>,
    /// Service id (without `#`) to service.
    pub services: BTreeMap<String, Service>,
    /// CID string of the previous operation; `None` for a genesis operation.
    pub prev: Option<String>,
}

impl PlcOperation {
    /// The state of `prev` carried into a new operation whose `prev` is `prev`'s CID, ready to
    /// be edited and signed. `None` if `prev` is a tombstone.
    pub fn following(prev: &SignedOperation) -> Option<PlcOperation> {
        let mut next = prev.operation().normalized()?;
        next.prev = Some(prev.cid().to_string());
        Some(next)
    }
}

/// The deprecated genesis format (`type: "create"`): still found at the start of old logs,
/// so it is verified, but it is never created or accepted anew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCreate {
    /// The signing key; also the second rotation key.
    pub signing_key: String,
    /// The recovery key; the first rotation key.
    pub recovery_key: String,
    /// The bare handle.
    pub handle: String,
    /// The PDS URL.
    pub service: String,
}

/// Any operation, without its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// A creation or update (`plc_operation`).
    Plc(PlcOperation),
    /// A deactivation (`plc_tombstone`), naming the operation it follows.
    Tombstone {
        /// CID string of the previous operation.
        prev: String,
    },
    /// A legacy genesis (`create`).
    LegacyCreate(LegacyCreate),
}

impl Operation {
    /// The `type` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            Operation::Plc(_) => TYPE_OPERATION,
            Operation::Tombstone { .. } => TYPE_TOMBSTONE,
            Operation::LegacyCreate(_) => TYPE_LEGACY_CREATE,
        }
    }

    /// The `prev` CID string, `None` when null.
    pub fn prev(&self) -> Option<&str> {
        match self {
            Operation::Plc(op) => op.prev.as_deref(),
            Operation::Tombstone { prev } => Some(prev),
            Operation::LegacyCreate(_) => None,
        }
    }

    /// The identity state this operation sets, with a legacy `create` lifted into the
    /// regular form the way the reference directory does. `None` for a tombstone.
    pub fn normalized(&self) -> Option<PlcOperation> {
        match self {
            Operation::Plc(op) => Some(op.clone()),
            Operation::Tombstone { .. } => None,
            Operation::LegacyCreate(c) => Some(PlcOperation {
                rotation_keys: vec![c.recovery_key.clone(), c.signing_key.clone()],
                verification_methods: BTreeMap::from([(
                    ATPROTO_VERIFICATION_METHOD.to_owned(),
                    c.signing_key.clone(),
                )]),
                also_known_as: vec![ensure_atproto_prefix(&c.handle)],
                services: BTreeMap::from([(
                    ATPROTO_PDS_SERVICE.to_owned(),
                    Service {
                        service_type: ATPROTO_PDS_TYPE.to_owned(),
                        endpoint: ensure_http_prefix(&c.service),
                    },
                )]),
                prev: None,
            }),
        }
    }

    /// The canonical DRISL encoding without `sig`: the bytes that are signed.
    pub fn unsigned_cbor(&self) -> Vec<u8> {
        encode(self, None)
    }

    /// Signs the operation (ECDSA over SHA-256 of [`Operation::unsigned_cbor`], low-S,
    /// unpadded base64url).
    pub fn sign(self, key: &SigningKey) -> SignedOperation {
        let sig = BASE64URL_NOPAD.encode(&key.sign(&self.unsigned_cbor()));
        SignedOperation { op: self, sig }
    }

    /// The JSON form without `sig` (what a PDS hands a client to sign elsewhere).
    pub fn to_json(&self) -> Json {
        Json::Object(to_json_map(self))
    }

    /// Reads the JSON form of an unsigned operation; a `sig` field is refused.
    pub fn from_json(json: &Json) -> Result<Operation, PlcError> {
        let (op, sig) = parse(json, false)?;
        debug_assert!(sig.is_none());
        Ok(op)
    }
}

/// An operation with its `sig` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOperation {
    op: Operation,
    sig: String,
}

impl SignedOperation {
    /// Pairs an operation with a signature string as received; nothing is checked until
    /// [`SignedOperation::signer_index`].
    pub fn from_parts(op: Operation, sig: String) -> SignedOperation {
        SignedOperation { op, sig }
    }

    /// The operation.
    pub fn operation(&self) -> &Operation {
        &self.op
    }

    /// The `sig` field as written.
    pub fn sig(&self) -> &str {
        &self.sig
    }

    /// The canonical DRISL encoding including `sig`: what the CID and DID hash.
    pub fn to_cbor(&self) -> Vec<u8> {
        encode(&self.op, Some(&self.sig))
    }

    /// The operation's CID (dag-cbor, sha2-256), which the next operation names as `prev`.
    pub fn cid(&self) -> Cid {
        Cid::for_cbor(&self.to_cbor())
    }

    /// The DID this operation creates if it is a genesis operation:
    /// `did:plc:` + the first 24 characters of base32-lower(SHA-256(signed CBOR)).
    pub fn genesis_did(&self) -> Did {
        let hash = Sha256::digest(self.to_cbor());
        let b32 = data_encoding::BASE32_NOPAD
            .encode(&hash)
            .to_ascii_lowercase();
        let did = format!("did:plc:{}", &b32[..24]);
        // `did:plc:` + base32 characters is always valid DID syntax.
        Did::parse(&did).unwrap_or_else(|_| unreachable!("derived did:plc has valid syntax"))
    }

    /// The index in `allowed` of the first `did:key` whose key verifies this operation's
    /// signature. The signature must be canonical unpadded base64url of 64 bytes and low-S;
    /// keys that do not parse are skipped.
    pub fn signer_index(&self, allowed: &[String]) -> Result<usize, PlcError> {
        // data-encoding's BASE64URL_NOPAD refuses padding and non-zero trailing bits, so only
        // the canonical spelling of the 64 bytes passes (the spec requires that, else the
        // CID could be changed without invalidating the signature).
        let sig = BASE64URL_NOPAD
            .decode(self.sig.as_bytes())
            .map_err(|_| PlcError::SignatureEncoding)?;
        if sig.len() != aerie_crypto::SIGNATURE_LEN {
            return Err(PlcError::SignatureEncoding);
        }
        let msg = self.op.unsigned_cbor();
        allowed
            .iter()
            .position(|k| {
                PublicKey::parse_did_key(k).is_ok_and(|key| key.verify(&msg, &sig).is_ok())
            })
            .ok_or_else(|| PlcError::InvalidSignature {
                cid: self.cid().to_string(),
            })
    }

    /// The JSON form, as posted to and served by a PLC directory.
    pub fn to_json(&self) -> Json {
        let mut map = to_json_map(&self.op);
        map.insert("sig".to_owned(), Json::String(self.sig.clone()));
        Json::Object(map)
    }

    /// Reads the JSON form. Unknown fields are refused: they would change the CID and
    /// signature bytes relative to what this crate encodes.
    pub fn from_json(json: &Json) -> Result<SignedOperation, PlcError> {
        let (op, sig) = parse(json, true)?;
        let sig = sig.ok_or_else(|| PlcError::malformed("missing sig"))?;
        Ok(SignedOperation { op, sig })
    }
}

impl serde::Serialize for SignedOperation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for SignedOperation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        SignedOperation::from_json(&json).map_err(serde::de::Error::custom)
    }
}

/// Builds and signs the genesis operation of a new atproto account, as a PDS does:
/// rotation keys in priority order, the account signing key as the `atproto` verification
/// method, `at://<handle>` as the alias, and the PDS as the `atproto_pds` service. The
/// signer must hold one of the rotation keys.
pub fn genesis(
    rotation_keys: &[PublicKey],
    signing_key: &PublicKey,
    handle: &Handle,
    pds_endpoint: &str,
    signer: &SigningKey,
) -> Result<(Did, SignedOperation), PlcError> {
    let rotation_keys: Vec<String> = rotation_keys.iter().map(PublicKey::to_did_key).collect();
    let signer_key = signer.public_key().to_did_key();
    if !rotation_keys.contains(&signer_key) {
        return Err(PlcError::SignerNotRotationKey { signer: signer_key });
    }
    let op = PlcOperation {
        rotation_keys,
        verification_methods: BTreeMap::from([(
            ATPROTO_VERIFICATION_METHOD.to_owned(),
            signing_key.to_did_key(),
        )]),
        also_known_as: vec![ensure_atproto_prefix(handle.as_str())],
        services: BTreeMap::from([(
            ATPROTO_PDS_SERVICE.to_owned(),
            Service {
                service_type: ATPROTO_PDS_TYPE.to_owned(),
                endpoint: ensure_http_prefix(pds_endpoint),
            },
        )]),
        prev: None,
    };
    let signed = Operation::Plc(op).sign(signer);
    Ok((signed.genesis_did(), signed))
}

/// `at://` + the handle, unless already prefixed; like the reference, strips one `http://`
/// and one `https://` from legacy handles first.
fn ensure_atproto_prefix(s: &str) -> String {
    if s.starts_with("at://") {
        return s.to_owned();
    }
    let s = s.replacen("http://", "", 1).replacen("https://", "", 1);
    format!("at://{s}")
}

/// `https://` + the URL, unless it already has an http(s) scheme.
fn ensure_http_prefix(s: &str) -> String {
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_owned()
    } else {
        format!("https://{s}")
    }
}

/// Map keys of a user-keyed map in canonical DRISL order (shorter first, then bytewise).
fn canonical_keys<V>(map: &BTreeMap<String, V>) -> Vec<(&String, &V)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| canonical_key_order(a.0, b.0));
    entries
}

fn encode(op: &Operation, sig: Option<&str>) -> Vec<u8> {
    let mut w = Writer::with_capacity(512);
    let extra = usize::from(sig.is_some());
    // Fixed keys are written in canonical order by hand: length first, then bytewise
    // (sig, prev, type, ... ); a unit test decodes the output with the strict reader.
    match op {
        Operation::Plc(op) => {
            w.map(6 + extra);
            if let Some(sig) = sig {
                w.text("sig").text(sig);
            }
            w.text("prev");
            match &op.prev {
                Some(prev) => w.text(prev),
                None => w.null(),
            };
            w.text("type").text(TYPE_OPERATION);
            w.text("services").map(op.services.len());
            for (id, service) in canonical_keys(&op.services) {
                w.text(id)
                    .map(2)
                    .text("type")
                    .text(&service.service_type)
                    .text("endpoint")
                    .text(&service.endpoint);
            }
            w.text("alsoKnownAs").array(op.also_known_as.len());
            for aka in &op.also_known_as {
                w.text(aka);
            }
            w.text("rotationKeys").array(op.rotation_keys.len());
            for key in &op.rotation_keys {
                w.text(key);
            }
            w.text("verificationMethods")
                .map(op.verification_methods.len());
            for (id, key) in canonical_keys(&op.verification_methods) {
                w.text(id).text(key);
            }
        }
        Operation::Tombstone { prev } => {
            w.map(2 + extra);
            if let Some(sig) = sig {
                w.text("sig").text(sig);
            }
            w.text("prev").text(prev).text("type").text(TYPE_TOMBSTONE);
        }
        Operation::LegacyCreate(c) => {
            w.map(6 + extra);
            if let Some(sig) = sig {
                w.text("sig").text(sig);
            }
            w.text("prev").null().text("type").text(TYPE_LEGACY_CREATE);
            w.text("handle")
                .text(&c.handle)
                .text("service")
                .text(&c.service);
            w.text("signingKey")
                .text(&c.signing_key)
                .text("recoveryKey")
                .text(&c.recovery_key);
        }
    }
    w.into_inner()
}

fn to_json_map(op: &Operation) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("type".to_owned(), Json::from(op.type_name()));
    match op {
        Operation::Plc(op) => {
            m.insert(
                "rotationKeys".to_owned(),
                Json::from(op.rotation_keys.clone()),
            );
            let vms = canonical_keys(&op.verification_methods)
                .into_iter()
                .map(|(id, key)| (id.clone(), Json::from(key.as_str())))
                .collect();
            m.insert("verificationMethods".to_owned(), Json::Object(vms));
            m.insert(
                "alsoKnownAs".to_owned(),
                Json::from(op.also_known_as.clone()),
            );
            let services = canonical_keys(&op.services)
                .into_iter()
                .map(|(id, s)| {
                    (
                        id.clone(),
                        serde_json::json!({"type": s.service_type, "endpoint": s.endpoint}),
                    )
                })
                .collect();
            m.insert("services".to_owned(), Json::Object(services));
            m.insert(
                "prev".to_owned(),
                op.prev.as_deref().map_or(Json::Null, Json::from),
            );
        }
        Operation::Tombstone { prev } => {
            m.insert("prev".to_owned(), Json::from(prev.as_str()));
        }
        Operation::LegacyCreate(c) => {
            m.insert("signingKey".to_owned(), Json::from(c.signing_key.as_str()));
            m.insert(
                "recoveryKey".to_owned(),
                Json::from(c.recovery_key.as_str()),
            );
            m.insert("handle".to_owned(), Json::from(c.handle.as_str()));
            m.insert("service".to_owned(), Json::from(c.service.as_str()));
            m.insert("prev".to_owned(), Json::Null);
        }
    }
    m
}

/// Reads an operation object; `sig` is required when `signed`, refused otherwise.
fn parse(json: &Json, signed: bool) -> Result<(Operation, Option<String>), PlcError> {
    let obj = json
        .as_object()
        .ok_or_else(|| PlcError::malformed("operation must be a JSON object"))?;
    let ty = string(obj, "type")?;
    let fields: &[&str] = match ty {
        TYPE_OPERATION => &[
            "type",
            "rotationKeys",
            "verificationMethods",
            "alsoKnownAs",
            "services",
            "prev",
        ],
        TYPE_TOMBSTONE => &["type", "prev"],
        TYPE_LEGACY_CREATE => &[
            "type",
            "signingKey",
            "recoveryKey",
            "handle",
            "service",
            "prev",
        ],
        other => {
            return Err(PlcError::malformed(format!(
                "unknown operation type {other:?}"
            )));
        }
    };
    for key in obj.keys() {
        if !(fields.contains(&key.as_str()) || (signed && key == "sig")) {
            return Err(PlcError::malformed(format!(
                "unexpected field {key:?} in {ty}"
            )));
        }
    }
    // `prev` must be present even when null: the spec makes it part of the signed bytes.
    let prev = obj
        .get("prev")
        .ok_or_else(|| PlcError::malformed("missing prev (use null for genesis)"))?;
    let op = match ty {
        TYPE_OPERATION => Operation::Plc(PlcOperation {
            rotation_keys: strings(obj, "rotationKeys")?,
            verification_methods: object(obj, "verificationMethods")?
                .iter()
                .map(|(id, v)| match v.as_str() {
                    Some(key) => Ok((id.clone(), key.to_owned())),
                    None => Err(PlcError::malformed(format!(
                        "verificationMethods.{id} must be a string"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            also_known_as: strings(obj, "alsoKnownAs")?,
            services: object(obj, "services")?
                .iter()
                .map(|(id, v)| parse_service(id, v).map(|s| (id.clone(), s)))
                .collect::<Result<_, _>>()?,
            prev: match prev {
                Json::Null => None,
                Json::String(s) => Some(s.clone()),
                _ => return Err(PlcError::malformed("prev must be a string or null")),
            },
        }),
        TYPE_TOMBSTONE => Operation::Tombstone {
            prev: prev
                .as_str()
                .ok_or_else(|| PlcError::malformed("tombstone prev must be a string"))?
                .to_owned(),
        },
        _ => {
            if !prev.is_null() {
                return Err(PlcError::malformed("legacy create must have a null prev"));
            }
            Operation::LegacyCreate(LegacyCreate {
                signing_key: string(obj, "signingKey")?.to_owned(),
                recovery_key: string(obj, "recoveryKey")?.to_owned(),
                handle: string(obj, "handle")?.to_owned(),
                service: string(obj, "service")?.to_owned(),
            })
        }
    };
    let sig = if signed {
        Some(string(obj, "sig")?.to_owned())
    } else {
        None
    };
    Ok((op, sig))
}

fn parse_service(id: &str, v: &Json) -> Result<Service, PlcError> {
    let obj = v
        .as_object()
        .ok_or_else(|| PlcError::malformed(format!("services.{id} must be an object")))?;
    if let Some(key) = obj.keys().find(|k| *k != "type" && *k != "endpoint") {
        return Err(PlcError::malformed(format!(
            "unexpected field {key:?} in services.{id}"
        )));
    }
    Ok(Service {
        service_type: string(obj, "type")?.to_owned(),
        endpoint: string(obj, "endpoint")?.to_owned(),
    })
}

fn string<'a>(obj: &'a Map<String, Json>, key: &str) -> Result<&'a str, PlcError> {
    match obj.get(key) {
        Some(Json::String(s)) => Ok(s),
        Some(_) => Err(PlcError::malformed(format!("{key} must be a string"))),
        None => Err(PlcError::malformed(format!("missing {key}"))),
    }
}

fn strings(obj: &Map<String, Json>, key: &str) -> Result<Vec<String>, PlcError> {
    let arr = match obj.get(key) {
        Some(Json::Array(a)) => a,
        Some(_) => return Err(PlcError::malformed(format!("{key} must be an array"))),
        None => return Err(PlcError::malformed(format!("missing {key}"))),
    };
    arr.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| PlcError::malformed(format!("{key} must hold strings")))
        })
        .collect()
}

fn object<'a>(obj: &'a Map<String, Json>, key: &str) -> Result<&'a Map<String, Json>, PlcError> {
    match obj.get(key) {
        Some(Json::Object(m)) => Ok(m),
        Some(_) => Err(PlcError::malformed(format!("{key} must be an object"))),
        None => Err(PlcError::malformed(format!("missing {key}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aerie_crypto::KeyType;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(KeyType::K256, &[n; 32]).expect("valid scalar")
    }

    fn sample() -> SignedOperation {
        let mut op = PlcOperation {
            rotation_keys: vec![
                key(1).public_key().to_did_key(),
                key(2).public_key().to_did_key(),
            ],
            verification_methods: BTreeMap::new(),
            also_known_as: vec!["at://alice.test".to_owned()],
            services: BTreeMap::new(),
            prev: None,
        };
        // Keys whose bytewise and canonical orders differ, to exercise the sort.
        op.verification_methods
            .insert("atproto".to_owned(), key(3).public_key().to_did_key());
        op.verification_methods
            .insert("aa_longer_id".to_owned(), key(4).public_key().to_did_key());
        op.verification_methods
            .insert("b".to_owned(), key(4).public_key().to_did_key());
        op.services.insert(
            "atproto_pds".to_owned(),
            Service {
                service_type: ATPROTO_PDS_TYPE.to_owned(),
                endpoint: "https://pds.test".to_owned(),
            },
        );
        op.services.insert(
            "z".to_owned(),
            Service {
                service_type: "X".to_owned(),
                endpoint: "https://x.test".to_owned(),
            },
        );
        Operation::Plc(op).sign(&key(1))
    }

    #[test]
    fn encoding_is_canonical_drisl() {
        let signed = sample();
        for bytes in [signed.to_cbor(), signed.operation().unsigned_cbor()] {
            aerie_data::drisl::decode(&bytes).expect("strict decoder accepts our encoding");
        }
        let tomb = Operation::Tombstone {
            prev: signed.cid().to_string(),
        }
        .sign(&key(1));
        aerie_data::drisl::decode(&tomb.to_cbor()).expect("tombstone canonical");
        let legacy = Operation::LegacyCreate(LegacyCreate {
            signing_key: key(1).public_key().to_did_key(),
            recovery_key: key(2).public_key().to_did_key(),
            handle: "alice.test".to_owned(),
            service: "https://pds.test".to_owned(),
        })
        .sign(&key(1));
        aerie_data::drisl::decode(&legacy.to_cbor()).expect("legacy canonical");
    }

    #[test]
    fn encoding_matches_generic_encoder_of_json_form() {
        // The JSON form mapped to the data model and encoded generically must give the same
        // bytes as the hand-written encoder (prev stays a string, not a link).
        let signed = sample();
        let json = signed.to_json();
        let value = aerie_data::json::from_json(&json).expect("data model");
        assert_eq!(aerie_data::drisl::encode(&value), signed.to_cbor());
    }

    #[test]
    fn json_round_trips() {
        let signed = sample();
        assert_eq!(
            SignedOperation::from_json(&signed.to_json()).expect("parse"),
            signed
        );
        let unsigned = signed.operation().clone();
        assert_eq!(
            Operation::from_json(&unsigned.to_json()).expect("parse"),
            unsigned
        );
    }

    #[test]
    fn signature_verifies_with_signer_index() {
        let signed = sample();
        let keys = vec![
            key(2).public_key().to_did_key(),
            key(1).public_key().to_did_key(),
        ];
        assert_eq!(signed.signer_index(&keys).expect("verifies"), 1);
        assert!(matches!(
            signed.signer_index(&keys[..1]),
            Err(PlcError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn rejects_non_canonical_base64url_signature() {
        let signed = sample();
        let keys = signed
            .operation()
            .normalized()
            .expect("not tombstone")
            .rotation_keys;
        // Padded form.
        let padded =
            SignedOperation::from_parts(signed.operation().clone(), format!("{}==", signed.sig()));
        assert!(matches!(
            padded.signer_index(&keys),
            Err(PlcError::SignatureEncoding)
        ));
        // Same bytes with non-zero trailing bits: 64 bytes = 85.33 chars, so the last
        // character carries 4 unused bits.
        let mut chars: Vec<u8> = signed.sig().bytes().collect();
        let last = chars.len() - 1;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet
            .iter()
            .position(|&c| c == chars[last])
            .expect("base64url char");
        chars[last] = alphabet[idx | 1];
        let sloppy = SignedOperation::from_parts(
            signed.operation().clone(),
            String::from_utf8(chars).expect("ascii"),
        );
        assert!(matches!(
            sloppy.signer_index(&keys),
            Err(PlcError::SignatureEncoding)
        ));
        // Standard base64 alphabet instead of url-safe.
        let std_b64 = data_encoding::BASE64_NOPAD.encode(
            &BASE64URL_NOPAD
                .decode(signed.sig().as_bytes())
                .expect("sig"),
        );
        if std_b64 != signed.sig() {
            let wrong = SignedOperation::from_parts(signed.operation().clone(), std_b64);
            assert!(matches!(
                wrong.signer_index(&keys),
                Err(PlcError::SignatureEncoding)
            ));
        }
    }

    #[test]
    fn json_refuses_unknown_and_missing_fields() {
        let mut json = sample().to_json();
        json["extra"] = Json::from(1);
        assert!(matches!(
            SignedOperation::from_json(&json),
            Err(PlcError::Malformed { .. })
        ));
        let mut json = sample().to_json();
        json.as_object_mut().expect("object").remove("prev");
        assert!(matches!(
            SignedOperation::from_json(&json),
            Err(PlcError::Malformed { .. })
        ));
        let mut json = sample().to_json();
        json["type"] = Json::from("plc_something");
        assert!(matches!(
            SignedOperation::from_json(&json),
            Err(PlcError::Malformed { .. })
        ));
        let mut json = sample().to_json();
        json["services"]["atproto_pds"]["extra"] = Json::from("x");
        assert!(matches!(
            SignedOperation::from_json(&json),
            Err(PlcError::Malformed { .. })
        ));
        assert!(matches!(
            Operation::from_json(&sample().to_json()),
            Err(PlcError::Malformed { .. })
        ));
    }

    #[test]
    fn genesis_did_is_24_base32_chars_of_signed_hash() {
        let signed = sample();
        let did = signed.genesis_did();
        let expected = data_encoding::BASE32_NOPAD
            .encode(&Sha256::digest(signed.to_cbor()))
            .to_ascii_lowercase();
        assert_eq!(did.as_str(), format!("did:plc:{}", &expected[..24]));
        assert_eq!(did.as_str().len(), 32);
    }

    #[test]
    fn legacy_create_normalizes_like_reference() {
        let op = Operation::LegacyCreate(LegacyCreate {
            signing_key: "did:key:S".to_owned(),
            recovery_key: "did:key:R".to_owned(),
            handle: "https://alice.test".to_owned(),
            service: "pds.test".to_owned(),
        });
        let n = op.normalized().expect("not a tombstone");
        assert_eq!(n.rotation_keys, ["did:key:R", "did:key:S"]);
        assert_eq!(n.verification_methods["atproto"], "did:key:S");
        assert_eq!(n.also_known_as, ["at://alice.test"]);
        assert_eq!(n.services["atproto_pds"].endpoint, "https://pds.test");
    }
}
