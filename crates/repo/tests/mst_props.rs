//! MST properties: the tree is a function of its key set however it is reached (build, edits,
//! lazily loaded partial trees), and diff, proofs, inversion and listing agree with a plain
//! sorted map.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use aerie_data::Cid;
use aerie_repo::mst::Key;
use aerie_repo::mst::{
    Action, BlockSource, MemoryBlocks, Mst, MstError, NoBlocks, Order, RecordOp, SourceError,
    verify_proof, verify_tree,
};
use proptest::prelude::*;

const COLLS: [&str; 3] = [
    "app.bsky.feed.like",
    "app.bsky.feed.post",
    "app.bsky.graph.follow",
];

fn key_of(c: usize, n: u16) -> Key {
    Key::from_parts(COLLS[c % COLLS.len()], &format!("3k{n:05}")).unwrap()
}

fn val(n: u32) -> Cid {
    Cid::for_cbor(&n.to_be_bytes())
}

fn keys() -> impl Strategy<Value = Key> {
    (0..3usize, 0..600u16).prop_map(|(c, n)| key_of(c, n))
}

fn map_strategy(max: usize) -> impl Strategy<Value = BTreeMap<Key, Cid>> {
    prop::collection::btree_map(keys(), any::<u32>().prop_map(val), 0..max)
}

/// A random edit: `Some` = put, `None` = delete.
fn edits(max: usize) -> impl Strategy<Value = Vec<(Key, Option<Cid>)>> {
    prop::collection::vec(
        (
            keys(),
            prop::option::weighted(0.6, any::<u32>().prop_map(val)),
        ),
        0..max,
    )
}

fn build(map: &BTreeMap<Key, Cid>) -> Mst {
    Mst::build(map.iter().map(|(k, v)| (k.clone(), *v))).unwrap()
}

/// Commit `mst` and store its new blocks.
fn commit_into(mst: &mut Mst, store: &mut MemoryBlocks) -> Cid {
    let (root, blocks) = mst.commit();
    store.extend(blocks);
    root
}

/// Every node CID of a complete stored tree.
fn node_set(store: &MemoryBlocks, root: Cid) -> BTreeSet<Cid> {
    fn walk(store: &MemoryBlocks, cid: Cid, out: &mut BTreeSet<Cid>) {
        out.insert(cid);
        let node = aerie_repo::mst::NodeData::decode(store.get(&cid).unwrap()).unwrap();
        for c in node
            .left
            .into_iter()
            .chain(node.entries.iter().filter_map(|e| e.right))
        {
            walk(store, c, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(store, root, &mut out);
    out
}

/// A source that counts block reads.
struct Counting<'a> {
    inner: &'a MemoryBlocks,
    reads: Cell<usize>,
}

impl BlockSource for Counting<'_> {
    fn block(&self, cid: &Cid) -> Result<Option<Cow<'_, [u8]>>, SourceError> {
        self.reads.set(self.reads.get() + 1);
        self.inner.block(cid)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn root_does_not_depend_on_edit_order(start in map_strategy(300), ops in edits(200)) {
        let mut model = start.clone();
        let mut mst = Mst::new();
        for (k, v) in &start {
            mst.put(&NoBlocks, k.clone(), *v).unwrap();
        }
        for (k, v) in &ops {
            let prev = match v {
                Some(v) => { let p = model.insert(k.clone(), *v); prop_assert_eq!(mst.put(&NoBlocks, k.clone(), *v).unwrap(), p); p }
                None => { let p = model.remove(k); prop_assert_eq!(mst.delete(&NoBlocks, k).unwrap(), p); p }
            };
            let _ = prev;
        }
        let mut fresh = build(&model);
        prop_assert_eq!(mst.commit().0, fresh.commit().0);
        let listed: BTreeMap<Key, Cid> = mst.entries(&NoBlocks).unwrap().into_iter().collect();
        prop_assert_eq!(listed, model);
    }

    #[test]
    fn edits_on_a_lazily_loaded_tree_match_a_fresh_build(start in map_strategy(300), ops in edits(60)) {
        let mut store = MemoryBlocks::new();
        let root = commit_into(&mut build(&start), &mut store);
        let mut mst = Mst::load(root);
        let mut model = start.clone();
        mst.apply(&store, ops.clone()).unwrap();
        for (k, v) in ops {
            match v { Some(v) => { model.insert(k, v); } None => { model.remove(&k); } }
        }
        let new_root = commit_into(&mut mst, &mut store);
        let mut fresh = build(&model);
        prop_assert_eq!(new_root, fresh.commit().0);
        // The new blocks plus the old ones hold the complete new tree.
        let stats = verify_tree(&store, &new_root, |_, _| {}).unwrap();
        prop_assert_eq!(stats.entries, model.len());
        for (k, v) in &model {
            prop_assert_eq!(Mst::load(new_root).get(&store, k).unwrap(), Some(*v));
        }
    }

    #[test]
    fn applying_a_diff_turns_old_into_new(a in map_strategy(250), ops in edits(40)) {
        let mut store = MemoryBlocks::new();
        let mut b_map = a.clone();
        for (k, v) in ops {
            match v { Some(v) => { b_map.insert(k, v); } None => { b_map.remove(&k); } }
        }
        let mut ta = build(&a);
        let mut tb = build(&b_map);
        let ra = commit_into(&mut ta, &mut store);
        let rb = commit_into(&mut tb, &mut store);
        // Diff over lazily loaded trees (stubs) and over in-memory trees must agree.
        let lazy = Mst::diff(&Mst::load(ra), &Mst::load(rb), &store).unwrap();
        let mem = Mst::diff(&ta, &tb, &NoBlocks).unwrap();
        prop_assert_eq!(&lazy, &mem);
        let mut t = Mst::load(ra);
        for op in &lazy.ops {
            prop_assert_eq!(a.get(&op.path).copied(), op.old);
            prop_assert_eq!(b_map.get(&op.path).copied(), op.new);
            t.apply(&store, [(op.path.clone(), op.new)]).unwrap();
        }
        prop_assert_eq!(t.commit().0, rb);
        let na = node_set(&store, ra);
        let nb = node_set(&store, rb);
        prop_assert_eq!(lazy.new_nodes.iter().copied().collect::<BTreeSet<_>>(), &nb - &na);
        prop_assert_eq!(lazy.removed_nodes.iter().copied().collect::<BTreeSet<_>>(), &na - &nb);
    }

    #[test]
    fn inversion_from_a_firehose_slice_recovers_prev_data(a in map_strategy(300), ops in edits(12)) {
        let mut full = MemoryBlocks::new();
        let prev_root = commit_into(&mut build(&a), &mut full);
        // Normalise the edits into record ops against `a` (last write per key wins).
        let mut last: BTreeMap<Key, Option<Cid>> = BTreeMap::new();
        for (k, v) in ops { last.insert(k, v); }
        let mut record_ops = Vec::new();
        for (k, v) in &last {
            let prev = a.get(k).copied();
            let op = match (prev, v) {
                (None, Some(c)) => RecordOp { action: Action::Create, path: k.clone(), cid: Some(*c), prev: None },
                (Some(p), Some(c)) if p != *c => RecordOp { action: Action::Update, path: k.clone(), cid: Some(*c), prev: Some(p) },
                (Some(p), None) => RecordOp { action: Action::Delete, path: k.clone(), cid: None, prev: Some(p) },
                _ => continue,
            };
            record_ops.push(op);
        }
        let mut tree = Mst::load(prev_root);
        tree.apply(&full, record_ops.iter().map(|op| (op.path.clone(), op.cid))).unwrap();
        let (new_root, new_blocks) = tree.commit();
        full.extend(new_blocks.iter().cloned());
        // What a sync 1.1 #commit carries: new nodes plus covering proofs of written keys.
        let mut slice: MemoryBlocks = new_blocks.into_iter().collect();
        let after = Mst::load(new_root);
        for op in &record_ops {
            for cid in after.covering_proof(&full, &op.path).unwrap() {
                slice.insert(cid, full.get(&cid).unwrap().to_vec());
            }
        }
        let mut partial = Mst::load(new_root);
        prop_assert_eq!(partial.invert(&slice, &record_ops).unwrap(), prev_root);
    }

    #[test]
    fn search_path_proves_presence_and_absence(a in map_strategy(300), probe in keys()) {
        let mut full = MemoryBlocks::new();
        let root = commit_into(&mut build(&a), &mut full);
        let t = Mst::load(root);
        let proof: MemoryBlocks = t.search_path(&full, &probe).unwrap().into_iter()
            .map(|c| (c, full.get(&c).unwrap().to_vec())).collect();
        prop_assert_eq!(verify_proof(&root, &probe, &proof).unwrap(), a.get(&probe).copied());
    }

    #[test]
    fn list_collection_matches_a_sorted_map(a in map_strategy(300), coll in 0..3usize,
        cursor in prop::option::of(0..600u16), limit in 0..50usize, desc in any::<bool>()) {
        let mut store = MemoryBlocks::new();
        let root = commit_into(&mut build(&a), &mut store);
        let coll_name = COLLS[coll];
        let cursor_rkey = cursor.map(|n| key_of(coll, n).rkey().to_owned());
        let order = if desc { Order::Descending } else { Order::Ascending };
        let got = Mst::load(root).list_collection(&store, coll_name, cursor_rkey.as_deref(), limit, order).unwrap();
        let mut want: Vec<(Key, Cid)> = a.iter()
            .filter(|(k, _)| k.collection() == coll_name)
            .filter(|(k, _)| match &cursor_rkey {
                None => true,
                Some(c) if desc => k.rkey() < c.as_str(),
                Some(c) => k.rkey() > c.as_str(),
            })
            .map(|(k, v)| (k.clone(), *v)).collect();
        if desc { want.reverse(); }
        want.truncate(limit);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn commit_returns_only_changed_nodes() {
    let map: BTreeMap<Key, Cid> = (0..3000u16)
        .map(|n| (key_of(n as usize, n), val(u32::from(n))))
        .collect();
    let mut store = MemoryBlocks::new();
    let mut t = build(&map);
    let root = commit_into(&mut t, &mut store);
    let all = node_set(&store, root);
    assert_eq!(
        t.commit().1.len(),
        0,
        "a second commit without edits has no new blocks"
    );
    t.put(&NoBlocks, key_of(1, 7), val(999_999)).unwrap();
    let (new_root, blocks) = t.commit();
    let depth = usize::from(verify_tree(&store, &root, |_, _| {}).unwrap().root_layer) + 1;
    assert!(
        !blocks.is_empty() && blocks.len() <= depth,
        "{} new blocks, depth {depth}",
        blocks.len()
    );
    store.extend(blocks.clone());
    let after = node_set(&store, new_root);
    let fresh: BTreeSet<Cid> = blocks.iter().map(|(c, _)| *c).collect();
    assert_eq!(&after - &all, fresh);
}

#[test]
fn diff_of_one_change_reads_only_the_changed_path() {
    let map: BTreeMap<Key, Cid> = (0..5000u16)
        .map(|n| (key_of(n as usize, n), val(u32::from(n))))
        .collect();
    let mut store = MemoryBlocks::new();
    let mut t = build(&map);
    let old = commit_into(&mut t, &mut store);
    t.put(&NoBlocks, key_of(2, 4001), val(7)).unwrap();
    let new = commit_into(&mut t, &mut store);
    let counting = Counting {
        inner: &store,
        reads: Cell::new(0),
    };
    let diff = Mst::diff(&Mst::load(old), &Mst::load(new), &counting).unwrap();
    assert_eq!(diff.ops.len(), 1);
    let nodes = store.len();
    let reads = counting.reads.get();
    assert!(reads <= 4 * 12, "diff read {reads} of {nodes} nodes");
}

#[test]
fn missing_node_is_reported_not_panicked() {
    let map: BTreeMap<Key, Cid> = (0..500u16)
        .map(|n| (key_of(0, n), val(u32::from(n))))
        .collect();
    let mut store = MemoryBlocks::new();
    let root = commit_into(&mut build(&map), &mut store);
    let child = store.iter().map(|(c, _)| *c).find(|c| *c != root).unwrap();
    store.remove(&child);
    let err = verify_tree(&store, &root, |_, _| {}).unwrap_err();
    assert!(
        matches!(err, MstError::MissingBlock(c) if c == child),
        "{err}"
    );
    let t = Mst::load(root);
    let mut saw_missing = false;
    for k in map.keys() {
        match t.get(&store, k) {
            Ok(v) => assert_eq!(v, map.get(k).copied()),
            Err(MstError::MissingBlock(c)) => {
                assert_eq!(c, child);
                saw_missing = true;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(saw_missing);
}

fn small_tree() -> (MemoryBlocks, Cid, BTreeMap<Key, Cid>) {
    let map: BTreeMap<Key, Cid> = (0..200u16)
        .map(|n| (key_of(1, n), val(u32::from(n))))
        .collect();
    let mut store = MemoryBlocks::new();
    let root = commit_into(&mut build(&map), &mut store);
    (store, root, map)
}

fn create(k: Key, c: Cid) -> RecordOp {
    RecordOp {
        action: Action::Create,
        path: k,
        cid: Some(c),
        prev: None,
    }
}

#[test]
fn invert_rejects_malformed_and_duplicate_ops() {
    let (store, root, _) = small_tree();
    let k = key_of(1, 5);
    let bad = [
        RecordOp {
            action: Action::Create,
            path: k.clone(),
            cid: None,
            prev: None,
        },
        RecordOp {
            action: Action::Create,
            path: k.clone(),
            cid: Some(val(1)),
            prev: Some(val(2)),
        },
        RecordOp {
            action: Action::Update,
            path: k.clone(),
            cid: Some(val(1)),
            prev: None,
        },
        RecordOp {
            action: Action::Delete,
            path: k.clone(),
            cid: Some(val(1)),
            prev: Some(val(2)),
        },
        RecordOp {
            action: Action::Delete,
            path: k.clone(),
            cid: None,
            prev: None,
        },
    ];
    for op in bad {
        let err = Mst::load(root)
            .invert(&store, std::slice::from_ref(&op))
            .unwrap_err();
        assert!(matches!(err, MstError::InvalidOp { .. }), "{op:?}: {err}");
    }
    let dup = [create(k.clone(), val(5)), create(k.clone(), val(5))];
    assert!(matches!(
        Mst::load(root).invert(&store, &dup),
        Err(MstError::DuplicatePath(_))
    ));
}

#[test]
fn invert_rejects_ops_that_do_not_match_the_tree() {
    let (store, root, map) = small_tree();
    let present = key_of(1, 5);
    let absent = key_of(0, 5);
    let cases = [
        // A create whose key is not in the tree after the commit.
        create(absent.clone(), val(1)),
        // A create whose value differs from the tree's.
        create(present.clone(), val(424242)),
        // An update whose new value differs from the tree's.
        RecordOp {
            action: Action::Update,
            path: present.clone(),
            cid: Some(val(424242)),
            prev: Some(val(1)),
        },
        // A delete of a key still present after the commit.
        RecordOp {
            action: Action::Delete,
            path: present.clone(),
            cid: None,
            prev: Some(val(1)),
        },
    ];
    for op in cases {
        let err = Mst::load(root)
            .invert(&store, std::slice::from_ref(&op))
            .unwrap_err();
        assert!(matches!(err, MstError::OpMismatch { .. }), "{op:?}: {err}");
    }
    // And a matching create inverts cleanly.
    let ok = create(present.clone(), map[&present]);
    let mut expected = map.clone();
    expected.remove(&present);
    assert_eq!(
        Mst::load(root).invert(&store, &[ok]).unwrap(),
        build(&expected).commit().0
    );
}

#[test]
fn invert_without_covering_proofs_reports_missing_blocks() {
    let (store, root, map) = small_tree();
    // A slice with only the root: undoing a create deep in the tree needs more.
    let slice: MemoryBlocks = [(root, store.get(&root).unwrap().to_vec())]
        .into_iter()
        .collect();
    let deep = map.keys().find(|k| k.layer() == 0).unwrap().clone();
    let err = Mst::load(root)
        .invert(&slice, &[create(deep.clone(), map[&deep])])
        .unwrap_err();
    assert!(matches!(err, MstError::MissingBlock(_)), "{err}");
}

#[test]
fn build_with_hashes_like_build_then_commit() {
    let map: BTreeMap<Key, Cid> = (0..4000u16)
        .map(|n| (key_of(n as usize, n), val(u32::from(n))))
        .collect();
    let (root_a, mut blocks_a) = build(&map).commit();
    let mut blocks_b = Vec::new();
    let (mut t, root_b) = Mst::build_with(map.iter().map(|(k, v)| (k.clone(), *v)), &mut |c, b| {
        blocks_b.push((*c, b.to_vec()))
    })
    .unwrap();
    assert_eq!(root_a, root_b);
    blocks_a.sort();
    blocks_b.sort();
    assert_eq!(blocks_a, blocks_b);
    assert_eq!(t.root_cid(), Some(root_b));
    assert!(t.commit().1.is_empty());
}

#[test]
fn empty_tree_proves_absence_with_its_single_node() {
    let mut t = Mst::new();
    let (root, blocks) = t.commit();
    let store: MemoryBlocks = blocks.into_iter().collect();
    let k = key_of(0, 1);
    assert_eq!(t.search_path(&store, &k).unwrap(), vec![root]);
    assert_eq!(verify_proof(&root, &k, &store).unwrap(), None);
    assert_eq!(
        Mst::load(root).covering_proof(&store, &k).unwrap(),
        vec![root]
    );
}

#[test]
fn listing_a_page_reads_only_nodes_near_the_cursor() {
    let map: BTreeMap<Key, Cid> = (0..6000u16)
        .map(|n| (key_of(n as usize, n), val(u32::from(n))))
        .collect();
    let mut store = MemoryBlocks::new();
    let root = commit_into(&mut build(&map), &mut store);
    let counting = Counting {
        inner: &store,
        reads: Cell::new(0),
    };
    let t = Mst::load(root);
    let cursor = key_of(1, 3001);
    for order in [Order::Ascending, Order::Descending] {
        counting.reads.set(0);
        let page = t
            .list_collection(&counting, COLLS[1], Some(cursor.rkey()), 10, order)
            .unwrap();
        assert_eq!(page.len(), 10);
        let reads = counting.reads.get();
        assert!(
            reads <= 30,
            "{order:?} page read {reads} of {} nodes",
            store.len()
        );
    }
    // get reads one path.
    counting.reads.set(0);
    assert_eq!(
        t.get(&counting, &cursor).unwrap(),
        map.get(&cursor).copied()
    );
    assert!(counting.reads.get() <= 12);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// On a partial tree every operation either works or reports the missing node; when a get
    /// works its answer is right.
    #[test]
    fn partial_trees_fail_cleanly(a in map_strategy(300), drop in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
        probes in edits(20)) {
        let mut store = MemoryBlocks::new();
        let root = commit_into(&mut build(&a), &mut store);
        let cids: Vec<Cid> = store.iter().map(|(c, _)| *c).collect();
        let mut sorted = cids.clone();
        sorted.sort();
        for d in drop {
            store.remove(&sorted[d.index(sorted.len())]);
        }
        let t = Mst::load(root);
        let missing = |e: &MstError| matches!(e, MstError::MissingBlock(_));
        for (k, v) in &probes {
            match t.get(&store, k) {
                Ok(got) => prop_assert_eq!(got, a.get(k).copied()),
                Err(e) => prop_assert!(missing(&e), "{}", e),
            }
            let mut edit = Mst::load(root);
            if let Err(e) = edit.apply(&store, [(k.clone(), *v)]) {
                prop_assert!(missing(&e), "{}", e);
            }
            if let Err(e) = t.covering_proof(&store, k) {
                prop_assert!(missing(&e), "{}", e);
            }
        }
        if let Err(e) = t.entries(&store) {
            prop_assert!(missing(&e), "{}", e);
        }
        if let Err(e) = Mst::diff(&t, &Mst::new().tap_commit(), &store) {
            prop_assert!(missing(&e), "{}", e);
        }
    }
}

trait TapCommit {
    fn tap_commit(self) -> Self;
}

impl TapCommit for Mst {
    fn tap_commit(mut self) -> Mst {
        self.commit();
        self
    }
}
