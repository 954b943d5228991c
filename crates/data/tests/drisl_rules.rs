//! One test per DRISL decoding rule: each feeds bytes that break exactly that rule.

use aerie_data::drisl::{self, DecodeErrorKind as K, Limits, Reader, Writer};
use aerie_data::{Cid, Value};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Decode `input` (hex) and expect the error `kind` at byte `offset`.
fn check_rejects(input: &str, offset: usize, kind: K) {
    let bytes = hex(input);
    let err = drisl::decode(&bytes).expect_err(input);
    assert_eq!((err.offset, err.kind), (offset, kind), "input {input}");
}

fn cid() -> Cid {
    Cid::for_cbor(b"x")
}

fn link_hex(prefix_and_cid: &[u8]) -> String {
    let mut w = Writer::new();
    w.raw(&[0xd8, 0x2a]).bytes(prefix_and_cid);
    w.as_slice().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rejects_unsorted_keys_bytewise() {
    // {"b": 1, "a": 2}
    check_rejects("a2 6162 01 6161 02", 4, K::KeyOrder);
}

#[test]
fn rejects_keys_sorted_bytewise_but_not_length_first() {
    // {"aa": 1, "b": 2}: bytewise order, but the shorter key must come first.
    check_rejects("a2 626161 01 6162 02", 5, K::KeyOrder);
}

#[test]
fn rejects_duplicate_keys() {
    check_rejects("a2 6161 01 6161 02", 4, K::DuplicateKey("a".into()));
}

#[test]
fn rejects_non_text_map_keys() {
    check_rejects("a1 01 02", 1, K::KeyNotText);
}

#[test]
fn rejects_non_minimal_integers() {
    check_rejects("18 17", 0, K::NonMinimal);
    check_rejects("19 00ff", 0, K::NonMinimal);
    check_rejects("1a 0000ffff", 0, K::NonMinimal);
    check_rejects("1b 00000000ffffffff", 0, K::NonMinimal);
    check_rejects("38 00", 0, K::NonMinimal);
}

#[test]
fn rejects_non_minimal_lengths() {
    check_rejects("78 01 61", 0, K::NonMinimal);
    check_rejects("58 00", 0, K::NonMinimal);
    check_rejects("98 01 00", 0, K::NonMinimal);
    check_rejects("b9 0001 6161 00", 0, K::NonMinimal);
}

#[test]
fn rejects_non_minimal_tag() {
    let l = link_hex(&[&[0u8][..], cid().as_bytes()].concat());
    check_rejects(&format!("d9002a{}", &l[4..]), 0, K::NonMinimal);
}

#[test]
fn rejects_indefinite_lengths() {
    check_rejects("9f ff", 0, K::Indefinite);
    check_rejects("bf ff", 0, K::Indefinite);
    check_rejects("7f ff", 0, K::Indefinite);
    check_rejects("5f ff", 0, K::Indefinite);
}

#[test]
fn rejects_reserved_additional_information() {
    check_rejects("1c", 0, K::Reserved(28));
    check_rejects("1f", 0, K::Reserved(31));
    check_rejects("fc", 0, K::Reserved(28));
}

#[test]
fn rejects_lone_break() {
    check_rejects("ff", 0, K::UnexpectedBreak);
}

#[test]
fn rejects_float16() {
    check_rejects("f9 3c00", 0, K::Float);
}

#[test]
fn rejects_float32() {
    check_rejects("fa 3f800000", 0, K::Float);
}

#[test]
fn rejects_float64() {
    check_rejects("fb 3ff0000000000000", 0, K::Float);
    // An integral float inside a map is refused just the same.
    check_rejects("a1 6161 fb 4000000000000000", 3, K::Float);
}

#[test]
fn rejects_undefined() {
    check_rejects("f7", 0, K::Undefined);
}

#[test]
fn rejects_other_simple_values() {
    check_rejects("e0", 0, K::SimpleValue(0));
    check_rejects("f8 20", 0, K::SimpleValue(32));
}

#[test]
fn rejects_tag_43() {
    check_rejects("d8 2b 40", 0, K::Tag(43));
}

#[test]
fn rejects_tag_1_timestamp() {
    check_rejects("c1 00", 0, K::Tag(1));
}

#[test]
fn rejects_tag_42_without_zero_prefix() {
    check_rejects(&link_hex(cid().as_bytes()), 2, K::LinkPrefix);
    check_rejects("d82a 40", 2, K::LinkPrefix);
}

#[test]
fn rejects_tag_42_around_text() {
    check_rejects("d82a 6161", 2, K::LinkNotBytes);
}

#[test]
fn rejects_cidv0_in_tag_42() {
    let mut v0 = vec![0x00, 0x12, 0x20];
    v0.extend_from_slice(&[7u8; 32]);
    let err = drisl::decode(&hex(&link_hex(&v0))).unwrap_err();
    assert!(matches!(err.kind, K::Cid(_)), "{err}");
}

#[test]
fn rejects_non_sha256_cid_in_tag_42() {
    // blake3 multihash (0x1e)
    let mut c = vec![0x00, 0x01, 0x71, 0x1e, 0x20];
    c.extend_from_slice(&[7u8; 32]);
    let err = drisl::decode(&hex(&link_hex(&c))).unwrap_err();
    assert!(matches!(err.kind, K::Cid(_)), "{err}");
}

#[test]
fn rejects_cid_with_extra_bytes_in_tag_42() {
    let mut c = vec![0x00];
    c.extend_from_slice(cid().as_bytes());
    c.push(0);
    let err = drisl::decode(&hex(&link_hex(&c))).unwrap_err();
    assert!(matches!(err.kind, K::Cid(_)), "{err}");
}

#[test]
fn rejects_trailing_bytes() {
    check_rejects("01 02 03", 1, K::TrailingBytes(2));
}

#[test]
fn rejects_invalid_utf8() {
    check_rejects("62 c328", 0, K::InvalidUtf8);
    // Surrogate code point encoded in UTF-8 form.
    check_rejects("63 eda080", 0, K::InvalidUtf8);
}

#[test]
fn rejects_integers_beyond_i64() {
    check_rejects("1b 8000000000000000", 0, K::IntegerOverflow);
    check_rejects("3b 8000000000000000", 0, K::IntegerOverflow);
}

#[test]
fn accepts_i64_extremes() {
    assert_eq!(
        drisl::decode(&hex("1b 7fffffffffffffff")).unwrap(),
        Value::Integer(i64::MAX)
    );
    assert_eq!(
        drisl::decode(&hex("3b 7fffffffffffffff")).unwrap(),
        Value::Integer(i64::MIN)
    );
}

#[test]
fn rejects_depth_over_limit() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::DEFAULT
    };
    assert!(drisl::decode_with(&hex("81 81 81 00"), &limits).is_ok());
    let err = drisl::decode_with(&hex("81 81 81 81 00"), &limits).unwrap_err();
    assert_eq!((err.offset, err.kind), (3, K::DepthLimit(3)));
}

#[test]
fn rejects_default_depth_over_64() {
    let mut deep = vec![0x81; 64];
    deep.push(0);
    assert!(drisl::decode(&deep).is_ok());
    let mut deeper = vec![0x81; 65];
    deeper.push(0);
    assert_eq!(drisl::decode(&deeper).unwrap_err().kind, K::DepthLimit(64));
}

#[test]
fn deeply_nested_input_fails_without_overflowing_the_stack() {
    let bomb = vec![0x81; 1_000_000];
    assert_eq!(drisl::decode(&bomb).unwrap_err().kind, K::DepthLimit(64));
    assert_eq!(
        Reader::new(&bomb).skip().unwrap_err().kind,
        K::DepthLimit(64)
    );
}

#[test]
fn rejects_container_over_length_limit() {
    let limits = Limits {
        max_container_len: 2,
        ..Limits::DEFAULT
    };
    let err = drisl::decode_with(&hex("83 00 00 00"), &limits).unwrap_err();
    assert_eq!(err.kind, K::ContainerTooLong { len: 3, max: 2 });
}

#[test]
fn huge_declared_length_with_tiny_input_is_an_error() {
    // Each of these declares up to 2^64-1 entries or bytes in a few bytes of input; the
    // decoder must refuse from the head alone (this test would exhaust memory otherwise).
    for input in [
        "9b ffffffffffffffff 00",
        "bb ffffffffffffffff",
        "5b ffffffffffffffff 00",
        "7b ffffffffffffffff",
        "9a ffffffff",
        "d82a 5b ffffffffffffffff",
    ] {
        let err = drisl::decode(&hex(input)).unwrap_err();
        assert!(
            matches!(err.kind, K::LengthExceedsInput { .. }),
            "{input}: {err}"
        );
    }
}

#[test]
fn truncated_input_is_unexpected_end() {
    check_rejects("", 0, K::UnexpectedEnd);
    check_rejects("19 01", 0, K::UnexpectedEnd);
    check_rejects("a1 6161", 3, K::UnexpectedEnd);
    check_rejects(
        "82 01",
        0,
        K::LengthExceedsInput {
            declared: 2,
            left: 1,
        },
    );
}

#[test]
fn error_display_names_offset_and_rule() {
    let err = drisl::decode(&hex("a2 6162 01 6161 02")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "at byte 4: map keys not in canonical order"
    );
}

#[test]
fn decode_prefix_reports_bytes_used() {
    let (v, used) = drisl::decode_prefix(&hex("a1 6174 6123 02")).unwrap();
    assert_eq!(used, 5);
    assert_eq!(v.type_name(), None);
    assert_eq!(v.as_map().unwrap()["t"].as_str(), Some("#"));
}

#[test]
fn reader_reads_fixed_schema_and_enforces_expected_keys() {
    let c = cid();
    let mut w = Writer::new();
    w.map(3)
        .text("a")
        .int(-5)
        .text("l")
        .link(&c)
        .text("bb")
        .bytes(b"hi");
    let bytes = w.into_inner();
    let mut r = Reader::new(&bytes);
    assert_eq!(r.map_len().unwrap(), 3);
    r.expect_key("a").unwrap();
    assert_eq!(r.int().unwrap(), -5);
    assert_eq!(r.next_key(Some("a")).unwrap(), "l");
    assert_eq!(r.opt_link().unwrap(), Some(c));
    assert_eq!(r.next_key(Some("l")).unwrap(), "bb");
    assert_eq!(r.bytes().unwrap(), b"hi");
    r.finish().unwrap();

    let mut r = Reader::new(&bytes);
    r.map_len().unwrap();
    let err = r.expect_key("b").unwrap_err();
    assert_eq!(
        err.kind,
        K::UnexpectedKey {
            expected: "b",
            found: "a".into()
        }
    );
}

#[test]
fn reader_type_mismatch_names_both_types() {
    let mut r = Reader::new(&[0x61, 0x61]);
    let err = r.int().unwrap_err();
    assert_eq!(
        err.kind,
        K::UnexpectedType {
            expected: "integer",
            found: "text string"
        }
    );
    assert_eq!(r.position(), 0);
    assert_eq!(r.text().unwrap(), "a");
}

#[test]
fn reader_uint_refuses_negative() {
    let mut r = Reader::new(&[0x20]);
    assert!(matches!(
        r.uint().unwrap_err().kind,
        K::UnexpectedType { .. }
    ));
}

#[test]
fn reader_next_key_enforces_canonical_order() {
    let mut r = Reader::new(&[0x61, 0x62, 0x61, 0x61, 0x61, 0x61]);
    let k = r.next_key(None).unwrap();
    assert_eq!(r.next_key(Some(k)).unwrap_err().kind, K::KeyOrder);
}

#[test]
fn reader_skip_checks_key_order_and_returns_item_bytes() {
    let bytes = hex("a2 6161 01 6162 82 01 02 00");
    let mut r = Reader::new(&bytes);
    assert_eq!(r.item_bytes().unwrap(), &bytes[..9]);
    assert_eq!(r.int().unwrap(), 0);
    r.finish().unwrap();
    assert_eq!(
        Reader::new(&hex("a2 6162 01 6161 02"))
            .skip()
            .unwrap_err()
            .kind,
        K::KeyOrder
    );
}
