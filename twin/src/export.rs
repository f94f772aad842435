//! Results as Arrow record batches, written as Arrow IPC, Parquet or CSV.
//!
//! Two tables: **summary** (one row per KPI: mean and 95% interval) and **replications**
//! (one row per KPI per replication, for one's own analysis). For a comparison the summary
//! has one row per KPI with `a`, `b` and the paired difference.
use crate::replication::{Comparison, RunResult};
use crate::{Error, Result};
use arrow::array::{ArrayRef, Float64Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// File format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Arrow IPC file (`.arrow`).
    Arrow,
    /// Apache Parquet (`.parquet`), Snappy-compressed.
    Parquet,
    /// CSV with a header (`.csv`).
    Csv,
}

impl Format {
    /// The format for a file name's extension (`arrow`/`ipc`/`feather`, `parquet`, `csv`).
    pub fn from_path(path: &Path) -> Result<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("arrow" | "ipc" | "feather") => Ok(Format::Arrow),
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            _ => Err(Error::Export(format!(
                "{}: use a .csv, .arrow or .parquet file name",
                path.display()
            ))),
        }
    }
}

fn strings(v: impl IntoIterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(v))
}

fn floats(v: impl IntoIterator<Item = f64>) -> ArrayRef {
    Arc::new(Float64Array::from_iter_values(v))
}

fn batch(fields: Vec<(&str, DataType, bool)>, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let schema = Schema::new(
        fields
            .into_iter()
            .map(|(n, t, null)| Field::new(n, t, null))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| Error::Export(e.to_string()))
}

/// Summary of a run: `scenario, kpi, unit, measure, mean, lower, upper, half_width,
/// replications`.
pub fn summary(result: &RunResult) -> Result<RecordBatch> {
    let k = &result.kpis;
    batch(
        vec![
            ("scenario", DataType::Utf8, false),
            ("kpi", DataType::Utf8, false),
            ("unit", DataType::Utf8, true),
            ("measure", DataType::Utf8, false),
            ("mean", DataType::Float64, false),
            ("lower", DataType::Float64, false),
            ("upper", DataType::Float64, false),
            ("half_width", DataType::Float64, false),
            ("replications", DataType::UInt64, false),
        ],
        vec![
            strings(k.iter().map(|_| Some(result.scenario.clone()))),
            strings(k.iter().map(|x| Some(x.name.clone()))),
            strings(k.iter().map(|x| x.unit.clone())),
            strings(k.iter().map(|x| Some(x.measure.to_owned()))),
            floats(k.iter().map(|x| x.ci.mean)),
            floats(k.iter().map(|x| x.ci.lower)),
            floats(k.iter().map(|x| x.ci.upper)),
            floats(k.iter().map(|x| x.ci.half_width)),
            Arc::new(UInt64Array::from_iter_values(
                k.iter().map(|x| x.ci.n as u64),
            )),
        ],
    )
}

/// Every KPI value of every replication: `scenario, kpi, unit, replication, value`.
pub fn replications(result: &RunResult) -> Result<RecordBatch> {
    let rows: Vec<(&str, Option<&str>, u64, f64)> = result
        .kpis
        .iter()
        .flat_map(|k| {
            k.values
                .iter()
                .enumerate()
                .map(move |(r, v)| (k.name.as_str(), k.unit.as_deref(), r as u64, *v))
        })
        .collect();
    batch(
        vec![
            ("scenario", DataType::Utf8, false),
            ("kpi", DataType::Utf8, false),
            ("unit", DataType::Utf8, true),
            ("replication", DataType::UInt64, false),
            ("value", DataType::Float64, false),
        ],
        vec![
            strings(rows.iter().map(|_| Some(result.scenario.clone()))),
            strings(rows.iter().map(|r| Some(r.0.to_owned()))),
            strings(rows.iter().map(|r| r.1.map(str::to_owned))),
            Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.2))),
            floats(rows.iter().map(|r| r.3)),
        ],
    )
}

/// Paired differences of a comparison: `kpi, unit, measure, a, b, difference, lower, upper,
/// variance`.
pub fn differences(c: &Comparison) -> Result<RecordBatch> {
    let d = &c.differences;
    batch(
        vec![
            ("kpi", DataType::Utf8, false),
            ("unit", DataType::Utf8, true),
            ("measure", DataType::Utf8, false),
            ("a", DataType::Float64, false),
            ("b", DataType::Float64, false),
            ("difference", DataType::Float64, false),
            ("lower", DataType::Float64, false),
            ("upper", DataType::Float64, false),
            ("variance", DataType::Float64, false),
        ],
        vec![
            strings(d.iter().map(|x| Some(x.name.clone()))),
            strings(d.iter().map(|x| x.unit.clone())),
            strings(d.iter().map(|x| Some(x.measure.to_owned()))),
            floats(d.iter().map(|x| x.a)),
            floats(d.iter().map(|x| x.b)),
            floats(d.iter().map(|x| x.difference.mean)),
            floats(d.iter().map(|x| x.difference.lower)),
            floats(d.iter().map(|x| x.difference.upper)),
            floats(d.iter().map(|x| x.variance)),
        ],
    )
}

/// Writes `batch` to `path` in the format its extension names.
///
/// Errors: [`Error::Export`] for an unknown extension or a writer error, [`Error::Io`] when
/// the file cannot be created.
pub fn write(batch: &RecordBatch, path: &Path) -> Result<()> {
    let format = Format::from_path(path)?;
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let err = |e: &dyn std::fmt::Display| Error::Export(format!("{}: {e}", path.display()));
    match format {
        Format::Arrow => {
            let mut w = arrow::ipc::writer::FileWriter::try_new(file, &batch.schema())
                .map_err(|e| err(&e))?;
            w.write(batch).map_err(|e| err(&e))?;
            w.finish().map_err(|e| err(&e))?;
        }
        Format::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::SNAPPY)
                .build();
            let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(props))
                .map_err(|e| err(&e))?;
            w.write(batch).map_err(|e| err(&e))?;
            w.close().map_err(|e| err(&e))?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(file);
            w.write(batch).map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
