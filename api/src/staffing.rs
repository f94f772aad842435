//! Staffing recommendations over HTTP: `POST /v1/staffing/recommendations` plans a roster
//! file against the live `census` view and answers the roster, ratio compliance per unit,
//! cost, agency gaps, recommendations in words and the solver's incumbent, bound and gap.
//!
//! The census and its hourly movements are read under one lock of the view store, so the
//! forecast sees one frontier ([`census_snapshot`]). The roster file is sent as TOML text,
//! the same as `wardstream optimize --roster`. Solves are CPU work: they run on tokio's
//! blocking pool, one at a time ([`MAX_CONCURRENT_SOLVES`]); a request that finds the solver
//! busy answers 503 `solver_busy` with `Retry-After`, rather than queueing without bound.
//!
//! With accounts, the route needs an admin's or scheduler's token ([`STAFFING_ROLES`]) and
//! reads only the caller's tenant's census; a `tenant` naming another tenant answers 404.
use crate::auth::{AuthConfig, Caller, Role};
use crate::problem::Problem;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Semaphore;
use wardstream_pipelines::ViewStore;
use wardstream_solver::forecast::{
    CensusSnapshot, ForecastOptions, Movement, UnitCensus, UnitForecast,
};
use wardstream_solver::staffing::UnitDemand;
use wardstream_solver::{Roster, RosterFile, Search, SolveOptions, StaffingReport, recommend};

/// Solves running at once; further requests answer 503.
pub const MAX_CONCURRENT_SOLVES: usize = 1;
/// Longest horizon a request may ask for, days.
pub const MAX_HORIZON_DAYS: usize = 56;
/// Longest solver time limit a request may ask for, seconds.
pub const MAX_TIME_LIMIT_SECONDS: f64 = 600.0;
/// Time limit when the request gives none, seconds.
pub const DEFAULT_TIME_LIMIT_SECONDS: f64 = 60.0;

/// The roles that may ask for staffing recommendations when the API has accounts.
pub const STAFFING_ROLES: &[Role] = &[Role::Admin, Role::Scheduler];

/// Search strategies as the OpenAPI document names them ([`Search`]).
#[derive(utoipa::ToSchema)]
#[schema(as = Search)]
#[allow(dead_code)]
enum SearchSchema {
    /// One MIP solve.
    #[schema(rename = "mip")]
    Mip,
    /// MIP, large-neighbourhood search, MIP.
    #[schema(rename = "lns")]
    Lns,
}

/// The body of `POST /v1/staffing/recommendations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffingRequest {
    /// Roster file TOML (units, shifts, contracts, staff, rules; see `solver/rosters/`).
    pub roster: String,
    /// Horizon, days from the roster's `start` (default 14, at most [`MAX_HORIZON_DAYS`]).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 56)]
    pub horizon_days: Option<usize>,
    /// Only this tenant's census (default: every tenant's rows for the roster's unit names;
    /// with accounts, always the caller's tenant, and another tenant's id answers 404).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The published roster (as returned in `report.assignments`) to re-plan from: changes
    /// to it are penalised and the solve starts from it.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub published: Option<Roster>,
    /// Solver wall-clock limit, s (default [`DEFAULT_TIME_LIMIT_SECONDS`], at most
    /// [`MAX_TIME_LIMIT_SECONDS`]); the best roster found is kept when it hits.
    #[serde(default)]
    #[schema(exclusive_minimum = 0.0, maximum = 600.0)]
    pub time_limit_seconds: Option<f64>,
    /// Relative gap at which to stop, `0..1` (default 0: prove optimality).
    #[serde(default)]
    #[schema(minimum = 0.0, exclusive_maximum = 1.0)]
    pub gap: Option<f64>,
    /// `"mip"` (default: one solve) or `"lns"` (MIP, neighbourhood search, MIP: better rosters
    /// for large staffs within the time limit).
    #[serde(default)]
    #[schema(value_type = Option<SearchSchema>)]
    pub search: Search,
}

/// `200 OK` body of `POST /v1/staffing/recommendations`.
#[derive(Debug, Serialize)]
pub struct StaffingResponse {
    /// Greatest event time in the views when the census was read, RFC 3339 (`None` before
    /// any event).
    pub census_at: Option<String>,
    /// Forecast census per unit and hour from day 0, 00:00 UTC.
    pub forecasts: Vec<UnitForecast>,
    /// Nurses required per unit and hour (ratio, break relief, charge, RN share).
    pub demand: Vec<UnitDemand>,
    /// Roster, compliance, cost, gaps, recommendations, incumbent / bound / gap; when no
    /// roster exists, `status = "infeasible"` and the `explanation`.
    pub report: StaffingReport,
}

/// The latest staffing recommendation of one tenant, for the dashboard.
#[derive(Debug, Clone)]
pub struct Latest {
    /// When it was made, ms since the Unix epoch.
    pub made_at: i64,
    /// Greatest event time in the views when the census was read, RFC 3339.
    pub census_at: Option<String>,
    /// The report.
    pub report: Arc<StaffingReport>,
}

/// The latest recommendation per tenant (`None`: made without accounts).
pub type SharedLatest = Arc<std::sync::Mutex<std::collections::HashMap<Option<String>, Latest>>>;

/// Shared state of the staffing routes.
#[derive(Clone)]
pub struct StaffingState {
    /// The live views.
    pub store: Arc<ViewStore>,
    /// Permits for concurrent solves.
    pub solves: Arc<Semaphore>,
    /// `Some` when the API has accounts.
    pub auth: Option<AuthConfig>,
    /// The latest recommendation per tenant.
    pub latest: SharedLatest,
}

impl StaffingState {
    /// State over `store` allowing [`MAX_CONCURRENT_SOLVES`] solves at once; `auth` when the
    /// API has accounts.
    pub fn new(store: Arc<ViewStore>, auth: Option<AuthConfig>) -> Self {
        StaffingState {
            store,
            solves: Arc::new(Semaphore::new(MAX_CONCURRENT_SOLVES)),
            auth,
            latest: SharedLatest::default(),
        }
    }
}

impl axum::extract::FromRef<StaffingState> for Option<AuthConfig> {
    fn from_ref(s: &StaffingState) -> Option<AuthConfig> {
        s.auth.clone()
    }
}

/// The `census` view and hourly net movements (`adt_hourly`: admissions + transfers in −
/// transfers out − discharges) of `tenant` (all tenants when `None`), read under one lock,
/// as the forecast's input; `at` is the greatest event time ingested (0 before any event).
pub fn census_snapshot(store: &ViewStore, tenant: Option<&str>) -> CensusSnapshot {
    let (census, hourly, at) = store.census_snapshot();
    let ours = |t: &str| tenant.is_none_or(|want| want == t);
    CensusSnapshot {
        at: at.unwrap_or(0),
        units: census
            .into_iter()
            .filter(|r| ours(&r.tenant_id))
            .map(|r| UnitCensus {
                unit: r.care_unit,
                patients: r.patients,
                beds: r.beds,
            })
            .collect(),
        movements: hourly
            .into_iter()
            .filter(|r| ours(&r.tenant_id))
            .map(|r| Movement {
                unit: r.care_unit,
                hour: r.hour,
                net: r.admissions + r.transfers_in - r.transfers_out - r.discharges,
            })
            .collect(),
    }
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(422, "invalid_roster", "Invalid roster request", detail)
}

fn busy() -> Problem {
    Problem::new(
        503,
        "solver_busy",
        "Solver busy",
        format!("{MAX_CONCURRENT_SOLVES} staffing solve(s) already running; retry when it ends"),
    )
}

fn options(req: &StaffingRequest) -> Result<(usize, SolveOptions), Problem> {
    let days = req.horizon_days.unwrap_or(14);
    if !(1..=MAX_HORIZON_DAYS).contains(&days) {
        return Err(invalid(format!(
            "horizon_days must be 1–{MAX_HORIZON_DAYS}"
        )));
    }
    let time_limit = req.time_limit_seconds.unwrap_or(DEFAULT_TIME_LIMIT_SECONDS);
    if !(time_limit > 0.0 && time_limit <= MAX_TIME_LIMIT_SECONDS) {
        return Err(invalid(format!(
            "time_limit_seconds must be in (0, {MAX_TIME_LIMIT_SECONDS}]"
        )));
    }
    let gap = req.gap.unwrap_or(0.0);
    if !(0.0..1.0).contains(&gap) {
        return Err(invalid("gap must be in [0, 1)"));
    }
    Ok((
        days,
        SolveOptions {
            time_limit,
            relative_gap: gap,
            search: req.search,
            ..SolveOptions::default()
        },
    ))
}

/// `POST /v1/staffing/recommendations`.
#[utoipa::path(post, path = "/v1/staffing/recommendations", tag = "staffing", request_body = StaffingRequest, responses((status = 200, description = "census forecast, hourly nurse demand and the staffing report (roster, ratio compliance, cost, gaps, recommendations, incumbent / bound / gap, or why it is infeasible)", body = Object), (status = 400, description = "not a JSON staffing request", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 401, description = "no valid access token (with accounts)", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "another tenant's census", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid roster or options", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "a solve is already running; retry after the Retry-After seconds", body = crate::problem::Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
pub async fn recommendations(
    State(state): State<StaffingState>,
    who: Caller,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    who.require(STAFFING_ROLES)?;
    let req: StaffingRequest = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"roster\": \"<TOML>\", \"horizon_days\": 14}}: {e}"
        ))
    })?;
    let (days, options) = options(&req)?;
    let file = RosterFile::parse(&req.roster, "roster").map_err(|e| invalid(e.to_string()))?;
    let tenant = match (who.tenant(), req.tenant.as_deref()) {
        (Some(mine), Some(asked)) if asked != mine => {
            return Err(Problem::not_found(format!("no tenant {asked}")));
        }
        (Some(mine), _) => Some(mine),
        (None, asked) => asked,
    };
    let snapshot = census_snapshot(&state.store, tenant);
    let plan = file
        .plan(days, &snapshot, &ForecastOptions::default())
        .map_err(|e| invalid(e.to_string()))?;
    let Ok(permit) = state.solves.clone().try_acquire_owned() else {
        return Ok(([(header::RETRY_AFTER, "10")], busy()).into_response());
    };
    let published = req.published;
    let census_at =
        (snapshot.at > 0).then(|| wardstream_schemas::time::format_rfc3339(snapshot.at));
    let response = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        recommend(&plan, published.as_ref(), &options).map(|report| StaffingResponse {
            census_at,
            forecasts: plan.forecasts,
            demand: plan.demand,
            report,
        })
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "staffing solve task failed");
        Problem::internal().with_cause(format!("staffing solve task failed: {e}"))
    })?
    .map_err(|e| {
        tracing::error!(error = %e, "staffing solve failed");
        Problem::internal().with_cause(format!("staffing solve failed: {e}"))
    })?;
    let latest = Latest {
        made_at: wardstream_schemas::time::now(),
        census_at: response.census_at.clone(),
        report: Arc::new(response.report.clone()),
    };
    state
        .latest
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(tenant.map(str::to_owned), latest);
    Ok(Json(response).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROSTER: &str = r#"
name = "t"
start = "2026-11-23"
[[shifts]]
id = "D"
start = "07:00"
hours = 12
[[units]]
name = "ICU"
kind = "icu"
census = 1
[contracts.ft]
hours_per_week = [0, 48]
[[staff]]
prefix = "RN"
count = 3
skills = ["RN", "ICU", "charge"]
units = ["ICU"]
contract = "ft"
hourly = 7000
"#;

    #[tokio::test]
    async fn a_busy_solver_answers_503_with_retry_after_and_frees_on_completion() {
        let state = StaffingState::new(Arc::new(ViewStore::new()), None);
        let body = serde_json::json!({ "roster": ROSTER, "horizon_days": 1 }).to_string();
        let held = state.solves.clone().try_acquire_owned();
        assert!(held.is_ok());
        let busy = recommendations(State(state.clone()), Caller(None), body.clone().into())
            .await
            .map(IntoResponse::into_response)
            .unwrap_or_else(IntoResponse::into_response);
        assert_eq!(busy.status(), 503);
        assert_eq!(
            busy.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes()),
            Some(&b"10"[..])
        );
        drop(held);
        let ok = recommendations(State(state.clone()), Caller(None), body.into())
            .await
            .map(IntoResponse::into_response)
            .unwrap_or_else(IntoResponse::into_response);
        assert_eq!(ok.status(), 200);
        assert_eq!(state.solves.available_permits(), MAX_CONCURRENT_SOLVES);
    }
}
