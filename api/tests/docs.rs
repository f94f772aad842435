//! The OpenAPI document and Swagger UI against real servers: the document lists exactly the
//! routes served (with and without accounts, with and without a federation), each documented
//! route answers, protected ones declare and need a bearer token; Swagger UI at `/docs`
//! renders every operation in headless Chromium; the twin and staffing routes, open without
//! accounts, need their roles with accounts and stay inside the caller's tenant.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wardstream_federated::server::{FederatedServer, ServerConfig};
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source};
use wardstream_schemas::Event;

mod common;
use common::{Api, ICU_ROSTER, accounts, onboard, serve_views};

/// Routes over the views, on every server.
const VIEWS: &[&str] = &[
    "GET /healthz",
    "GET /metrics",
    "GET /readyz",
    "GET /v1/status",
    "GET /v1/tables",
    "GET /v1/twin/runs",
    "GET /v1/twin/runs/{id}",
    "POST /v1/sql",
    "POST /v1/staffing/recommendations",
    "POST /v1/twin/runs",
];

/// The transactional routes, on a server with accounts.
const TRANSACTIONAL: &[&str] = &[
    "DELETE /v1/patients/{id}",
    "GET /fhir/Patient",
    "GET /fhir/Patient/{id}",
    "GET /v1/appointments/{id}",
    "GET /v1/audit",
    "GET /v1/auth/me",
    "GET /v1/exceptions",
    "GET /v1/invoices/{id}",
    "GET /v1/patients",
    "GET /v1/patients/{id}",
    "GET /v1/providers",
    "GET /v1/providers/{id}/availability",
    "GET /v1/tenants/{id}",
    "GET /v1/tenants/{id}/settings",
    "POST /fhir/Patient",
    "POST /v1/appointments",
    "POST /v1/appointments/{id}/{action}",
    "POST /v1/auth/login",
    "POST /v1/auth/logout",
    "POST /v1/auth/refresh",
    "POST /v1/auth/register",
    "POST /v1/invoices",
    "POST /v1/invoices/{id}/{action}",
    "POST /v1/patients",
    "POST /v1/providers",
    "POST /v1/tenants",
    "PUT /v1/patients/{id}",
    "PUT /v1/providers/{id}/availability",
    "PUT /v1/tenants/{id}/settings/{key}",
];

/// The federated-learning routes, on a server with accounts and a federation.
const FEDERATED: &[&str] = &[
    "GET /v1/fl/model",
    "GET /v1/fl/secagg/inbox",
    "GET /v1/fl/secagg/keys",
    "GET /v1/fl/secagg/survivors",
    "GET /v1/fl/status",
    "POST /v1/fl/register",
    "POST /v1/fl/secagg/keys",
    "POST /v1/fl/secagg/masked",
    "POST /v1/fl/secagg/shares",
    "POST /v1/fl/secagg/unmask",
    "POST /v1/fl/updates",
];

/// The routes that need no token even with accounts.
const PUBLIC: &[&str] = &[
    "GET /healthz",
    "GET /metrics",
    "GET /readyz",
    "GET /v1/status",
    "GET /v1/tables",
    "POST /v1/tenants",
    "POST /v1/auth/login",
    "POST /v1/auth/refresh",
    "POST /v1/auth/logout",
];

/// `wardstream serve` over an empty store: accounts on a fresh SQLite file when `tag` is
/// given, and a federation too when `federation`.
async fn start(tag: Option<&str>, federation: bool) -> (Api, Arc<ViewStore>) {
    let store = Arc::new(ViewStore::new());
    let accounts = match tag {
        Some(tag) => Some(accounts(tag).await),
        None => None,
    };
    let federation = federation.then(|| {
        Arc::new(Mutex::new(
            FederatedServer::open(ServerConfig::default(), None).unwrap_or_else(|e| panic!("{e}")),
        ))
    });
    let api = serve_views(store.clone(), accounts, federation).await;
    // Ready before the first request (the store answers).
    let (s, _) = api.call("GET", "/readyz", None, None).await;
    assert_eq!(s, 200);
    (api, store)
}

/// `METHOD /path` of every operation in `doc`, sorted.
fn operations(doc: &Value) -> Vec<String> {
    let mut ops: Vec<String> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(m, _)| ["get", "put", "post", "delete", "patch"].contains(&m.as_str()))
                .map(move |(m, _)| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    ops.sort();
    ops
}

fn sorted(lists: &[&[&str]]) -> Vec<String> {
    let mut all: Vec<String> = lists
        .iter()
        .flat_map(|l| l.iter().map(|s| (*s).to_owned()))
        .collect();
    all.sort();
    all
}

/// The operation object of `entry` (`METHOD /path`) in `doc`.
fn operation<'a>(doc: &'a Value, entry: &str) -> &'a Value {
    let (method, path) = entry.split_once(' ').unwrap_or_default();
    &doc["paths"][path][method.to_lowercase()]
}

/// A concrete request path for a documented template.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{key}", "k")
        .replace("{action}", "cancel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_route_served_and_each_answers() {
    let (api, _store) = start(Some("docs-full"), true).await;
    let (s, doc) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "wardstream");
    let ops = operations(&doc);
    assert_eq!(ops, sorted(&[VIEWS, TRANSACTIONAL, FEDERATED]));
    assert_eq!(ops.len(), 50);
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    );
    for entry in &ops {
        let op = operation(&doc, entry);
        let (method, path) = entry.split_once(' ').unwrap_or_default();
        let (s, body) = api.call(method, &concrete(path), None, None).await;
        if PUBLIC.contains(&entry.as_str()) {
            // Served and open: an answer, or a 4xx about the missing body, never "no such
            // route" and never "log in".
            assert!(
                s < 500 && ![401, 404, 405].contains(&s),
                "{entry}: {s} {body}"
            );
            assert!(op.get("security").is_none(), "{entry}: {op}");
        } else {
            assert_eq!(s, 401, "{entry} without a token: {body}");
            assert_eq!(body["code"], "unauthorized", "{entry}");
            assert_eq!(op["security"], json!([{"bearer": []}]), "{entry}");
            assert!(
                op["responses"]["401"].is_object(),
                "{entry} does not document its 401"
            );
        }
        assert!(
            op["responses"]
                .as_object()
                .is_some_and(|r| r.keys().any(|k| k.starts_with('2'))),
            "{entry} documents no success"
        );
    }
    // The schemas the answers name are there.
    for schema in [
        "Problem",
        "FieldError",
        "Invoice",
        "Patient",
        "Appointment",
        "Entry",
        "ExceptionRecord",
        "Availability",
        "PatientPage",
        "Status",
        "SqlRequest",
        "TwinRunRequest",
        "TwinRunSummary",
        "StaffingRequest",
        "Register",
        "Submitted",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    // Request limits are in the document, so generated clients and fuzzers keep to them.
    let twin = &doc["components"]["schemas"]["TwinRunRequest"]["properties"];
    assert_eq!(twin["replications"]["maximum"], 1000);
    assert_eq!(twin["horizon_hours"]["maximum"], 43800);
    let staffing = &doc["components"]["schemas"]["StaffingRequest"]["properties"];
    assert_eq!(staffing["horizon_days"]["maximum"], 56);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_accounts_the_document_has_the_views_routes_and_no_security() {
    let (api, _store) = start(None, false).await;
    let (s, doc) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(operations(&doc), sorted(&[VIEWS]));
    assert!(doc["components"].get("securitySchemes").is_none(), "{doc}");
    for entry in VIEWS {
        let op = operation(&doc, entry);
        assert!(op.get("security").is_none(), "{entry}: {op}");
        // Open: no 401 without a token.
        let (method, path) = entry.split_once(' ').unwrap_or_default();
        let (s, body) = api.call(method, &concrete(path), None, None).await;
        assert!(![401, 405].contains(&s) && s < 500, "{entry}: {s} {body}");
    }
    // A server with accounts but no federation does not describe the federated routes.
    let (api, _store) = start(Some("docs-nofed"), false).await;
    let (_, doc) = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(operations(&doc), sorted(&[VIEWS, TRANSACTIONAL]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_renders_every_operation_in_chromium() {
    let (api, _store) = start(Some("docs-ui"), true).await;
    let (_, doc) = api.call("GET", "/openapi.json", None, None).await;
    let ops = operations(&doc);
    // `/docs` leads to the page.
    let page = api
        .http
        .get(format!("{}/docs", api.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html")),
        "{:?}",
        page.headers()
    );
    let url = format!("{}/docs/", api.base);
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("swagger-ui.png");
    let _ = std::fs::remove_file(&shot);
    let dom = {
        let shot = shot.clone();
        tokio::task::spawn_blocking(move || {
            wardstream_tests::browser::dump_dom(&url, 20_000, Some(&shot))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    };
    // The scripts ran, fetched /openapi.json and drew one block per operation.
    assert!(dom.contains("wardstream"), "the title is not shown");
    let drawn = dom.matches("class=\"opblock-summary-path\"").count();
    assert_eq!(drawn, ops.len(), "operations drawn by Swagger UI");
    for entry in &ops {
        let path = entry.split_once(' ').unwrap_or_default().1;
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{entry} is not drawn"
        );
    }
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "no screenshot at {}",
        shot.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_runs_need_their_roles_and_stay_in_their_tenant() {
    let (api, _store) = start(Some("docs-twin"), false).await;
    let (_, admin_a) = onboard(&api, "twin-a").await;
    let (_, admin_b) = onboard(&api, "twin-b").await;
    let analyst_a = api.user(&admin_a, "twin-a", "analyst").await;
    let clinician_a = api.user(&admin_a, "twin-a", "clinician").await;
    let scenario = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../twin/scenarios/community-hospital.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let run = json!({"scenario": scenario, "replications": 2, "horizon_hours": 48, "seed": 3});

    let (s, _) = api
        .call("POST", "/v1/twin/runs", None, Some(run.clone()))
        .await;
    assert_eq!(s, 401);
    let (s, p) = api
        .call(
            "POST",
            "/v1/twin/runs",
            Some(&clinician_a),
            Some(run.clone()),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));
    let (s, created) = api
        .call("POST", "/v1/twin/runs", Some(&analyst_a), Some(run))
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{created}"));
    let path = format!("/v1/twin/runs/{id}");

    // Tenant A's admin reads it and lists it; tenant B does neither: 404, as for no run.
    let (s, kept) = api.call("GET", &path, Some(&admin_a), None).await;
    assert_eq!(s, 200);
    assert_eq!(kept, created["result"]);
    let (_, list) = api.call("GET", "/v1/twin/runs", Some(&admin_a), None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["id"], id);
    let (s, p) = api.call("GET", &path, Some(&admin_b), None).await;
    assert_eq!((s, p["code"].as_str()), (404, Some("not_found")));
    let (_, list) = api.call("GET", "/v1/twin/runs", Some(&admin_b), None).await;
    assert_eq!(list, json!([]));
    let (s, _) = api.call("GET", &path, Some(&clinician_a), None).await;
    assert_eq!(s, 403);
    let (s, _) = api.call("GET", &path, None, None).await;
    assert_eq!(s, 401);
}

/// ADT admissions to the ICU: `n` patients of `tenant`.
fn admissions(tenant: &str, n: usize) -> Vec<SourceRecord> {
    (0..n)
        .map(|i| {
            let line = format!(
                r#"{{"type":"adt","event_id":"{tenant}-a{i}","tenant_id":"{tenant}","event_time":"2026-11-21T08:{i:02}:00Z","kind":"admit","patient_id":"{tenant}-p{i}","encounter_id":"{tenant}-e{i}","care_unit":"ICU"}}"#
            );
            SourceRecord::Event(Event::decode(line.as_bytes()).unwrap_or_else(|e| panic!("{e}")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staffing_needs_its_roles_and_reads_only_the_callers_census() {
    let (api, store) = start(Some("docs-staffing"), false).await;
    let (tenant_a, admin_a) = onboard(&api, "staff-a").await;
    let (tenant_b, admin_b) = onboard(&api, "staff-b").await;
    let scheduler_a = api.user(&admin_a, "staff-a", "scheduler").await;
    let analyst_a = api.user(&admin_a, "staff-a", "analyst").await;
    // The engine computes the census the server reads: 3 ICU patients in A, 5 in B.
    let mut records = admissions(&tenant_a, 3);
    records.extend(admissions(&tenant_b, 5));
    let config = EngineConfig::default();
    tokio::task::spawn_blocking(move || {
        wardstream_pipelines::run(
            &config,
            records_source(Arc::new(records)),
            Vec::new(),
            store,
            Arc::new(AtomicBool::new(false)),
        )
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
    .unwrap_or_else(|e| panic!("{e}"));

    let request = |tenant: Option<&str>| {
        let mut body = json!({"roster": ICU_ROSTER, "horizon_days": 1, "time_limit_seconds": 60});
        if let Some(t) = tenant {
            body["tenant"] = json!(t);
        }
        Some(body)
    };
    let url = "/v1/staffing/recommendations";
    let (s, _) = api.call("POST", url, None, request(None)).await;
    assert_eq!(s, 401);
    let (s, p) = api.call("POST", url, Some(&analyst_a), request(None)).await;
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));
    for (token, tenant, census) in [
        (&scheduler_a, None, 3),
        (&admin_a, Some(tenant_a.as_str()), 3),
        (&admin_b, None, 5),
    ] {
        let (s, answer) = api.call("POST", url, Some(token), request(tenant)).await;
        assert_eq!(s, 200, "{answer}");
        assert_eq!(answer["forecasts"][0]["unit"], "ICU");
        assert_eq!(answer["forecasts"][0]["current"], census, "{answer}");
    }
    // Naming the other tenant finds nothing, as if it did not exist.
    let (s, p) = api
        .call("POST", url, Some(&admin_a), request(Some(&tenant_b)))
        .await;
    assert_eq!((s, p["code"].as_str()), (404, Some("not_found")), "{p}");
}
