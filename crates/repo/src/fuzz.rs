//! Entry points of the fuzz targets in `/fuzz`, public so the saved corpus can be replayed by
//! an ordinary test (`tests/fuzz_corpus.rs`) through exactly the same code.
//!
//! Each function accepts any bytes, must never panic, and checks invariants that must hold
//! whenever the input is accepted (a panic here is a bug found).

use aerie_crypto::{PublicKey, SigningKey};
use aerie_data::drisl;

use crate::car::CarBlocks;
use crate::car::{CarLimits, CarReader, SliceReader};
use crate::commit::Commit;
use crate::mst::NodeData;

/// `drisl::decode`; whatever decodes must re-encode to the same bytes (strict decoding means
/// there is exactly one encoding per value).
///
/// Also, the allocation-free validator (`Reader::skip`, used to check records) must accept
/// exactly what `decode` accepts.
pub fn cbor_decode(data: &[u8]) {
    let decoded = drisl::decode(data);
    if let Ok(value) = &decoded {
        assert_eq!(
            drisl::encode(value),
            data,
            "decoded value does not re-encode to its input"
        );
    }
    let mut reader = drisl::Reader::new(data);
    let skipped = reader.skip().and_then(|()| reader.finish());
    assert_eq!(
        decoded.is_ok(),
        skipped.is_ok(),
        "decode ({decoded:?}) and Reader::skip ({skipped:?}) disagree"
    );
    // The validator's fast path must never accept what the reader refuses, and its answer
    // (fast path or reader) must be the reader's, error included.
    assert_eq!(
        format!("{skipped:?}"),
        format!("{:?}", drisl::validate(data)),
        "drisl::validate and Reader::skip disagree"
    );
}

/// The CAR reader over the input, with small limits so big declared sizes are exercised;
/// every block it yields must hash to its CID.
pub fn car_read(data: &[u8]) {
    let limits = CarLimits {
        max_header: 4096,
        max_block: 64 * 1024,
        max_total: 1 << 20,
    };
    // The in-place reader must see exactly what the streaming reader sees.
    let mut in_place = SliceReader::with_limits(data, limits);
    let Ok(mut reader) = CarReader::with_limits(data, limits) else {
        assert!(
            in_place.is_err(),
            "only the slice reader accepted the header"
        );
        return;
    };
    let Ok(in_place) = in_place.as_mut() else {
        panic!("only the stream reader accepted the header");
    };
    let mut blocks = CarBlocks::new();
    loop {
        let streamed = reader.next_block();
        let sliced = in_place.next_block();
        assert_eq!(
            format!("{streamed:?}"),
            format!("{sliced:?}"),
            "stream and slice readers disagree"
        );
        let Ok(Some((cid, bytes))) = streamed else {
            break;
        };
        assert!(
            cid.matches(bytes),
            "reader yielded a block that does not match its CID"
        );
        blocks.insert(cid, bytes);
    }
    // Whatever the reader accepted, full verification must fail or succeed without panicking.
    let options = crate::verify::VerifyOptions::default();
    let streamed = crate::verify::verify_car(data, &options).map(|v| v.report);
    let in_place = crate::verify::verify_car_bytes(data, &options).map(|v| v.report);
    assert_eq!(
        format!("{streamed:?}"),
        format!("{in_place:?}"),
        "verify_car and verify_car_bytes disagree"
    );
    // Several threads, forced even on tiny inputs so every join and resync is reached, must
    // give the same outcome, error included.
    for threads in [2, 3, 5] {
        let options = crate::verify::VerifyOptions {
            threads: std::num::NonZeroUsize::new(threads),
            ..Default::default()
        };
        let parallel = crate::verify::verify_car_bytes(data, &options).map(|v| v.report);
        assert_eq!(
            format!("{in_place:?}"),
            format!("{parallel:?}"),
            "verify_car_bytes on 1 and {threads} threads disagree"
        );
        let one = crate::car::read_car_slice_with(data, limits, 1, true);
        let many = crate::car::read_car_slice_with(data, limits, threads, true);
        assert_eq!(
            format!(
                "{:?}",
                one.map(|(c, s)| (
                    c.roots,
                    c.blocks.iter().collect::<Vec<_>>(),
                    c.duplicate_blocks,
                    c.bytes,
                    s
                ))
            ),
            format!(
                "{:?}",
                many.map(|(c, s)| (
                    c.roots,
                    c.blocks.iter().collect::<Vec<_>>(),
                    c.duplicate_blocks,
                    c.bytes,
                    s
                ))
            ),
            "the in-place reader on 1 and {threads} threads disagrees"
        );
    }
}

/// `NodeData::decode`; an accepted node re-encodes to its input. The walk's fast decoder
/// (`FlatNode`) must agree with the general one, at every expected layer.
pub fn mst_node_decode(data: &[u8]) {
    let cid = aerie_data::Cid::for_cbor(data);
    let mut flat = crate::mst::codec::FlatNode::default();
    for expected in [None, Some(0), Some(1), Some(2)] {
        let general = crate::mst::tree::node_from_bytes(data, cid, expected);
        let fast = flat.decode(data, cid, expected);
        assert_eq!(
            format!("{:?}", general.as_ref().map(|_| ())),
            format!("{fast:?}"),
            "node decoders disagree at expected layer {expected:?}"
        );
        if let Ok(node) = general {
            assert_eq!(flat.layer, node.layer);
            assert_eq!(flat.left.as_ref(), node.left.cid());
            assert_eq!(flat.len(), node.entries.len());
            for (i, e) in node.entries.iter().enumerate() {
                assert_eq!(flat.key(i), e.key.as_bytes());
                assert_eq!(flat.values[i], e.value);
                assert_eq!(flat.rights[i].as_ref(), e.right.cid());
            }
        }
    }
    if let Ok(node) = NodeData::decode(data) {
        assert_eq!(
            node.encode(),
            data,
            "decoded MST node does not re-encode to its input"
        );
    }
}

/// `Commit::decode` and signature verification with a fixed key; an accepted commit
/// re-encodes to its input. Then the same bytes as a `#commit` CAR slice.
pub fn commit_verify(data: &[u8]) {
    let key = fixed_key();
    if let Ok(commit) = Commit::decode(data) {
        assert_eq!(
            commit.to_bytes(),
            data,
            "decoded commit does not re-encode to its input"
        );
        let _ = commit.verify(&key);
    }
    let _ = crate::sync::verify_commit_slice(data, &[], None, &key);
}

fn fixed_key() -> PublicKey {
    // A constant private key keeps runs reproducible; no input can be signed by it anyway.
    match SigningKey::from_bytes(aerie_crypto::KeyType::K256, &[7u8; 32]) {
        Ok(k) => k.public_key(),
        Err(e) => panic!("fixed fuzz key is valid: {e}"),
    }
}
