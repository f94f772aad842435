//! A CSV table (gzipped or plain) read record by record, and the tally of what its rows became.
//!
//! [`Table`] streams a file through `flate2`'s gzip decoder into `csv::Reader` (a real CSV
//! parser: quoted fields may hold commas and newlines), reusing one [`ByteRecord`] per file.
//! Rows are read as bytes and fields decoded one by one, so a bad byte or a short row is a
//! per-row problem (a dead letter), never a failed file. [`Tally`] validates the events a mapper
//! builds, keeps raw bytes only for dead letters, and counts rows, events, dead letters and
//! skipped rows into a [`FileSummary`].

use super::FileSummary;
use crate::error::{Error, Result};
use crate::source::SourceRecord;
use csv::ByteRecord;
use flate2::read::MultiGzDecoder;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use wardstream_schemas::time::{MAX_EVENT_TIME, MIN_EVENT_TIME};
use wardstream_schemas::{Event, Millis, Reject, RejectReason, Stream};

/// One CSV file being read, with its header.
pub(crate) struct Table {
    path: PathBuf,
    file: String,
    reader: csv::Reader<Box<dyn Read>>,
    headers: ByteRecord,
    count: u64,
}

impl Table {
    /// Opens `data_dir/file` (`file` like `eicu-demo/patient.csv.gz`; `.gz` is decompressed,
    /// several gzip members are read as one stream) and reads its header.
    ///
    /// Errors: [`Error::DataSet`] if the file does not exist or has no header; [`Error::Io`] if it
    /// cannot be read.
    pub(crate) fn open(data_dir: &Path, file: &str) -> Result<Table> {
        let path = data_dir.join(file);
        let f = File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::DataSet {
                    path: path.clone(),
                    detail: "file not found".into(),
                }
            } else {
                Error::io(&path, e)
            }
        })?;
        let input: Box<dyn Read> = if file.ends_with(".gz") {
            Box::new(MultiGzDecoder::new(BufReader::new(f)))
        } else {
            Box::new(f)
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(input);
        let headers = reader
            .byte_headers()
            .map_err(|e| csv_error(&path, e))?
            .clone();
        if headers.iter().all(<[u8]>::is_empty) {
            return Err(Error::DataSet {
                path,
                detail: "no header row".into(),
            });
        }
        Ok(Table {
            path,
            file: file.to_owned(),
            reader,
            headers,
            count: 0,
        })
    }

    /// The file's name relative to the data directory (the prefix of every origin).
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    /// The positions of the named columns. Errors: [`Error::DataSet`] naming a missing column.
    pub(crate) fn columns<const N: usize>(&self, names: [&str; N]) -> Result<[usize; N]> {
        let mut out = [0; N];
        for (slot, name) in out.iter_mut().zip(names) {
            *slot = self
                .headers
                .iter()
                .position(|h| h == name.as_bytes())
                .ok_or_else(|| Error::DataSet {
                    path: self.path.clone(),
                    detail: format!("no column {name:?}"),
                })?;
        }
        Ok(out)
    }

    /// Reads the next record into `rec`; returns its 1-based data record number, or `None` at
    /// the end. Errors: [`Error::Io`] when the file cannot be read or decompressed.
    pub(crate) fn next(&mut self, rec: &mut ByteRecord) -> Result<Option<u64>> {
        match self.reader.read_byte_record(rec) {
            Ok(true) => {
                self.count += 1;
                Ok(Some(self.count))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(csv_error(&self.path, e)),
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::DataSet {
            path: path.to_path_buf(),
            detail: format!("CSV error: {other:?}"),
        },
    }
}

/// Field `i` of `rec` as text with surrounding whitespace trimmed; `None` when the row is too
/// short or the field is not UTF-8.
pub(crate) fn field(rec: &ByteRecord, i: usize) -> Option<&str> {
    rec.get(i)
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(str::trim)
}

/// Field `i` as text, `""` when missing or not UTF-8.
pub(crate) fn text(rec: &ByteRecord, i: usize) -> &str {
    field(rec, i).unwrap_or("")
}

/// The record as CSV bytes again: fields joined with commas, quoted (with doubled quotes) when
/// they hold a comma, quote or line break. No trailing newline.
pub(crate) fn raw_row(rec: &ByteRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(rec.as_slice().len() + rec.len() + 8);
    for (i, f) in rec.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if f.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            out.push(b'"');
            for &b in f {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(f);
        }
    }
    out
}

/// What the rows of one file became: records pushed to the replay's output, and counts.
pub(crate) struct Tally<'a> {
    out: &'a mut Vec<SourceRecord>,
    file: String,
    rows: u64,
    events: u64,
    rejected: BTreeMap<RejectReason, u64>,
    skipped: BTreeMap<&'static str, u64>,
    last_time: Millis,
}

impl<'a> Tally<'a> {
    /// A tally for `file` (the origin prefix) appending to `out`.
    pub(crate) fn new(file: &str, out: &'a mut Vec<SourceRecord>) -> Self {
        Tally {
            out,
            file: file.to_owned(),
            rows: 0,
            events: 0,
            rejected: BTreeMap::new(),
            skipped: BTreeMap::new(),
            last_time: 0,
        }
    }

    /// Counts one data record read.
    pub(crate) fn row(&mut self) {
        self.rows += 1;
    }

    /// Counts one row (or cell) that is not an event, under `why`.
    pub(crate) fn skip(&mut self, why: &'static str) {
        *self.skipped.entry(why).or_insert(0) += 1;
    }

    /// Validates a mapped event with [`SourceRecord::checked`]; a failure becomes a dead letter
    /// carrying the raw row `rec` from record `n`.
    pub(crate) fn check(&mut self, event: Event, n: u64, rec: &ByteRecord) {
        self.check_then(event, None, n, rec);
    }

    /// As [`Tally::check`], and a valid event is still rejected with `after` when given (used for
    /// codes without a price: the schemas' shape checks come first, then pricing).
    pub(crate) fn check_then(
        &mut self,
        event: Event,
        after: Option<Reject>,
        n: u64,
        rec: &ByteRecord,
    ) {
        let time = event.event_time();
        let stream = event.stream();
        let file = &self.file;
        match SourceRecord::checked(event, || format!("{file}:{n}"), &[], time) {
            SourceRecord::Event(e) => match after {
                None => {
                    self.events += 1;
                    self.last_time = time;
                    self.out.push(SourceRecord::Event(e));
                }
                Some(reject) => self.reject(stream, reject, n, rec, Some(time)),
            },
            SourceRecord::Rejected(mut r) => {
                r.raw = raw_row(rec);
                if !(MIN_EVENT_TIME..MAX_EVENT_TIME).contains(&time) {
                    r.order_time = self.last_time;
                }
                *self.rejected.entry(r.reject.reason).or_insert(0) += 1;
                self.out.push(SourceRecord::Rejected(r));
            }
        }
    }

    /// A dead letter for row `rec` (record `n`); ordered at `time`, or after the previous good
    /// event of this file when the row has no usable time.
    pub(crate) fn reject(
        &mut self,
        stream: Stream,
        reject: Reject,
        n: u64,
        rec: &ByteRecord,
        time: Option<Millis>,
    ) {
        *self.rejected.entry(reject.reason).or_insert(0) += 1;
        let origin = format!("{}:{n}", self.file);
        self.out.push(SourceRecord::rejected(
            stream,
            origin,
            raw_row(rec),
            reject,
            time.unwrap_or(self.last_time),
        ));
    }

    /// A `malformed` dead letter: a field could not be read. `detail` names the field, never
    /// its patient-identifying value.
    pub(crate) fn malformed(
        &mut self,
        stream: Stream,
        detail: impl Into<String>,
        n: u64,
        rec: &ByteRecord,
    ) {
        self.reject(
            stream,
            Reject::new(RejectReason::Malformed, detail),
            n,
            rec,
            None,
        );
    }

    /// The file's summary.
    pub(crate) fn finish(self) -> FileSummary {
        FileSummary {
            file: self.file,
            rows: self.rows,
            events: self.events,
            rejected: self.rejected,
            skipped: self
                .skipped
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_rows_requote_fields() {
        let rec = ByteRecord::from(vec!["1", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(
            raw_row(&rec),
            b"1,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",".to_vec()
        );
        assert_eq!(field(&rec, 0), Some("1"));
        assert_eq!(field(&rec, 9), None);
    }

    #[test]
    fn missing_files_and_columns_are_data_set_errors() {
        let data = super::super::test_data_dir();
        assert!(matches!(
            Table::open(&data, "eicu-demo/nope.csv.gz"),
            Err(Error::DataSet { .. })
        ));
        let t = Table::open(&data, "eicu-demo/hospital.csv.gz").expect("hospital table");
        assert_eq!(
            t.columns(["region", "hospitalid"]).expect("columns"),
            [3, 0]
        );
        match t.columns(["hospitalid", "beds"]) {
            Err(Error::DataSet { detail, .. }) => assert!(detail.contains("beds")),
            other => panic!("expected a data-set error, got {:?}", other.map(|_| ())),
        }
    }
}
