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
    let mut child = bin()
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "-q",
            "--max-events",
            "1000",
        ])
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env(
            "WARDSTREAM_JWT_SECRET",
            "a signing key of at least thirty-two bytes",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start wardstream: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    // The server announces its address once it listens; its log is drained from then on.
    let mut lines = BufReader::new(stderr).lines();
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        if let Some(rest) = line.split("serving SQL at ").nth(1) {
            base = rest.split("/v1/sql").next().map(str::to_owned);
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let base = base.unwrap_or_else(|| panic!("wardstream never said where it serves"));
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
