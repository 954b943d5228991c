//! The atproto CID: CIDv1, sha2-256, codec dag-cbor (0x71) or raw (0x55).
//!
//! Stored as the 36 bytes of its binary form, so it is `Copy`, cheap to compare and hash,
//! and orders the same way as its binary encoding.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Multicodec of a CID's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// DRISL / DAG-CBOR data (0x71): records, MST nodes, commits.
    DagCbor,
    /// Raw bytes (0x55): blobs.
    Raw,
}

impl Codec {
    /// The multicodec code.
    pub const fn code(self) -> u8 {
        match self {
            Codec::DagCbor => 0x71,
            Codec::Raw => 0x55,
        }
    }
}

/// Length of the binary form of every CID this type can hold.
pub const CID_LEN: usize = 36;

/// A blessed atproto CID. Construct with [`Cid::for_cbor`], [`Cid::for_raw`],
/// [`Cid::from_bytes`] or by parsing its string form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    bytes: [u8; CID_LEN],
}

/// Why a CID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidError {
    /// Fewer or more bytes than a blessed CID has.
    #[error("CID must be {CID_LEN} bytes, got {0}")]
    Length(usize),
    /// Not CIDv1.
    #[error("unsupported CID version {0:#x} (only CIDv1)")]
    Version(u8),
    /// Neither dag-cbor nor raw.
    #[error("unsupported CID codec {0:#x} (only dag-cbor 0x71 and raw 0x55)")]
    Codec(u8),
    /// Not a 32-byte sha2-256 multihash.
    #[error("unsupported CID multihash {code:#x} length {len} (only sha2-256, 32 bytes)")]
    Hash {
        /// The multihash code found.
        code: u8,
        /// The digest length found.
        len: u8,
    },
    /// The string form is not base32 multibase (`b...`) or does not decode.
    #[error("CID string is not base32 multibase: {0}")]
    String(String),
}

impl Cid {
    /// CID of DRISL bytes (codec 0x71).
    pub fn for_cbor(bytes: &[u8]) -> Cid {
        Self::from_digest(Codec::DagCbor, Sha256::digest(bytes).into())
    }

    /// CID of raw bytes (codec 0x55), as used for blobs.
    pub fn for_raw(bytes: &[u8]) -> Cid {
        Self::from_digest(Codec::Raw, Sha256::digest(bytes).into())
    }

    /// A CID from a codec and a sha2-256 digest.
    #[inline]
    pub fn from_digest(codec: Codec, digest: [u8; 32]) -> Cid {
        let mut bytes = [0u8; CID_LEN];
        bytes[0] = 0x01;
        bytes[1] = codec.code();
        bytes[2] = 0x12;
        bytes[3] = 0x20;
        bytes[4..].copy_from_slice(&digest);
        Cid { bytes }
    }

    /// Parse the binary form; the slice must be exactly one blessed CID.
    pub fn from_bytes(b: &[u8]) -> Result<Cid, CidError> {
        let (cid, used) = Self::read_prefix(b)?;
        if used != b.len() {
            return Err(CidError::Length(b.len()));
        }
        Ok(cid)
    }

    /// Read a blessed CID from the front of `b`, returning it and the bytes used (always 36).
    /// Used by CAR sections, where the CID is followed by block data.
    pub fn read_prefix(b: &[u8]) -> Result<(Cid, usize), CidError> {
        if b.len() < 4 {
            return Err(CidError::Length(b.len()));
        }
        if b[0] != 0x01 {
            return Err(CidError::Version(b[0]));
        }
        if b[1] != 0x71 && b[1] != 0x55 {
            return Err(CidError::Codec(b[1]));
        }
        if b[2] != 0x12 || b[3] != 0x20 {
            return Err(CidError::Hash {
                code: b[2],
                len: b[3],
            });
        }
        if b.len() < CID_LEN {
            return Err(CidError::Length(b.len()));
        }
        let mut bytes = [0u8; CID_LEN];
        bytes.copy_from_slice(&b[..CID_LEN]);
        Ok((Cid { bytes }, CID_LEN))
    }

    /// The binary form (36 bytes).
    #[inline]
    pub fn as_bytes(&self) -> &[u8; CID_LEN] {
        &self.bytes
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        if self.bytes[1] == 0x55 {
            Codec::Raw
        } else {
            Codec::DagCbor
        }
    }

    /// The sha2-256 digest.
    #[inline]
    pub fn digest(&self) -> &[u8; 32] {
        self.bytes[4..]
            .try_into()
            .expect("36-byte CID has a 32-byte digest")
    }

    /// Whether `data` hashes to this CID (codec is not checked against the content).
    pub fn matches(&self, data: &[u8]) -> bool {
        let d: [u8; 32] = Sha256::digest(data).into();
        &d == self.digest()
    }
}

const BASE32_LOWER: data_encoding::Encoding = data_encoding::BASE32_NOPAD;

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(60);
        s.push('b');
        s.push_str(&BASE32_LOWER.encode(&self.bytes).to_ascii_lowercase());
        f.write_str(&s)
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = CidError;

    fn from_str(s: &str) -> Result<Cid, CidError> {
        let rest = s
            .strip_prefix('b')
            .ok_or_else(|| CidError::String(format!("{s:?} lacks the 'b' base32 prefix")))?;
        if rest.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(CidError::String(format!("{s:?} is not lower-case base32")));
        }
        let bytes = BASE32_LOWER
            .decode(rest.to_ascii_uppercase().as_bytes())
            .map_err(|e| CidError::String(format!("{s:?}: {e}")))?;
        Cid::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_mst_node_cid_matches_spec_constant() {
        let node = [0xa2, 0x61, 0x65, 0x80, 0x61, 0x6c, 0xf6];
        assert_eq!(
            Cid::for_cbor(&node).to_string(),
            "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
        );
    }

    #[test]
    fn empty_blob_cid_matches_spec_constant() {
        let cid = Cid::for_raw(b"");
        assert_eq!(
            cid.to_string(),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
        );
        assert_eq!(cid.codec(), Codec::Raw);
    }

    #[test]
    fn string_round_trip() {
        let s = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a";
        assert_eq!(s.parse::<Cid>().unwrap().to_string(), s);
    }

    #[test]
    fn rejects_cidv0_and_other_hashes() {
        assert!(
            "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
                .parse::<Cid>()
                .is_err()
        );
        assert!(matches!(
            Cid::from_bytes(&[0x01, 0x71, 0x1e, 0x20]),
            Err(CidError::Hash { .. })
        ));
        assert!(matches!(
            Cid::from_bytes(&[0x00; 36]),
            Err(CidError::Version(0))
        ));
    }
}
