//! Trino types (from column signatures) and typed decoding of the wire values.

use std::sync::Arc;

use crate::protocol::{ClientTypeSignature, ClientTypeSignatureParameter, Column};

/// A Trino type, resolved from a column's type signature.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TrinoType {
    /// `boolean`
    Boolean,
    /// `tinyint`
    TinyInt,
    /// `smallint`
    SmallInt,
    /// `integer`
    Integer,
    /// `bigint`
    BigInt,
    /// `real`
    Real,
    /// `double`
    Double,
    /// `decimal(p, s)`
    Decimal {
        /// Precision.
        precision: u32,
        /// Scale.
        scale: u32,
    },
    /// `varchar` or `varchar(n)`
    Varchar(Option<u32>),
    /// `char(n)`
    Char(u32),
    /// `varbinary`
    Varbinary,
    /// `json`
    Json,
    /// `date`
    Date,
    /// `time(p)`
    Time(u32),
    /// `time(p) with time zone`
    TimeWithTimeZone(u32),
    /// `timestamp(p)`
    Timestamp(u32),
    /// `timestamp(p) with time zone`
    TimestampWithTimeZone(u32),
    /// `interval year to month`
    IntervalYearToMonth,
    /// `interval day to second`
    IntervalDayToSecond,
    /// `uuid`
    Uuid,
    /// `ipaddress`
    IpAddress,
    /// `array(T)`
    Array(Box<TrinoType>),
    /// `map(K, V)`
    Map(Box<TrinoType>, Box<TrinoType>),
    /// `row(name T, ...)`; the names are shared by every value of the column.
    Row(Arc<[Option<String>]>, Vec<TrinoType>),
    /// Anything else (`hyperloglog`, `geometry`, ...), kept as raw JSON.
    Other(String),
}

impl TrinoType {
    /// Resolves a column's type from its signature (or, without one, from its type name).
    pub fn of_column(column: &Column) -> TrinoType {
        match &column.type_signature {
            Some(sig) => TrinoType::from_signature(sig),
            None => TrinoType::from_signature(&ClientTypeSignature {
                raw_type: column
                    .type_name
                    .split('(')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                arguments: vec![],
            }),
        }
    }

    /// Resolves a type signature.
    pub fn from_signature(sig: &ClientTypeSignature) -> TrinoType {
        let longs: Vec<i64> = sig
            .arguments
            .iter()
            .filter_map(|a| match a {
                ClientTypeSignatureParameter::Long(n) => Some(*n),
                _ => None,
            })
            .collect();
        let types: Vec<TrinoType> = sig
            .arguments
            .iter()
            .filter_map(|a| match a {
                ClientTypeSignatureParameter::Type(t) => Some(TrinoType::from_signature(t)),
                ClientTypeSignatureParameter::NamedType(n) => {
                    Some(TrinoType::from_signature(&n.type_signature))
                }
                _ => None,
            })
            .collect();
        let long = |i: usize, default: i64| {
            longs
                .get(i)
                .copied()
                .unwrap_or(default)
                .clamp(0, u32::MAX as i64) as u32
        };
        match sig.raw_type.to_ascii_lowercase().as_str() {
            "boolean" => TrinoType::Boolean,
            "tinyint" => TrinoType::TinyInt,
            "smallint" => TrinoType::SmallInt,
            "integer" | "int" => TrinoType::Integer,
            "bigint" => TrinoType::BigInt,
            "real" => TrinoType::Real,
            "double" => TrinoType::Double,
            "decimal" => TrinoType::Decimal {
                precision: long(0, 38),
                scale: long(1, 0),
            },
            "varchar" => {
                let n = longs.first().copied();
                TrinoType::Varchar(n.filter(|n| *n < i32::MAX as i64).map(|n| n.max(0) as u32))
            }
            "char" => TrinoType::Char(long(0, 1)),
            "varbinary" => TrinoType::Varbinary,
            "json" => TrinoType::Json,
            "date" => TrinoType::Date,
            "time" => TrinoType::Time(long(0, 3)),
            "time with time zone" => TrinoType::TimeWithTimeZone(long(0, 3)),
            "timestamp" => TrinoType::Timestamp(long(0, 3)),
            "timestamp with time zone" => TrinoType::TimestampWithTimeZone(long(0, 3)),
            "interval year to month" => TrinoType::IntervalYearToMonth,
            "interval day to second" => TrinoType::IntervalDayToSecond,
            "uuid" => TrinoType::Uuid,
            "ipaddress" => TrinoType::IpAddress,
            "array" if types.len() == 1 => TrinoType::Array(Box::new(types[0].clone())),
            "map" if types.len() == 2 => {
                TrinoType::Map(Box::new(types[0].clone()), Box::new(types[1].clone()))
            }
            "row" => {
                let names: Vec<Option<String>> = sig
                    .arguments
                    .iter()
                    .filter_map(|a| match a {
                        ClientTypeSignatureParameter::NamedType(n) => {
                            Some(n.field_name.as_ref().map(|f| f.name.clone()))
                        }
                        ClientTypeSignatureParameter::Type(_) => Some(None),
                        _ => None,
                    })
                    .collect();
                TrinoType::Row(names.into(), types)
            }
            other => TrinoType::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for TrinoType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrinoType::Boolean => f.write_str("boolean"),
            TrinoType::TinyInt => f.write_str("tinyint"),
            TrinoType::SmallInt => f.write_str("smallint"),
            TrinoType::Integer => f.write_str("integer"),
            TrinoType::BigInt => f.write_str("bigint"),
            TrinoType::Real => f.write_str("real"),
            TrinoType::Double => f.write_str("double"),
            TrinoType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            TrinoType::Varchar(None) => f.write_str("varchar"),
            TrinoType::Varchar(Some(n)) => write!(f, "varchar({n})"),
            TrinoType::Char(n) => write!(f, "char({n})"),
            TrinoType::Varbinary => f.write_str("varbinary"),
            TrinoType::Json => f.write_str("json"),
            TrinoType::Date => f.write_str("date"),
            TrinoType::Time(p) => write!(f, "time({p})"),
            TrinoType::TimeWithTimeZone(p) => write!(f, "time({p}) with time zone"),
            TrinoType::Timestamp(p) => write!(f, "timestamp({p})"),
            TrinoType::TimestampWithTimeZone(p) => write!(f, "timestamp({p}) with time zone"),
            TrinoType::IntervalYearToMonth => f.write_str("interval year to month"),
            TrinoType::IntervalDayToSecond => f.write_str("interval day to second"),
            TrinoType::Uuid => f.write_str("uuid"),
            TrinoType::IpAddress => f.write_str("ipaddress"),
            TrinoType::Array(t) => write!(f, "array({t})"),
            TrinoType::Map(k, v) => write!(f, "map({k}, {v})"),
            TrinoType::Row(names, types) => {
                f.write_str("row(")?;
                for (i, (n, t)) in names.iter().zip(types).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match n {
                        Some(n) => write!(f, "{n} {t}")?,
                        None => write!(f, "{t}")?,
                    }
                }
                f.write_str(")")
            }
            TrinoType::Other(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(name: &str) -> Vec<Column> {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        serde_json::from_value(v["columns"].clone()).unwrap()
    }

    #[test]
    fn resolves_sample_types() {
        let row = columns("rust-client__types__row.json");
        assert_eq!(
            TrinoType::of_column(&row[0]).to_string(),
            "row(x integer, y integer)"
        );
        let seq = columns("rust-client__types__seq.json");
        assert_eq!(
            TrinoType::of_column(&seq[0]),
            TrinoType::Array(Box::new(TrinoType::Integer))
        );
        let dec = columns("rust-client__types__decimal.json");
        assert_eq!(
            TrinoType::of_column(&dec[0]),
            TrinoType::Decimal {
                precision: 38,
                scale: 10
            }
        );
        let ch = columns("rust-client__types__char.json");
        assert_eq!(TrinoType::of_column(&ch[0]), TrinoType::Char(3));
        let v = columns("python-client__conftest__sample_get_response_data.json");
        assert_eq!(TrinoType::of_column(&v[0]), TrinoType::Varchar(None));
    }
}
