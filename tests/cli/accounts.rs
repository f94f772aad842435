//! `wardstream run` with a transactional store serves the tenant and auth routes beside SQL.

use super::bin;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

fn post(url: &str, token: Option<&str>, body: &str) -> (u16, serde_json::Value) {
    let mut req = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = req.send().unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn run_serves_onboarding_and_login_from_a_sqlite_store() {
    let dir = std::env::temp_dir().join(format!("wardstream-cli-accounts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db = dir.join("ws.db");
    let _ = std::fs::remove_file(&db);
    let (mut child, base) = start(
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "-q",
            "--max-events",
            "1000",
        ],
        &db,
        "serving SQL at ",
    );
    let (s, body) = post(
        &format!("{base}/v1/tenants"),
        None,
        r#"{"name":"Clinic","slug":"clinic-one","kind":"clinic","admin_email":"a@clinic.example","admin_password":"correct horse battery"}"#,
    );
    assert_eq!(s, 201, "{body}");
    let (s, tokens) = post(
        &format!("{base}/v1/auth/login"),
        None,
        r#"{"tenant":"clinic-one","email":"a@clinic.example","password":"correct horse battery"}"#,
    );
    assert_eq!(s, 200, "{tokens}");
    let me = reqwest::blocking::Client::new()
        .get(format!("{base}/v1/auth/me"))
        .header(
            "authorization",
            format!(
                "Bearer {}",
                tokens["access_token"].as_str().unwrap_or_default()
            ),
        )
        .send()
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(me.contains("\"role\":\"admin\""), "{me}");
    // A patient created and read: two entries in the tenant's audit trail.
    let token = tokens["access_token"].as_str().unwrap_or_default();
    let (s, p) = post(
        &format!("{base}/v1/patients"),
        Some(token),
        r#"{"mrn":"M-1","family_name":"Seacole","given_names":["Mary"],"gender":"female","birth_date":"1805-11-23"}"#,
    );
    assert_eq!(s, 201, "{p}");
    let read = reqwest::blocking::Client::new()
        .get(format!(
            "{base}/v1/patients/{}",
            p["id"].as_str().unwrap_or_default()
        ))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read, 200);
    let _ = child.kill();
    let _ = child.wait();
    // The tenant is in the file: a restart would find it.
    assert!(std::fs::metadata(&db).is_ok_and(|m| m.len() > 0));
    let verify = bin()
        .args(["audit", "verify", "--database-url"])
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(out.contains(": 2 entries, chain intact"), "{out}");
}

#[test]
fn audit_verify_without_a_store_says_how_to_name_one() {
    let out = bin()
        .args(["audit", "verify"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--database-url"), "{err}");
}

/// Starts `wardstream <args>` on the SQLite store `db` and returns it with its base URL, read
/// from the line of its log that names the address after `announce`.
fn start(args: &[&str], db: &std::path::Path, announce: &str) -> (std::process::Child, String) {
    let mut cmd = bin();
    cmd.env("DATABASE_URL", format!("sqlite://{}", db.display()));
    start_command(cmd, args, announce)
}

/// Starts `cmd <args>` and returns it with its base URL, read from the line of its log that
/// names the address after `announce`.
fn start_command(
    mut cmd: std::process::Command,
    args: &[&str],
    announce: &str,
) -> (std::process::Child, String) {
    let mut child = cmd
        .args(args)
        .env(
            "WARDSTREAM_JWT_SECRET",
            "a signing key of at least thirty-two bytes",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start wardstream: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let mut lines = BufReader::new(stderr).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        if let Some(rest) = line.split(announce).nth(1) {
            base = rest
                .split_whitespace()
                .next()
                .map(|s| s.trim_end_matches("/v1/sql").to_owned());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let base = base.unwrap_or_else(|| panic!("wardstream never said where it serves"));
    (child, base)
}

#[test]
fn serve_writes_and_a_later_run_relays_its_outbox_into_the_views() {
    let dir = std::env::temp_dir().join(format!("wardstream-cli-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db = dir.join("ws.db");
    let _ = std::fs::remove_file(&db);
    // The API alone: onboard, book an appointment.
    let (mut serve, base) = start(
        &["serve", "--listen", "127.0.0.1:0"],
        &db,
        "serving the API at ",
    );
    let ready = reqwest::blocking::get(format!("{base}/readyz"))
        .and_then(|r| Ok((r.status().as_u16(), r.text()?)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ready, (200, "ready".to_owned()), "the store answers");
    let (s, body) = post(
        &format!("{base}/v1/tenants"),
        None,
        r#"{"name":"Clinic","slug":"clinic-two","kind":"clinic","admin_email":"a@clinic.example","admin_password":"correct horse battery"}"#,
    );
    assert_eq!(s, 201, "{body}");
    let tenant = body["tenant"]["id"].as_str().unwrap_or_default().to_owned();
    let (_, tokens) = post(
        &format!("{base}/v1/auth/login"),
        None,
        r#"{"tenant":"clinic-two","email":"a@clinic.example","password":"correct horse battery"}"#,
    );
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (s, p) = post(
        &format!("{base}/v1/providers"),
        Some(&token),
        r#"{"name":"Dr Snow","specialty":"general","clinic":"harbour"}"#,
    );
    assert_eq!(s, 201, "{p}");
    let booking = format!(
        r#"{{"provider_id":"{}","patient_id":"p-1","starts_at":"2031-03-04T09:00:00Z","ends_at":"2031-03-04T09:30:00Z"}}"#,
        p["id"].as_str().unwrap_or_default()
    );
    let (s, a) = post(&format!("{base}/v1/appointments"), Some(&token), &booking);
    assert_eq!(s, 201, "{a}");
    let _ = serve.kill();
    let _ = serve.wait();

    // The engine on the same store: the relay hands the booking to the views.
    let (mut run, base) = start(
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "-q",
            "--max-events",
            "200",
        ],
        &db,
        "serving SQL at ",
    );
    // With accounts, SQL needs an analyst's or admin's token and sees only its tenant: no
    // filter on tenant_id here, and the generator's own tenants' rows stay out.
    let sql = r#"{"sql":"SELECT tenant_id, clinic, booked FROM no_show"}"#;
    let (s, p) = post(&format!("{base}/v1/sql?format=json"), None, sql);
    assert_eq!(s, 401, "{p}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let got = loop {
        let (s, rows) = post(&format!("{base}/v1/sql?format=json"), Some(&token), sql);
        assert_eq!(s, 200, "{rows}");
        if rows.as_array().is_some_and(|r| !r.is_empty()) || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = run.kill();
    let _ = run.wait();
    assert_eq!(
        got,
        serde_json::json!([{"tenant_id": tenant, "clinic": "harbour", "booked": 1}])
    );
}

/// Polls `sql` on `base` (with `token`) until it answers `want` or 30 s pass.
fn wait_for_sql(base: &str, token: Option<&str>, sql: &str, want: &serde_json::Value) {
    let body = serde_json::json!({ "sql": sql }).to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (s, rows) = post(&format!("{base}/v1/sql?format=json"), token, &body);
        assert_eq!(s, 200, "{rows}");
        if &rows == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sql}: got {rows}, want {want}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn serve_and_run_with_kafka_publish_the_outbox_to_the_topics_the_engine_reads() {
    let broker = wardstream_tests::kafka::KafkaBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let brokers = broker.brokers();
    let dir = std::env::temp_dir().join(format!(
        "wardstream-cli-outbox-kafka-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db = dir.join("ws.db");
    // The API as its own process, publishing its outbox to Kafka.
    let (serve, api) = start(
        &["serve", "--listen", "127.0.0.1:0", "--kafka", &brokers],
        &db,
        "serving the API at ",
    );
    let (s, body) = post(
        &format!("{api}/v1/tenants"),
        None,
        r#"{"name":"Clinic","slug":"clinic-k","kind":"clinic","admin_email":"a@clinic.example","admin_password":"correct horse battery"}"#,
    );
    assert_eq!(s, 201, "{body}");
    let tenant = body["tenant"]["id"].as_str().unwrap_or_default().to_owned();
    let login =
        r#"{"tenant":"clinic-k","email":"a@clinic.example","password":"correct horse battery"}"#;
    let (_, tokens) = post(&format!("{api}/v1/auth/login"), None, login);
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (s, p) = post(
        &format!("{api}/v1/providers"),
        Some(&token),
        r#"{"name":"Dr Snow","specialty":"general","clinic":"quay"}"#,
    );
    assert_eq!(s, 201, "{p}");
    let provider = p["id"].as_str().unwrap_or_default().to_owned();
    let book = |base: &str, token: &str, patient: &str, hour: u32| {
        let booking = format!(
            r#"{{"provider_id":"{provider}","patient_id":"{patient}","starts_at":"2031-05-06T{hour:02}:00:00Z","ends_at":"2031-05-06T{hour:02}:30:00Z"}}"#
        );
        let (s, a) = post(&format!("{base}/v1/appointments"), Some(token), &booking);
        assert_eq!(s, 201, "{a}");
    };
    book(&api, &token, "p-1", 9);

    // The engine as another process, with no store: it knows the booking only from Kafka.
    let mut engine = bin();
    engine.env_remove("DATABASE_URL");
    let checkpoints = dir.join("checkpoints-1");
    let checkpoints = checkpoints.to_string_lossy();
    let (run, views) = start_command(
        engine,
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "-q",
            "--kafka",
            &brokers,
            "--checkpoint-dir",
            &checkpoints,
        ],
        "serving SQL at ",
    );
    let sql = format!("SELECT clinic, booked FROM no_show WHERE tenant_id = '{tenant}'");
    wait_for_sql(
        &views,
        None,
        &sql,
        &serde_json::json!([{"clinic": "quay", "booked": 1}]),
    );
    for mut child in [serve, run] {
        let _ = child.kill();
        let _ = child.wait();
    }

    // One process with both, on the same store: a booking made through it goes out to Kafka
    // and comes back into its views beside the first (which only Kafka still has).
    let checkpoints = dir.join("checkpoints-2");
    let checkpoints = checkpoints.to_string_lossy();
    let (mut both, base) = start(
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "-q",
            "--kafka",
            &brokers,
            "--checkpoint-dir",
            &checkpoints,
        ],
        &db,
        "serving SQL at ",
    );
    let (_, tokens) = post(&format!("{base}/v1/auth/login"), None, login);
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    book(&base, &token, "p-2", 10);
    wait_for_sql(
        &base,
        Some(&token),
        "SELECT clinic, booked FROM no_show",
        &serde_json::json!([{"clinic": "quay", "booked": 2}]),
    );
    let _ = both.kill();
    let _ = both.wait();
    drop(broker);
}

fn get(url: &str, token: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::blocking::Client::new()
        .get(url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn no_patient_identifiers_reach_the_log_even_at_trace_level() {
    let dir = std::env::temp_dir().join(format!("wardstream-cli-phi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db = dir.join("ws.db");
    let _ = std::fs::remove_file(&db);
    let mut child = bin()
        .args([
            "--log",
            "trace",
            "run",
            "--listen",
            "127.0.0.1:0",
            "-q",
            "--max-events",
            "50",
        ])
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env(
            "WARDSTREAM_JWT_SECRET",
            "a signing key of at least thirty-two bytes",
        )
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start wardstream: {e}"));
    // Every line of the log, kept.
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap_or_default();
                if let Some(rest) = line.split("serving SQL at ").nth(1) {
                    let base = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(base.trim_end_matches("/v1/sql").to_owned());
                }
                log.lock().map(|mut l| l.push(line)).unwrap_or_default();
            }
        });
    }
    let base = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("wardstream never said where it serves: {e}"));
    let (s, body) = post(
        &format!("{base}/v1/tenants"),
        None,
        r#"{"name":"Clinic","slug":"clinic-phi","kind":"clinic","admin_email":"a@clinic.example","admin_password":"correct horse battery"}"#,
    );
    assert_eq!(s, 201, "{body}");
    let (_, tokens) = post(
        &format!("{base}/v1/auth/login"),
        None,
        r#"{"tenant":"clinic-phi","email":"a@clinic.example","password":"correct horse battery"}"#,
    );
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // A patient with distinctive identifiers, then everything the API does with one.
    let patient = r#"{"mrn":"MRN-7731904","family_name":"Quintavalle","given_names":["Ottoline"],"gender":"female","birth_date":"1961-07-14","phone":"+44 20 7946 0321","email":"ottoline.q@example.org"}"#;
    let (s, p) = post(&format!("{base}/v1/patients"), Some(&token), patient);
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().unwrap_or_default().to_owned();
    let (s, dup) = post(&format!("{base}/v1/patients"), Some(&token), patient);
    assert_eq!(s, 409, "{dup}");
    let bad = patient
        .replace("1961-07-14", "1961-13-45")
        .replace("female", "Quintavalle-f");
    let (s, invalid) = post(&format!("{base}/v1/patients"), Some(&token), &bad);
    assert_eq!(s, 422, "{invalid}");
    for path in [
        format!("/v1/patients/{id}"),
        "/v1/patients?family=Quintav".to_owned(),
        format!("/fhir/Patient/{id}"),
        "/fhir/Patient?identifier=MRN-7731904".to_owned(),
        "/fhir/Patient?family=Quintavalle&birthdate=1961-07-14".to_owned(),
    ] {
        let (s, body) = get(&format!("{base}{path}"), &token);
        assert_eq!(s, 200, "{path}: {body}");
        assert!(body.to_string().contains("Quintavalle"), "{path}: {body}");
    }
    let (s, p) = post(
        &format!("{base}/v1/providers"),
        Some(&token),
        r#"{"name":"Dr Snow","specialty":"general","clinic":"quay"}"#,
    );
    assert_eq!(s, 201, "{p}");
    let booking = format!(
        r#"{{"provider_id":"{}","patient_id":"{id}","starts_at":"2031-05-06T09:00:00Z","ends_at":"2031-05-06T09:30:00Z"}}"#,
        p["id"].as_str().unwrap_or_default()
    );
    let (s, a) = post(&format!("{base}/v1/appointments"), Some(&token), &booking);
    assert_eq!(s, 201, "{a}");
    // The booking reaches the views (so the relay and the engine have handled it too).
    let sql = r#"{"sql":"SELECT booked FROM no_show WHERE clinic = 'quay'"}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (s, rows) = post(&format!("{base}/v1/sql?format=json"), Some(&token), sql);
        assert_eq!(s, 200, "{rows}");
        if rows == serde_json::json!([{"booked": 1}]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{rows}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    // The log did see the work: the store's statements on the patients table, and the relay.
    let seen = |what: &str| log.iter().filter(|l| l.contains(what)).count();
    assert!(
        seen("INSERT INTO patients") >= 1 && seen("FROM outbox") >= 1,
        "a trace log shows the statements run: {} lines, {log:#?}",
        log.len()
    );
    for identifier in [
        "MRN-7731904",
        "Quintav",
        "Ottoline",
        "1961-07-14",
        "7946 0321",
        "ottoline.q",
        id.as_str(),
    ] {
        let leaks: Vec<&String> = log.iter().filter(|l| l.contains(identifier)).collect();
        assert!(leaks.is_empty(), "{identifier} in the log: {leaks:#?}");
    }
}

#[test]
fn serve_without_a_store_says_how_to_set_one() {
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DATABASE_URL"), "{err}");
}
