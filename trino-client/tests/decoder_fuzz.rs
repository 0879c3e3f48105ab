//! Property tests of the protocol decoder (run in CI with a fixed number of cases, so their time is bounded).
//!
//! - Values of every type in the wire form Trino sends (nested three deep through `array`, `map` and `row`,
//!   with nulls at every level) decode, and [`Value::to_json`] gives the same wire value back: the round trip
//!   of the decoder and its encoder. Floats are compared by value (`NaN` by being NaN).
//! - Any bytes at all, and rows whose shape or types do not match the columns, are refused with an error,
//!   never a panic.

use std::sync::Arc;

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::{Value as J, json};
use trino_client::protocol::{
    ClientTypeSignature, ClientTypeSignatureParameter, Column, NamedTypeSignature, RowFieldName,
};
use trino_client::types::TrinoType;
use trino_client::value::{Columns, Value, decode_rows, decode_value};

type Case = (TrinoType, J);

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|d| d.iter().map(|d| char::from(b'0' + d)).collect())
}

fn decimal(precision: u32, scale: u32) -> BoxedStrategy<J> {
    let int_digits = (precision - scale) as usize;
    (
        any::<bool>(),
        (0..=int_digits).prop_flat_map(digits),
        digits(scale as usize),
    )
        .prop_map(move |(negative, int, frac)| {
            let int = int.trim_start_matches('0');
            let mut text = if int.is_empty() { "0" } else { int }.to_owned();
            if scale > 0 {
                text.push('.');
                text.push_str(&frac);
            }
            if negative && text.chars().any(|c| ('1'..='9').contains(&c)) {
                text.insert(0, '-');
            }
            J::String(text)
        })
        .boxed()
}

fn fraction(p: u32) -> impl Strategy<Value = String> {
    digits(p as usize).prop_map(move |d| {
        if p == 0 {
            String::new()
        } else {
            format!(".{d}")
        }
    })
}

fn clock() -> impl Strategy<Value = String> {
    (0u32..24, 0u32..60, 0u32..60).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}"))
}

fn day() -> impl Strategy<Value = String> {
    (1i32..=9999, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

fn offset() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0u32..=14,
        prop_oneof![Just(0u32), Just(30), Just(45)],
    )
        // Trino writes a zero offset as `+00:00`, never `-00:00`.
        .prop_map(|(neg, h, m)| {
            let sign = if neg && (h, m) != (0, 0) { '-' } else { '+' };
            format!("{sign}{h:02}:{m:02}")
        })
}

fn zone() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("UTC".to_owned()),
        Just("Europe/Berlin".to_owned()),
        Just("America/New_York".to_owned()),
        Just("Asia/Kolkata".to_owned()),
        offset(),
    ]
}

fn text_up_to(n: u32) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..=n as usize).prop_map(|c| c.into_iter().collect())
}

fn string(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<J> {
    s.prop_map(J::String).boxed()
}

/// Every leaf type, parameters included.
fn scalar_type() -> impl Strategy<Value = TrinoType> {
    prop_oneof![
        Just(TrinoType::Boolean),
        Just(TrinoType::TinyInt),
        Just(TrinoType::SmallInt),
        Just(TrinoType::Integer),
        Just(TrinoType::BigInt),
        Just(TrinoType::Real),
        Just(TrinoType::Double),
        (1u32..=38)
            .prop_flat_map(|p| (Just(p), 0..=p))
            .prop_map(|(precision, scale)| TrinoType::Decimal { precision, scale }),
        proptest::option::of(0u32..20).prop_map(TrinoType::Varchar),
        (1u32..10).prop_map(TrinoType::Char),
        Just(TrinoType::Varbinary),
        Just(TrinoType::Json),
        Just(TrinoType::Date),
        (0u32..=12).prop_map(TrinoType::Time),
        (0u32..=12).prop_map(TrinoType::TimeWithTimeZone),
        (0u32..=12).prop_map(TrinoType::Timestamp),
        (0u32..=12).prop_map(TrinoType::TimestampWithTimeZone),
        Just(TrinoType::IntervalYearToMonth),
        Just(TrinoType::IntervalDayToSecond),
        Just(TrinoType::Uuid),
        Just(TrinoType::IpAddress),
    ]
}

/// Types nested up to three deep through `array`, `map` (keys of the types whose wire form is an object key
/// as it stands) and `row` (named and anonymous fields).
fn trino_type() -> impl Strategy<Value = TrinoType> {
    scalar_type().prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| TrinoType::Array(Box::new(t))),
            (
                prop_oneof![
                    Just(TrinoType::Varchar(None)),
                    Just(TrinoType::Integer),
                    Just(TrinoType::BigInt)
                ],
                inner.clone()
            )
                .prop_map(|(k, v)| TrinoType::Map(Box::new(k), Box::new(v))),
            proptest::collection::vec((proptest::option::of("[a-z_]{1,6}"), inner), 1..4).prop_map(
                |fields| {
                    let names: Arc<[Option<String>]> =
                        fields.iter().map(|(n, _)| n.clone()).collect();
                    TrinoType::Row(names, fields.into_iter().map(|(_, t)| t).collect())
                }
            ),
        ]
    })
}

/// Values of `ty` in Trino's wire form, `NULL` among them at every level.
fn wire_value(ty: &TrinoType) -> BoxedStrategy<J> {
    prop_oneof![1 => Just(J::Null), 6 => non_null(ty)].boxed()
}

fn non_null(ty: &TrinoType) -> BoxedStrategy<J> {
    match ty {
        TrinoType::Boolean => any::<bool>().prop_map(J::Bool).boxed(),
        TrinoType::TinyInt => any::<i8>().prop_map(|n| json!(n)).boxed(),
        TrinoType::SmallInt => any::<i16>().prop_map(|n| json!(n)).boxed(),
        TrinoType::Integer => any::<i32>().prop_map(|n| json!(n)).boxed(),
        TrinoType::BigInt => any::<i64>().prop_map(|n| json!(n)).boxed(),
        TrinoType::Real => prop_oneof![
            any::<f32>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::from_str::<J>(&format!("{f:?}")).unwrap()),
            Just(json!("NaN")),
            Just(json!("Infinity")),
            Just(json!("-Infinity")),
        ]
        .boxed(),
        TrinoType::Double => prop_oneof![
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            Just(json!("NaN")),
            Just(json!("Infinity")),
            Just(json!("-Infinity")),
        ]
        .boxed(),
        TrinoType::Decimal { precision, scale } => decimal(*precision, *scale),
        TrinoType::Varchar(n) => string(text_up_to(n.unwrap_or(20))),
        TrinoType::Char(n) => {
            let n = *n;
            string(text_up_to(n).prop_map(move |s| {
                let pad = n as usize - s.chars().count();
                format!("{s}{}", " ".repeat(pad))
            }))
        }
        TrinoType::Varbinary => string(
            proptest::collection::vec(any::<u8>(), 0..24)
                .prop_map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        TrinoType::Json => string("\\{\"[a-z]{0,4}\":[0-9]{1,3}\\}"),
        TrinoType::Date => string(day()),
        TrinoType::Time(p) => string((clock(), fraction(*p)).prop_map(|(c, f)| format!("{c}{f}"))),
        TrinoType::TimeWithTimeZone(p) => {
            string((clock(), fraction(*p), offset()).prop_map(|(c, f, o)| format!("{c}{f}{o}")))
        }
        TrinoType::Timestamp(p) => {
            string((day(), clock(), fraction(*p)).prop_map(|(d, c, f)| format!("{d} {c}{f}")))
        }
        TrinoType::TimestampWithTimeZone(p) => string(
            (day(), clock(), fraction(*p), zone())
                .prop_map(|(d, c, f, z)| format!("{d} {c}{f} {z}")),
        ),
        TrinoType::IntervalYearToMonth => string((any::<bool>(), 0u32..1000, 0u32..12).prop_map(
            |(neg, y, m)| {
                let sign = if neg && (y, m) != (0, 0) { "-" } else { "" };
                format!("{sign}{y}-{m}")
            },
        )),
        TrinoType::IntervalDayToSecond => string(
            (any::<bool>(), 0u32..100_000, clock(), 0u32..1000).prop_map(|(neg, d, c, ms)| {
                let zero = d == 0 && c == "00:00:00" && ms == 0;
                let sign = if neg && !zero { "-" } else { "" };
                format!("{sign}{d} {c}.{ms:03}")
            }),
        ),
        TrinoType::Uuid => string(any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string())),
        TrinoType::IpAddress => string(prop_oneof![
            any::<[u8; 4]>().prop_map(|b| std::net::IpAddr::from(b).to_string()),
            any::<[u16; 8]>()
                .prop_filter("not IPv4-mapped", |s| s[..6] != [0, 0, 0, 0, 0, 0xffff])
                .prop_map(|s| std::net::IpAddr::from(s).to_string()),
        ]),
        TrinoType::Array(t) => proptest::collection::vec(wire_value(t), 0..4)
            .prop_map(J::Array)
            .boxed(),
        TrinoType::Map(k, v) => {
            let keys: BoxedStrategy<String> = match **k {
                TrinoType::Integer => any::<i32>().prop_map(|n| n.to_string()).boxed(),
                TrinoType::BigInt => any::<i64>().prop_map(|n| n.to_string()).boxed(),
                _ => "[a-z\u{e9} ]{0,6}".boxed(),
            };
            proptest::collection::btree_map(keys, wire_value(v), 0..4)
                .prop_map(|m| J::Object(m.into_iter().collect()))
                .boxed()
        }
        TrinoType::Row(_, types) => types
            .iter()
            .map(wire_value)
            .collect::<Vec<_>>()
            .prop_map(J::Array)
            .boxed(),
        other => panic!("the generator makes no {other}"),
    }
}

fn case() -> impl Strategy<Value = Case> {
    trino_type().prop_flat_map(|ty| {
        let values = wire_value(&ty);
        (Just(ty), values)
    })
}

/// The signature Trino would send for `ty`.
fn signature(ty: &TrinoType) -> ClientTypeSignature {
    let raw = |raw: &str, arguments| ClientTypeSignature {
        raw_type: raw.to_owned(),
        arguments,
    };
    let long = |n: u32| ClientTypeSignatureParameter::Long(i64::from(n));
    let nested = |t: &TrinoType| ClientTypeSignatureParameter::Type(signature(t));
    match ty {
        TrinoType::Decimal { precision, scale } => {
            raw("decimal", vec![long(*precision), long(*scale)])
        }
        TrinoType::Varchar(n) => raw("varchar", vec![long(n.unwrap_or(i32::MAX as u32))]),
        TrinoType::Char(n) => raw("char", vec![long(*n)]),
        TrinoType::Time(p) => raw("time", vec![long(*p)]),
        TrinoType::TimeWithTimeZone(p) => raw("time with time zone", vec![long(*p)]),
        TrinoType::Timestamp(p) => raw("timestamp", vec![long(*p)]),
        TrinoType::TimestampWithTimeZone(p) => raw("timestamp with time zone", vec![long(*p)]),
        TrinoType::Array(t) => raw("array", vec![nested(t)]),
        TrinoType::Map(k, v) => raw("map", vec![nested(k), nested(v)]),
        TrinoType::Row(names, types) => raw(
            "row",
            names
                .iter()
                .zip(types)
                .map(|(name, t)| {
                    ClientTypeSignatureParameter::NamedType(NamedTypeSignature {
                        field_name: name.clone().map(|name| RowFieldName {
                            name,
                            delimited: false,
                        }),
                        type_signature: signature(t),
                    })
                })
                .collect(),
        ),
        other => raw(&other.to_string(), vec![]),
    }
}

fn column(ty: &TrinoType) -> Arc<Columns> {
    Arc::new(Columns::new(vec![Column {
        name: "c".into(),
        type_name: ty.to_string(),
        type_signature: Some(signature(ty)),
    }]))
}

/// Whether `got` (re-encoded) is `want`, floats compared by value.
fn same_wire(ty: &TrinoType, got: &J, want: &J) -> bool {
    match (ty, got, want) {
        (TrinoType::Real | TrinoType::Double, J::Number(a), J::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            if matches!(ty, TrinoType::Real) {
                a as f32 == b as f32
            } else {
                a == b
            }
        }
        (TrinoType::Array(t), J::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_wire(t, x, y))
        }
        (TrinoType::Map(_, v), J::Object(a), J::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_wire(v, x, y)))
        }
        (TrinoType::Row(_, types), J::Array(a), J::Array(b)) => {
            a.len() == b.len()
                && types.len() == a.len()
                && a.iter()
                    .zip(b)
                    .zip(types)
                    .all(|((x, y), t)| same_wire(t, x, y))
        }
        _ => got == want,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn every_type_decodes_and_encodes_back_to_its_wire_form((ty, wire) in case()) {
        let text = wire.to_string();
        let value = decode_value(&text, &ty).map_err(|e| TestCaseError::fail(format!("{ty}: {text}: {e}")))?;
        prop_assert_eq!(value.is_null(), wire.is_null());
        let back = value.to_json(false);
        prop_assert!(same_wire(&ty, &back, &wire), "{ty}\n wire {wire}\n back {back}\n value {value:?}");
        if let (TrinoType::Real | TrinoType::Double, J::String(s)) = (&ty, &wire) {
            prop_assert!(matches!(value, Value::Real(f) if f.to_string() == s.replace("Infinity", "inf"))
                || matches!(value, Value::Double(f) if f.to_string() == s.replace("Infinity", "inf")));
        }
    }

    #[test]
    fn every_signature_resolves_to_its_type(ty in trino_type()) {
        let columns = column(&ty);
        prop_assert_eq!(columns.types(), &[ty][..]);
    }

    #[test]
    fn any_bytes_are_refused_or_decoded_never_a_panic(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "\\[(\\[[0-9a-z\",\\[\\]{}:.\\- ]{0,12}\\],?){0,4}\\]".prop_map(String::into_bytes),
    ], (ty, _) in case()) {
        let columns = column(&ty);
        let mut out = Vec::new();
        if decode_rows(&bytes, &columns, &mut out, "fuzz").is_ok() {
            prop_assert!(out.iter().all(|row| row.values().len() == 1));
        }
    }

    #[test]
    fn a_row_of_another_type_is_refused_with_an_error((ty, wire) in case(), (other, _) in case()) {
        // A value of one type read as another either decodes (many wire forms overlap: a string is a valid
        // varchar) or fails with an error that says where; it never panics and never returns a wrong-shaped row.
        let columns = column(&other);
        let rows = json!([[wire]]).to_string();
        let mut out = Vec::new();
        match decode_rows(rows.as_bytes(), &columns, &mut out, "fuzz") {
            Ok(()) => prop_assert_eq!(out.len(), 1),
            Err(e) => prop_assert!(e.to_string().contains("line 1"), "{ty} as {other}: {e}"),
        }
    }
}
