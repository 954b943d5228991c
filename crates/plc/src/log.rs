//! Operation logs: the directory's acceptance rules for a new operation, and full-log
//! verification.

use std::collections::HashSet;

use aerie_crypto::PublicKey;
use aerie_data::Cid;
use aerie_syntax::{Datetime, Did};
use serde_json::{Value as Json, json};

use crate::PlcError;
use crate::doc::DocumentData;
use crate::op::{Operation, SignedOperation};

/// Largest accepted operation, in bytes of its signed DRISL encoding (spec v0.3.0).
pub const MAX_OP_BYTES: usize = 7500;
/// How long a higher-authority rotation key may nullify operations signed by a lower one.
pub const RECOVERY_WINDOW_SECS: i64 = 72 * 3600;

/// Limits the reference directory applies to incoming operations (its `constraints.ts`);
/// rotation keys follow the spec's 1 to 5.
const MAX_ROTATION_KEYS: usize = 5;
const MAX_AKA_ENTRIES: usize = 10;
const MAX_AKA_LEN: usize = 258;
const MAX_SERVICES: usize = 10;
const MAX_SERVICE_TYPE_LEN: usize = 256;
const MAX_SERVICE_ENDPOINT_LEN: usize = 512;
const MAX_VERIFICATION_METHODS: usize = 10;
const MAX_ID_LEN: usize = 32;
const MAX_DID_KEY_LEN: usize = 256;

/// One operation as the directory stores it: the audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The DID the operation belongs to.
    pub did: Did,
    /// The operation.
    pub operation: SignedOperation,
    /// Its CID.
    pub cid: Cid,
    /// Whether a later recovery operation removed it from the DID's history.
    pub nullified: bool,
    /// When the directory accepted it.
    pub created_at: Datetime,
}

impl LogEntry {
    /// A fresh, not nullified entry.
    pub fn new(did: Did, operation: SignedOperation, created_at: Datetime) -> LogEntry {
        let cid = operation.cid();
        LogEntry {
            did,
            operation,
            cid,
            nullified: false,
            created_at,
        }
    }

    /// The `/log/audit` JSON form: `{did, operation, cid, nullified, createdAt}`.
    pub fn to_json(&self) -> Json {
        json!({
            "did": self.did.as_str(),
            "operation": self.operation.to_json(),
            "cid": self.cid.to_string(),
            "nullified": self.nullified,
            "createdAt": self.created_at.as_str(),
        })
    }
}

/// What accepting an operation does to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// CID of the accepted operation.
    pub cid: Cid,
    /// CIDs of the operations a recovery nullifies (empty unless the operation forks).
    pub nullified: Vec<Cid>,
}

/// Whether `did` has the `did:plc` shape: `did:plc:` + 24 characters of `a-z2-7`.
pub fn is_plc_did(did: &Did) -> bool {
    did.as_str().strip_prefix("did:plc:").is_some_and(|id| {
        id.len() == 24
            && id
                .bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
    })
}

/// The rules the directory applies to an operation submitted anew, on top of
/// [`validate_next`]: the size limit, no legacy `create`, and the count, length and
/// duplicate limits on every field. Logs already accepted are not held to these.
pub fn check_incoming(op: &SignedOperation) -> Result<(), PlcError> {
    let size = op.to_cbor().len();
    if size > MAX_OP_BYTES {
        return Err(PlcError::TooLarge {
            size,
            max: MAX_OP_BYTES,
        });
    }
    let op = match op.operation() {
        Operation::Plc(op) => op,
        Operation::Tombstone { .. } => return Ok(()),
        Operation::LegacyCreate(_) => return Err(PlcError::LegacyCreate),
    };
    let limit = |what: &str, max: usize| {
        PlcError::Constraint(format!("too many {what} entries (max {max})"))
    };

    if op.rotation_keys.is_empty() {
        return Err(PlcError::Constraint("missing rotation keys".to_owned()));
    }
    if op.rotation_keys.len() > MAX_ROTATION_KEYS {
        return Err(limit("rotationKeys", MAX_ROTATION_KEYS));
    }
    let mut seen = HashSet::new();
    for key in &op.rotation_keys {
        PublicKey::parse_did_key(key).map_err(|source| PlcError::InvalidRotationKey {
            key: key.clone(),
            source,
        })?;
        if !seen.insert(key) {
            return Err(PlcError::Constraint(format!(
                "duplicate rotation key: {key}"
            )));
        }
    }

    if op.also_known_as.len() > MAX_AKA_ENTRIES {
        return Err(limit("alsoKnownAs", MAX_AKA_ENTRIES));
    }
    let mut seen = HashSet::new();
    for aka in &op.also_known_as {
        if aka.len() > MAX_AKA_LEN {
            return Err(PlcError::Constraint(format!(
                "alsoKnownAs entry too long (max {MAX_AKA_LEN})"
            )));
        }
        if !seen.insert(aka) {
            return Err(PlcError::Constraint(format!(
                "duplicate alsoKnownAs entry: {aka}"
            )));
        }
    }

    if op.services.len() > MAX_SERVICES {
        return Err(limit("service", MAX_SERVICES));
    }
    for (id, s) in &op.services {
        if id.len() > MAX_ID_LEN {
            return Err(PlcError::Constraint(format!(
                "service id too long (max {MAX_ID_LEN}): {id}"
            )));
        }
        if s.service_type.len() > MAX_SERVICE_TYPE_LEN {
            return Err(PlcError::Constraint(format!(
                "service type too long (max {MAX_SERVICE_TYPE_LEN})"
            )));
        }
        if s.endpoint.len() > MAX_SERVICE_ENDPOINT_LEN {
            return Err(PlcError::Constraint(format!(
                "service endpoint too long (max {MAX_SERVICE_ENDPOINT_LEN})"
            )));
        }
    }

    if op.verification_methods.len() > MAX_VERIFICATION_METHODS {
        return Err(limit("verificationMethods", MAX_VERIFICATION_METHODS));
    }
    for (id, key) in &op.verification_methods {
        if id.len() > MAX_ID_LEN {
            return Err(PlcError::Constraint(format!(
                "verification method id too long (max {MAX_ID_LEN}): {id}"
            )));
        }
        if key.len() > MAX_DID_KEY_LEN || !is_did_key_syntax(key) {
            return Err(PlcError::InvalidVerificationMethod {
                id: id.clone(),
                key: key.clone(),
            });
        }
    }
    Ok(())
}

/// Any key type is allowed in verification methods (spec v0.2), so only the `did:key:z` +
/// base58btc syntax is checked.
fn is_did_key_syntax(key: &str) -> bool {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    key.strip_prefix("did:key:z")
        .is_some_and(|body| !body.is_empty() && body.bytes().all(|c| BASE58.contains(&c)))
}

/// Decides whether `proposed` may be appended to `did`'s audit log `log` (all entries,
/// nullified ones included, oldest first) at time `now`.
///
/// - An empty history takes only a genesis: not a tombstone, `prev` null, hashing to `did`,
///   signed by one of its own rotation keys.
/// - Otherwise `prev` must name an operation in the current (non-nullified) history that is
///   not a tombstone, and the signature must come from one of that operation's rotation
///   keys. If `prev` is not the latest operation, the new one is a recovery: it must be
///   signed by a key of higher authority (lower index) than the one that signed the first
///   operation it displaces, within 72 hours of that operation, and it nullifies every
///   operation after `prev`.
pub fn validate_next(
    did: &Did,
    log: &[LogEntry],
    proposed: &SignedOperation,
    now: &Datetime,
) -> Result<Accepted, PlcError> {
    let cid = proposed.cid();
    let history: Vec<&LogEntry> = log.iter().filter(|e| !e.nullified).collect();

    if history.is_empty() {
        check_genesis(did, proposed)?;
        return Ok(Accepted {
            cid,
            nullified: Vec::new(),
        });
    }

    let prev_str = proposed
        .operation()
        .prev()
        .ok_or(PlcError::ImproperGenesis("the DID already exists"))?;
    let misordered = || PlcError::Misordered {
        prev: prev_str.to_owned(),
    };
    let prev: Cid = prev_str.parse().map_err(|_| misordered())?;
    let at = history
        .iter()
        .position(|e| e.cid == prev)
        .ok_or_else(misordered)?;
    // (A legacy `create` has a null prev, so it was refused above.)
    let base = history[at];
    let rotation_keys = base
        .operation
        .operation()
        .normalized()
        .ok_or(PlcError::Tombstoned)?
        .rotation_keys;
    let displaced = &history[at + 1..];

    let Some(first_displaced) = displaced.first() else {
        proposed.signer_index(&rotation_keys)?;
        return Ok(Accepted {
            cid,
            nullified: Vec::new(),
        });
    };

    // A fork: only keys above the displaced operation's signer may rewrite history.
    let disputed_signer = first_displaced.operation.signer_index(&rotation_keys)?;
    proposed.signer_index(&rotation_keys[..disputed_signer])?;
    let lapsed_secs =
        (now.to_unix_micros() - first_displaced.created_at.to_unix_micros()) / 1_000_000;
    if lapsed_secs > RECOVERY_WINDOW_SECS {
        return Err(PlcError::LateRecovery { lapsed_secs });
    }
    Ok(Accepted {
        cid,
        nullified: displaced.iter().map(|e| e.cid).collect(),
    })
}

fn check_genesis(did: &Did, op: &SignedOperation) -> Result<DocumentData, PlcError> {
    if !is_plc_did(did) {
        return Err(PlcError::NotPlcDid(did.to_string()));
    }
    if op.operation().prev().is_some() {
        return Err(PlcError::ImproperGenesis(
            "a genesis operation must have a null prev",
        ));
    }
    let data = DocumentData::from_operation(did, op.operation()).ok_or(
        PlcError::ImproperGenesis("a genesis operation cannot be a tombstone"),
    )?;
    let expected = op.genesis_did();
    if &expected != did {
        return Err(PlcError::GenesisHashMismatch { expected });
    }
    op.signer_index(&data.rotation_keys)?;
    Ok(data)
}

/// Verifies a DID's current operation chain (no nullified entries), oldest first, from the
/// genesis on: each operation names its predecessor's CID and is signed by one of the
/// predecessor's rotation keys. Returns the resulting state, or `None` if the chain ends in
/// a tombstone. Recovery rules and time windows are the directory's business and are not
/// re-checked here.
pub fn verify_log(did: &Did, ops: &[SignedOperation]) -> Result<Option<DocumentData>, PlcError> {
    let (first, rest) = ops
        .split_first()
        .ok_or(PlcError::ImproperGenesis("the log is empty"))?;
    let mut data = check_genesis(did, first)?;
    let mut prev = first.cid();
    for (i, op) in rest.iter().enumerate() {
        if matches!(op.operation(), Operation::LegacyCreate(_)) {
            return Err(PlcError::LegacyCreate);
        }
        let named = op.operation().prev().unwrap_or("null");
        if named.parse::<Cid>().ok() != Some(prev) {
            return Err(PlcError::Misordered {
                prev: named.to_owned(),
            });
        }
        op.signer_index(&data.rotation_keys)?;
        match DocumentData::from_operation(did, op.operation()) {
            Some(next) => data = next,
            None if i + 1 == rest.len() => return Ok(None),
            None => return Err(PlcError::Tombstoned),
        }
        prev = op.cid();
    }
    Ok(Some(data))
}
