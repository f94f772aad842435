//! The `wardstream` binary as a user runs it: replay checks, recording a generated run and
//! replaying the recording, and SQL output formats.

use std::path::PathBuf;
use std::process::Command;

mod accounts;
mod clickhouse;
mod federate;
mod kafka;
mod optimize;
mod twin;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wardstream"))
}

fn data_dir() -> PathBuf {
    wardstream_pipelines::replay::find_data_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start wardstream: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Kills `child` with SIGKILL once `ready()` returns `Some`, polling it every 20 ms; fails if
/// `child` ends first or 300 s pass (`what` says what was awaited).
fn kill_when<T>(
    child: &mut std::process::Child,
    what: &str,
    mut ready: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let found = loop {
        if let Some(v) = ready() {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 300 s"
        );
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "the run ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap_or_else(|e| panic!("{e}"));
    child.wait().unwrap_or_else(|e| panic!("{e}"));
    found
}

#[test]
fn replay_check_counts_real_bad_rows() {
    let out = run_ok(bin().args(["replay", "--check"]).arg(data_dir()));
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_owned())
    };
    assert_eq!(
        line("booked_after_appointment").as_deref(),
        Some("10"),
        "{out}"
    );
    assert_eq!(line("invalid_age").as_deref(), Some("2"), "{out}");
    assert!(out.contains("mimic-iv-demo/hosp/transfers.csv.gz"), "{out}");
}

#[test]
fn a_recorded_run_replays_to_the_same_input() {
    let dir = std::env::temp_dir().join(format!("wardstream-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let recording = dir.join("day.ndjson");
    run_ok(
        bin()
            .args([
                "run",
                "--max-events",
                "3000",
                "--fast",
                "--exit-at-end",
                "-q",
                "--listen",
                "127.0.0.1:0",
                "--record",
            ])
            .arg(&recording),
    );
    let lines = std::fs::read_to_string(&recording)
        .unwrap_or_default()
        .lines()
        .count();
    assert_eq!(lines, 3000, "every generated event is recorded");
    let json = run_ok(
        bin()
            .args(["sql", "--format", "json", "--replay"])
            .arg(&recording)
            .arg("SELECT sum(events) AS n FROM ingest_stats WHERE outcome = 'received'"),
    );
    let rows: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(rows[0]["n"], 3000);
    let csv = run_ok(
        bin()
            .args(["sql", "--format", "csv", "--replay"])
            .arg(&recording)
            .arg("SELECT care_unit, patients FROM census ORDER BY care_unit"),
    );
    assert!(csv.starts_with("care_unit,patients\n"), "{csv}");
    assert!(
        csv.lines().count() > 2,
        "the generated hospital has patients: {csv}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
