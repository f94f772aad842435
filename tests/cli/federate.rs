//! `wardstream federate simulate` on the real no-show data: JSON report, round count, the
//! model improving, and a bad argument refused with a clear message.

use super::{bin, data_dir, run_ok};

#[test]
fn simulate_reports_every_round_as_json() {
    let out = run_ok(bin().arg("--data-dir").arg(data_dir()).args([
        "federate",
        "simulate",
        "--rounds",
        "3",
        "--no-baselines",
        "--quiet",
        "--format",
        "json",
    ]));
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let rounds = report["rounds"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(rounds.len(), 3);
    assert_eq!(report["sites"], 81);
    let auc = |k: usize| rounds[k]["evaluation"]["auc"].as_f64().unwrap_or(0.0);
    assert!(
        auc(2) > auc(0) && auc(2) > 0.65,
        "AUC {} → {}",
        auc(0),
        auc(2)
    );
    assert!(report["centralized"].is_null());
}

#[test]
fn a_missing_data_file_is_a_clear_error() {
    let out = bin()
        .args([
            "federate",
            "simulate",
            "--data",
            "/nonexistent/noshow.csv",
            "--quiet",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/noshow.csv"), "{err}");
}
