//! `wardstream optimize`: a benchmark instance solved and checked; staffing recommendations
//! from the example roster file and the generator's live census; clear errors on bad input.

use super::{bin, data_dir, run_ok};
use std::path::Path;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn benchmark_instance1_reports_optimum_bound_gap_and_best_known() {
    let file = data_dir().join("nurse-rostering-curtois-qu/Instance1.txt");
    let dir = std::env::temp_dir().join(format!("wardstream-opt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let roster = dir.join("roster.json");
    let out = run_ok(
        bin()
            .args([
                "optimize",
                "--format",
                "json",
                "--time-limit",
                "120",
                "--benchmark",
            ])
            .arg(&file)
            .arg("--out")
            .arg(&roster),
    );
    let v = json(&out);
    assert_eq!(v["status"], "optimal");
    // 785 legal schedules: the default lists them and solves the pattern formulation.
    assert_eq!(v["formulation"], "patterns");
    let near =
        |x: &serde_json::Value, want: f64| (x.as_f64().unwrap_or(f64::NAN) - want).abs() < 1e-6;
    assert!(near(&v["objective"], 607.0), "{}", v["objective"]);
    assert!(near(&v["bound"], 607.0), "{}", v["bound"]);
    assert!(near(&v["gap"], 0.0), "{}", v["gap"]);
    assert!(
        near(&v["checker"]["total"], 607.0),
        "{}",
        v["checker"]["total"]
    );
    assert_eq!(v["checker"]["violations"].as_array().map(Vec::len), Some(0));
    assert_eq!(v["best_known"]["upper"].as_f64(), Some(607.0));
    let written: serde_json::Value =
        json(&std::fs::read_to_string(&roster).unwrap_or_else(|e| panic!("{e}")));
    // 8 nurses over 14 days: the roster file holds one entry per shift worked.
    let n = written["assignments"].as_array().map_or(0, Vec::len);
    assert!(n > 40 && n <= 8 * 14, "{n}");
}

#[test]
fn price_and_branch_reaches_instance2s_optimum_as_its_bound() {
    let file = data_dir().join("nurse-rostering-curtois-qu/Instance2.txt");
    let out = run_ok(
        bin()
            .args([
                "optimize",
                "--format",
                "json",
                "--quiet",
                "--time-limit",
                "120",
            ])
            .args(["--formulation", "price-and-branch", "--benchmark"])
            .arg(&file),
    );
    let v = json(&out);
    assert_eq!(v["formulation"], "price_and_branch");
    assert_eq!(v["pricing"]["converged"], true, "{}", v["pricing"]);
    // Column generation's bound is the optimum (828). The roster over the generated
    // schedules met it in every run here, but which schedules are generated can depend on
    // pricing time caps under load, so only "at least the bound" is asserted, and
    // "optimal" only together with meeting it.
    assert_eq!(v["bound"].as_f64(), Some(828.0));
    let total = v["checker"]["total"].as_f64().unwrap_or(f64::NAN);
    assert!(total >= 828.0 - 1e-6, "{total}");
    assert!((v["objective"].as_f64().unwrap_or(f64::NAN) - total).abs() < 1e-6);
    assert_eq!(
        v["status"] == "optimal",
        (total - 828.0).abs() < 1e-6,
        "{v}"
    );
    assert_eq!(v["checker"]["violations"].as_array().map(Vec::len), Some(0));
}

#[test]
fn branch_and_price_proves_instance1_past_its_root_bound() {
    let file = data_dir().join("nurse-rostering-curtois-qu/Instance1.txt");
    let out = run_ok(
        bin()
            .args(["optimize", "--format", "json", "--quiet"])
            .args(["--time-limit", "120", "--formulation", "branch-and-price"])
            .arg("--benchmark")
            .arg(&file),
    );
    let v = json(&out);
    assert_eq!(v["formulation"], "branch_and_price");
    // The root relaxation is 558; the tree proves the best-known 607.
    assert!(
        v["pricing"]["master_value"].as_f64().unwrap_or(f64::NAN) < 600.0,
        "{v}"
    );
    assert!(v["pricing"]["nodes"].as_u64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["pricing"]["open_nodes"], 0, "{v}");
    assert_eq!(v["status"], "optimal", "{v}");
    assert_eq!(v["bound"].as_f64(), Some(607.0));
    assert_eq!(v["checker"]["total"].as_f64(), Some(607.0));
    assert_eq!(v["checker"]["violations"].as_array().map(Vec::len), Some(0));
}

#[test]
fn staffing_from_the_generator_census_meets_every_ratio() {
    let roster = Path::new(env!("CARGO_MANIFEST_DIR")).join("solver/rosters/critical-care.toml");
    let out = run_ok(
        bin()
            .args(["optimize", "--format", "json", "--quiet", "--horizon", "7d"])
            .args(["--generate", "30000", "--time-limit", "30", "--roster"])
            .arg(&roster),
    );
    let v = json(&out);
    let status = v["status"].as_str().unwrap_or("");
    assert!(status == "optimal" || status == "time_limit", "{status}");
    let coverage = v["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), 3);
    for c in coverage {
        assert!(c["hours"].as_u64().unwrap_or(0) > 0, "{c}");
        assert_eq!(c["compliant_hours"], c["hours"], "{c}");
    }
    assert_eq!(v["violations"].as_array().map(Vec::len), Some(0));
    let words = v["recommendations"][0].as_str().unwrap_or("");
    assert!(words.contains("unit-hours meet their ratios"), "{words}");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("wardstream-opt-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nstart = \"2026-11-23\"\nshifts = []\nunits = [{ name = \"A\", kind = \"moon_base\" }]\ncontracts = {}\nstaff = []\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = bin()
        .args(["optimize", "--quiet", "--roster"])
        .arg(&bad)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no ratio for kind \"moon_base\""), "{err}");
}
