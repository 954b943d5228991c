//! MST interop: fixtures from atproto-interop-tests and the known-root vectors of the reference
//! implementation's MST tests.

use aerie_data::Cid;
use aerie_repo::mst::{
    Key, MemoryBlocks, Mst, MstError, NoBlocks, common_prefix_len, empty_root_cid, layer_of,
};

fn cid1() -> Cid {
    "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454"
        .parse()
        .unwrap()
}

fn key(s: &str) -> Key {
    Key::parse(s).unwrap()
}

fn rec(suffix: &str) -> Key {
    key(&format!("com.example.record/{suffix}"))
}

fn root(mst: &mut Mst) -> String {
    mst.commit().0.to_string()
}

#[test]
fn key_heights_match_fixture() {
    for case in aerie_interop::json_cases("mst/key_heights.json") {
        let k = case["key"].as_str().unwrap();
        let h = case["height"].as_u64().unwrap();
        assert_eq!(u64::from(layer_of(k.as_bytes())), h, "key {k:?}");
    }
}

#[test]
fn common_prefix_matches_fixture() {
    for case in aerie_interop::json_cases("mst/common_prefix.json") {
        let l = case["left"].as_str().unwrap();
        let r = case["right"].as_str().unwrap();
        let n = case["len"].as_u64().unwrap();
        assert_eq!(
            common_prefix_len(l.as_bytes(), r.as_bytes()) as u64,
            n,
            "{l:?} {r:?}"
        );
    }
}

#[test]
fn example_keys_are_valid_and_have_their_stated_height() {
    let lines = aerie_interop::lines("mst/example_keys.txt");
    assert!(lines.len() > 100);
    for line in lines {
        let k = Key::parse(&line).unwrap();
        let stated = line.as_bytes()[1] - b'0';
        assert_eq!(k.layer(), stated, "{line}");
    }
}

#[test]
fn example_keys_tree_is_history_independent() {
    let keys: Vec<Key> = aerie_interop::lines("mst/example_keys.txt")
        .iter()
        .map(|l| key(l))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    let mut built = Mst::build(sorted.iter().map(|k| (k.clone(), cid1()))).unwrap();
    let mut inserted = Mst::new();
    for k in keys.iter().rev() {
        inserted.put(&NoBlocks, k.clone(), cid1()).unwrap();
    }
    assert_eq!(built.commit().0, inserted.commit().0);
}

#[test]
fn rejects_invalid_keys() {
    let long = format!("coll/{}", "a".repeat(1020));
    for bad in [
        "",
        "asdf",
        "nested/collection/asdf",
        "coll/",
        "/rkey",
        "coll/jalapeñoA",
        "coll/coöperative",
        "coll/abc💩",
        "coll/key$",
        "coll/key%",
        "coll/key(",
        "coll/key)",
        "coll/key+",
        "coll/key=",
        "coll/@handle",
        "coll/any space",
        "coll/#extra",
        "coll/number[3]",
        "coll/dHJ1ZQ==",
        "coll/\"quote\"",
        &long,
    ] {
        assert!(
            matches!(Key::parse(bad), Err(MstError::InvalidKey { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn allows_valid_keys() {
    let longest = format!("coll/{}", "a".repeat(1019));
    for good in [
        "coll/3jui7kd54zh2y",
        "coll/self",
        "coll/example.com",
        "com.example/rkey",
        "coll/~1.2-3_",
        "coll/dHJ1ZQ",
        "coll/pre:fix",
        "coll/_",
        &longest,
    ] {
        Key::parse(good).unwrap();
    }
}

#[test]
fn empty_tree_root_is_known_cid() {
    let mut mst = Mst::new();
    assert_eq!(
        root(&mut mst),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
    assert_eq!(
        empty_root_cid().to_string(),
        "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    );
}

#[test]
fn trivial_and_single_layer2_roots_are_known_cids() {
    let mut mst = Mst::new();
    mst.put(&NoBlocks, rec("3jqfcqzm3fo2j"), cid1()).unwrap();
    assert_eq!(
        root(&mut mst),
        "bafyreibj4lsc3aqnrvphp5xmrnfoorvru4wynt6lwidqbm2623a6tatzdu"
    );

    let mut mst = Mst::new();
    mst.put(&NoBlocks, rec("3jqfcqzm3fx2j"), cid1()).unwrap();
    assert_eq!(rec("3jqfcqzm3fx2j").layer(), 2);
    assert_eq!(
        root(&mut mst),
        "bafyreih7wfei65pxzhauoibu3ls7jgmkju4bspy4t2ha2qdjnzqvoy33ai"
    );
}

#[test]
fn simple_tree_root_is_known_cid() {
    let mut mst = Mst::new();
    for s in [
        "3jqfcqzm3fp2j",
        "3jqfcqzm3fr2j",
        "3jqfcqzm3fs2j",
        "3jqfcqzm3ft2j",
        "3jqfcqzm4fc2j",
    ] {
        mst.put(&NoBlocks, rec(s), cid1()).unwrap();
    }
    assert_eq!(
        root(&mut mst),
        "bafyreicmahysq4n6wfuxo522m6dpiy7z7qzym3dzs756t5n7nfdgccwq7m"
    );
}

#[test]
fn delete_trims_top_of_tree() {
    let mut mst = Mst::new();
    for s in [
        "3jqfcqzm3fn2j",
        "3jqfcqzm3fo2j",
        "3jqfcqzm3fp2j",
        "3jqfcqzm3fs2j",
        "3jqfcqzm3ft2j",
        "3jqfcqzm3fu2j",
    ] {
        mst.put(&NoBlocks, rec(s), cid1()).unwrap();
    }
    assert_eq!(
        root(&mut mst),
        "bafyreifnqrwbk6ffmyaz5qtujqrzf5qmxf7cbxvgzktl4e3gabuxbtatv4"
    );
    assert_eq!(
        mst.delete(&NoBlocks, &rec("3jqfcqzm3fs2j")).unwrap(),
        Some(cid1())
    );
    assert_eq!(
        root(&mut mst),
        "bafyreie4kjuxbwkhzg2i5dljaswcroeih4dgiqq6pazcmunwt2byd725vi"
    );
}

#[test]
fn insertion_splits_two_layers_down_and_deletion_undoes_it() {
    let l1 = "bafyreiettyludka6fpgp33stwxfuwhkzlur6chs4d2v4nkmq2j3ogpdjem";
    let l2 = "bafyreid2x5eqs4w4qxvc5jiwda4cien3gw2q6cshofxwnvv7iucrmfohpm";
    let mut mst = Mst::new();
    for s in [
        "3jqfcqzm3fo2j",
        "3jqfcqzm3fp2j",
        "3jqfcqzm3fr2j",
        "3jqfcqzm3fs2j",
        "3jqfcqzm3ft2j",
        "3jqfcqzm3fz2j",
        "3jqfcqzm4fc2j",
        "3jqfcqzm4fd2j",
        "3jqfcqzm4ff2j",
        "3jqfcqzm4fg2j",
        "3jqfcqzm4fh2j",
    ] {
        mst.put(&NoBlocks, rec(s), cid1()).unwrap();
    }
    assert_eq!(root(&mut mst), l1);
    mst.put(&NoBlocks, rec("3jqfcqzm3fx2j"), cid1()).unwrap();
    assert_eq!(root(&mut mst), l2);
    mst.delete(&NoBlocks, &rec("3jqfcqzm3fx2j")).unwrap();
    assert_eq!(root(&mut mst), l1);
}

#[test]
fn new_layers_two_higher_than_existing() {
    let l0 = "bafyreidfcktqnfmykz2ps3dbul35pepleq7kvv526g47xahuz3rqtptmky";
    let l2 = "bafyreiavxaxdz7o7rbvr3zg2liox2yww46t7g6hkehx4i4h3lwudly7dhy";
    let l2b = "bafyreig4jv3vuajbsybhyvb7gggvpwh2zszwfyttjrj6qwvcsp24h6popu";
    let mut mst = Mst::new();
    mst.put(&NoBlocks, rec("3jqfcqzm3ft2j"), cid1()).unwrap();
    mst.put(&NoBlocks, rec("3jqfcqzm3fz2j"), cid1()).unwrap();
    assert_eq!(root(&mut mst), l0);
    mst.put(&NoBlocks, rec("3jqfcqzm3fx2j"), cid1()).unwrap();
    assert_eq!(root(&mut mst), l2);
    mst.delete(&NoBlocks, &rec("3jqfcqzm3fx2j")).unwrap();
    assert_eq!(root(&mut mst), l0);
    mst.put(&NoBlocks, rec("3jqfcqzm3fx2j"), cid1()).unwrap();
    mst.put(&NoBlocks, rec("3jqfcqzm4fd2j"), cid1()).unwrap();
    assert_eq!(root(&mut mst), l2b);
    mst.delete(&NoBlocks, &rec("3jqfcqzm4fd2j")).unwrap();
    assert_eq!(root(&mut mst), l2);
}

#[test]
fn loaded_tree_answers_like_the_built_one() {
    let keys: Vec<Key> = aerie_interop::lines("mst/example_keys.txt")
        .iter()
        .map(|l| key(l))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    let mut built = Mst::build(sorted.iter().map(|k| (k.clone(), cid1()))).unwrap();
    let (root, blocks) = built.commit();
    let store: MemoryBlocks = blocks.into_iter().collect();
    let loaded = Mst::load(root);
    for k in &keys {
        assert_eq!(loaded.get(&store, k).unwrap(), Some(cid1()));
    }
    assert_eq!(loaded.get(&store, &key("A0/000000")).unwrap(), None);
}
