//! The HTTP API against a real listener on 127.0.0.1, over views the engine computed.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source};
use wardstream_schemas::Event;

fn events() -> Vec<SourceRecord> {
    let adt = |id: &str, enc: &str, kind: &str, unit: &str, minute: u32| {
        let line = format!(
            r#"{{"type":"adt","event_id":"{id}","tenant_id":"general","event_time":"2026-11-21T08:{minute:02}:00Z","kind":"{kind}","patient_id":"p-{enc}","encounter_id":"{enc}","care_unit":"{unit}","from_care_unit":"ED"}}"#
        );
        SourceRecord::Event(Event::decode(line.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
    };
    vec![
        adt("a1", "e1", "admit", "ED", 0),
        adt("a2", "e2", "admit", "ED", 1),
        adt("a3", "e3", "admit", "ICU", 2),
        adt("t1", "e1", "transfer", "ICU", 10),
    ]
}

async fn start() -> (String, Arc<ViewStore>) {
    let store = Arc::new(ViewStore::new());
    let config = EngineConfig {
        epoch_records: Some(2),
        ..EngineConfig::default()
    };
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        wardstream_pipelines::run(
            &config,
            records_source(Arc::new(events())),
            Vec::new(),
            s,
            Arc::new(AtomicBool::new(false)),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(wardstream_api::serve(
        listener,
        store.clone(),
        None,
        None,
        std::future::pending(),
    ));
    (format!("http://{addr}"), store)
}

async fn post(url: String, body: String) -> (u16, String, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let r = reqwest::blocking::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap_or_else(|e| panic!("{e}"));
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, ctype, r.bytes().unwrap_or_default().to_vec())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_returns_arrow_and_json_of_the_live_views() {
    let (base, _store) = start().await;
    let query = r#"{"sql":"SELECT care_unit, patients FROM census ORDER BY care_unit"}"#.to_owned();
    let (status, ctype, body) = post(format!("{base}/v1/sql"), query.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "application/vnd.apache.arrow.stream");
    let reader = arrow::ipc::reader::StreamReader::try_new(body.as_slice(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    let batches: Vec<_> = reader
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{e}"));
    let table = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    assert!(table.contains("| ED        | 1        |"), "{table}");
    assert!(table.contains("| ICU       | 2        |"), "{table}");

    let (status, ctype, body) = post(format!("{base}/v1/sql?format=json"), query).await;
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let rows: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(
        rows,
        serde_json::json!([{"care_unit": "ED", "patients": 1}, {"care_unit": "ICU", "patients": 2}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_answer_problem_json() {
    let (base, _store) = start().await;
    let (status, ctype, body) = post(
        format!("{base}/v1/sql"),
        r#"{"sql":"SELEKT nonsense"}"#.into(),
    )
    .await;
    assert_eq!((status, ctype.as_str()), (400, "application/problem+json"));
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(problem["code"], "invalid_sql");
    assert_eq!(problem["status"], 400);

    let (status, _, body) = post(format!("{base}/v1/sql"), "not json".into()).await;
    assert_eq!(status, 400);
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(problem["code"], "bad_request");

    let (status, _, _) = post(
        format!("{base}/v1/sql"),
        r#"{"sql":"SELECT * FROM no_such_table"}"#.into(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_what_was_received() {
    let (base, _store) = start().await;
    let body = tokio::task::spawn_blocking(move || {
        reqwest::blocking::get(format!("{base}/v1/status"))
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let status: wardstream_api::Status =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status.received, 4);
    assert_eq!(status.dead_lettered, 0);
    assert_eq!(
        status.frontier,
        u64::MAX,
        "a finished run has folded every epoch in"
    );
    assert_eq!(
        status.max_event_time.as_deref(),
        Some("2026-11-21T08:10:00Z")
    );
}

async fn get(url: String) -> (u16, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let r = reqwest::blocking::get(url).unwrap_or_else(|e| panic!("{e}"));
        (r.status().as_u16(), r.bytes().unwrap_or_default().to_vec())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_runs_are_created_kept_and_validated() {
    let (base, _store) = start().await;
    let toml = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../twin/scenarios/community-hospital.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let body = serde_json::json!({
        "scenario": format!("{toml}\n[changes]\nadd_beds = {{ ICU = 4 }}\n"),
        "name": "icu+4",
        "replications": 4,
        "horizon_hours": 24 * 21,
        "seed": 7,
    })
    .to_string();
    let (status, ctype, created) = post(format!("{base}/v1/twin/runs"), body.clone()).await;
    assert_eq!(
        (status, ctype.as_str()),
        (201, "application/json"),
        "{}",
        String::from_utf8_lossy(&created)
    );
    let created: serde_json::Value = serde_json::from_slice(&created).unwrap_or_default();
    let id = created["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{created}"));
    let result = &created["result"];
    assert_eq!(result["scenario"], "icu+4");
    assert_eq!(result["replications"], 4);
    let icu = result["kpis"]
        .as_array()
        .and_then(|k| {
            k.iter()
                .find(|k| k["name"] == "occupancy" && k["unit"] == "ICU")
        })
        .unwrap_or_else(|| panic!("{result}"));
    assert_eq!(icu["values"].as_array().map(Vec::len), Some(4));

    // Kept: the same result by id, and in the list.
    let (status, kept) = get(format!("{base}/v1/twin/runs/{id}")).await;
    assert_eq!(status, 200);
    let kept: serde_json::Value = serde_json::from_slice(&kept).unwrap_or_default();
    assert_eq!(&kept, result);
    let (_, list) = get(format!("{base}/v1/twin/runs")).await;
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap_or_default();
    assert_eq!(list[0]["id"], id);
    // Same seed, same numbers.
    let (_, _, again) = post(format!("{base}/v1/twin/runs"), body).await;
    let again: serde_json::Value = serde_json::from_slice(&again).unwrap_or_default();
    assert_eq!(again["result"]["kpis"], result["kpis"]);

    // Unknown id, a `base` reference, an invalid scenario, a bad body.
    let (status, _) = get(format!("{base}/v1/twin/runs/999")).await;
    assert_eq!(status, 404);
    for (scenario, needle) in [
        ("base = \"/etc/passwd\"", "not allowed"),
        (
            "name = \"x\"\narrivals = []\nunits = []",
            "at least one care unit",
        ),
    ] {
        let (status, ctype, body) = post(
            format!("{base}/v1/twin/runs"),
            serde_json::json!({ "scenario": scenario }).to_string(),
        )
        .await;
        assert_eq!((status, ctype.as_str()), (422, "application/problem+json"));
        let p: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(p["code"], "invalid_scenario");
        assert!(p["detail"].as_str().unwrap_or("").contains(needle), "{p}");
    }
    let (status, _, _) = post(
        format!("{base}/v1/twin/runs"),
        serde_json::json!({ "scenario": toml, "replications": 1_000_000 }).to_string(),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _, _) = post(format!("{base}/v1/twin/runs"), "{}".into()).await;
    assert_eq!(status, 400);
}

/// An ICU roster for two days from 2026-11-22 whose census comes from the views (2 ICU
/// patients in [`events`]); `staff` ICU nurses, charge-qualified, and optional agency.
fn icu_roster(staff: u32, agency: &str) -> String {
    format!(
        r#"
name = "icu"
start = "2026-11-22"
[rules]
census_z = 1.0
{agency}
[[shifts]]
id = "D"
start = "07:00"
hours = 12
[[shifts]]
id = "N"
start = "19:00"
hours = 12
night = true
not_followed_by = ["D"]
[[units]]
name = "ICU"
kind = "icu"
beds = 6
[contracts.ft]
hours_per_week = [0, 48]
max_consecutive = 3
[[staff]]
prefix = "RN"
count = {staff}
skills = ["RN", "ICU", "charge"]
units = ["ICU"]
contract = "ft"
hourly = 7000
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staffing_recommendations_plan_on_the_live_census() {
    let (base, _store) = start().await;
    let url = format!("{base}/v1/staffing/recommendations");
    let request = |roster: String, extra: serde_json::Value| {
        let mut body = serde_json::json!({ "roster": roster, "horizon_days": 2 });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body.to_string()
    };
    let (status, ctype, body) = post(
        url.clone(),
        request(icu_roster(16, ""), serde_json::json!({})),
    )
    .await;
    let text = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/json"),
        "{text}"
    );
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    // The forecast starts from the census view: 2 patients in the ICU.
    assert_eq!(answer["census_at"], "2026-11-21T08:10:00Z");
    assert_eq!(answer["forecasts"][0]["unit"], "ICU");
    assert_eq!(answer["forecasts"][0]["current"], 2, "{text}");
    let hourly = answer["demand"][0]["hourly"]
        .as_array()
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(hourly.len(), 48);
    // ⌈2 + √2⌉ = 4 patients at 1:2 → 2 nurses by ratio, plus relief and a charge nurse.
    assert_eq!(hourly[12]["patients"], 4, "{text}");
    assert_eq!(hourly[12]["ratio_nurses"], 2, "{text}");
    let report = &answer["report"];
    assert_eq!(report["status"], "optimal", "{text}");
    assert_eq!(report["coverage"][0]["compliance_percent"], 100.0, "{text}");
    assert_eq!(report["violations"], serde_json::json!([]));
    let assignments = report["assignments"].clone();
    assert!(
        assignments["assignments"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{text}"
    );
    let cost = report["cost"]["total"].as_f64().unwrap_or_default();
    assert!(cost > 0.0, "{text}");

    // Another tenant has no ICU patients: only the charge nurse is needed, at lower cost.
    let (status, _, body) = post(
        url.clone(),
        request(icu_roster(16, ""), serde_json::json!({ "tenant": "other" })),
    )
    .await;
    assert_eq!(status, 200);
    let other: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(other["forecasts"][0]["current"], 0);
    let other_cost = other["report"]["cost"]["total"]
        .as_f64()
        .unwrap_or_default();
    assert!(other_cost < cost, "{other_cost} vs {cost}");

    // Re-planning from the published roster with the same census changes nothing.
    let (status, _, body) = post(
        url.clone(),
        request(
            icu_roster(16, ""),
            serde_json::json!({ "published": assignments }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let replan: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(replan["report"]["changes"], 0, "{replan}");

    // The neighbourhood search reaches the same optimum on this small staff.
    let (status, _, body) = post(
        url.clone(),
        request(
            icu_roster(16, ""),
            serde_json::json!({ "search": "lns", "time_limit_seconds": 20 }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let lns: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(lns["report"]["status"], "optimal", "{lns}");
    assert_eq!(lns["report"]["cost"]["total"].as_f64(), Some(cost));

    // Column generation, asked for, says so and brackets the optimum.
    let (status, _, body) = post(
        url.clone(),
        request(
            icu_roster(16, ""),
            serde_json::json!({ "formulation": "price_and_branch", "time_limit_seconds": 20 }),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let pnb: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(pnb["report"]["formulation"], "price_and_branch", "{pnb}");
    let optimum = report["objective"].as_f64().unwrap_or(f64::NAN);
    let objective = pnb["report"]["objective"].as_f64().unwrap_or(f64::NAN);
    let bound = pnb["report"]["bound"].as_f64().unwrap_or(f64::NAN);
    assert!(
        bound <= optimum + 1e-6 && objective >= optimum - 1e-6,
        "bound {bound}, roster {objective}, optimum {optimum}"
    );
    assert_eq!(pnb["report"]["violations"], serde_json::json!([]));

    // Two nurses cannot staff an ICU around the clock and there is no agency: explained.
    let (status, _, body) = post(
        url.clone(),
        request(icu_roster(2, ""), serde_json::json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let infeasible: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(infeasible["report"]["status"], "infeasible");
    assert!(
        infeasible["report"]["explanation"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{infeasible}"
    );
    // Four nurses, one shift each in two days, can be the charge nurse of every shift; agency
    // RNs fill the ratio around them, and the gaps are named.
    let (status, _, body) = post(
        url.clone(),
        request(
            icu_roster(4, "agency_hourly = 14500\nagency_max_per_shift = 4"),
            serde_json::json!({}),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let agency: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(agency["report"]["status"], "optimal", "{agency}");
    assert!(
        agency["report"]["gaps"]
            .as_array()
            .is_some_and(|g| !g.is_empty()),
        "{agency}"
    );

    // Bad input: problem+json with a stable code.
    for (body, want_status, want_code, needle) in [
        ("not json".to_owned(), 400, "bad_request", "body must be"),
        (
            request(icu_roster(16, ""), serde_json::json!({ "search": "magic" })),
            400,
            "bad_request",
            "unknown variant",
        ),
        (
            request(
                icu_roster(16, ""),
                serde_json::json!({ "formulation": "magic" }),
            ),
            400,
            "bad_request",
            "unknown variant",
        ),
        (
            request("name = ".into(), serde_json::json!({})),
            422,
            "invalid_roster",
            "line 1",
        ),
        (
            request(icu_roster(16, ""), serde_json::json!({ "horizon_days": 0 })),
            422,
            "invalid_roster",
            "horizon_days",
        ),
        (
            request(
                icu_roster(16, "").replace("\"charge\"]", "\"wizard\"]"),
                serde_json::json!({}),
            ),
            422,
            "invalid_roster",
            "unknown skill",
        ),
        (
            request(
                icu_roster(16, ""),
                serde_json::json!({ "time_limit_seconds": 1e9 }),
            ),
            422,
            "invalid_roster",
            "time_limit_seconds",
        ),
    ] {
        let (status, ctype, answer) = post(url.clone(), body).await;
        assert_eq!(
            (status, ctype.as_str()),
            (want_status, "application/problem+json")
        );
        let p: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        assert_eq!(p["code"], want_code);
        assert!(p["detail"].as_str().unwrap_or("").contains(needle), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_engine_did_and_readyz_answers() {
    let (base, store) = start().await;
    let (s, body) = get(format!("{base}/metrics")).await;
    let body = String::from_utf8_lossy(&body);
    assert_eq!(s, 200);
    // Four ADT events in, four applied; the frontier is the store's.
    assert!(
        body.contains(r#"wardstream_records_received_total{stream="adt"} 4"#),
        "{body}"
    );
    assert!(
        body.contains(r#"wardstream_ingest_total{stream="adt",outcome="applied"} 4"#),
        "{body}"
    );
    assert!(
        // A finished run's frontier is "everything" (u64::MAX), shown as i64::MAX.
        body.contains(&format!(
            "wardstream_view_frontier {}",
            i64::try_from(store.frontier()).unwrap_or(i64::MAX)
        )),
        "{body}"
    );
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    let (s, body) = get(format!("{base}/readyz")).await;
    assert_eq!((s, body.as_slice()), (200, &b"ready"[..]));
}
