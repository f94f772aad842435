//! Digital-twin runs over HTTP: `POST /v1/twin/runs` runs a scenario's replications and keeps
//! the result; `GET /v1/twin/runs/{id}` reads it back; `GET /v1/twin/runs` lists them.
//!
//! The scenario is sent as TOML text, the same as a scenario file, but it must be
//! self-contained: `base = "…"` would read the server's files, so it is refused. Runs are
//! CPU work and go to tokio's blocking pool; the last [`KEEP_RUNS`] results are kept in
//! memory (they are lost on restart; a run is cheap to repeat with its seed).
//!
//! With accounts, every route needs an admin's or analyst's token ([`TWIN_ROLES`]), and a run
//! belongs to the caller's tenant: another tenant's run answers 404 and is not listed.
use crate::auth::{AuthConfig, Caller, Role};
use crate::problem::Problem;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wardstream_twin::replication::{self, RunOptions, RunResult};
use wardstream_twin::scenario::Scenario;

/// Results kept in memory.
pub const KEEP_RUNS: usize = 100;
/// Largest replication count a request may ask for.
pub const MAX_REPLICATIONS: usize = 1_000;
/// Longest horizon a request may ask for, h (five years).
pub const MAX_HORIZON_HOURS: usize = 5 * 8_760;

/// The roles that may run and read twin scenarios when the API has accounts.
pub const TWIN_ROLES: &[Role] = &[Role::Admin, Role::Analyst];

/// The body of `POST /v1/twin/runs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwinRunRequest {
    /// Scenario TOML (a hospital plus optional `[changes]` and `[run]`; no `base`).
    pub scenario: String,
    /// Name for the scenario in the result (default `api`).
    #[serde(default)]
    pub name: Option<String>,
    /// Replications (default 50, at most [`MAX_REPLICATIONS`]).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub replications: Option<usize>,
    /// Hours per replication (default 672 = 28 days, at most [`MAX_HORIZON_HOURS`]).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 43800)]
    pub horizon_hours: Option<usize>,
    /// Base seed (default 1).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Warm-up, h (default: the scenario's, else MSER-5).
    #[serde(default)]
    pub warmup_hours: Option<f64>,
}

/// `201 Created` body of `POST /v1/twin/runs`.
#[derive(Debug, Serialize)]
pub struct TwinRunCreated {
    /// The run's id (`GET /v1/twin/runs/{id}`).
    pub id: u64,
    /// The result.
    pub result: Arc<RunResult>,
}

/// One line of `GET /v1/twin/runs`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TwinRunSummary {
    /// Id.
    pub id: u64,
    /// Scenario name.
    pub scenario: String,
    /// Replications.
    pub replications: usize,
    /// Hours per replication.
    pub horizon_hours: usize,
}

/// The kept results.
#[derive(Debug, Default)]
pub struct TwinRuns {
    next: u64,
    /// Id → (the tenant that ran it, `None` without accounts; the result).
    runs: BTreeMap<u64, (Option<String>, Arc<RunResult>)>,
}

impl TwinRuns {
    /// The last `n` kept runs of `tenant` (`None`: runs made without accounts), oldest first.
    pub fn latest(&self, tenant: Option<&str>, n: usize) -> Vec<(u64, Arc<RunResult>)> {
        let mut runs: Vec<(u64, Arc<RunResult>)> = self
            .runs
            .iter()
            .rev()
            .filter(|(_, (t, _))| t.as_deref() == tenant)
            .take(n)
            .map(|(id, (_, r))| (*id, r.clone()))
            .collect();
        runs.reverse();
        runs
    }
}

/// Shared handle on the kept results.
pub type SharedRuns = Arc<Mutex<TwinRuns>>;

/// The state of the twin routes: the kept results and, when the API has accounts, the
/// token configuration.
#[derive(Debug, Clone, Default)]
pub struct TwinState {
    /// The kept results.
    pub runs: SharedRuns,
    /// `Some` when the API has accounts.
    pub auth: Option<AuthConfig>,
}

impl axum::extract::FromRef<TwinState> for Option<AuthConfig> {
    fn from_ref(s: &TwinState) -> Option<AuthConfig> {
        s.auth.clone()
    }
}

fn lock(runs: &SharedRuns) -> Result<std::sync::MutexGuard<'_, TwinRuns>, Problem> {
    runs.lock()
        .map_err(|_| Problem::internal().with_cause("the twin runs lock is poisoned"))
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(422, "invalid_scenario", "Invalid scenario", detail)
}

fn parse(req: &TwinRunRequest) -> Result<(Scenario, RunOptions), Problem> {
    let name = req.name.clone().unwrap_or_else(|| "api".to_owned());
    let scenario = Scenario::from_toml(name, &req.scenario, std::path::Path::new("request"), None)
        .map_err(|e| invalid(e.to_string()))?;
    let replications = req.replications.unwrap_or(50);
    if !(1..=MAX_REPLICATIONS).contains(&replications) {
        return Err(invalid(format!(
            "replications must be 1–{MAX_REPLICATIONS}"
        )));
    }
    let horizon_hours = req.horizon_hours.unwrap_or(28 * 24);
    if !(1..=MAX_HORIZON_HOURS).contains(&horizon_hours) {
        return Err(invalid(format!(
            "horizon_hours must be 1–{MAX_HORIZON_HOURS}"
        )));
    }
    Ok((
        scenario,
        RunOptions {
            replications,
            horizon_hours,
            seed: req.seed.unwrap_or(1),
            warmup_hours: req.warmup_hours,
            threads: None,
        },
    ))
}

/// `POST /v1/twin/runs`.
#[utoipa::path(post, path = "/v1/twin/runs", tag = "twin", request_body = TwinRunRequest, responses((status = 201, description = "the run's id and result: KPIs with 95% intervals over the replications", body = Object), (status = 400, description = "not a JSON run request", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 401, description = "no valid access token (with accounts)", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid scenario or run options", body = crate::problem::Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
pub async fn create(
    State(state): State<TwinState>,
    who: Caller,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    who.require(TWIN_ROLES)?;
    let req: TwinRunRequest = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"scenario\": \"<TOML>\", \"replications\": 50, \"horizon_hours\": 672}}: {e}"
        ))
    })?;
    let (scenario, options) = parse(&req)?;
    let result = tokio::task::spawn_blocking(move || replication::run(&scenario, &options, &|| {}))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "twin run task failed");
            Problem::internal().with_cause(format!("twin run task failed: {e}"))
        })?
        .map_err(|e| invalid(e.to_string()))?;
    let result = Arc::new(result);
    let id = {
        let mut r = lock(&state.runs)?;
        r.next += 1;
        let id = r.next;
        r.runs
            .insert(id, (who.tenant().map(str::to_owned), result.clone()));
        while r.runs.len() > KEEP_RUNS {
            r.runs.pop_first();
        }
        id
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/twin/runs/{id}"))],
        Json(TwinRunCreated { id, result }),
    )
        .into_response())
}

/// `GET /v1/twin/runs/{id}`.
#[utoipa::path(get, path = "/v1/twin/runs/{id}", tag = "twin", params(("id" = u64, Path, description = "the run's id")), responses((status = 200, description = "the run's result: KPIs with 95% intervals over the replications", body = Object), (status = 401, description = "no valid access token (with accounts)", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such run (in the caller's tenant), or no longer kept", body = crate::problem::Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
pub async fn get_run(
    State(state): State<TwinState>,
    who: Caller,
    Path(id): Path<u64>,
) -> Result<Json<Arc<RunResult>>, Problem> {
    who.require(TWIN_ROLES)?;
    let r = lock(&state.runs)?;
    r.runs
        .get(&id)
        .filter(|(tenant, _)| tenant.as_deref() == who.tenant())
        .map(|(_, res)| Json(res.clone()))
        .ok_or_else(|| {
            Problem::not_found(format!("no twin run {id} (the last {KEEP_RUNS} are kept)"))
        })
}

/// `GET /v1/twin/runs`: the caller's tenant's kept runs, oldest first.
#[utoipa::path(get, path = "/v1/twin/runs", tag = "twin", responses((status = 200, body = [TwinRunSummary]), (status = 401, description = "no valid access token (with accounts)", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
pub async fn list(
    State(state): State<TwinState>,
    who: Caller,
) -> Result<Json<Vec<TwinRunSummary>>, Problem> {
    who.require(TWIN_ROLES)?;
    let r = lock(&state.runs)?;
    Ok(Json(
        r.runs
            .iter()
            .filter(|(_, (tenant, _))| tenant.as_deref() == who.tenant())
            .map(|(id, (_, res))| TwinRunSummary {
                id: *id,
                scenario: res.scenario.clone(),
                replications: res.replications,
                horizon_hours: res.horizon_hours,
            })
            .collect(),
    ))
}
