//! Real-data replay: the public data sets in `../shared/data`, or recorded NDJSON, as one
//! event-time-ordered list of [`SourceRecord`]s.
//!
//! | data set | folder | tenant(s) | streams | module |
//! |---|---|---|---|---|
//! | MIMIC-IV Clinical Database Demo v2.2 | `mimic-iv-demo` | `mimic-iv-demo` | ADT, billing (MS-DRG, HCPCS) | [`mimic`] |
//! | PhysioNet/CinC Challenge 2012, set A | `physionet-2012-icu-vitals` | `physionet-2012` | vitals | [`physionet`] |
//! | eICU Collaborative Research Database Demo v2.0.1 | `eicu-demo` | `eicu-<hospitalid>` (186) | ADT, vitals | [`eicu`] |
//! | Kaggle "Medical Appointment No Shows" (Vitória, 2016) | `noshow-appointments` | `vitoria` | appointments | [`noshow`] |
//!
//! Charges are priced with two CMS tables beside the data sets (see [`pricing`]): MS-DRG v40
//! relative weights (`cms-ms-drg-weights/`) and the 2023 physician fee schedule
//! (`cms-pfs-rvu-2023/`). Recorded event streams (our own JSON events and FHIR Observations,
//! one per line) are read by [`load_ndjson`] (see [`ndjson`]).
//!
//! Each data-set module documents its mapping: which column becomes which event field, and why.
//!
//! ## What a replay keeps
//! - Every CSV row is read with a real CSV parser (MIMIC text fields contain newlines) straight
//!   from the gzip file, and becomes zero, one or two events. Rows that are not events (APR-DRGs,
//!   lab parameters, descriptor rows, empty cells) are counted in [`FileSummary::skipped`]
//!   by why; nothing is dropped silently.
//! - Every mapped event is validated by the schemas' own rules ([`SourceRecord::checked`]), so
//!   the schemas, not the mapper, decide what is a dead letter. A rejected event keeps the raw
//!   CSV row (re-joined with commas, quoted where needed) and its origin
//!   `folder/file.csv.gz:<n>`, where `<n>` is the 1-based data record number (the header is not
//!   counted; for files without embedded newlines it is the line number minus one). A row whose
//!   fields cannot be mapped at all (unparsable number or time, unknown reference) is one
//!   dead letter; a row whose mapped events fail validation is one dead letter per event.
//! - Valid events carry no raw bytes (memory).
//! - A dead letter's `order_time` is its event's time when that is known and valid
//!   (1900–2300), else the time of the previous good event of the same file (0 if none).
//! - All records are sorted by event time with [`crate::source::sort_by_event_time`] (stable:
//!   file order breaks ties, so an encounter's admit precedes its same-instant discharge).
//!
//! Nothing panics on input: a missing file or column is [`Error::DataSet`], an unreadable
//! (corrupt gzip) file is [`Error::Io`], and anything wrong inside a row is a dead letter.
//!
//! ## Timelines
//! MIMIC (dates shifted into 2110–2201), PhysioNet (minutes since ICU admission) and eICU (minute
//! offsets, no dates) have no usable calendar, so they are re-anchored on
//! [`ReplayOptions::anchor`] (default 2025-01-01) and spread over the following year, keeping
//! every within-stay interval. The no-show data keeps its real 2016 dates.
//!
//! ```no_run
//! use wardstream_pipelines::replay::{load_data_sets, DataSet, ReplayOptions};
//!
//! let opts = ReplayOptions { data_sets: vec![DataSet::Noshow], ..ReplayOptions::default() };
//! let replay = load_data_sets(&opts)?;
//! for file in &replay.files {
//!     let (name, rows, events) = (&file.file, file.rows, file.events);
//!     println!("{name}: {rows} rows -> {events} events, {:?} rejected", file.rejected);
//! }
//! # Ok::<(), wardstream_pipelines::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::source::{SourceRecord, sort_by_event_time};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wardstream_schemas::{Millis, RejectReason};

pub mod eicu;
pub mod mimic;
pub mod ndjson;
pub mod noshow;
mod observation;
pub mod physionet;
pub mod pricing;
mod table;

pub use ndjson::load_ndjson;

/// 2025-01-01T00:00:00Z, the default [`ReplayOptions::anchor`].
pub const DEFAULT_ANCHOR: Millis = 1_735_689_600_000;

/// USD cents paid per unit of MS-DRG relative weight, the default
/// [`ReplayOptions::drg_base_rate_minor`]: 6,375.74 USD, the FY 2023 IPPS national standardized
/// amount (labor + non-labor share, wage index 1.0) as used for a single national price.
pub const DEFAULT_DRG_BASE_RATE_MINOR: i64 = 637_574;

/// One of the four public data sets a replay can read.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum DataSet {
    /// MIMIC-IV Clinical Database Demo v2.2 (folder `mimic-iv-demo`): ADT and billing.
    MimicIvDemo,
    /// PhysioNet/CinC Challenge 2012 set A (folder `physionet-2012-icu-vitals`): ICU vitals.
    Physionet2012,
    /// eICU Collaborative Research Database Demo v2.0.1 (folder `eicu-demo`): ADT and vitals.
    EicuDemo,
    /// Kaggle "Medical Appointment No Shows" (folder `noshow-appointments`): appointments.
    Noshow,
}

impl DataSet {
    /// Every data set, in replay order.
    pub const ALL: [DataSet; 4] = [
        DataSet::MimicIvDemo,
        DataSet::Physionet2012,
        DataSet::EicuDemo,
        DataSet::Noshow,
    ];

    /// The data set's folder under the data directory, e.g. `eicu-demo`.
    pub fn folder(self) -> &'static str {
        match self {
            DataSet::MimicIvDemo => mimic::FOLDER,
            DataSet::Physionet2012 => physionet::FOLDER,
            DataSet::EicuDemo => eicu::FOLDER,
            DataSet::Noshow => noshow::FOLDER,
        }
    }
}

/// What to replay and how to place it in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayOptions {
    /// The folder holding the data-set folders and the CMS pricing tables
    /// (default `../shared/data`, relative to the working directory).
    pub data_dir: PathBuf,
    /// Where re-anchored timelines (MIMIC, PhysioNet, eICU) start, ms UTC; its UTC day is used
    /// where a rule places events on days (default [`DEFAULT_ANCHOR`], 2025-01-01T00:00:00Z).
    pub anchor: Millis,
    /// USD cents per unit of MS-DRG relative weight (default [`DEFAULT_DRG_BASE_RATE_MINOR`]).
    pub drg_base_rate_minor: i64,
    /// The data sets to read, in this order (default: all four; duplicates are read once).
    pub data_sets: Vec<DataSet>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            data_dir: PathBuf::from("../shared/data"),
            anchor: DEFAULT_ANCHOR,
            drg_base_rate_minor: DEFAULT_DRG_BASE_RATE_MINOR,
            data_sets: DataSet::ALL.to_vec(),
        }
    }
}

/// What one input file became.
///
/// `rows` counts data records (CSV rows without the header, or NDJSON lines). A CSV row can give
/// up to two events (a no-show row gives `booked` and its outcome, an eICU patient row an admit
/// and a discharge), so `events + rejected + skipped` is at least `rows`, not always equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSummary {
    /// The file, relative to the data directory (`eicu-demo/patient.csv.gz`) or its NDJSON name.
    pub file: String,
    /// Data records read.
    pub rows: u64,
    /// Valid events produced.
    pub events: u64,
    /// Dead letters produced, by reason.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Rows (or cells) that are not events, by why, e.g. `apr_drg (not billed)`, `lab parameter`,
    /// `descriptor row`, `empty line`.
    pub skipped: BTreeMap<String, u64>,
}

impl FileSummary {
    /// Dead letters of all reasons.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Skipped rows or cells of all kinds.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// A replay: every record of the files read, in event-time order, and what each file gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replay {
    /// Events and dead letters, sorted by [`SourceRecord::order_time`] (stable: file order
    /// breaks ties).
    pub records: Vec<SourceRecord>,
    /// One summary per file that produced records, in reading order (lookup tables such as
    /// `admissions.csv.gz` or the CMS pricing tables are not listed).
    pub files: Vec<FileSummary>,
}

impl Replay {
    /// The valid ADT events, in event-time order (what the twin calibrates from).
    pub fn into_adt_events(self) -> Vec<wardstream_schemas::Adt> {
        self.records
            .into_iter()
            .filter_map(|r| match r {
                SourceRecord::Event(wardstream_schemas::Event::Adt(a)) => Some(a),
                _ => None,
            })
            .collect()
    }
}

/// Reads the data sets `opts.data_sets` from `opts.data_dir`.
///
/// Errors: [`Error::DataSet`] when a data-set folder, file or column is missing;
/// [`Error::Io`] when a file cannot be read (e.g. a corrupt gzip stream).
pub fn load_data_sets(opts: &ReplayOptions) -> Result<Replay> {
    let mut replay = Replay::default();
    let mut done: Vec<DataSet> = Vec::with_capacity(DataSet::ALL.len());
    for &set in &opts.data_sets {
        if done.contains(&set) {
            continue;
        }
        done.push(set);
        let folder = opts.data_dir.join(set.folder());
        if !folder.is_dir() {
            return Err(Error::DataSet {
                path: folder,
                detail: "data-set folder not found".into(),
            });
        }
        let files = match set {
            DataSet::MimicIvDemo => mimic::load(opts, &mut replay.records)?,
            DataSet::Physionet2012 => physionet::load(opts, &mut replay.records)?,
            DataSet::EicuDemo => eicu::load(opts, &mut replay.records)?,
            DataSet::Noshow => noshow::load(opts, &mut replay.records)?,
        };
        for f in &files {
            tracing::debug!(file = %f.file, rows = f.rows, events = f.events, rejected = f.rejected_total(), skipped = f.skipped_total(), "replayed file");
        }
        replay.files.extend(files);
    }
    sort_by_event_time(&mut replay.records);
    Ok(replay)
}

/// Whether `path` is a data directory: a folder containing at least one of the four data-set
/// folders (`mimic-iv-demo`, `physionet-2012-icu-vitals`, `eicu-demo`, `noshow-appointments`).
pub fn is_data_dir(path: &Path) -> bool {
    path.is_dir() && DataSet::ALL.iter().any(|s| path.join(s.folder()).is_dir())
}

/// Replays `path`: a data directory ([`is_data_dir`]) is read with [`load_data_sets`] (with
/// `data_dir = path`, and only those of `opts.data_sets` whose folders exist there); anything
/// else (an NDJSON file or a folder of them) with [`load_ndjson`].
///
/// Errors: as [`load_data_sets`] and [`load_ndjson`].
pub fn load_path(path: &Path, opts: &ReplayOptions) -> Result<Replay> {
    if is_data_dir(path) {
        let data_sets = opts
            .data_sets
            .iter()
            .copied()
            .filter(|s| path.join(s.folder()).is_dir())
            .collect();
        load_data_sets(&ReplayOptions {
            data_dir: path.to_path_buf(),
            data_sets,
            ..opts.clone()
        })
    } else {
        load_ndjson(path)
    }
}

/// The real data folder for tests and benchmarks: `$WARDSTREAM_DATA_DIR`, else the first
/// `shared/data` found walking up from `start` (a crate's folder), else `../shared/data`.
pub fn find_data_dir(start: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("WARDSTREAM_DATA_DIR") {
        return PathBuf::from(dir);
    }
    start
        .ancestors()
        .map(|a| a.join("shared").join("data"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

/// The data directory for this crate's tests (see [`find_data_dir`]).
#[cfg(test)]
pub(crate) fn test_data_dir() -> PathBuf {
    find_data_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardstream_schemas::Stream;
    use wardstream_schemas::time::parse_rfc3339;

    #[test]
    fn defaults() {
        let o = ReplayOptions::default();
        assert_eq!(Some(o.anchor), parse_rfc3339("2025-01-01T00:00:00Z"));
        assert_eq!(o.data_sets, DataSet::ALL.to_vec());
        assert_eq!(
            serde_json::to_string(&DataSet::MimicIvDemo).expect("json"),
            "\"mimic-iv-demo\""
        );
        assert_eq!(
            serde_json::to_string(&DataSet::EicuDemo).expect("json"),
            "\"eicu-demo\""
        );
        let summary = FileSummary {
            file: "x.ndjson".into(),
            rows: 3,
            events: 1,
            rejected: BTreeMap::from([(RejectReason::ValueOutOfRange, 1)]),
            skipped: BTreeMap::from([("empty line".to_owned(), 1)]),
        };
        let json = serde_json::to_string(&summary).expect("summary as JSON");
        assert!(
            json.contains(r#""rejected":{"value_out_of_range":1}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<FileSummary>(&json).expect("back"),
            summary
        );
    }

    #[test]
    fn data_dir_detection() {
        let data = test_data_dir();
        assert!(is_data_dir(&data));
        assert!(!is_data_dir(&data.join("mimic-iv-demo")));
        assert!(!is_data_dir(&data.join("noshow-appointments/SOURCE.md")));
        let missing = ReplayOptions {
            data_dir: data.join("nowhere"),
            ..ReplayOptions::default()
        };
        assert!(matches!(
            load_data_sets(&missing),
            Err(Error::DataSet { .. })
        ));
    }

    /// All four data sets at once: sorted, every file accounted for, ids unique.
    #[test]
    fn all_data_sets_replay_in_event_time_order() {
        let opts = ReplayOptions {
            data_dir: test_data_dir(),
            ..ReplayOptions::default()
        };
        let replay = load_path(&opts.data_dir, &opts).expect("replay");
        let names: Vec<&str> = replay.files.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(
            names,
            [
                "mimic-iv-demo/hosp/transfers.csv.gz",
                "mimic-iv-demo/hosp/drgcodes.csv.gz",
                "mimic-iv-demo/hosp/hcpcsevents.csv.gz",
                "physionet-2012-icu-vitals/set-a_long.csv.gz",
                "eicu-demo/patient.csv.gz",
                "eicu-demo/vitalAperiodic.csv.gz",
                "eicu-demo/respiratoryCharting.csv.gz",
                "noshow-appointments/KaggleV2-May-2016.csv.gz",
            ]
        );
        let events: u64 = replay.files.iter().map(|f| f.events).sum();
        let rejected: u64 = replay.files.iter().map(FileSummary::rejected_total).sum();
        assert_eq!(replay.records.len() as u64, events + rejected);
        assert!(
            replay
                .records
                .windows(2)
                .all(|w| w[0].order_time() <= w[1].order_time())
        );

        let mut ids = std::collections::HashSet::new();
        let mut per_stream = BTreeMap::new();
        for r in &replay.records {
            *per_stream.entry(r.stream()).or_insert(0u64) += 1;
            match r {
                SourceRecord::Event(e) => {
                    assert!(
                        ids.insert(e.event_id().to_owned()),
                        "duplicate event id {}",
                        e.event_id()
                    );
                }
                SourceRecord::Rejected(r) => assert!(!r.raw.is_empty() && !r.origin.is_empty()),
            }
        }
        assert_eq!(per_stream.len(), Stream::ALL.len());
    }
}
