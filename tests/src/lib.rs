//! Shared helpers of wardstream's integration tests: where the real data is, running the
//! engine over records, and the batch SQL that recomputes every view from raw events.
//!
//! The batch queries are the views' definitions written independently in SQL (DataFusion),
//! over the raw event tables `adt`, `vital_signs`, `appointments` and `charges`. Each returns
//! rows in a canonical, integer-valued form; [`view_sql`] reads the same form out of the
//! engine's snapshot, so the two can be compared row for row.

pub mod browser;
pub mod clickhouse;
pub mod kafka;
pub mod postgres;

use anyhow::Context;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use wardstream_operators::{IngestConfig, LatePolicy};
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source, sql};
use wardstream_schemas::{Event, batch};

/// The real data folder: `$WARDSTREAM_DATA_DIR`, else `shared/data` found above this crate.
pub fn data_dir() -> PathBuf {
    wardstream_pipelines::replay::find_data_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Runs every view over `records` with `workers` workers, a new epoch every `epoch_records`
/// records per worker, late events applied (so the batch side sees the same events).
pub fn run_engine(
    records: Vec<SourceRecord>,
    workers: usize,
    epoch_records: u64,
) -> anyhow::Result<Arc<ViewStore>> {
    let store = Arc::new(ViewStore::new());
    let config = EngineConfig {
        workers,
        ingest: IngestConfig {
            allowed_lateness_ms: 0,
            late_policy: LatePolicy::Apply,
        },
        epoch_records: Some(epoch_records),
        max_lag_epochs: 1_000_000,
        ..EngineConfig::default()
    };
    let summary = wardstream_pipelines::run(
        &config,
        records_source(Arc::new(records)),
        Vec::new(),
        store.clone(),
        Arc::new(AtomicBool::new(false)),
    )?;
    anyhow::ensure!(summary.completed, "the run did not complete");
    Ok(store)
}

/// The applied events: valid records, the last version of each `event_id` in feed order.
pub fn applied_events(records: &[SourceRecord]) -> Vec<Event> {
    let mut by_id: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<Event> = Vec::new();
    for r in records {
        if let SourceRecord::Event(e) = r {
            match by_id.get(e.event_id()) {
                Some(&i) => out[i] = e.clone(),
                None => {
                    by_id.insert(e.event_id().to_owned(), out.len());
                    out.push(e.clone());
                }
            }
        }
    }
    out
}

/// A session with the raw event tables registered.
pub fn raw_session(events: &[Event]) -> anyhow::Result<SessionContext> {
    let mut adt = Vec::new();
    let mut vitals = Vec::new();
    let mut appts = Vec::new();
    let mut charges = Vec::new();
    for e in events {
        match e {
            Event::Adt(a) => adt.push(a.clone()),
            Event::VitalSign(v) => vitals.push(v.clone()),
            Event::Appointment(a) => appts.push(a.clone()),
            Event::Charge(c) => charges.push(c.clone()),
        }
    }
    let ctx = SessionContext::new();
    sql::register(&ctx, "adt", batch::adt_batch(&adt)?)?;
    sql::register(&ctx, "vital_signs", batch::vital_sign_batch(&vitals)?)?;
    sql::register(&ctx, "appointments", batch::appointment_batch(&appts)?)?;
    sql::register(&ctx, "charges", batch::charge_batch(&charges)?)?;
    Ok(ctx)
}

/// Rows of a result as sorted strings (`a|b|c`), for comparison.
pub fn canonical(batches: &[RecordBatch]) -> anyhow::Result<Vec<String>> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..b.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(i).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    rows.sort();
    Ok(rows)
}

/// Runs `query` in `ctx` and returns canonical rows.
pub async fn rows(ctx: &SessionContext, query: &str) -> anyhow::Result<Vec<String>> {
    let batches = sql::run(ctx, query)
        .await
        .with_context(|| format!("query failed: {query}"))?;
    canonical(&batches)
}

/// The views compared, each with its query over the engine snapshot and its batch query over
/// raw events. Both produce the same columns.
pub const VIEWS: [(&str, &str, &str); 7] = [
    ("census", CENSUS_VIEW, CENSUS_BATCH),
    ("adt_hourly", ADT_HOURLY_VIEW, ADT_HOURLY_BATCH),
    ("length_of_stay", LOS_VIEW, LOS_BATCH),
    ("no_show", NO_SHOW_VIEW, NO_SHOW_BATCH),
    ("revenue", REVENUE_VIEW, REVENUE_BATCH),
    ("news2", NEWS2_VIEW, NEWS2_WITH_PREVIOUS),
    ("ed_boarding", BOARDING_VIEW, BOARDING_BATCH),
];

/// The `alerts` view against the batch NEWS2 filtered to medium and high, less patients whose
/// latest observation's encounter is discharged, with the encounter's unit now (NULL without
/// ADT events).
pub const ALERTS: (&str, &str) = (
    "SELECT tenant_id, patient_id, score, response, care_unit FROM alerts",
    "
WITH loc AS (
  SELECT * FROM (
    SELECT tenant_id, encounter_id, kind, care_unit,
           ROW_NUMBER() OVER (PARTITION BY tenant_id, encounter_id
                              ORDER BY event_time DESC, kind_rank DESC, event_id DESC) AS rn
    FROM (SELECT *, KIND_RANK AS kind_rank FROM adt WHERE kind <> 'decision_to_admit') t) r
  WHERE rn = 1)
SELECT n.tenant_id, n.patient_id, n.score, n.response, l.care_unit
FROM (BATCH) n LEFT JOIN loc l ON l.tenant_id = n.tenant_id AND l.encounter_id = n.encounter_id
WHERE n.response IN ('medium', 'high') AND (l.kind IS NULL OR l.kind <> 'discharge')",
);

const KIND_RANK: &str = "CASE kind WHEN 'admit' THEN 0 WHEN 'decision_to_admit' THEN 1 WHEN 'transfer' THEN 2 ELSE 3 END";

/// `census` from the snapshot (units with patients).
pub const CENSUS_VIEW: &str =
    "SELECT tenant_id, care_unit, patients FROM census WHERE patients > 0";
/// `census` recomputed: each encounter's latest movement (decisions to admit move nobody);
/// not discharged → in that unit.
pub const CENSUS_BATCH: &str = "
WITH ranked AS (
  SELECT tenant_id, encounter_id, kind, care_unit,
         ROW_NUMBER() OVER (PARTITION BY tenant_id, encounter_id
                            ORDER BY event_time DESC, kind_rank DESC, event_id DESC) AS rn
  FROM (SELECT *, KIND_RANK AS kind_rank FROM adt WHERE kind <> 'decision_to_admit') t)
SELECT tenant_id, care_unit, COUNT(*) AS patients
FROM ranked WHERE rn = 1 AND kind <> 'discharge'
GROUP BY tenant_id, care_unit";

/// `adt_hourly` from the snapshot.
pub const ADT_HOURLY_VIEW: &str = "SELECT tenant_id, care_unit, CAST(hour AS BIGINT) AS hour, admissions, transfers_in, transfers_out, discharges FROM adt_hourly";
/// `adt_hourly` recomputed.
pub const ADT_HOURLY_BATCH: &str = "
WITH m AS (
  SELECT tenant_id, care_unit AS unit, event_time, 'a' AS m FROM adt WHERE kind = 'admit'
  UNION ALL SELECT tenant_id, care_unit, event_time, 'ti' FROM adt WHERE kind = 'transfer'
  UNION ALL SELECT tenant_id, COALESCE(from_care_unit, '(unknown)'), event_time, 'to' FROM adt WHERE kind = 'transfer'
  UNION ALL SELECT tenant_id, COALESCE(from_care_unit, '(unknown)'), event_time, 'd' FROM adt WHERE kind = 'discharge')
SELECT tenant_id, unit AS care_unit, CAST(date_trunc('hour', event_time) AS BIGINT) AS hour,
       SUM(CASE WHEN m = 'a' THEN 1 ELSE 0 END) AS admissions,
       SUM(CASE WHEN m = 'ti' THEN 1 ELSE 0 END) AS transfers_in,
       SUM(CASE WHEN m = 'to' THEN 1 ELSE 0 END) AS transfers_out,
       SUM(CASE WHEN m = 'd' THEN 1 ELSE 0 END) AS discharges
FROM m GROUP BY tenant_id, unit, CAST(date_trunc('hour', event_time) AS BIGINT)";

/// `length_of_stay` from the snapshot, in whole minutes.
pub const LOS_VIEW: &str = "SELECT tenant_id, care_unit, stays, total_minutes,
  CAST(ROUND(min_hours * 60) AS BIGINT) AS min_m, CAST(ROUND(p50_hours * 60) AS BIGINT) AS p50_m,
  CAST(ROUND(p90_hours * 60) AS BIGINT) AS p90_m, CAST(ROUND(max_hours * 60) AS BIGINT) AS max_m
  FROM length_of_stay";
/// `length_of_stay` recomputed: completed unit stays between movements, nearest-rank
/// quantiles.
pub const LOS_BATCH: &str = "
WITH o AS (
  SELECT tenant_id, encounter_id, event_time,
         CASE WHEN kind = 'discharge' THEN NULL ELSE care_unit END AS unit,
         LEAD(event_time) OVER (PARTITION BY tenant_id, encounter_id ORDER BY event_time, kind_rank, event_id) AS next_time
  FROM (SELECT *, KIND_RANK AS kind_rank FROM adt WHERE kind <> 'decision_to_admit') t),
m AS (SELECT tenant_id, unit, (CAST(next_time AS BIGINT) - CAST(event_time AS BIGINT)) / 60000 AS minutes
      FROM o WHERE unit IS NOT NULL AND next_time IS NOT NULL),
r AS (SELECT tenant_id, unit, minutes,
             ROW_NUMBER() OVER (PARTITION BY tenant_id, unit ORDER BY minutes) AS rn,
             COUNT(*) OVER (PARTITION BY tenant_id, unit) AS n FROM m)
SELECT tenant_id, unit AS care_unit, COUNT(*) AS stays, SUM(minutes) AS total_minutes, MIN(minutes) AS min_m,
       MIN(CASE WHEN rn >= (n + 1) / 2 THEN minutes END) AS p50_m,
       MIN(CASE WHEN rn >= (9 * n + 9) / 10 THEN minutes END) AS p90_m, MAX(minutes) AS max_m
FROM r GROUP BY tenant_id, unit";

/// `ed_boarding` from the snapshot, times in ms.
pub const BOARDING_VIEW: &str =
    "SELECT tenant_id, encounter_id, care_unit, CAST(decided_at AS BIGINT) AS decided,
  CAST(departed_at AS BIGINT) AS departed, to_care_unit, boarding_minutes FROM ed_boarding";
/// `ed_boarding` recomputed: each encounter's first decision to admit, and its first later
/// transfer to another unit or discharge (both rank after a decision at the same time).
pub const BOARDING_BATCH: &str = "
WITH e AS (SELECT *, KIND_RANK AS kind_rank FROM adt),
d AS (
  SELECT * FROM (
    SELECT tenant_id, encounter_id, care_unit, event_time,
           ROW_NUMBER() OVER (PARTITION BY tenant_id, encounter_id ORDER BY event_time, kind_rank, event_id) AS rn
    FROM e WHERE kind = 'decision_to_admit') t WHERE rn = 1),
o AS (
  SELECT d.tenant_id, d.encounter_id, m.event_time AS departed,
         CASE WHEN m.kind = 'discharge' THEN NULL ELSE m.care_unit END AS to_unit,
         ROW_NUMBER() OVER (PARTITION BY d.tenant_id, d.encounter_id ORDER BY m.event_time, m.kind_rank, m.event_id) AS rn
  FROM d JOIN e m ON m.tenant_id = d.tenant_id AND m.encounter_id = d.encounter_id
   AND m.event_time >= d.event_time
   AND (m.kind = 'discharge' OR (m.kind = 'transfer' AND m.care_unit <> d.care_unit)))
SELECT d.tenant_id, d.encounter_id, d.care_unit, CAST(d.event_time AS BIGINT) AS decided,
       CAST(o.departed AS BIGINT) AS departed, o.to_unit AS to_care_unit,
       (CAST(o.departed AS BIGINT) - CAST(d.event_time AS BIGINT)) / 60000 AS boarding_minutes
FROM d LEFT JOIN (SELECT * FROM o WHERE rn = 1) o
  ON o.tenant_id = d.tenant_id AND o.encounter_id = d.encounter_id";

/// `no_show` from the snapshot.
pub const NO_SHOW_VIEW: &str =
    "SELECT tenant_id, clinic, CAST(day AS BIGINT) AS day, booked, attended, no_shows, cancelled,
  CAST(ROUND(median_lead_days * 2) AS BIGINT) AS median_x2 FROM no_show";
/// `no_show` recomputed from each appointment's latest event.
pub const NO_SHOW_BATCH: &str = "
WITH ranked AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant_id, appointment_id ORDER BY event_time DESC, status_rank DESC, event_id DESC) AS rn
  FROM (SELECT *, CASE status WHEN 'booked' THEN 0 WHEN 'rescheduled' THEN 1 WHEN 'cancelled' THEN 2
                              WHEN 'checked_in' THEN 3 WHEN 'completed' THEN 4 ELSE 5 END AS status_rank
        FROM appointments) t),
x AS (SELECT tenant_id, clinic, status, CAST(date_trunc('day', scheduled_start) AS BIGINT) AS day,
             (CAST(date_trunc('day', scheduled_start) AS BIGINT) - CAST(date_trunc('day', booked_at) AS BIGINT)) / 86400000 AS lead
      FROM ranked WHERE rn = 1)
SELECT tenant_id, clinic, day,
       SUM(CASE WHEN status <> 'cancelled' THEN 1 ELSE 0 END) AS booked,
       SUM(CASE WHEN status IN ('checked_in', 'completed') THEN 1 ELSE 0 END) AS attended,
       SUM(CASE WHEN status = 'no_show' THEN 1 ELSE 0 END) AS no_shows,
       SUM(CASE WHEN status = 'cancelled' THEN 1 ELSE 0 END) AS cancelled,
       CAST(ROUND(MEDIAN(CASE WHEN status <> 'cancelled' THEN CAST(lead AS DOUBLE) END) * 2) AS BIGINT) AS median_x2
FROM x GROUP BY tenant_id, clinic, day";

/// `revenue` from the snapshot.
pub const REVENUE_VIEW: &str =
    "SELECT tenant_id, CAST(day AS BIGINT) AS day, code_system, code, care_unit, currency, charges,
  posted_minor, adjusted_minor, voided_minor, net_minor FROM revenue";
/// `revenue` recomputed: each charge's earliest posting names its group; voids retract.
pub const REVENUE_BATCH: &str = "
WITH firsts AS (
  SELECT * FROM (
    SELECT tenant_id, charge_id, CAST(date_trunc('day', event_time) AS BIGINT) AS day, code_system, code, care_unit, currency,
           ROW_NUMBER() OVER (PARTITION BY tenant_id, charge_id
                              ORDER BY CASE WHEN status = 'posted' THEN 0 ELSE 1 END, event_time, event_id) AS rn
    FROM charges) t WHERE rn = 1),
amounts AS (
  SELECT tenant_id, charge_id,
         SUM(CASE WHEN status = 'posted' THEN amount_minor ELSE 0 END) AS posted,
         SUM(CASE WHEN status = 'adjusted' THEN amount_minor ELSE 0 END) AS adjusted,
         MAX(CASE WHEN status = 'voided' THEN 1 ELSE 0 END) AS void
  FROM charges GROUP BY tenant_id, charge_id),
per AS (
  SELECT f.tenant_id, f.day, f.code_system, f.code, f.care_unit, f.currency, a.posted, a.adjusted,
         CASE WHEN a.void = 1 THEN a.posted + a.adjusted ELSE 0 END AS voided,
         CASE WHEN a.void = 1 THEN 0 ELSE a.posted + a.adjusted END AS net
  FROM firsts f JOIN amounts a ON f.tenant_id = a.tenant_id AND f.charge_id = a.charge_id)
SELECT tenant_id, day, code_system, code, care_unit, currency, COUNT(*) AS charges,
       SUM(posted) AS posted_minor, SUM(adjusted) AS adjusted_minor, SUM(voided) AS voided_minor, SUM(net) AS net_minor
FROM per GROUP BY tenant_id, day, code_system, code, care_unit, currency";

/// `news2` from the snapshot, values in thousandths.
pub const NEWS2_VIEW: &str = "SELECT tenant_id, patient_id, encounter_id, score, red_flag, response, parameters_present,
  CAST(ROUND(respiration_rate * 1000) AS BIGINT) AS rr, CAST(ROUND(spo2 * 1000) AS BIGINT) AS spo2, spo2_scale,
  supplemental_oxygen, CAST(ROUND(systolic_bp * 1000) AS BIGINT) AS sbp, CAST(ROUND(pulse * 1000) AS BIGINT) AS pulse,
  consciousness, CAST(ROUND(temperature * 1000) AS BIGINT) AS temp, CAST(last_observed AS BIGINT) AS last_observed,
  previous_score
  FROM news2";
/// `news2` recomputed in SQL: latest reading per parameter, then RCP 2017 chart 1 bands.
pub const NEWS2_BATCH: &str = "
WITH p AS (
  SELECT tenant_id, patient_id, encounter_id, event_time, event_id,
         CASE code WHEN '9279-1' THEN 'rr' WHEN '59408-5' THEN 'spo2' WHEN '2708-6' THEN 'spo2'
                   WHEN '8480-6' THEN 'sbp' WHEN '8867-4' THEN 'pulse' WHEN '8310-5' THEN 'temp' END AS param,
         CAST(ROUND(value * 1000) AS BIGINT) AS v
  FROM vital_signs WHERE code IN ('9279-1', '59408-5', '2708-6', '8480-6', '8867-4', '8310-5') AND value IS NOT NULL
  UNION ALL SELECT tenant_id, patient_id, encounter_id, event_time, event_id, 'o2',
         CASE WHEN supplemental_oxygen THEN 1 ELSE 0 END FROM vital_signs WHERE supplemental_oxygen IS NOT NULL
  UNION ALL SELECT tenant_id, patient_id, encounter_id, event_time, event_id, 'acvpu',
         CASE consciousness WHEN 'A' THEN 0 WHEN 'C' THEN 1 WHEN 'V' THEN 2 WHEN 'P' THEN 3 ELSE 4 END
         FROM vital_signs WHERE consciousness IS NOT NULL
  UNION ALL SELECT tenant_id, patient_id, encounter_id, event_time, event_id, 'scale', CAST(spo2_scale AS BIGINT)
         FROM vital_signs WHERE spo2_scale IS NOT NULL),
latest AS (
  SELECT * FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant_id, patient_id, param ORDER BY event_time DESC, event_id DESC) AS rn
    FROM p) t WHERE rn = 1),
enc AS (
  SELECT tenant_id, patient_id, encounter_id FROM (
    SELECT tenant_id, patient_id, encounter_id,
           ROW_NUMBER() OVER (PARTITION BY tenant_id, patient_id ORDER BY event_time DESC, encounter_id DESC) AS rn
    FROM latest) t WHERE rn = 1),
wide AS (
  SELECT tenant_id, patient_id,
         MAX(CASE WHEN param = 'rr' THEN v END) AS rr, MAX(CASE WHEN param = 'spo2' THEN v END) AS spo2,
         MAX(CASE WHEN param = 'o2' THEN v END) AS o2, MAX(CASE WHEN param = 'sbp' THEN v END) AS sbp,
         MAX(CASE WHEN param = 'pulse' THEN v END) AS pulse, MAX(CASE WHEN param = 'acvpu' THEN v END) AS acvpu,
         MAX(CASE WHEN param = 'temp' THEN v END) AS temp, COALESCE(MAX(CASE WHEN param = 'scale' THEN v END), 1) AS scale,
         CAST(MAX(event_time) AS BIGINT) AS last_observed
  FROM latest GROUP BY tenant_id, patient_id),
s AS (
  SELECT w.*, e.encounter_id,
    CASE WHEN rr IS NULL THEN NULL WHEN (rr + 500) / 1000 <= 8 THEN 3 WHEN (rr + 500) / 1000 <= 11 THEN 1
         WHEN (rr + 500) / 1000 <= 20 THEN 0 WHEN (rr + 500) / 1000 <= 24 THEN 2 ELSE 3 END AS s_rr,
    CASE WHEN spo2 IS NULL THEN NULL
         WHEN scale = 2 THEN
           CASE WHEN (spo2 + 500) / 1000 <= 83 THEN 3 WHEN (spo2 + 500) / 1000 <= 85 THEN 2
                WHEN (spo2 + 500) / 1000 <= 87 THEN 1 WHEN (spo2 + 500) / 1000 <= 92 THEN 0
                WHEN COALESCE(o2, 0) = 0 THEN 0 WHEN (spo2 + 500) / 1000 <= 94 THEN 1
                WHEN (spo2 + 500) / 1000 <= 96 THEN 2 ELSE 3 END
         ELSE CASE WHEN (spo2 + 500) / 1000 <= 91 THEN 3 WHEN (spo2 + 500) / 1000 <= 93 THEN 2
                   WHEN (spo2 + 500) / 1000 <= 95 THEN 1 ELSE 0 END END AS s_spo2,
    CASE WHEN o2 IS NULL THEN NULL WHEN o2 = 1 THEN 2 ELSE 0 END AS s_o2,
    CASE WHEN sbp IS NULL THEN NULL WHEN (sbp + 500) / 1000 <= 90 THEN 3 WHEN (sbp + 500) / 1000 <= 100 THEN 2
         WHEN (sbp + 500) / 1000 <= 110 THEN 1 WHEN (sbp + 500) / 1000 <= 219 THEN 0 ELSE 3 END AS s_sbp,
    CASE WHEN pulse IS NULL THEN NULL WHEN (pulse + 500) / 1000 <= 40 THEN 3 WHEN (pulse + 500) / 1000 <= 50 THEN 1
         WHEN (pulse + 500) / 1000 <= 90 THEN 0 WHEN (pulse + 500) / 1000 <= 110 THEN 1
         WHEN (pulse + 500) / 1000 <= 130 THEN 2 ELSE 3 END AS s_pulse,
    CASE WHEN acvpu IS NULL THEN NULL WHEN acvpu = 0 THEN 0 ELSE 3 END AS s_acvpu,
    CASE WHEN temp IS NULL THEN NULL WHEN (temp + 50) / 100 <= 350 THEN 3 WHEN (temp + 50) / 100 <= 360 THEN 1
         WHEN (temp + 50) / 100 <= 380 THEN 0 WHEN (temp + 50) / 100 <= 390 THEN 1 ELSE 2 END AS s_temp
  FROM wide w JOIN enc e ON w.tenant_id = e.tenant_id AND w.patient_id = e.patient_id),
t AS (
  SELECT *,
    COALESCE(s_rr, 0) + COALESCE(s_spo2, 0) + COALESCE(s_o2, 0) + COALESCE(s_sbp, 0) + COALESCE(s_pulse, 0)
      + COALESCE(s_acvpu, 0) + COALESCE(s_temp, 0) AS score,
    (COALESCE(s_rr, 0) = 3 OR COALESCE(s_spo2, 0) = 3 OR COALESCE(s_sbp, 0) = 3 OR COALESCE(s_pulse, 0) = 3
      OR COALESCE(s_acvpu, 0) = 3 OR COALESCE(s_temp, 0) = 3) AS red_flag,
    (CASE WHEN s_rr IS NULL THEN 0 ELSE 1 END + CASE WHEN s_spo2 IS NULL THEN 0 ELSE 1 END
      + CASE WHEN s_o2 IS NULL THEN 0 ELSE 1 END + CASE WHEN s_sbp IS NULL THEN 0 ELSE 1 END
      + CASE WHEN s_pulse IS NULL THEN 0 ELSE 1 END + CASE WHEN s_acvpu IS NULL THEN 0 ELSE 1 END
      + CASE WHEN s_temp IS NULL THEN 0 ELSE 1 END) AS parameters_present
  FROM s)
SELECT tenant_id, patient_id, encounter_id, CAST(score AS BIGINT) AS score, red_flag,
  CASE WHEN score >= 7 THEN 'high' WHEN score >= 5 THEN 'medium' WHEN red_flag THEN 'low-medium' ELSE 'low' END AS response,
  CAST(parameters_present AS BIGINT) AS parameters_present, rr, spo2, CAST(scale AS BIGINT) AS spo2_scale,
  CASE WHEN o2 IS NULL THEN NULL WHEN o2 = 1 THEN true ELSE false END AS supplemental_oxygen, sbp, pulse,
  CASE acvpu WHEN 0 THEN 'A' WHEN 1 THEN 'C' WHEN 2 THEN 'V' WHEN 3 THEN 'P' WHEN 4 THEN 'U' END AS consciousness,
  temp, last_observed
FROM t";

/// `news2` recomputed with `previous_score`: [`NEWS2_BATCH`] once over every reading and once
/// over each patient's readings before their latest reading time, joined by patient.
pub const NEWS2_WITH_PREVIOUS: &str = "NEWS2_WITH_PREVIOUS";

/// The readings before each patient's latest reading time (in place of `FROM p`).
const EARLIER_READINGS: &str = "FROM (SELECT p.* FROM p JOIN (SELECT tenant_id AS mt, patient_id AS mp, MAX(event_time) AS t_last
    FROM p GROUP BY tenant_id, patient_id) m ON p.tenant_id = m.mt AND p.patient_id = m.mp
    WHERE p.event_time < m.t_last) pp) t WHERE rn = 1),";

/// The batch query text with its placeholders filled in.
pub fn batch_sql(template: &str) -> String {
    if template == NEWS2_WITH_PREVIOUS {
        let earlier = NEWS2_BATCH.replace("    FROM p) t WHERE rn = 1),", EARLIER_READINGS);
        assert_ne!(
            earlier, NEWS2_BATCH,
            "NEWS2_BATCH reads its readings `FROM p`"
        );
        return format!(
            "SELECT c.*, e.score AS previous_score FROM ({NEWS2_BATCH}) c
             LEFT JOIN (SELECT tenant_id, patient_id, score FROM ({earlier}) x WHERE parameters_present > 0) e
             ON c.tenant_id = e.tenant_id AND c.patient_id = e.patient_id"
        );
    }
    template.replace("KIND_RANK", KIND_RANK)
}

/// Compares every view of `store` with its batch recomputation over `events`; returns one
/// message per mismatching view (empty when all agree) and the number of rows compared.
pub async fn compare_all(
    store: &ViewStore,
    events: &[Event],
) -> anyhow::Result<(Vec<String>, usize)> {
    let snapshot = store.snapshot()?;
    let view_ctx = sql::session(&snapshot)?;
    let raw_ctx = raw_session(events)?;
    let mut problems = Vec::new();
    let mut compared = 0;
    for (name, view_q, batch_q) in VIEWS {
        let got = rows(&view_ctx, view_q).await?;
        let want = rows(&raw_ctx, &batch_sql(batch_q)).await?;
        compared += want.len();
        if got != want {
            let missing: Vec<_> = want.iter().filter(|r| !got.contains(r)).take(3).collect();
            let extra: Vec<_> = got.iter().filter(|r| !want.contains(r)).take(3).collect();
            problems.push(format!(
                "{name}: view has {} rows, batch {}; missing from view {missing:?}; extra in view {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    let got = rows(&view_ctx, ALERTS.0).await?;
    let want = rows(
        &raw_ctx,
        &batch_sql(&ALERTS.1.replace("BATCH", NEWS2_BATCH)),
    )
    .await?;
    compared += want.len();
    if got != want {
        let missing: Vec<_> = want.iter().filter(|r| !got.contains(r)).take(3).collect();
        let extra: Vec<_> = got.iter().filter(|r| !want.contains(r)).take(3).collect();
        problems.push(format!(
            "alerts: view has {} rows, batch {}; missing from view {missing:?}; extra in view {extra:?}",
            got.len(),
            want.len()
        ));
    }
    Ok((problems, compared))
}
