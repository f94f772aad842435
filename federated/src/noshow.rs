//! The appointment no-show data set as federated-learning examples: one feature row per
//! appointment, one site per neighbourhood (or random sites), a held-out split by patient.
//!
//! Source: Kaggle "Medical Appointment No Shows" v2 (May 2016), 110,527 appointments of the
//! public-health clinics of Vitória, Brazil (`../shared/data/noshow-appointments`). Columns
//! `PatientId,AppointmentID,Gender,ScheduledDay,AppointmentDay,Age,Neighbourhood,Scholarship,
//! Hipertension,Diabetes,Alcoholism,Handcap,SMS_received,No-show`.
//!
//! Features are scaled by fixed constants, never by statistics of the data: a federated site
//! cannot see the others' means, so centralised and federated training see the same inputs.
//! The prior no-shows of a patient are counted within the patient's own site only (what a
//! hospital knows of its own patients), over appointments on earlier days.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::{Error, Result};

/// Names of the feature columns, in order (the width of [`Dataset::features`]).
pub const FEATURES: [&str; 17] = [
    "age_years_per_100",
    "female",
    "lead_time_ln1p_days_per_5",
    "weekday_mon",
    "weekday_tue",
    "weekday_wed",
    "weekday_thu",
    "weekday_fri",
    "weekday_sat",
    "sms_received",
    "scholarship",
    "hypertension",
    "diabetes",
    "alcoholism",
    "handicap_level_per_4",
    "prior_no_shows_ln1p",
    "prior_appointments_ln1p",
];

/// How appointments are split into federated sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientsBy {
    /// One site per neighbourhood (81 non-IID sites of very different sizes).
    Neighbourhood,
    /// `n` sites of about equal size, patients assigned at random (IID).
    Random(usize),
}

/// Examples of one split: `features` is `n × FEATURES.len()`, `labels` is `n` (1 = no-show),
/// `sites[i]` is the site index of example `i`.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Feature rows, `n × FEATURES.len()`.
    pub features: Array2<f32>,
    /// 1.0 when the patient did not show, 0.0 when they attended.
    pub labels: Array1<f32>,
    /// Site index of each example, `< site_names.len()` of the owning [`NoShowData`].
    pub sites: Vec<u32>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The examples of one site.
    pub fn site(&self, site: u32) -> Dataset {
        let rows: Vec<usize> = (0..self.len()).filter(|&i| self.sites[i] == site).collect();
        self.select(&rows)
    }

    /// The examples at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        Dataset {
            features: self.features.select(Axis(0), rows),
            labels: self.labels.select(Axis(0), rows),
            sites: rows.iter().map(|&i| self.sites[i]).collect(),
        }
    }

    /// Feature rows and labels as views.
    pub fn views(&self) -> (ArrayView2<'_, f32>, ArrayView1<'_, f32>) {
        (self.features.view(), self.labels.view())
    }
}

/// The loaded data set: training and held-out examples, site names and the rows refused.
#[derive(Debug, Clone)]
pub struct NoShowData {
    /// Training examples of every site.
    pub train: Dataset,
    /// Held-out examples (a patient's appointments are all on one side).
    pub test: Dataset,
    /// Site names, indexed by site.
    pub site_names: Vec<String>,
    /// Rows refused, with the reason: `(line number, reason)`.
    pub rejected: Vec<(u64, String)>,
}

/// How to load and split.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// How sites are formed.
    pub clients_by: ClientsBy,
    /// Share of patients held out for evaluation, in `[0, 1)`.
    pub test_fraction: f64,
    /// Seed of the patient split (and of random sites).
    pub seed: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            clients_by: ClientsBy::Neighbourhood,
            test_fraction: 0.2,
            seed: 7,
        }
    }
}

struct Row {
    patient: u64,
    site_key: String,
    day: NaiveDate,
    scheduled: i64,
    values: [f32; 15],
    no_show: bool,
}

/// Read the Kaggle CSV (plain or `.gz`) at `path`.
///
/// # Errors
/// [`Error::Io`] when the file can't be read, [`Error::Data`] when the header is not the Kaggle
/// one or no row is valid. A malformed row is not an error: it is listed in
/// [`NoShowData::rejected`] with its reason (Age −1, an appointment before its booking day,
/// unparseable fields).
pub fn load(path: &Path, options: LoadOptions) -> Result<NoShowData> {
    let file = std::fs::File::open(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    read(reader, options)
}

/// [`load`] from any reader of the CSV text.
///
/// # Errors
/// As [`load`].
pub fn read(reader: impl Read, options: LoadOptions) -> Result<NoShowData> {
    if !(0.0..1.0).contains(&options.test_fraction) {
        return Err(Error::Config(format!(
            "test fraction must be in [0, 1), got {}",
            options.test_fraction
        )));
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| Error::Data(format!("no CSV header: {e}")))?
        .clone();
    let expected = [
        "PatientId",
        "AppointmentID",
        "Gender",
        "ScheduledDay",
        "AppointmentDay",
        "Age",
        "Neighbourhood",
        "Scholarship",
        "Hipertension",
        "Diabetes",
        "Alcoholism",
        "Handcap",
        "SMS_received",
        "No-show",
    ];
    if header.iter().collect::<Vec<_>>() != expected {
        return Err(Error::Data(format!(
            "not the Kaggle no-show header: expected {}, got {}",
            expected.join(","),
            header.iter().collect::<Vec<_>>().join(",")
        )));
    }
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    for (i, record) in csv.records().enumerate() {
        let line = i as u64 + 2;
        match record
            .map_err(|e| e.to_string())
            .and_then(|r| parse_row(&r))
        {
            Ok(row) => rows.push(row),
            Err(reason) => rejected.push((line, reason)),
        }
    }
    if rows.is_empty() {
        return Err(Error::Data("no valid appointment in the file".into()));
    }

    // Sites.
    let site_names: Vec<String>;
    let mut site_of: HashMap<String, u32> = HashMap::new();
    let site_index: Vec<u32> = match options.clients_by {
        ClientsBy::Neighbourhood => {
            let mut names: Vec<&str> = rows.iter().map(|r| r.site_key.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for (k, n) in names.iter().enumerate() {
                site_of.insert((*n).to_string(), k as u32);
            }
            site_names = names.iter().map(|n| (*n).to_string()).collect();
            rows.iter().map(|r| site_of[&r.site_key]).collect()
        }
        ClientsBy::Random(n) => {
            if n == 0 {
                return Err(Error::Config("random sites: need at least one site".into()));
            }
            site_names = (0..n).map(|k| format!("site-{k:03}")).collect();
            rows.iter()
                .map(|r| (mix(r.patient ^ options.seed.wrapping_mul(0x9e37)) % n as u64) as u32)
                .collect()
        }
    };

    // Prior no-shows and appointments per (site, patient), over strictly earlier days.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&i| {
        (
            site_index[i],
            rows[i].patient,
            rows[i].day,
            rows[i].scheduled,
        )
    });
    let mut prior = vec![(0u32, 0u32); rows.len()];
    let mut k = 0;
    while k < order.len() {
        let (site, patient) = (site_index[order[k]], rows[order[k]].patient);
        let (mut shows_before_day, mut seen_before_day) = (0u32, 0u32);
        let mut j = k;
        while j < order.len() && site_index[order[j]] == site && rows[order[j]].patient == patient {
            // Group by day: the same day's outcomes are not known when it starts.
            let day = rows[order[j]].day;
            let mut e = j;
            let (mut day_no_shows, mut day_count) = (0u32, 0u32);
            while e < order.len()
                && site_index[order[e]] == site
                && rows[order[e]].patient == patient
                && rows[order[e]].day == day
            {
                prior[order[e]] = (shows_before_day, seen_before_day);
                day_no_shows += u32::from(rows[order[e]].no_show);
                day_count += 1;
                e += 1;
            }
            shows_before_day += day_no_shows;
            seen_before_day += day_count;
            j = e;
        }
        k = j;
    }

    let width = FEATURES.len();
    let (mut train_x, mut test_x) = (Vec::new(), Vec::new());
    let (mut train_y, mut test_y) = (Vec::new(), Vec::new());
    let (mut train_s, mut test_s) = (Vec::new(), Vec::new());
    let threshold = (options.test_fraction * u64::MAX as f64) as u64;
    for (i, row) in rows.iter().enumerate() {
        let held_out = mix(row.patient ^ options.seed) < threshold;
        let (x, y, s) = if held_out {
            (&mut test_x, &mut test_y, &mut test_s)
        } else {
            (&mut train_x, &mut train_y, &mut train_s)
        };
        x.extend_from_slice(&row.values);
        x.push((prior[i].0 as f32).ln_1p());
        x.push((prior[i].1 as f32).ln_1p());
        y.push(if row.no_show { 1.0 } else { 0.0 });
        s.push(site_index[i]);
    }
    let to_dataset = |x: Vec<f32>, y: Vec<f32>, s: Vec<u32>| -> Result<Dataset> {
        let n = y.len();
        Ok(Dataset {
            features: Array2::from_shape_vec((n, width), x)
                .map_err(|e| Error::Data(format!("feature matrix: {e}")))?,
            labels: Array1::from(y),
            sites: s,
        })
    };
    Ok(NoShowData {
        train: to_dataset(train_x, train_y, train_s)?,
        test: to_dataset(test_x, test_y, test_s)?,
        site_names,
        rejected,
    })
}

fn parse_row(r: &csv::StringRecord) -> std::result::Result<Row, String> {
    let field = |k: usize| r.get(k).ok_or_else(|| format!("missing column {k}"));
    let flag = |k: usize| -> std::result::Result<f32, String> {
        match field(k)?.trim() {
            "0" => Ok(0.0),
            "1" => Ok(1.0),
            other => Err(format!("column {k}: expected 0 or 1, got {other:?}")),
        }
    };
    let patient_text = field(0)?.trim();
    let patient = patient_text
        .parse::<u64>()
        .or_else(|_| patient_text.parse::<f64>().map(|f| f as u64))
        .map_err(|_| format!("PatientId {patient_text:?} is not a number"))?;
    let female = match field(2)?.trim() {
        "F" => 1.0,
        "M" => 0.0,
        other => return Err(format!("Gender {other:?} is neither F nor M")),
    };
    let scheduled =
        DateTime::parse_from_rfc3339(field(3)?.trim()).map_err(|e| format!("ScheduledDay: {e}"))?;
    let appointment = DateTime::parse_from_rfc3339(field(4)?.trim())
        .map_err(|e| format!("AppointmentDay: {e}"))?;
    let day = appointment.date_naive();
    let lead_days = (day - scheduled.date_naive()).num_days();
    if lead_days < 0 {
        return Err(format!("appointment {lead_days} days before it was booked"));
    }
    let age: i64 = field(5)?
        .trim()
        .parse()
        .map_err(|_| "Age is not an integer".to_string())?;
    if !(0..=120).contains(&age) {
        return Err(format!("Age {age} outside 0..=120"));
    }
    let handicap: u8 = field(11)?
        .trim()
        .parse()
        .map_err(|_| "Handcap is not a small integer".to_string())?;
    if handicap > 4 {
        return Err(format!("Handcap {handicap} outside 0..=4"));
    }
    let no_show = match field(13)?.trim() {
        "Yes" => true,
        "No" => false,
        other => return Err(format!("No-show {other:?} is neither Yes nor No")),
    };
    let mut weekday = [0.0f32; 6];
    let w = day.weekday().num_days_from_monday() as usize;
    if w < 6 {
        weekday[w] = 1.0;
    }
    let values = [
        age as f32 / 100.0,
        female,
        (lead_days as f32).ln_1p() / 5.0,
        weekday[0],
        weekday[1],
        weekday[2],
        weekday[3],
        weekday[4],
        weekday[5],
        flag(12)?,
        flag(7)?,
        flag(8)?,
        flag(9)?,
        flag(10)?,
        f32::from(handicap) / 4.0,
    ];
    Ok(Row {
        patient,
        site_key: field(6)?.trim().to_string(),
        day,
        scheduled: scheduled.timestamp(),
        values,
        no_show,
    })
}

/// SplitMix64 finaliser: a fixed, well-mixed hash for the patient split.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "PatientId,AppointmentID,Gender,ScheduledDay,AppointmentDay,Age,Neighbourhood,Scholarship,Hipertension,Diabetes,Alcoholism,Handcap,SMS_received,No-show
1,10,F,2016-04-20T10:00:00Z,2016-04-29T00:00:00Z,62,A,0,1,0,0,0,1,Yes
1,11,F,2016-04-29T08:00:00Z,2016-04-29T00:00:00Z,62,A,0,1,0,0,0,0,No
1,12,F,2016-05-01T08:00:00Z,2016-05-02T00:00:00Z,62,A,0,1,0,0,0,0,No
2,13,M,2016-05-01T08:00:00Z,2016-05-02T00:00:00Z,-1,B,0,0,0,0,0,0,No
3,14,M,2016-05-03T08:00:00Z,2016-05-02T00:00:00Z,30,B,0,0,0,0,0,0,No
4,15,X,2016-05-01T08:00:00Z,2016-05-02T00:00:00Z,30,B,0,0,0,0,0,0,No
5,16,M,2016-05-01T08:00:00Z,2016-05-07T00:00:00Z,30,B,1,0,1,1,2,0,Yes
";

    #[test]
    fn features_prior_no_shows_and_refusals() {
        let data = read(
            CSV.as_bytes(),
            LoadOptions {
                test_fraction: 0.0,
                ..Default::default()
            },
        )
        .expect("loads");
        assert_eq!(data.site_names, vec!["A", "B"]);
        let reasons: Vec<u64> = data.rejected.iter().map(|(l, _)| *l).collect();
        assert_eq!(
            reasons,
            vec![5, 6, 7],
            "Age -1, booked after the day, bad gender"
        );
        assert_eq!(data.train.len(), 4);
        let x = &data.train.features;
        // Patient 1: the two 29 April appointments see no history; 2 May sees one no-show of two.
        assert_eq!(x[[0, 15]], 0.0);
        assert_eq!(x[[1, 15]], 0.0);
        assert_eq!(x[[2, 15]], 1f32.ln_1p());
        assert_eq!(x[[2, 16]], 2f32.ln_1p());
        // Lead time 9 days, a Friday; the Saturday appointment of patient 5.
        assert!((x[[0, 2]] - 9f32.ln_1p() / 5.0).abs() < 1e-6);
        assert_eq!(x[[0, 7]], 1.0);
        assert_eq!(x[[3, 8]], 1.0);
        assert_eq!(x[[3, 14]], 0.5);
        assert_eq!(data.train.labels.to_vec(), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(data.train.sites, vec![0, 0, 0, 1]);
    }

    #[test]
    fn a_wrong_header_is_a_clear_error() {
        let err = read("a,b\n1,2\n".as_bytes(), LoadOptions::default()).expect_err("refused");
        assert!(err.to_string().contains("Kaggle"), "{err}");
    }
}
