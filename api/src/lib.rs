//! # wardstream-api
//!
//! The HTTP face of a running engine (axum): SQL over the live views and engine status,
//! digital-twin runs, staffing, and the transactional domains (on a SQLite or PostgreSQL
//! store): tenants and auth, patients, providers and appointments, billing.
//!
//! - [`db`]: the transactional store (sqlx; SQLite file or PostgreSQL, one set of migrations).
//! - [`auth`]: argon2id passwords, access JWTs, rotating refresh tokens, roles, lockout.
//! - [`tenants`]: onboarding, tenant settings, users and the `/v1/auth/*` routes.
//! - [`patients`]: patients, also as FHIR R4 `Patient` resources.
//! - [`patient_search`]: patient search by name, birth date, MRN (also FHIR search Bundles).
//! - [`scheduling`]: providers and appointments (no overlapping bookings, life cycle).
//! - [`availability`]: providers' weekly hours in their time zone, which bookings must keep.
//! - [`billing`]: invoices with CPT/HCPCS, MS-DRG and ICD-10-CM checks and status transitions.
//! - [`dashboard`]: the operations dashboard at `/`, kept live by server-sent events.
//! - [`openapi`]: the OpenAPI 3.1 description of every route served (`/openapi.json`) and
//!   Swagger UI over it (`/docs`).
//! - [`audit`]: the hash-chained trail of who read or changed which patient record.
//! - [`exceptions`]: every 5xx answer recorded (route template, cause), listed to admins.
//! - [`outbox`]: every state change's domain event, written in its transaction and relayed
//!   into the streams (the in-process engine), at least once.
//!
//! - [`problem`]: errors as RFC 9457 `application/problem+json` with a stable `code`.
//! - [`router`]: the routes.
//! - [`twin`]: digital-twin runs.
//! - [`staffing`]: staffing recommendations from a roster file and the live census.
//! - [`federated`]: federated learning rounds (`/v1/fl/*`), each tenant a site.
//!
//! Routes:
//! - `GET /healthz` → `ok` (the process is up); `GET /readyz` → `ready` once the store
//!   answers (503 `unavailable` while it does not); `GET /metrics` → Prometheus text
//!   ([`metrics`]).
//! - `GET /v1/status` → JSON: frontier, greatest event time, counts received / applied / dead-lettered.
//! - `GET /v1/tables` → JSON list of queryable tables.
//! - `POST /v1/sql` with `{"sql": "SELECT ..."}` → the result as an Arrow IPC stream
//!   (`application/vnd.apache.arrow.stream`); a bad query answers 400 problem+json
//!   `invalid_sql`. Add `?format=json` for a JSON array of rows instead. When the API has
//!   accounts (a store), it needs an admin's or analyst's bearer token and sees only the
//!   token's tenant's rows; without, it is open (the embedded default on localhost).
//!
//! - `POST /v1/twin/runs` with `{"scenario": "<scenario TOML>", "replications": 50,
//!   "horizon_hours": 672, "seed": 1}` → 201 with the run's id and KPIs (95% intervals);
//!   `GET /v1/twin/runs/{id}`, `GET /v1/twin/runs`. A bad scenario answers 422
//!   `invalid_scenario`. With accounts: an admin's or analyst's token, and only the token's
//!   tenant's runs.
//! - `POST /v1/staffing/recommendations` with `{"roster": "<roster TOML>", "horizon_days": 14,
//!   "tenant": "general", "published": <roster>, "time_limit_seconds": 60, "gap": 0}` → 200
//!   with the census forecast, hourly nurse demand and the staffing report (roster, ratio
//!   compliance, cost, gaps, recommendations, incumbent / bound / gap, or why it is
//!   infeasible). A bad roster answers 422 `invalid_roster`; a busy solver 503 `solver_busy`.
//!   With accounts: an admin's or scheduler's token, and only the token's tenant's census.
//! - `GET /openapi.json` → the OpenAPI 3.1 document of exactly the routes this server serves
//!   ([`openapi::document`]); `GET /docs` → Swagger UI over it.
//! - `GET /` → the operations dashboard; `GET /v1/dashboard/stream` → its server-sent events
//!   (a snapshot, then net view changes, resumable by `Last-Event-ID`); with accounts,
//!   `GET`/`POST /login` and `POST /logout` ([`dashboard`]). Not in the OpenAPI document: the
//!   page is HTML and the stream never ends.
//!
//! Every query runs against one [`Snapshot`](wardstream_pipelines::Snapshot) of the store, so
//! all views it touches are at the same frontier.

pub mod audit;
pub mod auth;
pub mod availability;
pub mod billing;
pub mod dashboard;
pub mod db;
pub mod exceptions;
pub mod federated;
pub mod metrics;
pub mod openapi;
pub mod outbox;
pub mod patient_search;
pub mod patients;
pub mod problem;
pub mod scheduling;
pub mod staffing;
pub mod tenants;
pub mod twin;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use problem::Problem;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wardstream_pipelines::store::TABLES;
use wardstream_pipelines::{ViewStore, sql};

/// The body of `POST /v1/sql`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SqlRequest {
    /// The query.
    pub sql: String,
}

/// An Arrow IPC stream (the answer of `POST /v1/sql`), as the OpenAPI document names it.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ArrowIpcStream(pub Vec<u8>);

/// Query parameters of `POST /v1/sql`.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SqlParams {
    /// `arrow` (default: an Arrow IPC stream) or `json` (an array of row objects).
    #[param(pattern = "^(arrow|json)$")]
    pub format: Option<String>,
}

/// `GET /v1/status`.
#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Status {
    /// Epoch frontier of the views: every input fed before this wall-clock time (ms since the
    /// Unix epoch) is in them (`u64::MAX` once a bounded run is complete).
    pub frontier: u64,
    /// Greatest event time ingested, RFC 3339.
    pub max_event_time: Option<String>,
    /// Records received from sources.
    pub received: u64,
    /// Records dead-lettered.
    pub dead_lettered: u64,
}

/// The API's routes over a store, `POST /v1/sql` open to every caller (the embedded default,
/// with no accounts).
pub fn router(store: Arc<ViewStore>) -> Router {
    open_router(store, &Shared::default())
}

/// Every route over the views with `POST /v1/sql` open (no accounts).
fn open_router(store: Arc<ViewStore>, shared: &Shared) -> Router {
    router_without_sql(store.clone(), None, shared).merge(
        Router::new()
            .route("/v1/sql", post(run_sql))
            .with_state(store),
    )
}

/// Every route over the views but `/v1/sql`; with `auth` (the API has accounts), the twin and
/// staffing routes need a token of their roles ([`twin::TWIN_ROLES`],
/// [`staffing::STAFFING_ROLES`]) and are confined to its tenant.
fn router_without_sql(
    store: Arc<ViewStore>,
    auth: Option<auth::AuthConfig>,
    shared: &Shared,
) -> Router {
    let twin_routes = Router::new()
        .route("/v1/twin/runs", post(twin::create).get(twin::list))
        .route("/v1/twin/runs/{id}", get(twin::get_run))
        .with_state(twin::TwinState {
            runs: shared.twin_runs.clone(),
            auth: auth.clone(),
        });
    let mut staffing = staffing::StaffingState::new(store.clone(), auth);
    staffing.latest = shared.staffing.clone();
    let staffing_routes = Router::new()
        .route(
            "/v1/staffing/recommendations",
            post(staffing::recommendations),
        )
        .with_state(staffing);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/status", get(status))
        .route("/v1/tables", get(tables))
        .with_state(store)
        .merge(twin_routes)
        .merge(staffing_routes)
}

/// What the twin and staffing routes keep and the dashboard shows.
#[derive(Clone, Default)]
struct Shared {
    twin_runs: twin::SharedRuns,
    staffing: staffing::SharedLatest,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz` without a store: ready as soon as it listens. (With a store it is
/// [`metrics::ready`], which this documents too.)
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "`ready`: the store answers (at once when there is none)", body = String, content_type = "text/plain"), (status = 503, description = "the store does not answer (code unavailable)", body = crate::problem::Problem, content_type = "application/problem+json")))]
async fn ready_without_store() -> &'static str {
    "ready"
}

/// `GET /v1/tables`: the queryable tables.
#[utoipa::path(get, path = "/v1/tables", tag = "views", responses((status = 200, description = "the names of the tables `/v1/sql` can query", body = [String])))]
async fn tables() -> Json<&'static [&'static str]> {
    Json(&TABLES)
}

/// `GET /v1/status`.
#[utoipa::path(get, path = "/v1/status", tag = "views", responses((status = 200, body = Status)))]
async fn status(State(store): State<Arc<ViewStore>>) -> Json<Status> {
    let stats = store.stats();
    Json(Status {
        frontier: store.frontier(),
        max_event_time: store
            .max_event_time()
            .map(wardstream_schemas::time::format_rfc3339),
        received: stats.total_received(),
        dead_lettered: stats.total_dead_lettered(),
    })
}

/// `POST /v1/sql` (documented once for both handlers: without accounts it is open, with them
/// it needs an admin's or analyst's token and sees only the token's tenant).
#[utoipa::path(post, path = "/v1/sql", tag = "views", params(SqlParams), request_body = SqlRequest, responses((status = 200, description = "the result: an Arrow IPC stream, or with format=json an array of row objects", content((ArrowIpcStream = "application/vnd.apache.arrow.stream"), (Object = "application/json"))), (status = 400, description = "not a JSON SQL request, an unknown format, or SQL that does not plan (code invalid_sql)", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 401, description = "no valid access token (with accounts)", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
async fn run_sql(
    State(store): State<Arc<ViewStore>>,
    Query(params): Query<SqlParams>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    answer_sql(&store, None, params, &body).await
}

/// `POST /v1/sql` when the API has accounts: an admin's or analyst's token, and only the
/// token's tenant's rows ([`Snapshot::for_tenant`](wardstream_pipelines::Snapshot::for_tenant)).
async fn run_sql_as_tenant(
    State(state): State<TenantSql>,
    who: auth::Principal,
    Query(params): Query<SqlParams>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    who.require(&[auth::Role::Admin, auth::Role::Analyst])?;
    answer_sql(&state.store, Some(&who.tenant_id), params, &body).await
}

/// The state of the tenant-confined SQL route.
#[derive(Clone)]
struct TenantSql {
    store: Arc<ViewStore>,
    auth: auth::AuthConfig,
}

impl axum::extract::FromRef<TenantSql> for auth::AuthConfig {
    fn from_ref(s: &TenantSql) -> auth::AuthConfig {
        s.auth.clone()
    }
}

async fn answer_sql(
    store: &ViewStore,
    tenant: Option<&str>,
    params: SqlParams,
    body: &[u8],
) -> Result<Response, Problem> {
    let req: SqlRequest = serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("body must be {{\"sql\": \"...\"}}: {e}")))?;
    let snapshot = store
        .snapshot()
        .and_then(|s| match tenant {
            Some(t) => s.for_tenant(t),
            None => Ok(s),
        })
        .map_err(|e| {
            tracing::error!(error = %e, "snapshot failed");
            Problem::internal().with_cause(format!("snapshot failed: {e}"))
        })?;
    let batches = sql::query(&snapshot, &req.sql)
        .await
        .map_err(|e| Problem::invalid_sql(e.to_string()))?;
    match params.format.as_deref().unwrap_or("arrow") {
        "arrow" => {
            let bytes = encode_ipc(&batches).map_err(|e| {
                tracing::error!(error = %e, "IPC encoding failed");
                Problem::internal().with_cause(format!("IPC encoding failed: {e}"))
            })?;
            Ok((
                [(header::CONTENT_TYPE, "application/vnd.apache.arrow.stream")],
                bytes,
            )
                .into_response())
        }
        "json" => {
            let body = encode_json(&batches).map_err(|e| {
                tracing::error!(error = %e, "JSON encoding failed");
                Problem::internal().with_cause(format!("JSON encoding failed: {e}"))
            })?;
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        other => Err(Problem::bad_request(format!(
            "format {other:?}: use arrow or json"
        ))),
    }
}

/// Encodes batches as one Arrow IPC stream (an empty result still carries its schema when
/// there is at least one batch).
pub fn encode_ipc(
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut out = Vec::new();
    if let Some(first) = batches.first() {
        let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut out, &first.schema())?;
        for b in batches {
            writer.write(b)?;
        }
        writer.finish()?;
    }
    Ok(out)
}

/// Encodes batches as one JSON array of row objects (`[]` when there are no rows).
pub fn encode_json(
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        writer.write(b)?;
    }
    writer.finish()?;
    let body = writer.into_inner();
    Ok(if body.is_empty() {
        b"[]".to_vec()
    } else {
        body
    })
}

/// The transactional routes: tenants and auth ([`tenants::router`]), patients
/// ([`patients::router`]), providers and appointments ([`scheduling::router`]), invoices
/// ([`billing::router`]), the audit trail and the exceptions log, with every 5xx answer
/// recorded ([`exceptions::layer`]).
pub fn transactional_router(state: tenants::AppState) -> Router {
    let routes = tenants::router(state.clone())
        .merge(patients::router(state.clone()))
        .merge(scheduling::router(state.clone()))
        .merge(billing::router(state.clone()))
        .merge(audit::router(state.clone()))
        .merge(exceptions::router(state.clone()));
    exceptions::layer(routes, state)
}

/// Serves the API on `listener` until `shutdown` resolves.
/// With `accounts`, the tenant and auth routes ([`tenants::router`]) are served too, and with
/// `federation` as well, the federated-learning routes ([`federated::router`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<ViewStore>,
    accounts: Option<tenants::AppState>,
    federation: Option<federated::SharedFederation>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if accounts.is_none() && federation.is_some() {
        tracing::warn!(
            "federated routes need the tenant and auth store ([serve] database_url): off"
        );
    }
    let doc = openapi::document(
        accounts.is_some(),
        accounts.is_some() && federation.is_some(),
    );
    let shared = Shared::default();
    let dashboard_state = dashboard::DashboardState {
        hub: dashboard::hub::Hub::start(store.clone()),
        accounts: accounts.clone(),
        twin_runs: shared.twin_runs.clone(),
        staffing: shared.staffing.clone(),
    };
    let mut app = match &accounts {
        // With accounts, SQL needs an admin's or analyst's token and sees only its tenant.
        Some(state) => router_without_sql(store.clone(), Some(state.auth.clone()), &shared).merge(
            Router::new()
                .route("/v1/sql", post(run_sql_as_tenant))
                .with_state(TenantSql {
                    store,
                    auth: state.auth.clone(),
                }),
        ),
        None => open_router(store, &shared),
    };
    if let Some(state) = accounts {
        if let Some(server) = federation {
            app = app.merge(federated::router(federated::FlState {
                server,
                auth: state.auth.clone(),
            }));
        }
        app = app.merge(
            Router::new()
                .route("/readyz", get(metrics::ready))
                .with_state(state.db.clone()),
        );
        // The routes so far get the exceptions log here; the transactional ones bring it.
        app = exceptions::layer(app, state.clone());
        app = app.merge(transactional_router(state));
    } else {
        // No store to wait for: ready as soon as it listens.
        app = app.route("/readyz", get(ready_without_store));
        app = exceptions::catch_panics(app);
    }
    let app = app
        .merge(openapi::docs(doc))
        .merge(dashboard::router(dashboard_state));
    // The peer address is the audit trail's "from where" when no proxy says otherwise.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
