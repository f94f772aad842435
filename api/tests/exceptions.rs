//! The exceptions log over HTTP, on a SQLite file and on a private PostgreSQL server: a request
//! the server fails (a database error, a panicking handler) is answered 500 as problem+json
//! without internals, recorded with its route template (never the record id), and listed to
//! its own tenant's admins only.

use axum::routing::get;
use serde_json::Value;
use wardstream_api::auth::AuthConfig;
use wardstream_api::tenants::AppState;
use wardstream_tests::postgres::PostgresServer;

mod common;
use common::*;

/// The admin's exception records (asserting the call succeeds).
async fn records(api: &Api, token: &str) -> Vec<Value> {
    let (s, list) = api.call("GET", "/v1/exceptions", Some(token), None).await;
    assert_eq!(s, 200, "{list}");
    list.as_array().cloned().unwrap_or_default()
}

/// A handler with a bug.
async fn boom() -> &'static str {
    panic!("the bed board is missing")
}

async fn exceptions(url: &str) {
    let db = wardstream_api::db::open(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = AppState {
        db: db.clone(),
        auth: AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}")),
    };
    // The transactional routes, and one whose handler panics behind the same layers.
    let boom = axum::Router::new().route("/v1/boom/{bed}", get(boom));
    let app = wardstream_api::exceptions::layer(boom, state.clone())
        .merge(wardstream_api::transactional_router(state));
    let api = serve_app(app).await;
    let (_, admin) = onboard(&api, "exc-a").await;
    let (_, other_admin) = onboard(&api, "exc-b").await;
    let analyst = api.analyst(&admin, "exc-a").await;
    assert!(records(&api, &admin).await.is_empty());

    // A database error: the patients table is gone.
    sqlx::query("ALTER TABLE patients RENAME TO patients_gone")
        .execute(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (s, problem) = api
        .call("GET", "/v1/patients/mrn-secret-4711", Some(&admin), None)
        .await;
    assert_eq!(s, 500, "{problem}");
    assert_eq!(problem["code"], "internal");
    let answered = problem.to_string();
    assert!(
        !answered.contains("patients") && !answered.contains("4711"),
        "internals or ids in the answer: {answered}"
    );
    sqlx::query("ALTER TABLE patients_gone RENAME TO patients")
        .execute(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // A panic: answered as a problem, not a dropped connection.
    let (s, problem) = api.call("GET", "/v1/boom/7", Some(&admin), None).await;
    assert_eq!(s, 500, "{problem}");
    assert_eq!(problem["code"], "internal");
    assert!(!problem.to_string().contains("bed board"), "{problem}");

    // Both are recorded for tenant A, newest first, by route template.
    let list = records(&api, &admin).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let (panicked, failed) = (&list[0], &list[1]);
    assert_eq!(panicked["route"], "/v1/boom/{bed}");
    assert_eq!(panicked["kind"], "panic");
    assert_eq!(panicked["status"], 500);
    assert!(
        panicked["message"]
            .as_str()
            .is_some_and(|m| m.contains("the bed board is missing")),
        "{panicked}"
    );
    assert_eq!(failed["method"], "GET");
    assert_eq!(failed["route"], "/v1/patients/{id}");
    assert_eq!(failed["code"], "internal");
    assert_eq!(failed["kind"], "error");
    assert!(
        failed["message"]
            .as_str()
            .is_some_and(|m| m.contains("patients")),
        "the database's reason is kept: {failed}"
    );
    let kept = Value::Array(list.clone()).to_string();
    assert!(!kept.contains("4711"), "a record id was kept: {kept}");

    // Only tenant A's admins see them; a request that worked is not recorded.
    assert!(records(&api, &other_admin).await.is_empty());
    let (s, p) = api
        .call("GET", "/v1/exceptions", Some(&analyst), None)
        .await;
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = api.call("GET", "/v1/exceptions", None, None).await;
    assert_eq!(s, 401);
    let (s, _) = api
        .call("GET", "/v1/patients/mrn-secret-4711", Some(&admin), None)
        .await;
    assert_eq!(s, 404);
    assert_eq!(records(&api, &admin).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_on_sqlite() {
    exceptions(&sqlite_url("exceptions")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_on_postgres() {
    let pg = PostgresServer::start().unwrap_or_else(|e| panic!("{e}"));
    exceptions(
        &pg.create_database("exceptions")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
}
