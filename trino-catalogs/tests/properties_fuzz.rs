//! Property tests of the `.properties` writer and reader (run in CI with a fixed number of cases, so their
//! time is bounded): any pairs written read back exactly, the written text is ASCII, and any text at all is
//! read without a panic, and what it reads writes back to the same pairs. The JDK's own reading of
//! generated pairs is in `java_roundtrip.rs`.

use std::collections::BTreeMap;

use proptest::collection::btree_map;
use proptest::prelude::*;
use trino_catalogs::properties::{read_properties, write_properties};

mod strategies;
use strategies::hostile_text;

fn written(pairs: &BTreeMap<String, String>, header: Option<&str>) -> String {
    write_properties(header, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn any_pairs_written_read_back_exactly(pairs in btree_map(hostile_text(), hostile_text(), 0..8)) {
        let text = written(&pairs, None);
        prop_assert!(text.is_ascii(), "{text:?}");
        prop_assert_eq!(read_properties(&text).unwrap(), pairs);
    }

    #[test]
    fn a_header_never_adds_or_hides_a_pair(
        header in hostile_text(),
        pairs in btree_map(hostile_text(), hostile_text(), 0..4),
    ) {
        prop_assert_eq!(read_properties(&written(&pairs, Some(&header))).unwrap(), pairs);
    }

    #[test]
    fn any_text_reads_without_panic_and_what_it_reads_round_trips(text in prop_oneof![
        any::<String>(),
        "([ \t]*[#!]?[a-z\\\\=: ]{0,6}(\\\\u[0-9a-fA-F]{0,4})?\\\\?(\r\n|\n|\r)?){0,6}",
    ]) {
        if let Ok(pairs) = read_properties(&text) {
            prop_assert_eq!(read_properties(&written(&pairs, None)).unwrap(), pairs);
        }
    }
}
