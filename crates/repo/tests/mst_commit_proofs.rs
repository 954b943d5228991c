//! Sync 1.1 commit-proof vectors from the reference implementation
//! (bluesky-social/atproto `packages/repo/tests/commit-proof-fixtures.json`): known roots
//! before and after a commit, and the node blocks its covering proofs must contain. The
//! reference lists proof blocks with the raw codec prefix, so they are compared by digest.

use std::collections::BTreeSet;

use aerie_data::Cid;
use aerie_repo::mst::{Action, Key, MemoryBlocks, Mst, NoBlocks, RecordOp};

struct Case {
    comment: &'static str,
    keys: &'static [&'static str],
    adds: &'static [&'static str],
    dels: &'static [&'static str],
    before: &'static str,
    after: &'static str,
    proof: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        comment: "two deep split",
        keys: &[
            "A0/374913",
            "B1/986427",
            "C0/451630",
            "E0/670489",
            "F1/085263",
            "G0/765327",
        ],
        adds: &["D2/269196"],
        dels: &[],
        before: "bafyreicraprx2xwnico4tuqir3ozsxpz46qkcpox3obf5bagicqwurghpy",
        after: "bafyreihvay6pazw3dfa47u5d2tn3rd6pa57sr37bo5bqyvjuqc73ib65my",
        proof: &[
            "bafkreieazvzmba35p4phksumwfoklwe5o4ncmo7otud74idcyv4orrbzxi",
            "bafkreie4227qpa4vbtbpnsvuhp322b776vjuhxsidi5hxp2gawumr4m3de",
            "bafkreid44jgimksqqdratyste2moqu6zo4h6co2pknjppfoiplsqxtuxae",
            "bafkreiaerlvitye7fjjwodkshtbqqdsmfsdjtnlz4vs6y4trnddshsmd5a",
            "bafkreihvay6pazw3dfa47u5d2tn3rd6pa57sr37bo5bqyvjuqc73ib65my",
        ],
    },
    Case {
        comment: "two deep leafless split",
        keys: &["A0/374913", "B0/601692", "D0/952776", "E0/670489"],
        adds: &["C2/014073"],
        dels: &[],
        before: "bafyreialm5sgf7pijawbschsjpdevid5rss5ip3d4n4w6cc4mhu53sfl4i",
        after: "bafyreibxh4iztp5l2yshz3ectg2qjpeyprpw2gogao3pvceowpq3k3thya",
        proof: &[
            "bafkreih7dxytqtcjv3cfia3fi3wxofeip62teqkpynnkxisxqwfchfb4bu",
            "bafkreiaqbymlnvpklmogx75gozjl3y73gva43jbgwcrqu2pp5g5ejou5vm",
            "bafkreicfh3st5ghtnoqyyvznjv4lhfnvl7qsndempx35i4tcmoxakqbgrm",
            "bafkreieyjrrai6igjceyxzkajrxgxz37da2eufb33anvesb4ev6yzztauu",
            "bafkreibxh4iztp5l2yshz3ectg2qjpeyprpw2gogao3pvceowpq3k3thya",
        ],
    },
    Case {
        comment: "add on edge with neighbor two layers down",
        keys: &["A0/374913", "B2/827649", "C0/451630"],
        adds: &["D2/269196"],
        dels: &[],
        before: "bafyreigc6ay2qwfk7kuevvrczummpd64nknfo4yxpaooknfymzyb7u3ntq",
        after: "bafyreign6kxoll35r5f2ske6hjx7vg56aw3jn6r5hcopgrepzafpvohr2a",
        proof: &[
            "bafkreieazvzmba35p4phksumwfoklwe5o4ncmo7otud74idcyv4orrbzxi",
            "bafkreidicvcjgrpm5bmhm3ndh2ysqfhgzk4chwn3m4kuvwkenfusspb4uy",
            "bafkreign6kxoll35r5f2ske6hjx7vg56aw3jn6r5hcopgrepzafpvohr2a",
        ],
    },
    Case {
        comment: "merge and split in multi-op commit",
        keys: &["A0/374913", "B2/827649", "D2/269196", "E0/670489"],
        adds: &["C2/014073"],
        dels: &["B2/827649", "D2/269196"],
        before: "bafyreiceld4icym4qjmdcn3dfgtxt7t66hdgyhvigessgmkvb56dx6amgi",
        after: "bafyreigkalika3taqauapfha556lo36zzcjoiifny5xeru6yis3nxw5ruq",
        proof: &[
            "bafkreid44jgimksqqdratyste2moqu6zo4h6co2pknjppfoiplsqxtuxae",
            "bafkreihytu6onh476trave25zuo63ziebkeong2755sc5nmf55uzdawgt4",
            "bafkreigkalika3taqauapfha556lo36zzcjoiifny5xeru6yis3nxw5ruq",
            "bafkreidnnkrdkcaswbflgtdsxm7nzs7p5f2rdous6wrlupzstuwqu5pfgm",
            "bafkreia2kq243hqq3volwlzkbzzphoeqauk54sc5h7vgogq4ei5fjizxvy",
        ],
    },
    Case {
        comment: "complex multi-op commit",
        keys: &[
            "B0/601692",
            "C2/014073",
            "D0/952776",
            "E2/819540",
            "F0/697858",
            "H0/131238",
        ],
        adds: &["A2/827942", "G2/611528"],
        dels: &["C2/014073"],
        before: "bafyreigr3plnts7dax6yokvinbhcqpyicdfgg6npvvyx6okc5jo55slfqi",
        after: "bafyreiftrcrbhrwmi37u4egedlg56gk3jeh3tvmqvwgowoifuklfysyx54",
        proof: &[
            "bafkreih62n3gjbzzvlicuggpfydyzrp3ssyx7hdgtltd3sct3ribm3u73e",
            "bafkreihrjhuoynjvgteuefin5vwnqmupyfzvmytdobpstqt3mbawgw5qhm",
            "bafkreibevzst4gzkxo263syohlmq3lpxdvpjhlpyqx2ay3moh43lifydca",
            "bafkreifsdd7dv2neal7zjhyrsvndkaocelqlpgfxwo4utoq2g77klih37e",
            "bafkreid2wwyroodj2lxx2obikac74q77lsn6vqkoetlqqwwnr3criwlcvy",
            "bafkreie55b224oljhykpsxdjq4ajn2ysksud7qm347s6kn2ei6a775faum",
            "bafkreiftrcrbhrwmi37u4egedlg56gk3jeh3tvmqvwgowoifuklfysyx54",
        ],
    },
];

fn leaf() -> Cid {
    "bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454"
        .parse()
        .unwrap()
}

fn key(s: &str) -> Key {
    Key::parse(s).unwrap()
}

#[test]
fn commit_proof_vectors_roots_proofs_and_inversion() {
    for case in CASES {
        let mut store = MemoryBlocks::new();
        let mut t = Mst::new();
        for k in case.keys {
            t.put(&NoBlocks, key(k), leaf()).unwrap();
        }
        let (before, blocks) = t.commit();
        store.extend(blocks);
        assert_eq!(
            before.to_string(),
            case.before,
            "{}: root before",
            case.comment
        );
        for k in case.adds {
            t.put(&NoBlocks, key(k), leaf()).unwrap();
        }
        for k in case.dels {
            t.delete(&NoBlocks, &key(k)).unwrap();
        }
        let (after, blocks) = t.commit();
        store.extend(blocks);
        assert_eq!(
            after.to_string(),
            case.after,
            "{}: root after",
            case.comment
        );

        // Our covering proofs hold every block the reference requires.
        let written: Vec<&str> = case.adds.iter().chain(case.dels).copied().collect();
        let mut proof = BTreeSet::new();
        for k in &written {
            proof.extend(t.covering_proof(&store, &key(k)).unwrap());
        }
        let ours: BTreeSet<[u8; 32]> = proof.iter().map(|c| *c.digest()).collect();
        for want in case.proof {
            let want: Cid = want.parse().unwrap();
            assert!(
                ours.contains(want.digest()),
                "{}: proof lacks {want}",
                case.comment
            );
        }

        // The proof blocks alone suffice to invert the commit.
        let slice: MemoryBlocks = proof
            .iter()
            .map(|c| (*c, store.get(c).unwrap().to_vec()))
            .collect();
        let mut ops: Vec<RecordOp> = case
            .adds
            .iter()
            .map(|k| RecordOp {
                action: Action::Create,
                path: key(k),
                cid: Some(leaf()),
                prev: None,
            })
            .collect();
        ops.extend(case.dels.iter().map(|k| RecordOp {
            action: Action::Delete,
            path: key(k),
            cid: None,
            prev: Some(leaf()),
        }));
        let mut partial = Mst::load(after);
        assert_eq!(
            partial.invert(&slice, &ops).unwrap(),
            before,
            "{}: inversion",
            case.comment
        );
    }
}
