//! Recorded event streams: NDJSON files of our JSON events and FHIR R4 Observations.
//!
//! A path is one file, or a folder whose `*.ndjson` / `*.jsonl` files (and gzipped `*.ndjson.gz`
//! / `*.jsonl.gz`) are read in file-name order; other files in the folder are ignored, and a
//! folder with none is [`Error::DataSet`]. A name ending in `.gz` is decompressed.
//!
//! Every non-empty line is decoded and validated with [`Event::decode`] (our events tagged by
//! `"type"`, or FHIR Observations). A line that fails is a dead letter with:
//! - its bytes as read (without the line break), its reason, and origin `<file name>:<line>`
//!   (1-based line number, empty lines counted);
//! - `stream`: [`guess_stream`] from its `"type"` tag; when that cannot tell (not JSON, no
//!   tag), the stream of the previous good line of the same file, since recorded files are
//!   usually one stream each; else `adt`. The reason code is kept either way, so `malformed` and
//!   `unknown_event_type` counts stay exact; only which stream they are counted under is a guess;
//! - `order_time`: the line's own `event_time` if it parses and is valid (an event that failed
//!   a later rule, e.g. heart rate 400 /min), else the time of the previous good line of the
//!   same file (0 if none), so a replay reports it where it was recorded.
//!
//! Empty (whitespace-only) lines are skipped (`empty line`). Each file's summary counts every
//! line as a row: `rows = events + rejected + skipped`.

use super::{FileSummary, Replay};
use crate::error::{Error, Result};
use crate::source::{SourceRecord, sort_by_event_time};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use wardstream_schemas::time::{MAX_EVENT_TIME, MIN_EVENT_TIME};
use wardstream_schemas::{Event, Millis, Stream, fhir, guess_stream};

/// Whether a file name is one [`load_ndjson`] reads from a folder.
pub fn is_ndjson_name(name: &str) -> bool {
    let base = name.strip_suffix(".gz").unwrap_or(name);
    base.ends_with(".ndjson") || base.ends_with(".jsonl")
}

/// Reads recorded events from an NDJSON file, or from the `*.ndjson` / `*.jsonl` files (plain
/// or `.gz`) of a folder in name order, sorted by event time.
///
/// Errors: [`Error::Io`] when the path or a file cannot be read; [`Error::DataSet`] for a folder
/// without NDJSON files. Bad lines are dead letters, never errors.
pub fn load_ndjson(path: &Path) -> Result<Replay> {
    let files = if path.is_dir() {
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_ndjson_name(&name) && entry.path().is_file() {
                files.push((name, entry.path()));
            }
        }
        if files.is_empty() {
            return Err(Error::DataSet {
                path: path.to_path_buf(),
                detail: "no *.ndjson or *.jsonl files".into(),
            });
        }
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    } else {
        vec![path.to_path_buf()]
    };
    let mut replay = Replay::default();
    for file in &files {
        let summary = read_file(file, &mut replay.records)?;
        replay.files.push(summary);
    }
    sort_by_event_time(&mut replay.records);
    Ok(replay)
}

fn read_file(path: &Path, out: &mut Vec<SourceRecord>) -> Result<FileSummary> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader: Box<dyn BufRead> = if name.ends_with(".gz") {
        Box::new(BufReader::with_capacity(
            1 << 16,
            MultiGzDecoder::new(BufReader::new(file)),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let mut summary = FileSummary {
        file: name,
        ..FileSummary::default()
    };
    let mut buf = Vec::new();
    let mut last_time: Millis = 0;
    let mut last_stream: Option<Stream> = None;
    loop {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, e))?
            == 0
        {
            break;
        }
        summary.rows += 1;
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() {
            *summary.skipped.entry("empty line".to_owned()).or_insert(0) += 1;
            continue;
        }
        match Event::decode(line) {
            Ok(event) => {
                last_time = event.event_time();
                last_stream = Some(event.stream());
                summary.events += 1;
                out.push(SourceRecord::Event(event));
            }
            Err(reject) => {
                let stream = guess_stream(line).or(last_stream).unwrap_or(Stream::Adt);
                let order_time = own_time(line).unwrap_or(last_time);
                *summary.rejected.entry(reject.reason).or_insert(0) += 1;
                let origin = format!("{}:{}", summary.file, summary.rows);
                out.push(SourceRecord::rejected(
                    stream, origin, line, reject, order_time,
                ));
            }
        }
    }
    Ok(summary)
}

/// The event time of a line that decoded but failed validation, when valid (only called for
/// rejected lines, so the second parse costs nothing on good input).
fn own_time(line: &[u8]) -> Option<Millis> {
    let time = match serde_json::from_slice::<Event>(line) {
        Ok(event) => event.event_time(),
        Err(_) => fhir::observation_from_json(line).ok()?.event_time,
    };
    Some(time).filter(|t| (MIN_EVENT_TIME..MAX_EVENT_TIME).contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{ReplayOptions, load_path};
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::collections::BTreeMap;
    use std::io::Write;
    use wardstream_schemas::RejectReason;
    use wardstream_schemas::time::parse_rfc3339;

    /// A fresh folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!(
                "wardstream-replay-{tag}-{}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const HR: &str = r#"{"type":"vital_sign","event_id":"ID","tenant_id":"general","event_time":"TIME","patient_id":"p1","encounter_id":"e1","code":"8867-4","value":VALUE,"unit":"/min"}"#;

    fn hr(id: &str, time: &str, value: &str) -> String {
        HR.replace("ID", id)
            .replace("TIME", time)
            .replace("VALUE", value)
    }

    #[test]
    fn fixture_folder() {
        let dir = TempDir::new("ndjson");
        let adt = r#"{"type":"adt","event_id":"a1","tenant_id":"general","event_time":"2026-11-21T07:00:00Z","kind":"admit","patient_id":"p1","encounter_id":"e1","care_unit":"ICU"}"#;
        let day = [
            hr("v1", "2026-11-21T08:00:00Z", "72"),
            adt.to_owned(),
            String::new(),
            "{not json at all".to_owned(),
            hr("v2", "2026-11-21T09:00:00Z", "400"),
            "   ".to_owned(),
            r#"{"type":"lab","event_id":"l1"}"#.to_owned(),
            hr("v3", "2026-11-21T10:00:00Z", "80"),
        ]
        .join("\r\n");
        std::fs::write(dir.0.join("a-day.ndjson"), day + "\n").expect("write");
        let appt = r#"{"type":"appointment","event_id":"ap1","tenant_id":"vitoria","event_time":"2016-04-29T18:38:08Z","status":"booked","appointment_id":"1","patient_id":"p","clinic":"CENTRO","scheduled_start":"2016-04-29T00:00:00Z","booked_at":"2016-04-29T18:38:08Z","patient_age":62}"#;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        writeln!(gz, "{appt}\n{}", hr("v0", "2026-11-21T06:00:00Z", "60")).expect("gzip");
        std::fs::write(dir.0.join("b.jsonl.gz"), gz.finish().expect("gzip")).expect("write");
        std::fs::write(dir.0.join("notes.txt"), "not read").expect("write");

        let replay = load_path(&dir.0, &ReplayOptions::default()).expect("replay");
        assert_eq!(replay.files.len(), 2);
        let a = &replay.files[0];
        assert_eq!((a.file.as_str(), a.rows, a.events), ("a-day.ndjson", 8, 3));
        assert_eq!(a.skipped, BTreeMap::from([("empty line".to_owned(), 2)]));
        assert_eq!(
            a.rejected,
            BTreeMap::from([
                (RejectReason::Malformed, 1),
                (RejectReason::ValueOutOfRange, 1),
                (RejectReason::UnknownEventType, 1)
            ])
        );
        let b = &replay.files[1];
        assert_eq!(
            (b.file.as_str(), b.rows, b.events, b.rejected_total()),
            ("b.jsonl.gz", 2, 2, 0)
        );

        let rejected: Vec<_> = replay
            .records
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Rejected(r) => Some(r),
                SourceRecord::Event(_) => None,
            })
            .collect();
        let t = |s: &str| parse_rfc3339(s).expect("time");
        // The malformed line: raw bytes kept (no CR/LF), stream of the line before it (ADT),
        // ordered at that line's time.
        let malformed = rejected
            .iter()
            .find(|r| r.reject.reason == RejectReason::Malformed)
            .expect("malformed line");
        assert_eq!(
            (malformed.raw.as_slice(), malformed.origin.as_str()),
            (&b"{not json at all"[..], "a-day.ndjson:4")
        );
        assert_eq!(
            (malformed.stream, malformed.order_time),
            (Stream::Adt, t("2026-11-21T07:00:00Z"))
        );
        // The impossible heart rate: its own stream and time.
        let hr400 = rejected
            .iter()
            .find(|r| r.reject.reason == RejectReason::ValueOutOfRange)
            .expect("HR 400");
        assert_eq!(
            (hr400.stream, hr400.order_time, hr400.origin.as_str()),
            (Stream::Vitals, t("2026-11-21T09:00:00Z"), "a-day.ndjson:5")
        );
        assert_eq!(
            hr400.raw,
            hr("v2", "2026-11-21T09:00:00Z", "400").into_bytes()
        );
        // The unknown type: no guessable stream, so the previous good line's (ADT), and its time.
        let lab = rejected
            .iter()
            .find(|r| r.reject.reason == RejectReason::UnknownEventType)
            .expect("lab line");
        assert_eq!(
            (lab.stream, lab.order_time, lab.origin.as_str()),
            (Stream::Adt, t("2026-11-21T07:00:00Z"), "a-day.ndjson:7")
        );

        // Sorted by order time across files: the 2016 appointment first, then v0 at 06:00.
        assert!(
            replay
                .records
                .windows(2)
                .all(|w| w[0].order_time() <= w[1].order_time())
        );
        assert_eq!(replay.records[0].stream(), Stream::Appointments);
        assert!(matches!(&replay.records[1], SourceRecord::Event(e) if e.event_id() == "v0"));

        // One file alone, and a folder without NDJSON.
        let single = load_ndjson(&dir.0.join("b.jsonl.gz")).expect("one file");
        assert_eq!(single.records.len(), 2);
        let empty = TempDir::new("ndjson-empty");
        assert!(matches!(load_ndjson(&empty.0), Err(Error::DataSet { .. })));
        assert!(matches!(
            load_ndjson(&empty.0.join("missing.ndjson")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn names() {
        for ok in ["a.ndjson", "a.jsonl", "a.ndjson.gz", "a.jsonl.gz"] {
            assert!(is_ndjson_name(ok), "{ok}");
        }
        for no in ["a.json", "a.gz", "a.ndjson.zst", "notes.txt"] {
            assert!(!is_ndjson_name(no), "{no}");
        }
    }
}
