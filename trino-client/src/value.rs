//! Typed values decoded straight from the JSON bytes of a page, using each column's Trino type.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::protocol::Column;
use crate::types::TrinoType;

/// A decimal, kept exactly as Trino sent it (no precision is lost).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decimal(pub String);

impl Decimal {
    /// The decimal text, e.g. `1000.00000`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// An approximate float.
    pub fn to_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }
}

/// Sub-second digits up to picoseconds (Trino allows precision 0..=12).
fn fmt_fraction(out: &mut String, picos: u64, precision: u32) {
    if precision > 0 {
        let digits = format!("{picos:012}");
        out.push('.');
        out.push_str(&digits[..precision.min(12) as usize]);
    }
}

/// `time(p)`: a time of day with up to picosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    /// Hour, minute, second and nanoseconds.
    pub time: NaiveTime,
    /// The full fraction of the second in picoseconds.
    pub picos: u64,
    /// The declared precision (fraction digits).
    pub precision: u32,
}

/// `time(p) with time zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWithTimeZone {
    /// The local time.
    pub time: Time,
    /// The offset from UTC.
    pub offset: FixedOffset,
}

/// `timestamp(p)`: a local date-time with up to picosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The date-time to nanoseconds.
    pub date_time: NaiveDateTime,
    /// The full fraction of the second in picoseconds.
    pub picos: u64,
    /// The declared precision.
    pub precision: u32,
}

/// `timestamp(p) with time zone`: a local date-time and a zone (an offset such as `+02:00` or an id such as
/// `America/New_York`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimestampWithTimeZone {
    /// The local date-time in the zone.
    pub timestamp: Timestamp,
    /// The zone as Trino wrote it.
    pub zone: String,
}

impl TimestampWithTimeZone {
    /// The fixed offset, when the zone is an offset (`+02:00`, `-05:30`) or `UTC`/`Z`.
    pub fn offset(&self) -> Option<FixedOffset> {
        parse_offset(&self.zone)
    }
}

/// A `row` value.
#[derive(Debug, Clone, PartialEq)]
pub struct RowValue {
    /// Field names (shared with the column type); `None` for anonymous fields.
    pub names: Arc<[Option<String>]>,
    /// Field values.
    pub values: Vec<Value>,
}

/// A decoded value of any Trino type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `boolean`
    Boolean(bool),
    /// `tinyint`
    TinyInt(i8),
    /// `smallint`
    SmallInt(i16),
    /// `integer`
    Integer(i32),
    /// `bigint`
    BigInt(i64),
    /// `real` (may be NaN or infinite)
    Real(f32),
    /// `double` (may be NaN or infinite)
    Double(f64),
    /// `decimal(p, s)`
    Decimal(Decimal),
    /// `varchar`
    Varchar(String),
    /// `char(n)`
    Char(String),
    /// `varbinary`
    Varbinary(Vec<u8>),
    /// `json` (the JSON text)
    Json(String),
    /// `date`
    Date(NaiveDate),
    /// `time(p)`
    Time(Time),
    /// `time(p) with time zone` (boxed to keep `Value` small)
    TimeWithTimeZone(Box<TimeWithTimeZone>),
    /// `timestamp(p)`
    Timestamp(Timestamp),
    /// `timestamp(p) with time zone` (boxed to keep `Value` small)
    TimestampWithTimeZone(Box<TimestampWithTimeZone>),
    /// `interval year to month`, in months.
    IntervalYearToMonth(i64),
    /// `interval day to second`, in milliseconds.
    IntervalDayToSecond(i64),
    /// `uuid`
    Uuid(uuid::Uuid),
    /// `ipaddress`
    IpAddress(IpAddr),
    /// `array(T)`
    Array(Vec<Value>),
    /// `map(K, V)`, in server order.
    Map(Vec<(Value, Value)>),
    /// `row(...)`: field names (shared with the column type) and values (boxed to keep `Value` small).
    Row(Box<RowValue>),
    /// A type this client does not model, as raw JSON.
    Other(Box<serde_json::Value>),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value in Trino's JSON wire form; with `rows_as_objects`, `row` values become objects keyed by
    /// field name (anonymous fields get `_col<i>`).
    pub fn to_json(&self, rows_as_objects: bool) -> serde_json::Value {
        use serde_json::Value as J;
        let float = |f: f64| {
            if f.is_nan() {
                J::String("NaN".into())
            } else if f.is_infinite() {
                J::String(if f > 0.0 { "Infinity" } else { "-Infinity" }.into())
            } else {
                serde_json::Number::from_f64(f)
                    .map(J::Number)
                    .unwrap_or(J::Null)
            }
        };
        match self {
            Value::Null => J::Null,
            Value::Boolean(b) => J::Bool(*b),
            Value::TinyInt(n) => J::from(*n),
            Value::SmallInt(n) => J::from(*n),
            Value::Integer(n) => J::from(*n),
            Value::BigInt(n) => J::from(*n),
            Value::Real(f) => {
                if f.is_finite() {
                    // Trino prints the float, not its widened double.
                    serde_json::from_str(&f.to_string()).unwrap_or(J::Null)
                } else {
                    float(*f as f64)
                }
            }
            Value::Double(f) => float(*f),
            Value::Decimal(d) => J::String(d.0.clone()),
            Value::Varchar(s) | Value::Char(s) | Value::Json(s) => J::String(s.clone()),
            Value::Varbinary(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Array(items) => {
                J::Array(items.iter().map(|v| v.to_json(rows_as_objects)).collect())
            }
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k.to_json(rows_as_objects) {
                            J::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, v.to_json(rows_as_objects))
                    })
                    .collect(),
            ),
            Value::Row(row) => {
                let (names, values) = (&row.names, &row.values);
                if rows_as_objects {
                    J::Object(
                        values
                            .iter()
                            .enumerate()
                            .map(|(i, v)| {
                                let name = names
                                    .get(i)
                                    .cloned()
                                    .flatten()
                                    .unwrap_or_else(|| format!("_col{i}"));
                                (name, v.to_json(true))
                            })
                            .collect(),
                    )
                } else {
                    J::Array(values.iter().map(|v| v.to_json(false)).collect())
                }
            }
            Value::Other(j) => (**j).clone(),
            other => J::String(other.to_string()),
        }
    }
}

impl std::fmt::Display for Value {
    /// Trino's text form (what the CLI prints).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        match self {
            Value::Null => out.push_str("NULL"),
            Value::Date(d) => out.push_str(&d.format("%Y-%m-%d").to_string()),
            Value::Time(t) => fmt_time(&mut out, t),
            Value::TimeWithTimeZone(t) => {
                fmt_time(&mut out, &t.time);
                let _ = write!(out, "{}", t.offset);
            }
            Value::Timestamp(t) => fmt_timestamp(&mut out, t),
            Value::TimestampWithTimeZone(t) => {
                fmt_timestamp(&mut out, &t.timestamp);
                out.push(' ');
                out.push_str(&t.zone);
            }
            Value::IntervalYearToMonth(m) => {
                let sign = if *m < 0 { "-" } else { "" };
                let m = m.unsigned_abs();
                let _ = write!(out, "{sign}{}-{}", m / 12, m % 12);
            }
            Value::IntervalDayToSecond(ms) => {
                let sign = if *ms < 0 { "-" } else { "" };
                let ms = ms.unsigned_abs();
                let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
                let _ = write!(
                    out,
                    "{sign}{days} {:02}:{:02}:{:02}.{:03}",
                    rem / 3_600_000,
                    rem / 60_000 % 60,
                    rem / 1000 % 60,
                    rem % 1000
                );
            }
            Value::Uuid(u) => out.push_str(&u.hyphenated().to_string()),
            Value::IpAddress(ip) => out.push_str(&ip.to_string()),
            Value::Varchar(s) | Value::Char(s) | Value::Json(s) => out.push_str(s),
            Value::Decimal(d) => out.push_str(&d.0),
            other => match other.to_json(false) {
                serde_json::Value::String(s) => out.push_str(&s),
                j => out.push_str(&j.to_string()),
            },
        }
        f.write_str(&out)
    }
}

fn fmt_time(out: &mut String, t: &Time) {
    let _ = write!(out, "{}", t.time.format("%H:%M:%S"));
    fmt_fraction(out, t.picos, t.precision);
}

fn fmt_timestamp(out: &mut String, t: &Timestamp) {
    let _ = write!(out, "{}", t.date_time.format("%Y-%m-%d %H:%M:%S"));
    fmt_fraction(out, t.picos, t.precision);
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((c - b'0') as u32)?;
    }
    (!b.is_empty()).then_some(n)
}

/// Parses `HH:MM:SS[.fraction]` into a time and the fraction in picoseconds.
fn parse_hms(s: &str) -> Option<(NaiveTime, u64)> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, sec) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    let picos = match &b[8..] {
        [] => 0,
        [b'.', frac @ ..] if !frac.is_empty() && frac.len() <= 12 => {
            let mut n: u64 = 0;
            for &c in frac {
                if !c.is_ascii_digit() {
                    return None;
                }
                n = n * 10 + (c - b'0') as u64;
            }
            n * 10u64.pow(12 - frac.len() as u32)
        }
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(h, m, sec, (picos / 1000) as u32)?;
    Some((time, picos))
}

/// Parses `YYYY-MM-DD` quickly, falling back to chrono for other year widths and signs.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        return NaiveDate::from_ymd_opt(
            digits(&b[0..4])? as i32,
            digits(&b[5..7])?,
            digits(&b[8..10])?,
        );
    }
    s.parse().ok()
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    match s {
        "UTC" | "Z" | "GMT" => return FixedOffset::east_opt(0),
        _ => {}
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m) = (unsigned(h)?, unsigned(m)?);
    let secs = h.checked_mul(3600)?.checked_add(m.checked_mul(60)?)?;
    FixedOffset::east_opt(sign * i32::try_from(secs).ok()?)
}

fn parse_timestamp(s: &str, precision: u32) -> Option<Timestamp> {
    let (date, time) = s.split_once(' ')?;
    let date = parse_date(date)?;
    let (time, picos) = parse_hms(time)?;
    Some(Timestamp {
        date_time: date.and_time(time),
        picos,
        precision,
    })
}

fn parse_interval_day_second(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (days, hms) = s.split_once(' ')?;
    let days = unsigned(days)?;
    let (t, picos) = parse_hms(hms)?;
    use chrono::Timelike;
    // Checked: a malformed day count must be a decode error, not an overflow panic.
    let minutes = days
        .checked_mul(24)?
        .checked_add(t.hour() as i64)?
        .checked_mul(60)?
        .checked_add(t.minute() as i64)?;
    let ms = minutes
        .checked_mul(60_000)?
        .checked_add(t.second() as i64 * 1000 + (picos / 1_000_000_000) as i64)?;
    Some(if neg { -ms } else { ms })
}

fn parse_interval_year_month(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (y, m) = s.split_once('-')?;
    let months = unsigned(y)?.checked_mul(12)?.checked_add(unsigned(m)?)?;
    Some(if neg { -months } else { months })
}

/// A non-negative decimal integer of ASCII digits only (no sign, no spaces); `None` if empty or too large.
fn unsigned(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Whether `s` is a plain decimal number as Trino writes one: an optional sign, digits, and optionally a
/// point followed by digits (`-12.50`, `7`; not `+`, `1.2.3`, `1.` or `.5`).
fn is_decimal_literal(s: &str) -> bool {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

/// A float as Trino writes one: a number, or the words `NaN`, `Infinity`, `-Infinity`. A number too large
/// for an `f64` (`"1e999"`) is refused rather than read as Infinity: Trino never writes one.
fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|f| f.is_finite()),
    }
}

/// A `real` from an `f64`: refused when it does not fit an `f32` (it would become Infinity).
fn to_real(v: f64) -> Option<f32> {
    let r = v as f32;
    (r.is_finite() || !v.is_finite()).then_some(r)
}

/// Whether decimal literal `s` fits `decimal(precision, scale)`: at most `scale` digits after the point and
/// `precision - scale` before it. Trino always sends values that fit; one that does not is a corrupt page.
fn fits_decimal(s: &str, precision: u32, scale: u32) -> bool {
    let unsigned = s.trim_start_matches(['-', '+']);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let int = int.trim_start_matches('0');
    int.len() <= precision.saturating_sub(scale) as usize && frac.len() <= scale as usize
}

/// Decodes a string-carried value of type `ty` (also used for map keys, which JSON always quotes).
fn decode_str(ty: &TrinoType, s: &str) -> Option<Value> {
    Some(match ty {
        // Lengths are in code points, as Trino counts them; a longer value is a corrupt page.
        TrinoType::Varchar(Some(n)) if s.chars().count() > *n as usize => return None,
        TrinoType::Varchar(_) => Value::Varchar(s.to_owned()),
        TrinoType::Char(n) if s.chars().count() > *n as usize => return None,
        TrinoType::Char(_) => Value::Char(s.to_owned()),
        TrinoType::Json => Value::Json(s.to_owned()),
        TrinoType::Decimal { precision, scale } => {
            if !is_decimal_literal(s) || !fits_decimal(s, *precision, *scale) {
                return None;
            }
            Value::Decimal(Decimal(s.to_owned()))
        }
        TrinoType::Varbinary => {
            Value::Varbinary(base64::engine::general_purpose::STANDARD.decode(s).ok()?)
        }
        TrinoType::Date => Value::Date(parse_date(s)?),
        TrinoType::Time(p) => {
            let (time, picos) = parse_hms(s)?;
            Value::Time(Time {
                time,
                picos,
                precision: *p,
            })
        }
        TrinoType::TimeWithTimeZone(p) => {
            let idx = s.rfind(['+', '-'])?;
            let (time, picos) = parse_hms(&s[..idx])?;
            Value::TimeWithTimeZone(Box::new(TimeWithTimeZone {
                time: Time {
                    time,
                    picos,
                    precision: *p,
                },
                offset: parse_offset(&s[idx..])?,
            }))
        }
        TrinoType::Timestamp(p) => Value::Timestamp(parse_timestamp(s, *p)?),
        TrinoType::TimestampWithTimeZone(p) => {
            let idx = s.rfind(' ')?;
            Value::TimestampWithTimeZone(Box::new(TimestampWithTimeZone {
                timestamp: parse_timestamp(&s[..idx], *p)?,
                zone: s[idx + 1..].to_owned(),
            }))
        }
        TrinoType::IntervalYearToMonth => Value::IntervalYearToMonth(parse_interval_year_month(s)?),
        TrinoType::IntervalDayToSecond => Value::IntervalDayToSecond(parse_interval_day_second(s)?),
        TrinoType::Uuid => Value::Uuid(s.parse().ok()?),
        TrinoType::IpAddress => Value::IpAddress(s.parse().ok()?),
        TrinoType::Real => Value::Real(to_real(parse_float(s)?)?),
        TrinoType::Double => Value::Double(parse_float(s)?),
        TrinoType::TinyInt => Value::TinyInt(s.parse().ok()?),
        TrinoType::SmallInt => Value::SmallInt(s.parse().ok()?),
        TrinoType::Integer => Value::Integer(s.parse().ok()?),
        TrinoType::BigInt => Value::BigInt(s.parse().ok()?),
        TrinoType::Boolean => Value::Boolean(s.parse().ok()?),
        TrinoType::Other(_) => Value::Other(Box::new(serde_json::Value::String(s.to_owned()))),
        TrinoType::Array(_) | TrinoType::Map(..) | TrinoType::Row(..) => return None,
    })
}

/// A value that does not decode as its column's type, recorded by [`mismatch`] for the caller that turns the
/// parser's error (which only carries a message and a position) into [`crate::Error::Decode`].
struct DecodeFailure {
    trino_type: String,
    value: String,
    reason: &'static str,
}

thread_local! {
    /// The decode failure behind the error the parser is unwinding with. Decoding is synchronous on one
    /// thread, and a failure aborts it, so the last one recorded is the one the error reports.
    static DECODE_FAILURE: std::cell::RefCell<Option<DecodeFailure>> =
        const { std::cell::RefCell::new(None) };
}

fn mismatch<E: de::Error>(ty: &TrinoType, what: impl std::fmt::Display, reason: &'static str) -> E {
    let mut shown = what.to_string();
    if shown.len() > 64 {
        let mut cut = 64;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push_str("...");
    }
    let err = E::custom(format_args!("cannot decode {shown} as {ty}: {reason}"));
    DECODE_FAILURE.with(|f| {
        *f.borrow_mut() = Some(DecodeFailure {
            trino_type: ty.to_string(),
            value: shown,
            reason,
        });
    });
    err
}

/// Forgets any failure recorded by an earlier decode on this thread.
fn clear_decode_failure() {
    DECODE_FAILURE.with(|f| f.borrow_mut().take());
}

/// The error for a failed decode: [`crate::Error::Decode`] when a value did not fit its type,
/// [`crate::Error::Protocol`] when the JSON itself is malformed or shaped wrongly. Both carry the position.
fn decode_error(context: &str, e: &serde_json::Error) -> crate::Error {
    match DECODE_FAILURE.with(|f| f.borrow_mut().take()) {
        Some(f) => crate::Error::Decode {
            trino_type: f.trino_type,
            value: f.value,
            reason: f.reason.to_string(),
            context: context.to_string(),
            position: (e.line() > 0).then(|| (e.line(), e.column())),
        },
        None => crate::Error::protocol(context, e),
    }
}

const WRONG_KIND: &str = "the JSON value has the wrong kind";
const OUT_OF_RANGE: &str = "out of range";
const MALFORMED: &str = "malformed or out of range";

/// Decodes one JSON value as the given Trino type, straight from the parser.
#[derive(Clone, Copy)]
pub(crate) struct TypedSeed<'t>(pub &'t TrinoType);

impl<'de> DeserializeSeed<'de> for TypedSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if let TrinoType::Other(_) = self.0 {
            return <serde_json::Value as serde::Deserialize>::deserialize(d).map(|j| match j {
                serde_json::Value::Null => Value::Null,
                j => Value::Other(Box::new(j)),
            });
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TypedSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a {} value", self.0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.0 {
            TrinoType::Boolean => Ok(Value::Boolean(v)),
            ty => Err(mismatch(ty, v, WRONG_KIND)),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        let ty = self.0;
        Ok(match ty {
            TrinoType::TinyInt => {
                Value::TinyInt(i8::try_from(v).map_err(|_| mismatch(ty, v, OUT_OF_RANGE))?)
            }
            TrinoType::SmallInt => {
                Value::SmallInt(i16::try_from(v).map_err(|_| mismatch(ty, v, OUT_OF_RANGE))?)
            }
            TrinoType::Integer => {
                Value::Integer(i32::try_from(v).map_err(|_| mismatch(ty, v, OUT_OF_RANGE))?)
            }
            TrinoType::BigInt => Value::BigInt(v),
            TrinoType::Real => Value::Real(v as f32),
            TrinoType::Double => Value::Double(v as f64),
            TrinoType::Decimal { .. } => Value::Decimal(Decimal(v.to_string())),
            ty => return Err(mismatch(ty, v, WRONG_KIND)),
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) => match self.0 {
                TrinoType::Double => Ok(Value::Double(v as f64)),
                TrinoType::Decimal { .. } => Ok(Value::Decimal(Decimal(v.to_string()))),
                ty @ (TrinoType::TinyInt
                | TrinoType::SmallInt
                | TrinoType::Integer
                | TrinoType::BigInt) => Err(mismatch(ty, v, OUT_OF_RANGE)),
                ty => Err(mismatch(ty, v, WRONG_KIND)),
            },
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.0 {
            TrinoType::Real => to_real(v)
                .map(Value::Real)
                .ok_or_else(|| mismatch(self.0, v, OUT_OF_RANGE)),
            TrinoType::Double => Ok(Value::Double(v)),
            TrinoType::Decimal { .. } => Ok(Value::Decimal(Decimal(v.to_string()))),
            ty => Err(mismatch(ty, v, WRONG_KIND)),
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        decode_str(self.0, v).ok_or_else(|| mismatch(self.0, format_args!("{v:?}"), MALFORMED))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        match self.0 {
            TrinoType::Varchar(_) => Ok(Value::Varchar(v)),
            TrinoType::Char(_) => Ok(Value::Char(v)),
            TrinoType::Json => Ok(Value::Json(v)),
            _ => self.visit_str(&v),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        match self.0 {
            TrinoType::Array(elem) => {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element_seed(TypedSeed(elem))? {
                    items.push(v);
                }
                Ok(Value::Array(items))
            }
            TrinoType::Row(names, types) => {
                let mut values = Vec::with_capacity(types.len());
                for ty in types {
                    match seq.next_element_seed(TypedSeed(ty))? {
                        Some(v) => values.push(v),
                        None => {
                            return Err(mismatch(
                                self.0,
                                format_args!("a row with {} fields", values.len()),
                                "wrong number of row fields",
                            ));
                        }
                    }
                }
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(mismatch(
                        self.0,
                        format_args!("a row with more than {} fields", types.len()),
                        "wrong number of row fields",
                    ));
                }
                Ok(Value::Row(Box::new(RowValue {
                    names: names.clone(),
                    values,
                })))
            }
            ty => Err(mismatch(ty, "an array", WRONG_KIND)),
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.0 {
            TrinoType::Map(kt, vt) => {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let key = decode_str(kt, &k)
                        .ok_or_else(|| mismatch(kt, format_args!("map key {k:?}"), MALFORMED))?;
                    let value = map.next_value_seed(TypedSeed(vt))?;
                    entries.push((key, value));
                }
                Ok(Value::Map(entries))
            }
            ty => Err(mismatch(ty, "an object", WRONG_KIND)),
        }
    }
}

/// The columns of a result and their resolved types, shared by every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    columns: Vec<Column>,
    types: Vec<TrinoType>,
}

impl Columns {
    /// Resolves the types of protocol columns.
    pub fn new(columns: Vec<Column>) -> Self {
        let types = columns.iter().map(TrinoType::of_column).collect();
        Columns { columns, types }
    }
    /// The protocol columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }
    /// The resolved types, in column order.
    pub fn types(&self) -> &[TrinoType] {
        &self.types
    }
    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }
    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
    /// The index of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// One result row: typed values plus the shared column list.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    values: Vec<Value>,
    columns: Arc<Columns>,
}

impl Row {
    /// Builds a row (values in column order).
    pub fn new(values: Vec<Value>, columns: Arc<Columns>) -> Self {
        Row { values, columns }
    }
    /// The values in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
    /// Takes the values.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
    /// The columns.
    pub fn columns(&self) -> &Arc<Columns> {
        &self.columns
    }
    /// The value at an index.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }
    /// The value of a named column.
    pub fn get_by_name(&self, name: &str) -> Option<&Value> {
        self.columns.index_of(name).and_then(|i| self.values.get(i))
    }
    /// Deserializes the row into a user type: a struct (fields matched by column name), a map, a tuple or a
    /// sequence.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> crate::Result<T> {
        T::deserialize(RowDeserializer(self)).map_err(|e| crate::Error::Deserialize(e.0))
    }
    /// The row as an ordered JSON object for output (see [`RowJson`]).
    pub fn json_object(&self) -> RowJson<'_> {
        RowJson(self)
    }

    /// The row as a JSON map keyed by column name, values in Trino's JSON form and `row` values as objects.
    /// (`serde_json::Map` sorts keys; use [`Row::json_object`] to keep column order.)
    pub fn to_json_object(&self) -> serde_json::Map<String, serde_json::Value> {
        self.columns
            .columns()
            .iter()
            .zip(&self.values)
            .map(|(c, v)| (c.name.clone(), v.to_json(true)))
            .collect()
    }
}

/// Serializes a row as a JSON object keyed by column name **in column order**, values in Trino's JSON form
/// and `row` values as objects keyed by field name (also in order). Obtain with [`Row::json_object`].
#[derive(Debug, Clone, Copy)]
pub struct RowJson<'a>(&'a Row);

impl serde::Serialize for RowJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(self.0.values.len()))?;
        for (c, v) in self.0.columns.columns().iter().zip(&self.0.values) {
            map.serialize_entry(&c.name, &ValueJson(v))?;
        }
        map.end()
    }
}

/// A value in Trino's JSON form with `row` values as ordered objects.
#[derive(Debug, Clone, Copy)]
pub struct ValueJson<'a>(pub &'a Value);

impl serde::Serialize for ValueJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap as _, SerializeSeq as _};
        match self.0 {
            Value::Row(row) => {
                let (names, values) = (&row.names, &row.values);
                let mut map = s.serialize_map(Some(values.len()))?;
                for (i, v) in values.iter().enumerate() {
                    match names.get(i).and_then(Option::as_deref) {
                        Some(n) => map.serialize_entry(n, &ValueJson(v))?,
                        None => map.serialize_entry(&format!("_col{i}"), &ValueJson(v))?,
                    }
                }
                map.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&ValueJson(v))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    let key = match k.to_json(true) {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    map.serialize_entry(&key, &ValueJson(v))?;
                }
                map.end()
            }
            other => other.to_json(true).serialize(s),
        }
    }
}

/// Where decoded rows go: appended to one vector, or handed out in batches.
type BatchSink<'a> = &'a mut dyn FnMut(Vec<Row>) -> bool;

struct RowsSeed<'a> {
    columns: &'a Arc<Columns>,
    out: &'a mut Vec<Row>,
    /// With a sink, every `batch` rows are handed to it; it returns `false` to stop decoding.
    batched: Option<(usize, BatchSink<'a>)>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(values) = seq.next_element_seed(OneRowSeed(self.columns.types()))? {
            self.out.push(Row {
                values,
                columns: self.columns.clone(),
            });
            if let Some((batch, sink)) = &mut self.batched
                && self.out.len() >= *batch
            {
                let full = std::mem::replace(self.out, Vec::with_capacity(*batch));
                if !sink(full) {
                    return Err(de::Error::custom(
                        "decoding stopped: the consumer went away",
                    ));
                }
            }
        }
        Ok(())
    }
}

struct OneRowSeed<'a>(&'a [TrinoType]);

impl<'de> DeserializeSeed<'de> for OneRowSeed<'_> {
    type Value = Vec<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OneRowSeed<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a row of {} values", self.0.len())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut values = Vec::with_capacity(self.0.len());
        for ty in self.0 {
            match seq.next_element_seed(TypedSeed(ty))? {
                Some(v) => values.push(v),
                None => {
                    return Err(de::Error::custom(format_args!(
                        "row has {} values but the result has {} columns",
                        values.len(),
                        self.0.len()
                    )));
                }
            }
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format_args!(
                "row has more values than the {} columns",
                self.0.len()
            )));
        }
        Ok(values)
    }
}

/// Decodes a JSON array of rows (a direct-protocol `data` field or a decoded segment) into typed rows,
/// appending to `out`. Errors carry the line and column of the offending byte.
pub fn decode_rows(
    json: &[u8],
    columns: &Arc<Columns>,
    out: &mut Vec<Row>,
    context: &str,
) -> crate::Result<()> {
    clear_decode_failure();
    let mut de = serde_json::Deserializer::from_slice(json);
    RowsSeed {
        columns,
        out,
        batched: None,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| decode_error(context, &e))
}

/// Decodes a JSON array of rows in batches of `batch` rows, handing each full batch (and the last, partial
/// one) to `sink`, which returns `false` to stop. Returns the number of rows decoded. Memory stays at one
/// batch whatever the array's size.
pub fn decode_rows_batched(
    json: &[u8],
    columns: &Arc<Columns>,
    batch: usize,
    sink: &mut dyn FnMut(Vec<Row>) -> bool,
    context: &str,
) -> crate::Result<u64> {
    clear_decode_failure();
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut out = Vec::with_capacity(batch.max(1));
    let mut total = 0u64;
    let mut counting = |rows: Vec<Row>| {
        total += rows.len() as u64;
        sink(rows)
    };
    RowsSeed {
        columns,
        out: &mut out,
        batched: Some((batch.max(1), &mut counting)),
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| decode_error(context, &e))?;
    if !out.is_empty() {
        counting(out);
    }
    Ok(total)
}

/// Decodes a single JSON value as a Trino type (useful in tests and tools).
pub fn decode_value(json: &str, ty: &TrinoType) -> crate::Result<Value> {
    clear_decode_failure();
    let mut de = serde_json::Deserializer::from_str(json);
    TypedSeed(ty)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| decode_error(&format!("{ty} value"), &e))
}

// ---- serde: rows and values into user types ----

/// The error of the row/value deserializers.
#[derive(Debug)]
pub struct DeError(String);

impl std::fmt::Display for DeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for DeError {}
impl de::Error for DeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

struct RowDeserializer<'a>(&'a Row);

impl<'de> Deserializer<'de> for RowDeserializer<'_> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let names = self
            .0
            .columns
            .columns()
            .iter()
            .map(|c| Some(c.name.as_str()));
        visitor.visit_map(FieldsAccess {
            names: names.collect(),
            values: &self.0.values,
            i: 0,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(ValuesAccess(self.0.values.iter()))
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct enum identifier ignored_any
    }
}

struct FieldsAccess<'a> {
    names: Vec<Option<&'a str>>,
    values: &'a [Value],
    i: usize,
}

impl<'de> MapAccess<'de> for FieldsAccess<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if self.i >= self.values.len() {
            return Ok(None);
        }
        let name = match self.names.get(self.i).copied().flatten() {
            Some(n) => n.to_owned(),
            None => format!("_col{}", self.i),
        };
        seed.deserialize(de::value::StringDeserializer::<DeError>::new(name))
            .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let v = &self.values[self.i];
        let name = self.names.get(self.i).copied().flatten().map(str::to_owned);
        self.i += 1;
        seed.deserialize(ValueDeserializer(v))
            .map_err(|e| match name {
                Some(n) => DeError(format!("field {n}: {e}")),
                None => e,
            })
    }
}

struct ValuesAccess<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for ValuesAccess<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.0.next() {
            Some(v) => seed.deserialize(ValueDeserializer(v)).map(Some),
            None => Ok(None),
        }
    }
}

struct EntriesAccess<'a> {
    entries: std::slice::Iter<'a, (Value, Value)>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for EntriesAccess<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(ValueDeserializer(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| DeError("map value without key".into()))?;
        seed.deserialize(ValueDeserializer(v))
    }
}

/// Deserializes a [`Value`] into user types. Temporal values are offered as Trino's text (which chrono's
/// and `std`'s `FromStr`-based impls accept), decimals as text (or `f64` on request), varbinary as bytes.
pub struct ValueDeserializer<'a>(pub &'a Value);

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(*b),
            Value::TinyInt(n) => visitor.visit_i8(*n),
            Value::SmallInt(n) => visitor.visit_i16(*n),
            Value::Integer(n) => visitor.visit_i32(*n),
            Value::BigInt(n) => visitor.visit_i64(*n),
            Value::Real(f) => visitor.visit_f32(*f),
            Value::Double(f) => visitor.visit_f64(*f),
            Value::Decimal(d) => visitor.visit_str(&d.0),
            Value::Varchar(s) | Value::Char(s) | Value::Json(s) => visitor.visit_str(s),
            Value::Varbinary(b) => visitor.visit_bytes(b),
            Value::Timestamp(t) => {
                // chrono's `NaiveDateTime: FromStr` wants the `T` separator.
                let mut s = String::new();
                fmt_timestamp(&mut s, t);
                visitor.visit_string(s.replacen(' ', "T", 1))
            }
            Value::TimestampWithTimeZone(t) => match t.offset() {
                Some(off) => {
                    let mut s = String::new();
                    fmt_timestamp(&mut s, &t.timestamp);
                    visitor.visit_string(format!("{}{}", s.replacen(' ', "T", 1), off))
                }
                None => visitor.visit_string(self.0.to_string()),
            },
            Value::Array(items) => visitor.visit_seq(ValuesAccess(items.iter())),
            Value::Map(entries) => visitor.visit_map(EntriesAccess {
                entries: entries.iter(),
                value: None,
            }),
            Value::Row(row) => visitor.visit_map(FieldsAccess {
                names: row.names.iter().map(|n| n.as_deref()).collect(),
                values: &row.values,
                i: 0,
            }),
            Value::Other(j) => j
                .clone()
                .deserialize_any(visitor)
                .map_err(|e| DeError(e.to_string())),
            other => visitor.visit_string(other.to_string()),
        }
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Decimal(d) => visitor.visit_f64(
                d.to_f64()
                    .ok_or_else(|| DeError(format!("bad decimal {}", d.0)))?,
            ),
            _ => self.deserialize_any(visitor),
        }
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Varbinary(b) => {
                visitor.visit_seq(de::value::SeqDeserializer::new(b.iter().copied()))
            }
            Value::Row(row) => visitor.visit_seq(ValuesAccess(row.values.iter())),
            _ => self.deserialize_any(visitor),
        }
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Varchar(s) | Value::Char(s) => visitor.visit_enum(
                de::IntoDeserializer::<DeError>::into_deserializer(s.as_str()),
            ),
            other => Err(DeError(format!("cannot read {other} as an enum"))),
        }
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string bytes byte_buf unit
        unit_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::QueryResults;

    fn sample_rows(name: &str) -> Vec<Row> {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cols: Vec<Column> = serde_json::from_value(v["columns"].clone()).unwrap();
        let columns = Arc::new(Columns::new(cols));
        let mut out = vec![];
        decode_rows(v["data"].to_string().as_bytes(), &columns, &mut out, name).unwrap();
        // The typed decode must re-encode to exactly what the server sent.
        let back: Vec<serde_json::Value> = out
            .iter()
            .map(|r| {
                serde_json::Value::Array(r.values().iter().map(|v| v.to_json(false)).collect())
            })
            .collect();
        assert!(
            json_eq(&serde_json::Value::Array(back.clone()), &v["data"]),
            "{name} round trip: {back:?}"
        );
        out
    }

    /// JSON equality where numbers compare by value (`-3` equals `-3.0`).
    fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (a, b) {
            (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
            (J::Array(x), J::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
            }
            (J::Object(x), J::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
            }
            _ => a == b,
        }
    }

    #[test]
    fn decodes_every_type_sample() {
        let b = sample_rows("rust-client__types__boolean.json");
        assert_eq!(
            b[0].values(),
            &[Value::Boolean(true), Value::Boolean(false)]
        );
        let i = sample_rows("rust-client__types__integer.json");
        assert_eq!(i[0].get(0), Some(&Value::TinyInt(-4)));
        assert_eq!(i[0].get(3), Some(&Value::BigInt(-1)));
        let d = sample_rows("rust-client__types__decimal.json");
        assert_eq!(
            d[0].get(0),
            Some(&Value::Decimal(Decimal(
                "1123412341234123412341234.2222222220".into()
            )))
        );
        let f = sample_rows("rust-client__types__float.json");
        assert_eq!(f[0].values(), &[Value::Real(-3.0), Value::Double(-1.0)]);
        let ip = sample_rows("rust-client__types__ip_address.json");
        assert_eq!(
            ip[0].get(1),
            Some(&Value::IpAddress("2001:db8::1".parse().unwrap()))
        );
        let u = sample_rows("rust-client__types__uuid.json");
        assert!(matches!(u[0].get(0), Some(Value::Uuid(_))));
        let o = sample_rows("rust-client__types__option.json");
        assert_eq!(o[0].get(1), Some(&Value::Null));
        let r = sample_rows("rust-client__types__row.json");
        match r[0].get(0).unwrap() {
            Value::Row(row) => {
                let (names, values) = (&row.names, &row.values);
                assert_eq!(names[0].as_deref(), Some("x"));
                assert_eq!(values, &vec![Value::Integer(1), Value::Integer(1)]);
            }
            other => panic!("{other:?}"),
        }
        let s = sample_rows("rust-client__types__seq.json");
        assert_eq!(
            s[0].get(2),
            Some(&Value::Array(vec![
                Value::Integer(1),
                Value::Integer(2),
                Value::Integer(3)
            ]))
        );
        sample_rows("rust-client__types__char.json");
        sample_rows("rust-client__types__json.json");
        let page = sample_rows("rust-client__models__query_result_running.json");
        assert!(matches!(page[0].get(7), Some(Value::Timestamp(_))));
    }

    #[test]
    fn temporal_interval_and_special_values_round_trip() {
        let cases: Vec<(TrinoType, &str)> = vec![
            (TrinoType::Timestamp(3), r#""2015-10-06 22:04:00.123""#),
            (TrinoType::Timestamp(0), r#""2015-10-06 22:04:00""#),
            (
                TrinoType::Timestamp(12),
                r#""2015-10-06 22:04:00.123456789012""#,
            ),
            (
                TrinoType::TimestampWithTimeZone(3),
                r#""2001-08-22 03:04:05.321 +00:00""#,
            ),
            (
                TrinoType::TimestampWithTimeZone(6),
                r#""2001-08-22 03:04:05.321000 America/Los_Angeles""#,
            ),
            (TrinoType::Time(3), r#""01:02:03.456""#),
            (TrinoType::TimeWithTimeZone(3), r#""01:02:03.456+05:30""#),
            (TrinoType::TimeWithTimeZone(0), r#""01:02:03-08:00""#),
            (TrinoType::Date, r#""2020-05-31""#),
            (TrinoType::IntervalDayToSecond, r#""123 04:05:06.789""#),
            (TrinoType::IntervalDayToSecond, r#""-2 00:00:00.001""#),
            (TrinoType::IntervalYearToMonth, r#""-9-4""#),
            (TrinoType::IntervalYearToMonth, r#""1-2""#),
            (TrinoType::Double, r#""NaN""#),
            (TrinoType::Double, r#""-Infinity""#),
            (TrinoType::Real, r#""Infinity""#),
            (TrinoType::Real, "1.5"),
            (TrinoType::Double, "0.1"),
            (TrinoType::Varbinary, r#""AAEC/w==""#),
            (TrinoType::Json, r#""{\"a\":[1,2]}""#),
            (
                TrinoType::Map(
                    Box::new(TrinoType::BigInt),
                    Box::new(TrinoType::Array(Box::new(TrinoType::Varchar(None)))),
                ),
                r#"{"1":["a",null],"2":[]}"#,
            ),
            (TrinoType::Other("hyperloglog".into()), r#""AgwBAIADRAA=""#),
        ];
        for (ty, json) in cases {
            let v = decode_value(json, &ty).unwrap_or_else(|e| panic!("{ty} {json}: {e}"));
            let expected: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(v.to_json(false), expected, "{ty} {json} decoded as {v:?}");
        }
        let v = decode_value(
            r#""2015-10-06 22:04:00.123456789012""#,
            &TrinoType::Timestamp(12),
        )
        .unwrap();
        match v {
            Value::Timestamp(t) => {
                assert_eq!(t.picos, 123_456_789_012);
                assert_eq!(chrono::Timelike::nanosecond(&t.date_time), 123_456_789);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decode_value(r#""-2 00:00:00.001""#, &TrinoType::IntervalDayToSecond).unwrap(),
            Value::IntervalDayToSecond(-(2 * 86_400_000 + 1))
        );
        assert_eq!(
            decode_value(r#""-9-4""#, &TrinoType::IntervalYearToMonth).unwrap(),
            Value::IntervalYearToMonth(-112)
        );
    }

    #[test]
    fn out_of_spec_values_are_refused_and_in_spec_ones_kept() {
        // Issue 16 item 16: values a real Trino never sends for the column's type are decode errors, not
        // silently kept (a corrupt or hostile page): see the crate README's "Decoding" section.
        let decimal = TrinoType::Decimal {
            precision: 3,
            scale: 2,
        };
        for (ty, json) in [
            (decimal.clone(), r#""12345.678""#),
            (decimal.clone(), r#""1.234""#),
            (decimal.clone(), r#""12.34""#),
            (TrinoType::Varchar(Some(2)), r#""abcdef""#),
            (TrinoType::Char(2), r#""abc""#),
            (TrinoType::Double, r#""1e999""#),
            (TrinoType::Real, r#""1e300""#),
            (TrinoType::Real, "1e300"),
        ] {
            assert!(decode_value(json, &ty).is_err(), "{ty} {json} was accepted");
        }
        for (ty, json) in [
            (decimal.clone(), r#""1.23""#),
            (decimal.clone(), r#""-9.99""#),
            (decimal, r#""0.5""#),
            (TrinoType::Varchar(Some(2)), r#""é€""#),
            (TrinoType::Char(2), r#""ab""#),
            (TrinoType::Double, r#""Infinity""#),
            (TrinoType::Double, "1e300"),
            (TrinoType::Real, r#""-Infinity""#),
            (TrinoType::Real, "3.5"),
        ] {
            assert!(decode_value(json, &ty).is_ok(), "{ty} {json} was refused");
        }
    }

    #[test]
    fn bad_values_are_errors_with_position() {
        for (ty, json) in [
            (TrinoType::Integer, "3000000000"),
            (TrinoType::TinyInt, "200"),
            (TrinoType::Boolean, "1"),
            (TrinoType::Date, r#""2020-13-01""#),
            (TrinoType::Uuid, r#""nope""#),
            (
                TrinoType::Decimal {
                    precision: 3,
                    scale: 1,
                },
                r#""1x""#,
            ),
            (TrinoType::Varbinary, r#""***""#),
            (TrinoType::Array(Box::new(TrinoType::Integer)), r#"[1,"#),
        ] {
            let err = decode_value(json, &ty).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("line 1"), "{ty} {json}: {msg}");
        }
        // Values whose arithmetic would overflow, and decimals that are not numbers: decode errors, no panic.
        let decimal = TrinoType::Decimal {
            precision: 10,
            scale: 2,
        };
        for (ty, json) in [
            (TrinoType::TimeWithTimeZone(3), r#""01:02:03+99999999""#),
            (
                TrinoType::TimeWithTimeZone(3),
                r#""01:02:03+1:99999999999""#,
            ),
            (
                TrinoType::IntervalDayToSecond,
                r#""99999999999999999 01:02:03.000""#,
            ),
            (
                TrinoType::IntervalDayToSecond,
                r#""-99999999999999999 01:02:03.000""#,
            ),
            (TrinoType::IntervalYearToMonth, r#""999999999999999999-1""#),
            (TrinoType::IntervalYearToMonth, r#""1--3""#),
            (decimal.clone(), r#""+""#),
            (decimal.clone(), r#""-""#),
            (decimal.clone(), r#""1.2.3""#),
            (decimal.clone(), r#""1.""#),
            (decimal.clone(), r#"".5""#),
            (decimal.clone(), r#""""#),
            (decimal.clone(), r#""1-2""#),
        ] {
            match decode_value(json, &ty) {
                Err(crate::Error::Decode {
                    trino_type,
                    value,
                    position,
                    ..
                }) => {
                    assert_eq!(trino_type, ty.to_string());
                    assert_eq!(value, json, "the offending value as sent");
                    assert!(matches!(position, Some((1, _))), "{ty} {json}");
                }
                other => panic!("{ty} {json}: {other:?}"),
            }
        }
        for ok in [r#""-12.50""#, r#""+7""#, r#""0.5""#, r#""10""#] {
            assert!(decode_value(ok, &decimal).is_ok(), "{ok}");
        }
        let columns = Arc::new(Columns::new(vec![Column {
            name: "a".into(),
            type_name: "integer".into(),
            type_signature: None,
        }]));
        let mut out = vec![];
        let err = decode_rows(b"[[1],\n[2,3]]", &columns, &mut out, "page").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(matches!(err, crate::Error::Protocol { .. }), "{err}");
        let err = decode_rows(b"[[1],[2]", &columns, &mut out, "page").unwrap_err();
        assert!(matches!(err, crate::Error::Protocol { .. }), "{err}");
        // A value that does not fit its type is a decode error naming the type, value, context and position.
        let err = decode_rows(b"[[1],\n[5000000000]]", &columns, &mut out, "page 7").unwrap_err();
        match &err {
            crate::Error::Decode {
                trino_type,
                value,
                reason,
                context,
                position,
            } => {
                assert_eq!(trino_type, "integer");
                assert_eq!(value, "5000000000");
                assert_eq!(reason, "out of range");
                assert_eq!(context, "page 7");
                assert_eq!(position.map(|p| p.0), Some(2));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "cannot decode 5000000000 as integer in page 7 at line 2, column {}: out of range",
                match err {
                    crate::Error::Decode { position, .. } => position.unwrap().1,
                    _ => unreachable!(),
                }
            )
        );
        // The failure is not remembered: a later malformed document is a protocol error again.
        let err = decode_rows(b"[[1],[2]", &columns, &mut out, "page").unwrap_err();
        assert!(matches!(err, crate::Error::Protocol { .. }), "{err}");
        let mut sink = |_rows: Vec<Row>| true;
        let err =
            decode_rows_batched(b"[[1],[\"x\"]]", &columns, 1, &mut sink, "segment").unwrap_err();
        assert!(
            matches!(&err, crate::Error::Decode { value, .. } if value == "\"x\""),
            "{err}"
        );
    }

    #[test]
    fn rows_deserialize_into_user_structs() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Point {
            x: i32,
            y: i32,
        }
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct R {
            a: Point,
            b: i64,
        }
        let rows = sample_rows("rust-client__types__row.json");
        let r: R = rows[0].deserialize().unwrap();
        assert_eq!(
            r,
            R {
                a: Point { x: 1, y: 1 },
                b: 5
            }
        );
        let t: ((i32, i32), u8) = rows[0].deserialize().unwrap();
        assert_eq!(t, ((1, 1), 5));

        #[derive(serde::Deserialize, Debug)]
        struct Order {
            id: i32,
            fee: f64,
            memo: String,
            pay_time: chrono::NaiveDateTime,
            dt: chrono::NaiveDate,
            package_order: Option<String>,
        }
        let rows = sample_rows("rust-client__models__query_result_running.json");
        let o: Order = rows[0].deserialize().unwrap();
        assert_eq!(o.id, 34);
        assert_eq!(o.fee, 1000.0);
        assert_eq!(o.memo, "asdfljalskdfjlk");
        assert_eq!(o.pay_time.to_string(), "2015-10-06 22:04:00");
        assert_eq!(o.dt.to_string(), "2020-05-31");
        assert_eq!(o.package_order.as_deref(), Some(""));

        #[derive(serde::Deserialize, Debug)]
        struct Opt {
            #[allow(dead_code)]
            a: String,
            b: Option<String>,
        }
        let rows = sample_rows("rust-client__types__option.json");
        let all: Vec<Opt> = rows.iter().map(|r| r.deserialize().unwrap()).collect();
        assert_eq!(all[0].b, None);
        assert_eq!(all[1].b.as_deref(), Some("Some(b)"));

        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Wrong {
            a: i64,
        }
        let err = rows[0].deserialize::<Wrong>().unwrap_err();
        assert!(err.to_string().contains("field a"), "{err}");
        let _ = QueryResults::query_data; // keep the import used in this module's tests
    }

    #[test]
    fn json_objects_key_rows_by_field_name() {
        let rows = sample_rows("rust-client__types__row.json");
        let obj = serde_json::Value::Object(rows[0].to_json_object());
        assert_eq!(obj, serde_json::json!({"a": {"x": 1, "y": 1}, "b": 5}));
        let ordered = serde_json::to_string(&rows[0].json_object()).unwrap();
        assert_eq!(ordered, r#"{"a":{"x":1,"y":1},"b":5}"#);
    }
}
#[cfg(test)]
mod size_tests {
    /// Rows hold millions of values: keep the enum at four words (large variants are boxed).
    #[test]
    fn value_stays_small() {
        assert!(
            size_of::<super::Value>() <= 32,
            "{}",
            size_of::<super::Value>()
        );
    }
}
