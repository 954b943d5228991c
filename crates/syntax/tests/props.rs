//! Property tests: TID parts round-trip, parsing is idempotent through `Display`, and no
//! input makes a parser panic.

use aerie_syntax::{AtIdentifier, AtUri, Datetime, Did, Handle, Language, Nsid, RecordKey, Tid};
use proptest::prelude::*;

proptest! {
    #[test]
    fn tid_from_parts_round_trips(micros in 0u64..=Tid::MAX_MICROS, clock_id in 0u16..=1023) {
        let t = Tid::from_parts(micros, clock_id).unwrap();
        prop_assert_eq!(t.timestamp_micros(), micros);
        prop_assert_eq!(t.clock_id(), clock_id);
        prop_assert_eq!(Tid::parse(t.as_str()).unwrap(), t);
        prop_assert_eq!(Tid::from_u64(t.as_u64()), t);
    }

    #[test]
    fn tid_string_order_is_numeric_order(a in any::<u64>(), b in any::<u64>()) {
        let (ta, tb) = (Tid::from_u64(a), Tid::from_u64(b));
        prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
        prop_assert_eq!(ta.as_str().cmp(tb.as_str()), a.cmp(&b));
    }

    #[test]
    fn handle_parse_of_display_is_identity(s in "([a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?\\.){1,4}[a-zA-Z][a-zA-Z0-9]{0,8}") {
        let h = Handle::parse(&s).unwrap();
        prop_assert_eq!(Handle::parse(&format!("{h}")).unwrap(), h.clone());
        prop_assert_eq!(h.as_str(), s.to_ascii_lowercase());
    }

    #[test]
    fn aturi_parse_of_display_is_identity(
        auth in "did:[a-z]{1,5}:[a-zA-Z0-9._:%-]{0,20}[a-zA-Z0-9._-]|[a-zA-Z][a-zA-Z0-9]{0,5}\\.[A-Za-z]{2,5}",
        coll in proptest::option::of("[a-z]{1,5}\\.[a-z]{1,5}\\.[a-zA-Z]{1,8}"),
        rkey in "[a-zA-Z0-9._:~-]{3,20}",
    ) {
        let mut s = format!("at://{auth}");
        if let Some(c) = &coll {
            s.push('/');
            s.push_str(c);
            s.push('/');
            s.push_str(&rkey);
        }
        let u = AtUri::parse(&s).unwrap();
        prop_assert_eq!(AtUri::parse(&format!("{u}")).unwrap(), u.clone());
        let rebuilt = AtUri::from_parts(u.authority().clone(), u.collection().cloned(), u.rkey().cloned()).unwrap();
        prop_assert_eq!(rebuilt, u);
    }

    #[test]
    fn datetime_from_unix_micros_round_trips(micros in -62_167_219_200_000_000i64..253_402_300_800_000_000) {
        let d = Datetime::from_unix_micros(micros).unwrap();
        prop_assert_eq!(Datetime::parse(d.as_str()).unwrap(), d.clone());
        prop_assert_eq!(d.to_unix_micros(), micros.div_euclid(1000) * 1000);
    }

    #[test]
    fn parsers_never_panic_and_accepted_text_reparses(s in "\\PC{0,40}|[a-zA-Z0-9:./@#%_~-]{0,60}") {
        if let Ok(v) = Did::parse(&s) { prop_assert_eq!(v.as_str(), s.as_str()); }
        if let Ok(v) = Handle::parse(&s) { prop_assert_eq!(Handle::parse(v.as_str()).unwrap(), v); }
        if let Ok(v) = AtIdentifier::parse(&s) { prop_assert_eq!(AtIdentifier::parse(v.as_str()).unwrap(), v); }
        if let Ok(v) = Nsid::parse(&s) { prop_assert_eq!(v.as_str(), s.as_str()); }
        if let Ok(v) = RecordKey::parse(&s) { prop_assert_eq!(v.as_str(), s.as_str()); }
        if let Ok(v) = AtUri::parse(&s) { prop_assert_eq!(AtUri::parse(v.as_str()).unwrap(), v); }
        if let Ok(v) = Datetime::parse(&s) { prop_assert_eq!(v.as_str(), s.as_str()); }
        if let Ok(v) = Language::parse(&s) { prop_assert_eq!(v.as_str(), s.as_str()); }
        if let Ok(v) = Tid::parse(&s) { prop_assert_eq!(v.as_str(), s.as_str()); }
        let _ = aerie_syntax::is_valid_uri(&s);
        let _ = aerie_syntax::is_valid_cid_string(&s);
    }
}
