//! Arrow columns in ClickHouse: column types, and rows to and from the `RowBinary` format.
//!
//! The mapping keeps every value exact, and keeps to types ClickHouse 18.16 already has:
//!
//! | Arrow | ClickHouse |
//! |---|---|
//! | `Utf8` | `String` |
//! | `Int8`, `Int64`, `UInt16`, `UInt32`, `UInt64`, `Float64` | the same width |
//! | `Boolean` | `UInt8` (0 or 1) |
//! | `Timestamp(Millisecond, _)` | `Int64`, ms since 1970-01-01T00:00:00Z |
//! | nullable `T` | `Nullable(T)` |
//!
//! Timestamps stay integers because 18.16 has no `DateTime64`, and `DateTime` would drop the
//! milliseconds; `toDateTime(intDiv(hour, 1000))` turns one into a date-time in SQL.
//!
//! `RowBinary` (ClickHouse docs, "Formats: RowBinary") is each row's values in column order:
//! integers and floats little-endian, a string as its LEB128 length then its bytes, and a
//! nullable value as one byte (1 = NULL, 0 = a value follows) then the value.

use crate::{Error, Result};
use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int8Array,
    Int8Builder, Int64Array, Int64Builder, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder, UInt16Array, UInt16Builder, UInt32Array, UInt32Builder,
    UInt64Array, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

fn unsupported(field: &Field) -> Error {
    Error::ClickHouse {
        detail: format!(
            "column {} has Arrow type {} with no ClickHouse mapping",
            field.name(),
            field.data_type()
        ),
        transient: false,
    }
}

fn malformed(detail: impl Into<String>) -> Error {
    Error::ClickHouse {
        detail: format!("malformed RowBinary from the server: {}", detail.into()),
        transient: false,
    }
}

/// The ClickHouse type of an Arrow field, e.g. `Nullable(UInt32)`.
///
/// Errors: [`Error::ClickHouse`] for an Arrow type outside the table above (ours).
pub fn column_type(field: &Field) -> Result<String> {
    let base = match field.data_type() {
        DataType::Utf8 => "String",
        DataType::Int8 => "Int8",
        DataType::Int64 => "Int64",
        DataType::UInt16 => "UInt16",
        DataType::UInt32 => "UInt32",
        DataType::UInt64 => "UInt64",
        DataType::Float64 => "Float64",
        DataType::Boolean => "UInt8",
        DataType::Timestamp(TimeUnit::Millisecond, _) => "Int64",
        _ => return Err(unsupported(field)),
    };
    Ok(if field.is_nullable() {
        format!("Nullable({base})")
    } else {
        base.to_owned()
    })
}

enum Column<'a> {
    Str(&'a StringArray),
    I8(&'a Int8Array),
    I64(&'a Int64Array),
    U16(&'a UInt16Array),
    U32(&'a UInt32Array),
    U64(&'a UInt64Array),
    F64(&'a Float64Array),
    Bool(&'a BooleanArray),
    Ts(&'a TimestampMillisecondArray),
}

/// Writes the rows of a record batch as `RowBinary`, one row at a time.
pub struct Encoder<'a> {
    columns: Vec<(Column<'a>, &'a dyn Array, bool)>,
}

fn downcast<'a, T: 'static>(array: &'a ArrayRef, field: &Field) -> Result<&'a T> {
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| unsupported(field))
}

impl<'a> Encoder<'a> {
    /// An encoder over `batch`'s columns.
    ///
    /// Errors: [`Error::ClickHouse`] for a column type [`column_type`] does not map.
    pub fn new(batch: &'a RecordBatch) -> Result<Self> {
        let schema = batch.schema_ref();
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (array, field) in batch.columns().iter().zip(schema.fields()) {
            let column = match field.data_type() {
                DataType::Utf8 => Column::Str(downcast(array, field)?),
                DataType::Int8 => Column::I8(downcast(array, field)?),
                DataType::Int64 => Column::I64(downcast(array, field)?),
                DataType::UInt16 => Column::U16(downcast(array, field)?),
                DataType::UInt32 => Column::U32(downcast(array, field)?),
                DataType::UInt64 => Column::U64(downcast(array, field)?),
                DataType::Float64 => Column::F64(downcast(array, field)?),
                DataType::Boolean => Column::Bool(downcast(array, field)?),
                DataType::Timestamp(TimeUnit::Millisecond, _) => {
                    Column::Ts(downcast(array, field)?)
                }
                _ => return Err(unsupported(field)),
            };
            columns.push((column, array.as_ref(), field.is_nullable()));
        }
        Ok(Encoder { columns })
    }

    /// Appends row `i` to `out`.
    pub fn write_row(&self, i: usize, out: &mut Vec<u8>) {
        for (column, array, nullable) in &self.columns {
            if *nullable {
                if array.is_null(i) {
                    out.push(1);
                    continue;
                }
                out.push(0);
            }
            match column {
                Column::Str(a) => write_str(a.value(i), out),
                Column::I8(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
                Column::I64(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
                Column::U16(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
                Column::U32(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
                Column::U64(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
                Column::F64(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
                Column::Bool(a) => out.push(u8::from(a.value(i))),
                Column::Ts(a) => out.extend_from_slice(&a.value(i).to_le_bytes()),
            }
        }
    }
}

/// Appends a `String` value: LEB128 length, then the bytes.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    write_bytes(s.as_bytes(), out);
}

/// Appends a `String` value holding arbitrary bytes.
pub fn write_bytes(b: &[u8], out: &mut Vec<u8>) {
    let mut n = b.len() as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(b);
}

enum Builder {
    Str(StringBuilder),
    I8(Int8Builder),
    I64(Int64Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMillisecondBuilder, Option<Arc<str>>),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| malformed(format!("truncated at byte {}", self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len(&mut self) -> Result<usize> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let [b] = self.fixed::<1>()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n).map_err(|_| malformed("string length"));
            }
        }
        Err(malformed("string length over 64 bits"))
    }

    fn string(&mut self) -> Result<&str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).map_err(|_| malformed("a String is not UTF-8"))
    }
}

/// Reads `RowBinary` rows of `schema` (as the server sends them for a `SELECT` of exactly
/// those columns, in order, `FORMAT RowBinary`) into one record batch.
///
/// Errors: [`Error::ClickHouse`] if the bytes end mid-row or a string is not UTF-8 (the
/// query's columns do not match `schema`), or `schema` has a type [`column_type`] does not map.
pub fn decode(bytes: &[u8], schema: SchemaRef) -> Result<RecordBatch> {
    let mut builders = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        builders.push(match field.data_type() {
            DataType::Utf8 => Builder::Str(StringBuilder::new()),
            DataType::Int8 => Builder::I8(Int8Builder::new()),
            DataType::Int64 => Builder::I64(Int64Builder::new()),
            DataType::UInt16 => Builder::U16(UInt16Builder::new()),
            DataType::UInt32 => Builder::U32(UInt32Builder::new()),
            DataType::UInt64 => Builder::U64(UInt64Builder::new()),
            DataType::Float64 => Builder::F64(Float64Builder::new()),
            DataType::Boolean => Builder::Bool(BooleanBuilder::new()),
            DataType::Timestamp(TimeUnit::Millisecond, tz) => {
                Builder::Ts(TimestampMillisecondBuilder::new(), tz.clone())
            }
            _ => return Err(unsupported(field)),
        });
    }
    let mut r = Reader { bytes, at: 0 };
    while r.at < bytes.len() {
        for (builder, field) in builders.iter_mut().zip(schema.fields()) {
            let null = field.is_nullable() && r.fixed::<1>()?[0] != 0;
            match builder {
                Builder::Str(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(r.string()?),
                },
                Builder::I8(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(i8::from_le_bytes(r.fixed()?)),
                },
                Builder::I64(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(i64::from_le_bytes(r.fixed()?)),
                },
                Builder::U16(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(u16::from_le_bytes(r.fixed()?)),
                },
                Builder::U32(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(u32::from_le_bytes(r.fixed()?)),
                },
                Builder::U64(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(u64::from_le_bytes(r.fixed()?)),
                },
                Builder::F64(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(f64::from_le_bytes(r.fixed()?)),
                },
                Builder::Bool(b) => match null {
                    true => b.append_null(),
                    false => b.append_value(r.fixed::<1>()?[0] != 0),
                },
                Builder::Ts(b, _) => match null {
                    true => b.append_null(),
                    false => b.append_value(i64::from_le_bytes(r.fixed()?)),
                },
            }
        }
    }
    let columns: Vec<ArrayRef> = builders
        .into_iter()
        .map(|b| -> ArrayRef {
            match b {
                Builder::Str(mut b) => Arc::new(b.finish()),
                Builder::I8(mut b) => Arc::new(b.finish()),
                Builder::I64(mut b) => Arc::new(b.finish()),
                Builder::U16(mut b) => Arc::new(b.finish()),
                Builder::U32(mut b) => Arc::new(b.finish()),
                Builder::U64(mut b) => Arc::new(b.finish()),
                Builder::F64(mut b) => Arc::new(b.finish()),
                Builder::Bool(mut b) => Arc::new(b.finish()),
                Builder::Ts(mut b, tz) => Arc::new(b.finish().with_timezone_opt(tz)),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns)
        .map_err(|e| malformed(format!("rows do not fit the schema: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Schema;
    use proptest::prelude::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new("u", DataType::UInt32, true),
            Field::new("x", DataType::Float64, true),
            Field::new("b", DataType::Boolean, false),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
        ]))
    }

    proptest! {
        #[test]
        fn rows_round_trip(rows in proptest::collection::vec(
            (".{0,200}", any::<Option<i64>>(), any::<Option<u32>>(),
             any::<Option<f64>>().prop_filter("NaN is not equal to itself", |x| !x.is_some_and(f64::is_nan)),
             any::<bool>(), any::<i64>()), 0..40)
        ) {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str()))),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
                Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.2))),
                Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.3))),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.4)))),
                Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.5)).with_timezone("UTC")),
            ];
            let batch = RecordBatch::try_new(schema(), columns).expect("batch");
            let encoder = Encoder::new(&batch).expect("encoder");
            let mut bytes = Vec::new();
            for i in 0..batch.num_rows() {
                encoder.write_row(i, &mut bytes);
            }
            let back = decode(&bytes, schema()).expect("decode");
            prop_assert_eq!(back, batch);
            if !bytes.is_empty() {
                prop_assert!(decode(&bytes[..bytes.len() - 1], schema()).is_err());
            }
        }
    }

    #[test]
    fn types_follow_the_table() {
        let s = schema();
        let types: Vec<String> = s
            .fields()
            .iter()
            .map(|f| column_type(f).expect("mapped"))
            .collect();
        assert_eq!(
            types,
            [
                "String",
                "Nullable(Int64)",
                "Nullable(UInt32)",
                "Nullable(Float64)",
                "UInt8",
                "Int64"
            ]
        );
        let list = Field::new(
            "l",
            DataType::List(Arc::new(Field::new("i", DataType::Int64, true))),
            false,
        );
        assert!(column_type(&list).is_err());
    }

    #[test]
    fn long_strings_use_a_multi_byte_length() {
        let mut out = Vec::new();
        write_str(&"a".repeat(300), &mut out);
        assert_eq!(&out[..2], &[0xac, 0x02]);
        assert_eq!(out.len(), 302);
    }
}
