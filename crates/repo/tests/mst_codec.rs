//! Node wire form: canonical encoding and strict decoding; structural checks on load.

use aerie_data::Cid;
use aerie_data::drisl::Writer;
use aerie_repo::mst::{
    EntryData, Key, MemoryBlocks, Mst, MstError, NodeData, verify_proof, verify_tree,
};

fn key(s: &str) -> Key {
    Key::parse(s).unwrap()
}

fn v(n: u8) -> Cid {
    Cid::for_cbor(&[n])
}

/// One entry as written on the wire.
struct Raw<'a> {
    p: u64,
    k: &'a [u8],
    t: Option<Cid>,
    v: Cid,
}

fn raw_node(entries: &[Raw<'_>], l: Option<Cid>) -> Vec<u8> {
    let mut w = Writer::new();
    w.map(2).text("e").array(entries.len());
    for e in entries {
        w.map(4)
            .text("k")
            .bytes(e.k)
            .text("p")
            .uint(e.p)
            .text("t")
            .opt_link(e.t.as_ref())
            .text("v")
            .link(&e.v);
    }
    w.text("l").opt_link(l.as_ref());
    w.into_inner()
}

fn check_rejected(bytes: &[u8], what: &str) {
    match NodeData::decode(bytes) {
        Err(
            MstError::Decode { .. }
            | MstError::NotCanonical { .. }
            | MstError::TooManyEntries { .. },
        ) => {}
        other => panic!("{what}: expected rejection, got {other:?}"),
    }
}

#[test]
fn encode_decode_round_trip_uses_maximal_prefix_compression() {
    let node = NodeData {
        left: Some(v(9)),
        entries: vec![
            EntryData {
                key: key("app.bsky.feed.post/aaa"),
                value: v(1),
                right: None,
            },
            EntryData {
                key: key("app.bsky.feed.post/aab"),
                value: v(2),
                right: Some(v(3)),
            },
            EntryData {
                key: key("app.bsky.graph.follow/x"),
                value: v(4),
                right: None,
            },
        ],
    };
    let bytes = node.encode();
    let expected = raw_node(
        &[
            Raw {
                p: 0,
                k: b"app.bsky.feed.post/aaa",
                t: None,
                v: v(1),
            },
            Raw {
                p: 21,
                k: b"b",
                t: Some(v(3)),
                v: v(2),
            },
            Raw {
                p: 9,
                k: b"graph.follow/x",
                t: None,
                v: v(4),
            },
        ],
        Some(v(9)),
    );
    assert_eq!(bytes, expected);
    assert_eq!(NodeData::decode(&bytes).unwrap(), node);
    assert_eq!(node.cid(), Cid::for_cbor(&bytes));
}

#[test]
fn rejects_non_maximal_prefix() {
    let b = raw_node(
        &[
            Raw {
                p: 0,
                k: b"coll/aaa",
                t: None,
                v: v(1),
            },
            Raw {
                p: 5,
                k: b"aab",
                t: None,
                v: v(2),
            },
        ],
        None,
    );
    check_rejected(&b, "p shorter than the common prefix");
}

#[test]
fn rejects_first_entry_with_prefix() {
    let b = raw_node(
        &[Raw {
            p: 1,
            k: b"oll/a",
            t: None,
            v: v(1),
        }],
        None,
    );
    check_rejected(&b, "first p != 0");
}

#[test]
fn rejects_prefix_longer_than_previous_key() {
    let b = raw_node(
        &[
            Raw {
                p: 0,
                k: b"coll/a",
                t: None,
                v: v(1),
            },
            Raw {
                p: 9,
                k: b"b",
                t: None,
                v: v(2),
            },
        ],
        None,
    );
    check_rejected(&b, "p beyond previous key");
}

#[test]
fn rejects_unsorted_and_duplicate_keys() {
    let b = raw_node(
        &[
            Raw {
                p: 0,
                k: b"coll/b",
                t: None,
                v: v(1),
            },
            Raw {
                p: 5,
                k: b"a",
                t: None,
                v: v(2),
            },
        ],
        None,
    );
    check_rejected(&b, "descending keys");
    let b = raw_node(
        &[
            Raw {
                p: 0,
                k: b"coll/b",
                t: None,
                v: v(1),
            },
            Raw {
                p: 6,
                k: b"",
                t: None,
                v: v(2),
            },
        ],
        None,
    );
    check_rejected(&b, "duplicate key");
}

#[test]
fn rejects_invalid_key_bytes() {
    let b = raw_node(
        &[Raw {
            p: 0,
            k: b"no-slash",
            t: None,
            v: v(1),
        }],
        None,
    );
    check_rejected(&b, "key without collection");
}

#[test]
fn rejects_wrong_field_sets_and_orders() {
    // `l` before `e`.
    let mut w = Writer::new();
    w.map(2).text("l").null().text("e").array(0);
    check_rejected(w.as_slice(), "l before e");
    // Missing `l`.
    let mut w = Writer::new();
    w.map(1).text("e").array(0);
    check_rejected(w.as_slice(), "no l");
    // Extra field.
    let mut w = Writer::new();
    w.map(3)
        .text("e")
        .array(0)
        .text("l")
        .null()
        .text("x")
        .null();
    check_rejected(w.as_slice(), "extra field");
    // `t` omitted instead of null.
    let mut w = Writer::new();
    w.map(2)
        .text("e")
        .array(1)
        .map(3)
        .text("k")
        .bytes(b"coll/a")
        .text("p")
        .uint(0)
        .text("v")
        .link(&v(1));
    w.text("l").null();
    check_rejected(w.as_slice(), "t omitted");
    // Entry keys out of order (`p` before `k`).
    let mut w = Writer::new();
    w.map(2)
        .text("e")
        .array(1)
        .map(4)
        .text("p")
        .uint(0)
        .text("k")
        .bytes(b"coll/a")
        .text("t")
        .null();
    w.text("v").link(&v(1)).text("l").null();
    check_rejected(w.as_slice(), "p before k");
}

#[test]
fn rejects_trailing_bytes_and_truncation() {
    let mut b = raw_node(
        &[Raw {
            p: 0,
            k: b"coll/a",
            t: None,
            v: v(1),
        }],
        None,
    );
    b.push(0);
    check_rejected(&b, "trailing byte");
    b.pop();
    for cut in 0..b.len() {
        check_rejected(&b[..cut], "truncated");
    }
}

#[test]
fn rejects_non_minimal_heads() {
    // Array length 0 written as 0x98 0x00 instead of 0x80.
    let b = [0xa2, 0x61, b'e', 0x98, 0x00, 0x61, b'l', 0xf6];
    check_rejected(&b, "non-minimal array length");
}

#[test]
fn rejects_raw_cid_as_subtree_link() {
    let b = raw_node(
        &[Raw {
            p: 0,
            k: b"coll/a",
            t: None,
            v: v(1),
        }],
        Some(Cid::for_raw(b"x")),
    );
    check_rejected(&b, "raw codec subtree");
}

#[test]
fn rejects_absurd_entry_count_without_allocating() {
    // Declares 2^32-1 entries in a 12-byte node.
    let b = [
        0xa2, 0x61, b'e', 0x9a, 0xff, 0xff, 0xff, 0xff, 0x61, b'l', 0xf6, 0x00,
    ];
    check_rejected(&b, "huge count");
}

#[test]
fn decode_error_carries_the_node_cid() {
    let bytes = vec![0xa1, 0x61, b'e', 0x80];
    let mut store = MemoryBlocks::new();
    let cid = store.insert_cbor(bytes);
    let err = Mst::load(cid).get(&store, &key("coll/a")).unwrap_err();
    assert!(
        matches!(err, MstError::Decode { cid: Some(c), .. } if c == cid),
        "{err}"
    );
}

/// Store a node and return its CID.
fn put(store: &mut MemoryBlocks, entries: &[Raw<'_>], l: Option<Cid>) -> Cid {
    store.insert_cbor(raw_node(entries, l))
}

/// A layer-0 key and a layer-1 key, found by search so the test does not hard-code hashes.
fn keys_with_layers() -> (String, String) {
    let mut k0 = None;
    let mut k1 = None;
    for n in 0..10_000 {
        let s = format!("coll/k{n:05}");
        match key(&s).layer() {
            0 if k0.is_none() => k0 = Some(s),
            1 if k1.is_none() => k1 = Some(s),
            _ => {}
        }
        if k0.is_some() && k1.is_some() {
            break;
        }
    }
    (k0.unwrap(), k1.unwrap())
}

#[test]
fn verify_rejects_key_in_node_of_wrong_layer() {
    // Two layer-1 keys, the lower one placed in the root's layer-0 gap.
    let ones: Vec<String> = (0..10_000)
        .map(|n| format!("coll/k{n:05}"))
        .filter(|s| key(s).layer() == 1)
        .take(2)
        .collect();
    let mut store = MemoryBlocks::new();
    let child = put(
        &mut store,
        &[Raw {
            p: 0,
            k: ones[0].as_bytes(),
            t: None,
            v: v(1),
        }],
        None,
    );
    let root = put(
        &mut store,
        &[Raw {
            p: 0,
            k: ones[1].as_bytes(),
            t: None,
            v: v(2),
        }],
        Some(child),
    );
    let err = verify_tree(&store, &root, |_, _| {}).unwrap_err();
    assert!(
        matches!(&err, MstError::NotCanonical { cid: Some(c), key: Some(k), .. } if *c == child && *k == ones[0]),
        "{err}"
    );
}

#[test]
fn verify_rejects_key_outside_its_gap() {
    let (k0, k1) = keys_with_layers();
    let mut store = MemoryBlocks::new();
    // Root holds the layer-1 key; the layer-0 key is put on the wrong side of it.
    let side = if k0 < k1 { "right" } else { "left" };
    let child = put(
        &mut store,
        &[Raw {
            p: 0,
            k: k0.as_bytes(),
            t: None,
            v: v(1),
        }],
        None,
    );
    let root = if side == "right" {
        put(
            &mut store,
            &[Raw {
                p: 0,
                k: k1.as_bytes(),
                t: Some(child),
                v: v(2),
            }],
            None,
        )
    } else {
        put(
            &mut store,
            &[Raw {
                p: 0,
                k: k1.as_bytes(),
                t: None,
                v: v(2),
            }],
            Some(child),
        )
    };
    let err = verify_tree(&store, &root, |_, _| {}).unwrap_err();
    assert!(
        matches!(&err, MstError::NotCanonical { key: Some(k), .. } if *k == k0),
        "{err}"
    );
}

#[test]
fn verify_rejects_empty_nodes_that_are_not_layer_steps() {
    let (k0, k1) = keys_with_layers();
    let _ = k0;
    let mut store = MemoryBlocks::new();
    let hollow = put(&mut store, &[], None);
    let root = put(
        &mut store,
        &[Raw {
            p: 0,
            k: k1.as_bytes(),
            t: None,
            v: v(2),
        }],
        Some(hollow),
    );
    assert!(matches!(
        verify_tree(&store, &root, |_, _| {}),
        Err(MstError::NotCanonical { .. })
    ));
    // A root with no entries that only points down must have been trimmed.
    let leaf = put(
        &mut store,
        &[Raw {
            p: 0,
            k: k0.as_bytes(),
            t: None,
            v: v(1),
        }],
        None,
    );
    let top = put(&mut store, &[], Some(leaf));
    assert!(matches!(
        verify_tree(&store, &top, |_, _| {}),
        Err(MstError::NotCanonical { .. })
    ));
    // The empty tree itself is fine.
    let stats = verify_tree(&store, &hollow, |_, _| {}).unwrap();
    assert_eq!((stats.nodes, stats.entries), (1, 0));
}

#[test]
fn verify_and_proofs_check_block_hashes() {
    let (k0, _) = keys_with_layers();
    let mut store = MemoryBlocks::new();
    let good = raw_node(
        &[Raw {
            p: 0,
            k: k0.as_bytes(),
            t: None,
            v: v(1),
        }],
        None,
    );
    let cid = Cid::for_cbor(&good);
    let forged = raw_node(
        &[Raw {
            p: 0,
            k: k0.as_bytes(),
            t: None,
            v: v(7),
        }],
        None,
    );
    store.insert(cid, forged);
    assert!(
        matches!(verify_tree(&store, &cid, |_, _| {}), Err(MstError::HashMismatch(c)) if c == cid)
    );
    assert!(
        matches!(verify_proof(&cid, &key(&k0), &store), Err(MstError::HashMismatch(c)) if c == cid)
    );
}

#[test]
fn verify_accepts_built_trees_and_reports_every_entry() {
    let mut store = MemoryBlocks::new();
    let keys: Vec<Key> = (0..2000).map(|n| key(&format!("coll/k{n:05}"))).collect();
    let mut t = Mst::build(keys.iter().map(|k| (k.clone(), v(1)))).unwrap();
    let (root, blocks) = t.commit();
    let nblocks = blocks.len();
    store.extend(blocks);
    let mut seen = Vec::new();
    let stats = verify_tree(&store, &root, |k, _| seen.push(k.clone())).unwrap();
    assert_eq!(seen, keys);
    assert_eq!(stats.entries, 2000);
    assert_eq!(stats.nodes, nblocks);
}

/// Keys of layer 0, ascending: any number of them fit in one node, which is how an adversary
/// would bloat a node.
fn layer0_keys(n: usize) -> Vec<Key> {
    let mut keys: Vec<Key> = (0..)
        .map(|i| key(&format!("coll/m{i:06}")))
        .filter(|k| k.layer() == 0)
        .take(n)
        .collect();
    keys.sort();
    keys
}

#[test]
fn node_entry_limit_applies_to_build_put_and_decode() {
    let limit = aerie_repo::mst::MAX_NODE_ENTRIES;
    let keys = layer0_keys(limit + 1);
    let err = Mst::build(keys.iter().map(|k| (k.clone(), v(1)))).unwrap_err();
    assert!(matches!(err, MstError::TooManyEntries { .. }), "{err}");

    let mut full = Mst::build(keys[..limit].iter().map(|k| (k.clone(), v(1)))).unwrap();
    let (root, blocks) = full.commit();
    assert_eq!(blocks.len(), 1, "all layer-0 keys share one node");
    let err = full
        .put(&aerie_repo::mst::NoBlocks, keys[limit].clone(), v(1))
        .unwrap_err();
    assert!(matches!(err, MstError::TooManyEntries { .. }), "{err}");

    // The same node with one entry more is refused on decode.
    let mut entries: Vec<EntryData> = keys
        .iter()
        .map(|k| EntryData {
            key: k.clone(),
            value: v(1),
            right: None,
        })
        .collect();
    let big = NodeData {
        left: None,
        entries: std::mem::take(&mut entries),
    }
    .encode();
    assert!(matches!(
        NodeData::decode(&big),
        Err(MstError::TooManyEntries { .. })
    ));
    let _ = root;
}

mod mutation {
    use super::*;
    use proptest::prelude::*;

    fn node_strategy() -> impl Strategy<Value = NodeData> {
        let entries = prop::collection::btree_map(
            0..40u16,
            (any::<u8>(), prop::option::of(any::<u8>())),
            0..6,
        );
        (entries, prop::option::of(any::<u8>())).prop_map(|(m, l)| NodeData {
            left: l.map(super::v),
            entries: m
                .into_iter()
                .map(|(n, (val, t))| EntryData {
                    key: key(&format!("app.bsky.feed.post/3k{n:03}")),
                    value: super::v(val),
                    right: t.map(super::v),
                })
                .collect(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Strictness: any byte string that decodes is the canonical encoding of what it
        /// decodes to, so a node has exactly one accepted form (and one CID).
        #[test]
        fn a_node_that_decodes_re_encodes_to_the_same_bytes(
            node in node_strategy(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
        ) {
            let mut bytes = node.encode();
            prop_assert_eq!(NodeData::decode(&bytes).unwrap(), node);
            for (at, byte, kind) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ if i < bytes.len() => { bytes.remove(i); }
                    _ => {}
                }
            }
            if let Ok(decoded) = NodeData::decode(&bytes) {
                prop_assert_eq!(decoded.encode(), bytes);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = NodeData::decode(&bytes);
        }
    }
}
