//! CAR round trips: whatever the writer emits, the reader gives back unchanged.

use aerie_data::Cid;
use aerie_repo::car::{CarReader, write_car};
use proptest::prelude::*;

fn read(bytes: &[u8]) -> (Vec<Cid>, Vec<(Cid, Vec<u8>)>) {
    let mut r = CarReader::new(bytes).expect("header");
    let roots = r.roots().to_vec();
    let mut blocks = Vec::new();
    while let Some((cid, data)) = r.next_block().expect("block") {
        blocks.push((cid, data.to_vec()));
    }
    (roots, blocks)
}

proptest! {
    #[test]
    fn write_then_read_gives_the_same_roots_and_blocks(
        datas in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 0..20),
        raw in any::<bool>(),
        nroots in 0usize..3,
    ) {
        let blocks: Vec<(Cid, Vec<u8>)> = datas
            .into_iter()
            .map(|d| (if raw { Cid::for_raw(&d) } else { Cid::for_cbor(&d) }, d))
            .collect();
        let roots: Vec<Cid> = blocks.iter().take(nroots).map(|(c, _)| *c).collect();
        let car = write_car(&roots, blocks.iter().map(|(c, d)| (c, d.as_slice())));
        let (got_roots, got_blocks) = read(&car);
        prop_assert_eq!(got_roots, roots);
        prop_assert_eq!(got_blocks, blocks);
    }

    #[test]
    fn a_flipped_byte_never_yields_a_block_that_mismatches_its_cid(
        data in prop::collection::vec(any::<u8>(), 1..200),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let cid = Cid::for_cbor(&data);
        let car = write_car(&[cid], [(&cid, data.as_slice())]);
        let mut bad = car.clone();
        let i = at.index(bad.len());
        bad[i] ^= 1 << bit;
        // A flipped byte must never yield a block whose bytes differ from its CID's hash.
        if let Ok(mut r) = CarReader::new(bad.as_slice()) {
            while let Ok(Some((c, d))) = r.next_block() {
                prop_assert!(c.matches(d));
            }
        }
    }
}
