//! `wardstream run --clickhouse` as a process: killed with SIGKILL while it mirrors the real
//! data, then run again, it leaves ClickHouse exactly as a run that was never interrupted.

use super::{bin, data_dir, kill_when, run_ok};
use std::process::{Command, Stdio};
use wardstream_pipelines::clickhouse_sink::{column_list, view_schemas};
use wardstream_tests::clickhouse::ClickHouseServer;

/// Runs `sql` over ClickHouse's HTTP interface; returns its tab-separated answer.
fn query(url: &str, sql: &str) -> String {
    let resp = reqwest::blocking::Client::new()
        .post(url)
        .body(sql.to_owned())
        .send()
        .unwrap_or_else(|e| panic!("ClickHouse unreachable: {e}"));
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert!(status.is_success(), "{sql}: {status} {text}");
    text
}

fn count(url: &str, sql: &str) -> u64 {
    query(url, sql)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// `wardstream run` over the real data, mirrored into `database`, exiting at the end.
fn mirror_run(url: &str, database: &str) -> Command {
    let mut cmd = bin();
    cmd.args(["run", "--fast", "--exit-at-end", "-q", "--workers", "2"])
        .args(["--listen", "127.0.0.1:0", "--clickhouse", url, "--replay"])
        .arg(data_dir())
        .env("WARDSTREAM__CLICKHOUSE__DATABASE", database);
    cmd
}

/// What a database holds, in a form two databases can be compared by: every view collapsed by
/// sign, and the archive's rows as counts and order-free hashes.
fn contents(url: &str, db: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, schema) in view_schemas() {
        let cols = column_list(&schema);
        let odd = count(
            url,
            &format!(
                "SELECT count() FROM (SELECT sum(sign) AS n FROM {db}.{name} GROUP BY {cols}) WHERE n NOT IN (0, 1)"
            ),
        );
        assert_eq!(odd, 0, "{db}.{name}: a row written or retracted twice");
        let rows = query(
            url,
            &format!(
                "SELECT {cols} FROM {db}.{name} GROUP BY {cols} HAVING sum(sign) > 0 ORDER BY {cols}"
            ),
        );
        out.push((name.to_owned(), rows));
    }
    let archive = [
        (
            "raw_events",
            "count(), uniqExact(share, seq), sum(cityHash64(source_id, shares, share, seq, stream, tenant_id, event_id, event_time, payload))",
        ),
        (
            "dead_letters",
            "count(), sum(cityHash64(source_id, shares, share, seq, stream, reason, detail, origin, order_time, raw))",
        ),
    ];
    for (table, what) in archive {
        out.push((
            table.to_owned(),
            query(url, &format!("SELECT {what} FROM {db}.{table}")),
        ));
    }
    out
}

#[test]
fn a_run_killed_mid_mirror_then_rerun_equals_an_uninterrupted_run() {
    let server = ClickHouseServer::start().unwrap_or_else(|e| panic!("{e}"));
    let url = server.url();

    // The reference: one run, never interrupted.
    run_ok(&mut mirror_run(&url, "clean"));
    let total = count(&url, "SELECT count() FROM clean.raw_events");
    assert!(total > 100_000, "only {total} events archived");

    // The same run, killed (SIGKILL) once a fifth of the archive is in ClickHouse.
    let mut child = mirror_run(&url, "killed")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start wardstream: {e}"));
    let archived = kill_when(&mut child, "a fifth of the archive", || {
        let n = query(
            &url,
            "SELECT count() FROM system.tables WHERE database = 'killed' AND name = 'raw_events'",
        );
        if n.trim() != "1" {
            return None;
        }
        let n = count(&url, "SELECT count() FROM killed.raw_events");
        (n > total / 5).then_some(n)
    });
    let after_kill = count(&url, "SELECT count() FROM killed.raw_events");
    assert!(
        after_kill < total,
        "killed too late: {after_kill} of {total} archived (first seen {archived})"
    );

    // Run again: it resumes the archive and reconciles the views.
    run_ok(&mut mirror_run(&url, "killed"));
    let (want, got) = (contents(&url, "clean"), contents(&url, "killed"));
    for ((name, w), (_, g)) in want.iter().zip(&got) {
        assert!(w == g, "{name} differs after the kill and rerun");
    }
}
