//! Shared helpers for the harnesses in `benches/`: locating the real data, measuring peak
//! memory, and printing result rows.

use std::path::PathBuf;
use std::time::Duration;

/// The real data folder: `$WARDSTREAM_DATA_DIR`, else `shared/data` found above this crate.
pub fn data_dir() -> PathBuf {
    wardstream_pipelines::replay::find_data_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Which workloads to run: the names given after `--` (`cargo bench … -- NAME…`; none means
/// all), as a predicate. `None` when cargo only asks the harness to `--list` its benches.
pub fn workloads() -> Option<impl Fn(&str) -> bool> {
    if std::env::args().any(|a| a == "--list") {
        return None;
    }
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    Some(move |name: &str| names.is_empty() || names.iter().any(|a| a == name))
}

/// Peak resident set size of this process so far, in MiB (`VmHWM` from `/proc/self/status`).
pub fn max_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One result row: workload, events, workers, elapsed, events/s per core, freshness, max RSS.
pub fn print_row(
    workload: &str,
    events: u64,
    workers: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
) {
    let per_core = events as f64 / elapsed.as_secs_f64().max(1e-9) / workers as f64;
    println!(
        "| {workload} | {events} | {workers} | {:.2} s | {:.0} | {:.0} ms | {:.0} ms | {:.0} MiB |",
        elapsed.as_secs_f64(),
        per_core,
        p50.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        max_rss_mib().unwrap_or(f64::NAN)
    );
}

/// The table header matching [`print_row`].
pub fn print_header() {
    println!(
        "| workload | events | workers | elapsed | events/s per core | p50 freshness | p99 freshness | max RSS (process) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
}
