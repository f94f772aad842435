//! `wardstream produce` and `wardstream run --kafka` as processes against a real broker: the
//! real data published, the consuming engine killed with SIGKILL mid-stream and restarted,
//! and its final views equal the embedded replay's, with no event counted twice; two
//! processes in timely cluster mode give the same views.

use super::{bin, data_dir, kill_when, run_ok};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use wardstream_tests::kafka::KafkaBroker;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wardstream-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every `<view>.ndjson` under `dir`, by name.
fn views(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_kafka_run_killed_mid_stream_resumes_to_the_embedded_replays_views() {
    let broker = KafkaBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let brokers = broker.brokers();
    let data = data_dir();
    let out = temp("kafka");
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));

    // Publish the real data (all four data sets) with the producer command.
    let summary = run_ok(
        bin()
            .args(["produce", "-q", "--brokers", &brokers, "--partitions", "4"])
            .arg("--replay")
            .arg(&data),
    );
    let summary: serde_json::Value =
        serde_json::from_str(summary.trim()).unwrap_or_else(|e| panic!("{summary}: {e}"));
    let published: u64 = summary["sent"]
        .as_object()
        .map(|m| m.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    assert!(published > 1_000_000, "published {published}");
    assert_eq!(summary["failed"], 0);

    // The reference: the embedded replay of the same data.
    run_ok(
        bin()
            .args(["run", "--fast", "--exit-at-end", "-q", "-w", "2"])
            .args(["--listen", "127.0.0.1:0", "--replay"])
            .arg(&data)
            .arg("--views-out")
            .arg(out.join("embedded")),
    );

    // Consume, checkpointing every 200 ms; kill -9 mid-stream.
    let checkpoints = out.join("checkpoints");
    let kafka_run = |interval_ms: &str| {
        let mut cmd = bin();
        cmd.args(["run", "--exit-at-end", "-q", "-w", "2"])
            .args(["--listen", "127.0.0.1:0", "--kafka", &brokers])
            .arg("--checkpoint-dir")
            .arg(&checkpoints)
            .arg("--views-out")
            .arg(out.join("kafka"))
            .env("WARDSTREAM__KAFKA__CHECKPOINT_INTERVAL_MS", interval_ms);
        cmd
    };
    let mut child = kafka_run("200")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start wardstream: {e}"));
    // Mid-stream: both workers have checkpointed a good part of the data (> 20 MB of state).
    let size = |i: usize| {
        std::fs::metadata(checkpoints.join(format!("worker-{i}.json"))).map_or(0, |m| m.len())
    };
    kill_when(&mut child, "checkpoints of 20 MB", || {
        (size(0) > 20_000_000 && size(1) > 20_000_000).then_some(())
    });
    assert!(
        !out.join("kafka").exists(),
        "the killed run must not have finished"
    );

    // Restart: it resumes from the checkpoints and reads to the end, judging nothing late
    // (a resumed partition not read yet must hold its tenants' watermarks back).
    let dead = out.join("dead-letters.ndjson");
    run_ok(kafka_run("5000").arg("--dead-letters").arg(&dead));
    let late = std::fs::read_to_string(&dead)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(r#""reason":"late""#))
        .count();
    assert_eq!(late, 0, "events judged late after the restart");
    let got = views(&out.join("kafka"));
    let want = views(&out.join("embedded"));
    assert_eq!(got.len(), 8, "eight views written");
    for ((name, a), (_, b)) in got.iter().zip(&want) {
        assert!(
            a == b,
            "{name}: {} lines via Kafka after a crash, {} embedded",
            a.lines().count(),
            b.lines().count()
        );
    }

    // Timely cluster mode: two processes of one worker each split the partitions (fresh
    // checkpoints) and process 0's views equal the embedded replay's too.
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let hosts = out.join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", port(), port()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let member = |process: &str| {
        let mut cmd = bin();
        cmd.args([
            "run",
            "--exit-at-end",
            "-q",
            "-w",
            "1",
            "-n",
            "2",
            "-p",
            process,
        ])
        .arg("-h")
        .arg(&hosts)
        .args(["--listen", "127.0.0.1:0", "--kafka", &brokers])
        .arg("--checkpoint-dir")
        .arg(out.join("cluster-checkpoints"))
        .arg("--views-out")
        .arg(out.join("cluster"));
        cmd
    };
    let second = member("1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    run_ok(&mut member("0"));
    let second = second.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        second.status.success(),
        "process 1: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    let cluster = views(&out.join("cluster"));
    for ((name, a), (_, b)) in cluster.iter().zip(&want) {
        assert!(
            a == b,
            "{name}: the two-process cluster differs from one process"
        );
    }
    assert!(
        out.join("cluster-checkpoints/worker-1.json").exists(),
        "process 1 checkpoints its own worker"
    );

    // Resuming with another worker count is refused, naming the folder.
    let out3 = bin()
        .args(["run", "--exit-at-end", "-q", "-w", "3"])
        .args(["--listen", "127.0.0.1:0", "--kafka", &brokers])
        .arg("--checkpoint-dir")
        .arg(&checkpoints)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out3.status.success());
    let err = String::from_utf8_lossy(&out3.stderr);
    assert!(err.contains("same number"), "{err}");
    let _ = std::fs::remove_dir_all(&out);
}
