//! `wardstream twin`: calibration on the real data, runs, comparisons, exports, errors.

use super::{bin, data_dir, run_ok};
use std::path::{Path, PathBuf};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("twin/scenarios")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wardstream-twin-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The KPI `name` (for `unit`) of a run result.
fn kpi<'a>(result: &'a serde_json::Value, name: &str, unit: Option<&str>) -> &'a serde_json::Value {
    result["kpis"]
        .as_array()
        .and_then(|ks| {
            ks.iter()
                .find(|k| k["name"] == name && k["unit"].as_str() == unit)
        })
        .unwrap_or_else(|| panic!("no KPI {name} {unit:?}"))
}

#[test]
fn calibrate_on_real_data_then_run_it() {
    let dir = temp_dir("calibrate");
    let file = dir.join("hospital.toml");
    let out = bin()
        .args(["twin", "calibrate", "--encounters-per-day", "60", "--out"])
        .arg(&file)
        .arg(data_dir())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    // The report names real MIMIC-IV units, its sample sizes, and what was assumed.
    assert!(
        report.contains("Medical Intensive Care Unit (MICU)"),
        "{report}"
    );
    assert!(report.contains("ASSUMED"), "{report}");
    assert!(report.contains("2508 ICU unit stays"), "{report}");
    let scenario = wardstream_twin::scenario::Scenario::load(&file)
        .unwrap_or_else(|e| panic!("the calibrated file does not load: {e}"));
    let h = &scenario.hospital;
    assert!(h.units.len() >= 20, "{} units", h.units.len());
    assert!(
        h.units
            .iter()
            .all(|u| u.estimate.as_ref().is_some_and(|e| !e.source.is_empty()))
    );
    let per_day: f64 = h.arrivals.iter().map(|s| s.mean_rate()).sum::<f64>() * 24.0;
    assert!((per_day - 60.0).abs() < 1e-6, "{per_day}");
    let ed_per_day = h
        .arrivals
        .iter()
        .filter(|s| s.name == "ed")
        .map(|s| s.mean_rate() * 24.0)
        .sum::<f64>();

    // Running it: the simulated ED arrivals match the calibrated rate, and every unit reports.
    let result = json(&run_ok(
        bin()
            .args([
                "twin",
                "run",
                "-r",
                "8",
                "--horizon",
                "120d",
                "--warmup",
                "30d",
                "--format",
                "json",
                "--quiet",
            ])
            .arg(&file),
    ));
    let ed = &kpi(&result, "ed_arrivals", None)["ci"];
    let (lo, hi) = (
        ed["lower"].as_f64().unwrap_or(f64::NAN),
        ed["upper"].as_f64().unwrap_or(f64::NAN),
    );
    // 8 replications of 90 days: the interval is about ±2%; allow the rate's own noise.
    assert!(
        lo < ed_per_day * 1.03 && hi > ed_per_day * 0.97,
        "{ed} vs {ed_per_day}"
    );
    for u in &h.units {
        let occ = kpi(&result, "occupancy", Some(&u.name))["ci"]["mean"]
            .as_f64()
            .unwrap_or(f64::NAN);
        assert!((0.0..=100.0).contains(&occ), "{}: {occ}", u.name);
    }
}

#[test]
fn more_icu_beds_lower_icu_occupancy_in_a_paired_comparison() {
    let s = scenarios();
    let c = json(&run_ok(
        bin()
            .args([
                "twin",
                "compare",
                "-r",
                "20",
                "--horizon",
                "60d",
                "--format",
                "json",
                "--quiet",
            ])
            .arg(s.join("community-hospital.toml"))
            .arg(s.join("icu-plus-4.toml")),
    ));
    let diffs = c["differences"].as_array().cloned().unwrap_or_default();
    let d = diffs
        .iter()
        .find(|d| d["name"] == "occupancy" && d["unit"] == "ICU")
        .unwrap_or_else(|| panic!("no ICU occupancy difference: {c}"));
    assert!(
        d["difference"]["upper"].as_f64().unwrap_or(f64::NAN) < 0.0,
        "{d}"
    );
    // Common random numbers: the same ED arrivals in both (same seed, same streams).
    let a = kpi(&c["a"], "ed_arrivals", None)["values"].clone();
    let b = kpi(&c["b"], "ed_arrivals", None)["values"].clone();
    assert_eq!(a, b);
}

#[test]
fn results_export_as_csv_arrow_and_parquet() {
    let dir = temp_dir("export");
    let (csv, arrow_file, parquet) = (
        dir.join("summary.csv"),
        dir.join("replications.arrow"),
        dir.join("summary.parquet"),
    );
    let table = run_ok(
        bin()
            .args([
                "twin",
                "run",
                "-r",
                "3",
                "--horizon",
                "14d",
                "--seed",
                "4",
                "--quiet",
                "--out",
            ])
            .arg(&csv)
            .arg("--replications-out")
            .arg(&arrow_file)
            .arg(scenarios().join("surge-30.toml")),
    );
    assert!(table.contains("ed_wait_p90"), "{table}");
    let text = std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{e}"));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("scenario,kpi,unit,measure,mean,lower,upper,half_width,replications")
    );
    assert!(
        lines.any(|l| l.starts_with("surge-30,occupancy,ICU,%,")),
        "{text}"
    );
    let reader = arrow::ipc::reader::FileReader::try_new(
        std::fs::File::open(&arrow_file).unwrap_or_else(|e| panic!("{e}")),
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rows: usize = reader.map(|b| b.map(|b| b.num_rows()).unwrap_or(0)).sum();
    let kpis = text.lines().count() - 1;
    assert_eq!(rows, kpis * 3, "one row per KPI per replication");
    run_ok(
        bin()
            .args([
                "twin",
                "run",
                "-r",
                "2",
                "--horizon",
                "7d",
                "--quiet",
                "--out",
            ])
            .arg(&parquet)
            .arg(scenarios().join("community-hospital.toml")),
    );
    let bytes = std::fs::read(&parquet).unwrap_or_else(|e| panic!("{e}"));
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
}

#[test]
fn a_bad_scenario_is_a_clear_error() {
    let dir = temp_dir("bad");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "base = \"../missing.toml\"\n").unwrap_or_else(|e| panic!("{e}"));
    let out = bin()
        .args(["twin", "run", "-r", "2"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    let copy = dir.join("typo.toml");
    std::fs::write(
        &copy,
        format!(
            "base = {:?}\n[changes]\nadd_beds = {{ ICUU = 4 }}\n",
            scenarios().join("community-hospital.toml")
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = bin()
        .args(["twin", "run", "-r", "2"])
        .arg(&copy)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no care unit \"ICUU\""), "{err}");
}
