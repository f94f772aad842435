//! MIMIC-IV Clinical Database Demo v2.2 -> ADT and billing (MS-DRG and HCPCS charges).
//!
//! Source: Johnson A. et al., "MIMIC-IV Clinical Database Demo" v2.2, PhysioNet 2023
//! (100 patients, 275 admissions at Beth Israel Deaconess Medical Center). Folder
//! `mimic-iv-demo`, tenant `mimic-iv-demo`. Files read: `hosp/transfers.csv.gz` (ADT),
//! `hosp/drgcodes.csv.gz` and `hosp/hcpcsevents.csv.gz` (charges), and as lookups
//! `hosp/admissions.csv.gz` (admission and discharge times) and `hosp/diagnoses_icd.csv.gz`.
//! Charges are priced with [`super::pricing`].
//!
//! ## Time
//! MIMIC shifts each patient's dates by a random offset into 2110–2201; intervals within a
//! patient are real, dates and weekdays are not. Every subject is re-anchored by a whole number
//! of days so that the subject's first `admittime` (in `admissions.csv.gz`) falls on day
//! `day(anchor) + (subject_id % 365)` (see [`subject_shift`]); all of the subject's times move
//! by the same shift, which keeps the time of day, the weekday-free intervals between stays,
//! and every length of stay. A subject with no admission would be anchored on its first
//! transfer instead (none in the demo). Times are naive `YYYY-MM-DD HH:MM:SS`, taken as UTC.
//!
//! ## `hosp/transfers.csv.gz` -> [`Adt`]
//! `subject_id` -> `patient_id`, `hadm_id` -> `encounter_id`, `intime` -> `event_time`, event
//! id `mimic-transfer-<transfer_id>`. Rows are grouped by `hadm_id` and ordered by `intime`
//! (a `discharge` row last at equal times; then file order):
//! - the first row of an admission is `admit` into its `careunit` (181 of the 275 admissions
//!   start in the Emergency Department, 94 directly in a ward);
//! - a later `admit`, `transfer` or `ED` row is `transfer` from the previous row's `careunit`
//!   to this row's;
//! - a `discharge` row (empty `careunit`) is `discharge` with `from_care_unit` = the previous
//!   row's `careunit`;
//! - an admission that starts in the ED also gets its `decision_to_admit` in the ED at its
//!   `admittime` (from `admissions.csv.gz`), kept within the first ED stay (from the ED row's
//!   `intime` to the next unit's; 1 of the 181 is earlier and is moved to the ED arrival), event
//!   id `mimic-admission-<hadm_id>-decision`. MIMIC-IV registers the hospital admission while
//!   the patient is still in the ED, so the rest of that ED stay is boarding (median 1.4 h,
//!   90th percentile 4.7 h, longest 69.6 h in the demo).
//!
//! 54 rows have no `hadm_id`: all are `ED` rows in the Emergency Department, i.e. ED visits
//! that did not lead to an admission (none overlaps an admission of the same patient). Each is
//! its own encounter `ed-<transfer_id>`: `admit` into the ED at `intime`, and `discharge` from
//! it at `outtime` (event id `mimic-transfer-<transfer_id>-out`), so the ED census empties
//! again. The 1,190 rows therefore give 1,244 movements (329 admits, 586 transfers, 329
//! discharges) and 181 decisions to admit, 1,425 ADT events; every encounter's census ends at 0.
//!
//! ## `hosp/drgcodes.csv.gz` -> [`Charge`], MS-DRG facility claims
//! `drg_type` `HCFA` rows are MS-DRGs (233): one `posted` charge per row, `code_system`
//! `ms_drg`, `code` = `drg_code` zero-padded to three digits, posted at the admission's
//! `dischtime` (from `admissions.csv.gz`; a facility claim is final at discharge). Amount =
//! `relative_weight × drg_base_rate_minor` USD cents (MS-DRG v40 weights); a DRG missing from
//! the v40 table (230 and 131 in the demo, retired before FY 2023) or with weight 0 is an
//! `unpriced_code` dead letter. `APR` rows (All Patient Refined DRGs, 221) are a severity
//! grouping Medicare does not pay on: skipped as `apr_drg (not billed)`. Event id
//! `mimic-drg-<hadm_id>-<code>`, `charge_id` `drg-<hadm_id>-<code>`.
//!
//! ## `hosp/hcpcsevents.csv.gz` -> [`Charge`], HCPCS/CPT services
//! One `posted` charge per row, `code_system` `hcpcs`, `code` = `hcpcs_cd`, at `chartdate`
//! 12:00 (the source has only a date; noon keeps it inside the day), priced at the code's 2023
//! national facility fee. Codes without a price are `unpriced_code` (45 of the 61 rows: G0378
//! hospital observation per hour is status X, paid outside the fee schedule; 99218/99219 were
//! deleted from CPT in 2023; 92921 is bundled; C9600 and 92980 are not in the file). Event id
//! `mimic-hcpcs-<hadm_id>-<seq_num>`, `charge_id` `hcpcs-<hadm_id>-<seq_num>`.
//!
//! Both kinds of charge carry `encounter_id` = `hadm_id`, `patient_id` = the admission's
//! `subject_id`, currency `USD`, and `diagnoses` = the admission's ICD-10 codes from
//! `diagnoses_icd.csv.gz` (`icd_version` 10 only, by `seq_num`, at most [`MAX_DIAGNOSES`]; 99 of
//! the 233 MS-DRG claims are ICD-9-era admissions and carry none). `care_unit`: for a DRG claim
//! the last unit the encounter was in before discharge, for an HCPCS charge the unit it was in
//! at the charge's time (its first unit if the time is before its first transfer row).
//! A charge whose `hadm_id` is not in `admissions.csv.gz` is a `missing_id` dead letter.

use super::pricing::{DrgWeights, FeeSchedule, ms_drg_code};
use super::table::{Table, Tally, field, text};
use super::{FileSummary, ReplayOptions};
use crate::error::Result;
use crate::source::SourceRecord;
use csv::ByteRecord;
use std::collections::HashMap;
use wardstream_schemas::time::{DAY_MS, HOUR_MS, day_start, parse_date, parse_naive};
use wardstream_schemas::{
    Adt, AdtKind, Charge, ChargeStatus, CodeSystem, Event, Millis, Reject, RejectReason,
    SCHEMA_VERSION, Stream,
};

/// The data set's folder.
pub const FOLDER: &str = "mimic-iv-demo";
/// The tenant of every event.
pub const TENANT: &str = "mimic-iv-demo";
/// ICD-10 diagnoses carried per charge, at most (a UB-04 claim has 25 diagnosis fields).
pub const MAX_DIAGNOSES: usize = 25;

const ADMISSIONS: &str = "mimic-iv-demo/hosp/admissions.csv.gz";
const TRANSFERS: &str = "mimic-iv-demo/hosp/transfers.csv.gz";
const DRGCODES: &str = "mimic-iv-demo/hosp/drgcodes.csv.gz";
const HCPCSEVENTS: &str = "mimic-iv-demo/hosp/hcpcsevents.csv.gz";
const DIAGNOSES: &str = "mimic-iv-demo/hosp/diagnoses_icd.csv.gz";

/// The shift (ms, a whole number of days) that moves a subject whose first admission is at
/// `first_admit` (shifted MIMIC time) onto day `day(anchor) + subject_id % 365`.
pub fn subject_shift(subject_id: u64, first_admit: Millis, anchor: Millis) -> Millis {
    day_start(anchor) + (subject_id % 365) as i64 * DAY_MS - day_start(first_admit)
}

/// An admission from `admissions.csv.gz` (times unshifted).
struct Admission {
    subject: String,
    admit: Option<Millis>,
    disch: Option<Millis>,
}

/// A transfers row, kept for grouping.
struct TransferRow {
    n: u64,
    rec: ByteRecord,
    subject: String,
    hadm: String,
    transfer_id: String,
    eventtype: String,
    careunit: String,
    intime: Option<Millis>,
    outtime: Option<Millis>,
}

/// Each encounter's care units in time order: `(shifted time entered, unit)`.
type Units = HashMap<String, Vec<(Millis, String)>>;

/// Replays the MIMIC-IV demo into `out`.
pub(crate) fn load(opts: &ReplayOptions, out: &mut Vec<SourceRecord>) -> Result<Vec<FileSummary>> {
    let dir = &opts.data_dir;
    let admissions = read_admissions(dir.as_path())?;
    let transfers = read_transfers(dir.as_path())?;
    let shifts = subject_shifts(&admissions, &transfers, opts.anchor);
    let (adt, units) = map_transfers(&transfers, &admissions, &shifts, out);
    let diagnoses = read_diagnoses(dir.as_path())?;
    let weights = DrgWeights::load(dir)?;
    let fees = FeeSchedule::load(dir)?;
    let claims = Claims {
        admissions: &admissions,
        shifts: &shifts,
        units: &units,
        diagnoses: &diagnoses,
    };
    let drg = claims.map_drgcodes(dir, &weights, opts.drg_base_rate_minor, out)?;
    let hcpcs = claims.map_hcpcsevents(dir, &fees, out)?;
    Ok(vec![adt, drg, hcpcs])
}

fn read_admissions(dir: &std::path::Path) -> Result<HashMap<String, Admission>> {
    let mut table = Table::open(dir, ADMISSIONS)?;
    let [c_subject, c_hadm, c_admit, c_disch] =
        table.columns(["subject_id", "hadm_id", "admittime", "dischtime"])?;
    let mut rec = ByteRecord::new();
    let mut admissions = HashMap::new();
    while table.next(&mut rec)?.is_some() {
        let admission = Admission {
            subject: text(&rec, c_subject).to_owned(),
            admit: field(&rec, c_admit).and_then(parse_naive),
            disch: field(&rec, c_disch).and_then(parse_naive),
        };
        admissions.insert(text(&rec, c_hadm).to_owned(), admission);
    }
    Ok(admissions)
}

fn read_transfers(dir: &std::path::Path) -> Result<(String, Vec<TransferRow>)> {
    let mut table = Table::open(dir, TRANSFERS)?;
    let [c_subject, c_hadm, c_id, c_type, c_unit, c_in, c_out] = table.columns([
        "subject_id",
        "hadm_id",
        "transfer_id",
        "eventtype",
        "careunit",
        "intime",
        "outtime",
    ])?;
    let mut rows = Vec::new();
    let mut rec = ByteRecord::new();
    while let Some(n) = table.next(&mut rec)? {
        rows.push(TransferRow {
            n,
            subject: text(&rec, c_subject).to_owned(),
            hadm: text(&rec, c_hadm).to_owned(),
            transfer_id: text(&rec, c_id).to_owned(),
            eventtype: text(&rec, c_type).to_owned(),
            careunit: text(&rec, c_unit).to_owned(),
            intime: field(&rec, c_in).and_then(parse_naive),
            outtime: field(&rec, c_out).and_then(parse_naive),
            rec: rec.clone(),
        });
    }
    Ok((table.file().to_owned(), rows))
}

/// Subject -> shift. Subjects whose id is not a number have none (their rows are dead letters).
fn subject_shifts(
    admissions: &HashMap<String, Admission>,
    transfers: &(String, Vec<TransferRow>),
    anchor: Millis,
) -> HashMap<String, Millis> {
    let mut first: HashMap<&str, Millis> = HashMap::new();
    for a in admissions.values() {
        if let Some(t) = a.admit {
            first
                .entry(a.subject.as_str())
                .and_modify(|f| *f = (*f).min(t))
                .or_insert(t);
        }
    }
    let mut first_transfer: HashMap<&str, Millis> = HashMap::new();
    for r in &transfers.1 {
        if let Some(t) = r.intime.filter(|_| !first.contains_key(r.subject.as_str())) {
            first_transfer
                .entry(r.subject.as_str())
                .and_modify(|f| *f = (*f).min(t))
                .or_insert(t);
        }
    }
    first
        .into_iter()
        .chain(first_transfer)
        .filter_map(|(subject, t)| {
            Some((
                subject.to_owned(),
                subject_shift(subject.parse().ok()?, t, anchor),
            ))
        })
        .collect()
}

fn adt_event(
    row: &TransferRow,
    id: String,
    encounter: &str,
    kind: AdtKind,
    time: Millis,
    unit: Option<&str>,
    from: Option<&str>,
) -> Event {
    let nonempty = |u: Option<&str>| u.filter(|u| !u.is_empty()).map(str::to_owned);
    Event::Adt(Adt {
        event_id: id,
        tenant_id: TENANT.to_owned(),
        event_time: time,
        schema_version: SCHEMA_VERSION,
        kind,
        patient_id: row.subject.clone(),
        encounter_id: encounter.to_owned(),
        care_unit: nonempty(unit),
        bed: None,
        from_care_unit: nonempty(from),
        from_bed: None,
    })
}

/// Transfers to ADT events (see the module docs); returns the file summary and each
/// admission's care units over time.
fn map_transfers(
    transfers: &(String, Vec<TransferRow>),
    admissions: &HashMap<String, Admission>,
    shifts: &HashMap<String, Millis>,
    out: &mut Vec<SourceRecord>,
) -> (FileSummary, Units) {
    let (file, rows) = transfers;
    let mut tally = Tally::new(file, out);
    // (row index, shifted intime) of the rows that can be placed in time.
    let mut placed: Vec<(usize, Millis)> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        tally.row();
        if row.transfer_id.is_empty() {
            tally.reject(
                Stream::Adt,
                Reject::new(RejectReason::MissingId, "transfer_id is empty"),
                row.n,
                &row.rec,
                None,
            );
        } else if let (Some(t), Some(shift)) = (row.intime, shifts.get(&row.subject)) {
            placed.push((i, t + shift));
        } else if row.intime.is_none() {
            tally.malformed(Stream::Adt, "intime is not a time", row.n, &row.rec);
        } else {
            tally.malformed(Stream::Adt, "subject_id is not a number", row.n, &row.rec);
        }
    }
    placed.sort_by(|&(a, ta), &(b, tb)| {
        let key = |i: usize, t: Millis| {
            (
                rows[i].hadm.as_str(),
                t,
                rows[i].eventtype == "discharge",
                rows[i].n,
            )
        };
        key(a, ta).cmp(&key(b, tb))
    });

    let mut units: Units = HashMap::new();
    let mut k = 0;
    while k < placed.len() {
        let hadm = rows[placed[k].0].hadm.as_str();
        let end = placed[k..]
            .iter()
            .position(|&(i, _)| rows[i].hadm != hadm)
            .map_or(placed.len(), |p| k + p);
        if hadm.is_empty() {
            for &(i, t) in &placed[k..end] {
                ed_visit(&rows[i], t, shifts, &mut tally);
            }
        } else {
            let stays = units.entry(hadm.to_owned()).or_default();
            let admitted = admissions
                .get(hadm)
                .and_then(|a| Some(a.admit? + shifts.get(&a.subject)?));
            admission(rows, &placed[k..end], admitted, stays, &mut tally);
        }
        k = end;
    }
    (tally.finish(), units)
}

/// The unit MIMIC-IV's `transfers` names the emergency department.
const ED_UNIT: &str = "Emergency Department";

/// When an admission that starts in the ED was decided: its `admittime` (shifted, as
/// `admitted`), kept within its first ED stay (from the first row's `intime` to the next
/// row's). `None` when it does not start in the ED or has no `admittime`.
fn decision_to_admit(
    rows: &[TransferRow],
    group: &[(usize, Millis)],
    admitted: Option<Millis>,
) -> Option<Millis> {
    let &(first, arrived) = group.first()?;
    if rows[first].careunit != ED_UNIT {
        return None;
    }
    let left = group
        .iter()
        .find(|&&(i, _)| rows[i].careunit != ED_UNIT)
        .map_or(Millis::MAX, |&(_, t)| t);
    Some(admitted?.clamp(arrived, left.max(arrived)))
}

/// One admission's rows, in order: admit, transfers, discharge; for one that starts in the
/// ED, its decision to admit ([`decision_to_admit`]) before the first row at or after it.
fn admission(
    rows: &[TransferRow],
    group: &[(usize, Millis)],
    admitted: Option<Millis>,
    stays: &mut Vec<(Millis, String)>,
    tally: &mut Tally<'_>,
) {
    let mut decision = decision_to_admit(rows, group, admitted);
    // The decision, attributed to the admission's first (ED) row.
    let decide = |at: Millis, tally: &mut Tally<'_>| {
        let first = &rows[group[0].0];
        let id = format!("mimic-admission-{}-decision", first.hadm);
        let kind = AdtKind::DecisionToAdmit;
        let event = adt_event(first, id, &first.hadm, kind, at, Some(ED_UNIT), None);
        tally.check(event, first.n, &first.rec);
    };
    let mut previous: Option<&str> = None;
    for (j, &(i, t)) in group.iter().enumerate() {
        let row = &rows[i];
        if let Some(at) = decision.filter(|&at| j > 0 && t >= at) {
            decision = None;
            decide(at, tally);
        }
        let id = format!("mimic-transfer-{}", row.transfer_id);
        let unit = Some(row.careunit.as_str());
        let event = match (j, row.eventtype.as_str()) {
            (0, _) => adt_event(row, id, &row.hadm, AdtKind::Admit, t, unit, None),
            (_, "discharge") => {
                adt_event(row, id, &row.hadm, AdtKind::Discharge, t, None, previous)
            }
            (_, "admit" | "transfer" | "ED") => {
                adt_event(row, id, &row.hadm, AdtKind::Transfer, t, unit, previous)
            }
            _ => {
                tally.malformed(
                    Stream::Adt,
                    "eventtype is not admit, transfer, ED or discharge",
                    row.n,
                    &row.rec,
                );
                continue;
            }
        };
        if row.eventtype != "discharge" && !row.careunit.is_empty() {
            previous = Some(row.careunit.as_str());
            stays.push((t, row.careunit.clone()));
        }
        tally.check(event, row.n, &row.rec);
    }
    if let Some(at) = decision {
        decide(at, tally);
    }
}

/// An ED visit without an admission: admit into its unit at `intime`, discharge at `outtime`.
fn ed_visit(row: &TransferRow, t: Millis, shifts: &HashMap<String, Millis>, tally: &mut Tally<'_>) {
    let encounter = format!("ed-{}", row.transfer_id);
    let unit = Some(row.careunit.as_str());
    let admit = adt_event(
        row,
        format!("mimic-transfer-{}", row.transfer_id),
        &encounter,
        AdtKind::Admit,
        t,
        unit,
        None,
    );
    tally.check(admit, row.n, &row.rec);
    if let (Some(out), Some(shift)) = (row.outtime, shifts.get(&row.subject)) {
        let id = format!("mimic-transfer-{}-out", row.transfer_id);
        tally.check(
            adt_event(
                row,
                id,
                &encounter,
                AdtKind::Discharge,
                out + shift,
                None,
                unit,
            ),
            row.n,
            &row.rec,
        );
    }
}

/// Admission -> ICD-10 codes by `seq_num`, at most [`MAX_DIAGNOSES`].
fn read_diagnoses(dir: &std::path::Path) -> Result<HashMap<String, Vec<String>>> {
    let mut table = Table::open(dir, DIAGNOSES)?;
    let [c_hadm, c_seq, c_code, c_version] =
        table.columns(["hadm_id", "seq_num", "icd_code", "icd_version"])?;
    let mut rec = ByteRecord::new();
    let mut by_hadm: HashMap<String, Vec<(u32, String)>> = HashMap::new();
    while table.next(&mut rec)?.is_some() {
        if text(&rec, c_version) != "10" {
            continue;
        }
        let seq = field(&rec, c_seq)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX);
        by_hadm
            .entry(text(&rec, c_hadm).to_owned())
            .or_default()
            .push((seq, text(&rec, c_code).to_owned()));
    }
    Ok(by_hadm
        .into_iter()
        .map(|(hadm, mut codes)| {
            codes.sort();
            (
                hadm,
                codes
                    .into_iter()
                    .take(MAX_DIAGNOSES)
                    .map(|(_, c)| c)
                    .collect(),
            )
        })
        .collect())
}

/// What charges need from the other tables.
struct Claims<'a> {
    admissions: &'a HashMap<String, Admission>,
    shifts: &'a HashMap<String, Millis>,
    units: &'a Units,
    diagnoses: &'a HashMap<String, Vec<String>>,
}

/// Everything a charge row needs that is not the row itself.
struct ChargeDraft<'a> {
    id: String,
    charge_id: String,
    hadm: &'a str,
    admission: &'a Admission,
    time: Millis,
    care_unit: Option<&'a String>,
    code_system: CodeSystem,
    code: String,
    price: Option<i64>,
}

impl Claims<'_> {
    /// The row's admission and its subject's shift, or a dead letter.
    fn admission<'s>(
        &'s self,
        hadm: &str,
        tally: &mut Tally<'_>,
        n: u64,
        rec: &ByteRecord,
    ) -> Option<(&'s Admission, Millis)> {
        let Some(admission) = self.admissions.get(hadm) else {
            let reject = Reject::new(
                RejectReason::MissingId,
                "hadm_id is not an admission in admissions.csv.gz",
            );
            tally.reject(Stream::Billing, reject, n, rec, None);
            return None;
        };
        let Some(&shift) = self.shifts.get(&admission.subject) else {
            tally.malformed(Stream::Billing, "subject_id is not a number", n, rec);
            return None;
        };
        Some((admission, shift))
    }

    fn post(&self, c: ChargeDraft<'_>, tally: &mut Tally<'_>, n: u64, rec: &ByteRecord) {
        let unpriced = match c.price {
            Some(_) => None,
            None => Some(Reject::new(
                RejectReason::UnpricedCode,
                format!("{} {} has no price", c.code_system.as_str(), c.code),
            )),
        };
        let charge = Charge {
            event_id: c.id,
            tenant_id: TENANT.to_owned(),
            event_time: c.time,
            schema_version: SCHEMA_VERSION,
            charge_id: c.charge_id,
            encounter_id: c.hadm.to_owned(),
            patient_id: Some(c.admission.subject.clone()),
            care_unit: c.care_unit.cloned(),
            code_system: c.code_system,
            code: c.code,
            diagnoses: self.diagnoses.get(c.hadm).cloned().unwrap_or_default(),
            amount_minor: c.price.unwrap_or(0),
            currency: "USD".to_owned(),
            status: ChargeStatus::Posted,
        };
        tally.check_then(Event::Charge(charge), unpriced, n, rec);
    }

    fn map_drgcodes(
        &self,
        dir: &std::path::Path,
        weights: &DrgWeights,
        base_rate: i64,
        out: &mut Vec<SourceRecord>,
    ) -> Result<FileSummary> {
        let mut table = Table::open(dir, DRGCODES)?;
        let [c_hadm, c_type, c_code] = table.columns(["hadm_id", "drg_type", "drg_code"])?;
        let mut tally = Tally::new(table.file(), out);
        let mut rec = ByteRecord::new();
        while let Some(n) = table.next(&mut rec)? {
            tally.row();
            match text(&rec, c_type) {
                "HCFA" => {}
                "APR" => {
                    tally.skip("apr_drg (not billed)");
                    continue;
                }
                _ => {
                    tally.skip("other drg_type");
                    continue;
                }
            }
            let hadm = text(&rec, c_hadm);
            let Some((admission, shift)) = self.admission(hadm, &mut tally, n, &rec) else {
                continue;
            };
            let Some(disch) = admission.disch else {
                tally.malformed(
                    Stream::Billing,
                    "the admission's dischtime is not a time",
                    n,
                    &rec,
                );
                continue;
            };
            let code = ms_drg_code(text(&rec, c_code)).into_owned();
            let draft = ChargeDraft {
                id: format!("mimic-drg-{hadm}-{code}"),
                charge_id: format!("drg-{hadm}-{code}"),
                hadm,
                admission,
                time: disch + shift,
                care_unit: self
                    .units
                    .get(hadm)
                    .and_then(|u| u.last())
                    .map(|(_, unit)| unit),
                code_system: CodeSystem::MsDrg,
                price: weights.price_minor(&code, base_rate),
                code,
            };
            self.post(draft, &mut tally, n, &rec);
        }
        Ok(tally.finish())
    }

    fn map_hcpcsevents(
        &self,
        dir: &std::path::Path,
        fees: &FeeSchedule,
        out: &mut Vec<SourceRecord>,
    ) -> Result<FileSummary> {
        let mut table = Table::open(dir, HCPCSEVENTS)?;
        let [c_hadm, c_date, c_code, c_seq] =
            table.columns(["hadm_id", "chartdate", "hcpcs_cd", "seq_num"])?;
        let mut tally = Tally::new(table.file(), out);
        let mut rec = ByteRecord::new();
        while let Some(n) = table.next(&mut rec)? {
            tally.row();
            let hadm = text(&rec, c_hadm);
            let Some((admission, shift)) = self.admission(hadm, &mut tally, n, &rec) else {
                continue;
            };
            let Some(date) = field(&rec, c_date).and_then(parse_date) else {
                tally.malformed(Stream::Billing, "chartdate is not a date", n, &rec);
                continue;
            };
            let time = date + 12 * HOUR_MS + shift;
            let care_unit = self.units.get(hadm).and_then(|stays| {
                let entered = stays.partition_point(|(t, _)| *t <= time);
                stays.get(entered.saturating_sub(1)).map(|(_, unit)| unit)
            });
            let code = text(&rec, c_code).to_owned();
            let seq = text(&rec, c_seq);
            let draft = ChargeDraft {
                id: format!("mimic-hcpcs-{hadm}-{seq}"),
                charge_id: format!("hcpcs-{hadm}-{seq}"),
                hadm,
                admission,
                time,
                care_unit,
                code_system: CodeSystem::Hcpcs,
                price: fees.price_minor(&code),
                code,
            };
            self.post(draft, &mut tally, n, &rec);
        }
        Ok(tally.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{DataSet, test_data_dir};
    use std::collections::BTreeMap;
    use wardstream_schemas::time::parse_rfc3339;

    fn replay() -> (Vec<FileSummary>, Vec<SourceRecord>) {
        let opts = ReplayOptions {
            data_dir: test_data_dir(),
            data_sets: vec![DataSet::MimicIvDemo],
            ..ReplayOptions::default()
        };
        let mut out = Vec::new();
        let files = load(&opts, &mut out).expect("MIMIC-IV demo");
        crate::source::sort_by_event_time(&mut out);
        (files, out)
    }

    fn adts(out: &[SourceRecord]) -> Vec<&Adt> {
        out.iter()
            .filter_map(|r| match r {
                SourceRecord::Event(Event::Adt(a)) => Some(a),
                _ => None,
            })
            .collect()
    }

    fn charges(out: &[SourceRecord]) -> Vec<&Charge> {
        out.iter()
            .filter_map(|r| match r {
                SourceRecord::Event(Event::Charge(c)) => Some(c),
                _ => None,
            })
            .collect()
    }

    /// Expected numbers checked independently with Python's csv module: transfers 1,190 rows
    /// (275 admissions each with one discharge row last, 54 rows without hadm_id, all ED);
    /// drgcodes 233 HCFA + 221 APR, HCFA codes 230 and 131 not in the v40 table; hcpcsevents 61
    /// rows, 16 with a non-zero facility price.
    #[test]
    fn file_counts() {
        let (files, out) = replay();
        let [adt, drg, hcpcs] = &files[..] else {
            panic!("three files")
        };
        assert_eq!(
            (
                adt.file.as_str(),
                adt.rows,
                adt.events,
                adt.rejected_total()
            ),
            (TRANSFERS, 1_190, 1_190 + 54 + 181, 0)
        );
        assert!(adt.skipped.is_empty());
        assert_eq!((drg.rows, drg.events), (454, 231));
        assert_eq!(
            drg.rejected,
            BTreeMap::from([(RejectReason::UnpricedCode, 2)])
        );
        assert_eq!(
            drg.skipped,
            BTreeMap::from([("apr_drg (not billed)".to_owned(), 221)])
        );
        assert_eq!((hcpcs.rows, hcpcs.events), (61, 16));
        assert_eq!(
            hcpcs.rejected,
            BTreeMap::from([(RejectReason::UnpricedCode, 45)])
        );

        let kinds = adts(&out).iter().fold([0; 4], |mut k, a| {
            k[a.kind as usize] += 1;
            k
        });
        // Admits, decisions to admit, transfers, discharges.
        assert_eq!(kinds, [275 + 54, 181, 1_190 - 275 - 275 - 54, 275 + 54]);

        // Unpriced charges keep their raw row: the two retired DRGs.
        let mut unpriced_drgs: Vec<String> = out
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Rejected(r) if r.origin.starts_with(DRGCODES) => Some(
                    String::from_utf8_lossy(&r.raw)
                        .split(',')
                        .nth(3)
                        .unwrap_or("")
                        .to_owned(),
                ),
                _ => None,
            })
            .collect();
        unpriced_drgs.sort();
        assert_eq!(unpriced_drgs, ["131", "230"]);
    }

    #[test]
    fn census_and_transfer_chains() {
        let (_, out) = replay();
        let mut by_encounter: BTreeMap<&str, Vec<&Adt>> = BTreeMap::new();
        for a in adts(&out) {
            by_encounter
                .entry(a.encounter_id.as_str())
                .or_default()
                .push(a);
        }
        assert_eq!(by_encounter.len(), 275 + 54);
        for (encounter, events) in &by_encounter {
            let census: i64 = events
                .iter()
                .map(|a| match a.kind {
                    AdtKind::Admit => 1,
                    AdtKind::Transfer | AdtKind::DecisionToAdmit => 0,
                    AdtKind::Discharge => -1,
                })
                .sum();
            assert_eq!(census, 0, "encounter {encounter}");
            assert_eq!(events[0].kind, AdtKind::Admit, "encounter {encounter}");
            assert_eq!(
                events.last().map(|a| a.kind),
                Some(AdtKind::Discharge),
                "encounter {encounter}"
            );
            for w in events.windows(2) {
                assert!(w[0].event_time <= w[1].event_time);
            }
            // A decision to admit is in the ED, which the patient is in at that time.
            for (k, d) in events.iter().enumerate() {
                if d.kind == AdtKind::DecisionToAdmit {
                    assert_eq!(d.care_unit.as_deref(), Some(ED_UNIT));
                    assert_eq!(events[k - 1].care_unit.as_deref(), Some(ED_UNIT));
                }
            }
            let movements: Vec<&&Adt> = events
                .iter()
                .filter(|a| a.kind != AdtKind::DecisionToAdmit)
                .collect();
            for w in movements.windows(2) {
                if w[1].kind != AdtKind::Admit {
                    assert_eq!(
                        w[1].from_care_unit, w[0].care_unit,
                        "{} after {}",
                        w[1].event_id, w[0].event_id
                    );
                }
            }
        }
        let decisions: Vec<&str> = by_encounter
            .iter()
            .filter(|(_, evs)| evs.iter().any(|a| a.kind == AdtKind::DecisionToAdmit))
            .map(|(e, _)| *e)
            .collect();
        assert_eq!(
            decisions.len(),
            181,
            "every admission that starts in the ED"
        );
        assert!(decisions.iter().all(|e| !e.starts_with("ed-")));
        assert!(
            by_encounter
                .keys()
                .filter(|e| e.starts_with("ed-"))
                .all(|e| by_encounter[e][0].care_unit.as_deref() == Some("Emergency Department"))
        );
    }

    /// Subject 10004235 (10004235 % 365 = 315): first admittime 2196-02-24 14:38:00 (admission
    /// 24181354), so the shift puts it on 2025-11-12 14:38. That admission's first transfer row,
    /// 38926302 (Emergency Department, 2196-02-24 12:15:00), is the admit at 2025-11-12 12:15;
    /// the subject's DRG 864 (admission 22187210, weight 0.8482) posts at its dischtime
    /// 2196-06-22 13:30:00 -> 2026-03-11 13:30 for round(0.8482 × 637,574) = 540,790 cents.
    /// Totals with Python's Decimal: 231 priced DRGs 381,435,212 cents, of which 98 carry ICD-10
    /// diagnoses; 16 priced HCPCS rows 864,700 cents.
    #[test]
    fn re_anchoring_and_pricing() {
        let anchor = parse_rfc3339("2025-01-01T00:00:00Z").expect("time");
        let first = parse_naive("2196-02-24 14:38:00").expect("time");
        assert_eq!(
            first + subject_shift(10_004_235, first, anchor),
            parse_rfc3339("2025-11-12T14:38:00Z").expect("time")
        );

        let (_, out) = replay();
        // Admitted at its admittime, 2 h 23 min after the ED arrival: boarding from then on.
        let decision = adts(&out)
            .into_iter()
            .find(|a| a.event_id == "mimic-admission-24181354-decision")
            .expect("decision of 24181354");
        assert_eq!(
            decision.event_time,
            parse_rfc3339("2025-11-12T14:38:00Z").expect("time")
        );
        let admit = adts(&out)
            .into_iter()
            .find(|a| a.event_id == "mimic-transfer-38926302")
            .expect("transfer 38926302");
        assert_eq!(
            (
                admit.kind,
                admit.encounter_id.as_str(),
                admit.patient_id.as_str()
            ),
            (AdtKind::Admit, "24181354", "10004235")
        );
        assert_eq!(
            Some(admit.event_time),
            parse_rfc3339("2025-11-12T12:15:00Z")
        );
        assert_eq!(admit.care_unit.as_deref(), Some("Emergency Department"));

        let drg = charges(&out)
            .into_iter()
            .find(|c| c.event_id == "mimic-drg-22187210-864")
            .expect("DRG 864");
        assert_eq!(
            (
                drg.code_system,
                drg.code.as_str(),
                drg.amount_minor,
                drg.currency.as_str()
            ),
            (CodeSystem::MsDrg, "864", 540_790, "USD")
        );
        assert_eq!(
            (drg.status, Some(drg.event_time)),
            (ChargeStatus::Posted, parse_rfc3339("2026-03-11T13:30:00Z"))
        );

        let all = charges(&out);
        let drg_total: i64 = all
            .iter()
            .filter(|c| c.code_system == CodeSystem::MsDrg)
            .map(|c| c.amount_minor)
            .sum();
        let hcpcs_total: i64 = all
            .iter()
            .filter(|c| c.code_system == CodeSystem::Hcpcs)
            .map(|c| c.amount_minor)
            .sum();
        assert_eq!((drg_total, hcpcs_total), (381_435_212, 864_700));
        assert!(
            all.iter()
                .all(|c| c.care_unit.is_some() && c.diagnoses.len() <= MAX_DIAGNOSES)
        );
        assert_eq!(
            all.iter()
                .filter(|c| c.code_system == CodeSystem::MsDrg && !c.diagnoses.is_empty())
                .count(),
            99 - 1
        );
    }
}
