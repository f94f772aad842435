//! Golden tests on the real data: after replaying the MIMIC-IV demo, PhysioNet 2012 and eICU
//! vitals, and the Kaggle no-show file, every view equals its batch recomputation in
//! DataFusion SQL over the same input; every record is accounted for; real bad rows are
//! dead letters with the right reason.

use std::collections::BTreeMap;
use wardstream_operators::Outcome;
use wardstream_pipelines::SourceRecord;
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_schemas::time::parse_rfc3339;
use wardstream_schemas::{RejectReason, Stream};
use wardstream_tests::{applied_events, compare_all, data_dir, run_engine};

fn options(sets: Vec<DataSet>) -> ReplayOptions {
    ReplayOptions {
        data_dir: data_dir(),
        anchor: parse_rfc3339("2025-01-01T00:00:00Z").unwrap_or_default(),
        drg_base_rate_minor: 637_574,
        data_sets: sets,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_equals_batch_sql_on_real_data() -> anyhow::Result<()> {
    let all = vec![
        DataSet::MimicIvDemo,
        DataSet::Physionet2012,
        DataSet::EicuDemo,
        DataSet::Noshow,
    ];
    let replay = replay::load_data_sets(&options(all))?;
    let records = replay.records;
    assert!(
        records.len() > 1_000_000,
        "expected the full real data, got {} records",
        records.len()
    );
    let store = run_engine(records.clone(), 2, 20_000)?;
    let events = applied_events(&records);

    let (problems, compared) = compare_all(&store, &events).await?;
    assert!(
        problems.is_empty(),
        "views differ from batch SQL:\n{}",
        problems.join("\n")
    );
    assert!(compared > 10_000, "only {compared} rows compared");

    // ED boarding in MIMIC-IV: the 181 admissions that start in the ED, from `admittime`
    // (within the ED stay) to the first move out of the ED. Totals computed independently
    // from the CSVs with Python's datetime: 35,132 minutes, median 84, longest 4,175.
    let snapshot = store.snapshot()?;
    let boarding = wardstream_tests::rows(
        &wardstream_pipelines::sql::session(&snapshot)?,
        "SELECT COUNT(*), COUNT(departed_at), COUNT(to_care_unit), SUM(boarding_minutes), \
         MAX(boarding_minutes) FROM ed_boarding WHERE tenant_id = 'mimic-iv-demo'",
    )
    .await?;
    assert_eq!(boarding, ["181|181|181|35132|4175"]);
    // The comparison above is not vacuous for the newer columns: most patients have a score
    // before their latest observation, and it often differs; every eICU stay ends discharged,
    // so none of its many patients at risk is an alert any more, while PhysioNet's (no ADT)
    // are, without a unit.
    let news2 = wardstream_tests::rows(
        &wardstream_pipelines::sql::session(&snapshot)?,
        "SELECT COUNT(*) > 1000, SUM(CASE WHEN previous_score IS NOT NULL THEN 1 ELSE 0 END) > 1000, \
         SUM(CASE WHEN previous_score <> score THEN 1 ELSE 0 END) > 100, \
         SUM(CASE WHEN tenant_id LIKE 'eicu%' AND response IN ('medium', 'high') THEN 1 ELSE 0 END) > 10 FROM news2",
    )
    .await?;
    assert_eq!(news2, ["true|true|true|true"]);
    let alerts = wardstream_tests::rows(
        &wardstream_pipelines::sql::session(&snapshot)?,
        "SELECT SUM(CASE WHEN tenant_id LIKE 'eicu%' THEN 1 ELSE 0 END), COUNT(*) > 100, COUNT(care_unit) FROM alerts",
    )
    .await?;
    assert_eq!(alerts, ["0|true|0"]);

    // Conservation per stream and per reason: received = applied + duplicates + dead letters,
    // and the dead letters are exactly the source's rejections.
    let stats = store.stats();
    let mut rejected: BTreeMap<(Stream, RejectReason), u64> = BTreeMap::new();
    let mut received: BTreeMap<Stream, u64> = BTreeMap::new();
    for r in &records {
        *received.entry(r.stream()).or_default() += 1;
        if let SourceRecord::Rejected(x) = r {
            *rejected.entry((x.stream, x.reject.reason)).or_default() += 1;
        }
    }
    for stream in Stream::ALL {
        let want = received.get(&stream).copied().unwrap_or(0);
        assert_eq!(
            stats.received.get(&stream).copied().unwrap_or(0),
            want,
            "{stream} received"
        );
        assert_eq!(
            stats.accounted(stream),
            want,
            "{stream}: every record has exactly one outcome"
        );
        for reason in RejectReason::ALL {
            let want = rejected.get(&(stream, reason)).copied().unwrap_or(0);
            assert_eq!(
                stats.dead_lettered_for(stream, reason),
                want,
                "{stream} dead letters for {reason}"
            );
        }
        assert_eq!(
            stats
                .outcomes
                .get(&(stream, Outcome::Corrected))
                .copied()
                .unwrap_or(0),
            0,
            "{stream}: no corrections in the real data"
        );
    }
    assert_eq!(
        store.dead_letters().len() as u64,
        stats.total_dead_lettered()
    );
    Ok(())
}

#[test]
fn real_bad_rows_land_in_dead_letters_with_their_reason() -> anyhow::Result<()> {
    let replay = replay::load_data_sets(&options(vec![DataSet::Noshow, DataSet::Physionet2012]))?;
    let store = run_engine(replay.records, 1, 50_000)?;
    let letters = store.dead_letters();
    let count = |reason: RejectReason| letters.iter().filter(|l| l.reject.reason == reason).count();
    // Kaggle: 5 rows booked after the appointment day and one with age -1, two events each.
    assert_eq!(count(RejectReason::BookedAfterAppointment), 10);
    assert_eq!(count(RejectReason::InvalidAge), 2);
    let age = letters
        .iter()
        .find(|l| l.reject.reason == RejectReason::InvalidAge)
        .map(|l| String::from_utf8_lossy(&l.raw).into_owned());
    assert!(
        age.as_deref().is_some_and(|raw| raw.contains(",-1,")),
        "raw bytes of the age -1 row are kept: {age:?}"
    );
    // PhysioNet: impossible vitals are rejected as out of range, with the raw CSV row.
    let out_of_range: Vec<_> = letters
        .iter()
        .filter(|l| l.reject.reason == RejectReason::ValueOutOfRange)
        .collect();
    assert!(!out_of_range.is_empty());
    assert!(
        out_of_range
            .iter()
            .all(|l| l.stream == Stream::Vitals && !l.raw.is_empty())
    );
    Ok(())
}
