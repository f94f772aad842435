//! Printing query results: `table`, `json`, `csv` or `arrow` (IPC stream).

use anyhow::Context;
use arrow::record_batch::RecordBatch;
use std::io::Write;

/// Output formats of `wardstream sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// A JSON array of row objects.
    Json,
    /// CSV with a header row.
    Csv,
    /// An Arrow IPC stream (binary).
    Arrow,
}

/// Writes `batches` to `out` in `format`.
pub fn write(batches: &[RecordBatch], format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches(batches)
                .context("formatting the table")?;
            writeln!(out, "{table}")?;
        }
        Format::Json => {
            out.write_all(&wardstream_api::encode_json(batches)?)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(Vec::new());
            for b in batches {
                writer.write(b)?;
            }
            out.write_all(&writer.into_inner())?;
        }
        Format::Arrow => {
            out.write_all(&wardstream_api::encode_ipc(batches)?)?;
        }
    }
    Ok(())
}

/// Reads an Arrow IPC stream.
pub fn read_ipc(bytes: &[u8]) -> anyhow::Result<Vec<RecordBatch>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let reader = arrow::ipc::reader::StreamReader::try_new(bytes, None)?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}
