//! Federated learning over HTTP: each tenant is a site; it registers its record count, fetches
//! the global model with its training plan, trains on its own data and sends back only the
//! update. The federation's logic (rounds, quorum and deadline, aggregation, privacy budgets,
//! checkpoints) is [`wardstream_federated::server::FederatedServer`]; this module carries it.
//!
//! Routes (an access token of the admin or analyst role; the site is the token's tenant, so a
//! tenant can only ever act as itself):
//! - `POST /v1/fl/register` with `{"num_examples": 8000}` → 200 `{"site", "num_examples"}`.
//! - `GET /v1/fl/model` → 200 the round's ticket: `round`, `params` (flat `f32`), `model`,
//!   `train` (local epochs, batch size, learning rate, FedProx μ, DP-SGD), `clip_norm`,
//!   `deadline_ms` (Unix ms). Opens a round if none is open.
//! - `POST /v1/fl/updates` with `{"round", "delta": [...], "num_examples"}` and optionally
//!   `"train_loss"` (none under DP-SGD; any `"dp_spend"` is ignored: the server charges its
//!   own figure) → 202 `{"accepted": true, "closed": <round record or null>}`.
//! - `GET /v1/fl/status` → 200 completed rounds, the open round, who sent, quorum, deadline,
//!   the last round's outcome.
//!
//! With `secure_aggregation` configured, the ticket carries the site's protocol id, the round's
//! parameters and its weight, plain updates are refused, and a site goes through the four
//! stages of [`wardstream_federated::secagg`] instead; each `GET` answers `{"ready": false}`
//! until its stage has closed (every expected site answered, or the stage's window ended):
//! - `POST /v1/fl/secagg/keys` (its public keys), then `GET /v1/fl/secagg/keys` (everyone's);
//! - `POST /v1/fl/secagg/shares` (encrypted shares), then `GET /v1/fl/secagg/inbox` (its own);
//! - `POST /v1/fl/secagg/masked` (masked weighted update), then `GET /v1/fl/secagg/survivors`;
//! - `POST /v1/fl/secagg/unmask` (its shares for the survivors) → 202, with the round record
//!   when this reply completed the round.
//!
//! Refusals are problem+json: 409 `update_refused` (wrong round, past the deadline, sent
//! twice, not registered), 409 `privacy_budget_exceeded`, 422 `invalid_update` (wrong length,
//! not finite), 503 `round_failed` when the round a request would join just failed its quorum.
//! A watcher closes rounds at their deadline even when no request comes, so a round below its
//! quorum fails on time and never hangs.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::db::now_ms;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use wardstream_federated::Error as FlError;
use wardstream_federated::accountant::PrivacyError;
use wardstream_federated::client::LocalUpdate;
use wardstream_federated::secagg::{AdvertiseKeys, MaskedInput, ShareKeys, Unmask};
use wardstream_federated::server::{FederatedServer, RoundRecord, RoundStatus, Ticket};

use crate::auth::{AuthConfig, Principal, Role};
use crate::problem::{ApiJson, FieldError, Problem};

/// The federation shared by the handlers.
pub type SharedFederation = Arc<Mutex<FederatedServer>>;

/// State of the federated routes.
#[derive(Clone)]
pub struct FlState {
    /// The federation.
    pub server: SharedFederation,
    /// Token keys (the site is the token's tenant).
    pub auth: AuthConfig,
}

impl FromRef<FlState> for AuthConfig {
    fn from_ref(s: &FlState) -> AuthConfig {
        s.auth.clone()
    }
}

/// Body of `POST /v1/fl/register`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Register {
    /// Training records at the site (its FedAvg weight; DP-SGD's sampling rate).
    #[schema(minimum = 1)]
    pub num_examples: u64,
}

/// Body of `POST /v1/fl/updates`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Submit {
    /// The ticket's round.
    pub round: u64,
    /// The update itself.
    #[serde(flatten)]
    pub update: LocalUpdate,
}

/// Answer of `POST /v1/fl/updates`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Submitted {
    /// Always true (a refusal is a problem).
    pub accepted: bool,
    /// The round's outcome when this update closed it.
    #[schema(value_type = Option<Object>)]
    pub closed: Option<RoundRecord>,
}

/// The routes over `state`; spawns the deadline watcher on the current tokio runtime.
pub fn router(state: FlState) -> Router {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(watch_deadlines(Arc::downgrade(&state.server)));
    }
    Router::new()
        .route("/v1/fl/register", post(register))
        .route("/v1/fl/model", get(model))
        .route("/v1/fl/updates", post(submit))
        .route("/v1/fl/status", get(status))
        .route(
            "/v1/fl/secagg/keys",
            post(secagg_advertise).get(secagg_adverts),
        )
        .route("/v1/fl/secagg/shares", post(secagg_share))
        .route("/v1/fl/secagg/inbox", get(secagg_inbox))
        .route("/v1/fl/secagg/masked", post(secagg_masked))
        .route("/v1/fl/secagg/survivors", get(secagg_survivors))
        .route("/v1/fl/secagg/unmask", post(secagg_unmask))
        .with_state(state)
}

/// Closes the open round at its deadline (every 100 ms), until the federation is dropped.
async fn watch_deadlines(server: std::sync::Weak<Mutex<FederatedServer>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let mut guard = lock(&server);
        match guard.poll(now_ms()) {
            Ok(Some(record)) => tracing::info!(
                round = record.round,
                sites = record.participants.len(),
                "federated round aggregated at its deadline"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "federated round failed"),
        }
    }
}

fn lock(server: &SharedFederation) -> MutexGuard<'_, FederatedServer> {
    // A panic while holding the lock leaves the state as the last completed step wrote it.
    server.lock().unwrap_or_else(|p| p.into_inner())
}

const SITE_ROLES: [Role; 2] = [Role::Admin, Role::Analyst];

#[utoipa::path(post, path = "/v1/fl/register", tag = "federated", request_body = Register, responses((status = 200, description = "the site (the token's tenant) and its record count", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "malformed JSON", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 415, description = "not a JSON content type", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "JSON of the wrong shape or invalid values", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn register(
    State(state): State<FlState>,
    principal: Principal,
    ApiJson(body): ApiJson<Register>,
) -> Result<axum::Json<serde_json::Value>, Problem> {
    principal.require(&SITE_ROLES)?;
    if body.num_examples == 0 {
        return Err(Problem::validation(vec![FieldError::new(
            "num_examples",
            "must be at least 1",
        )]));
    }
    lock(&state.server)
        .register(&principal.tenant_id, body.num_examples)
        .map_err(problem)?;
    Ok(axum::Json(
        serde_json::json!({"site": principal.tenant_id, "num_examples": body.num_examples}),
    ))
}

#[utoipa::path(get, path = "/v1/fl/model", tag = "federated", responses((status = 200, description = "the round's ticket: round, params (flat f32), model, training plan, clip norm, deadline (Unix ms)", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn model(
    State(state): State<FlState>,
    principal: Principal,
) -> Result<axum::Json<Ticket>, Problem> {
    principal.require(&SITE_ROLES)?;
    let mut server = lock(&state.server);
    let now = now_ms();
    // A round past its deadline closes first, so a late site gets the next round's model.
    if let Err(e) = server.poll(now) {
        tracing::warn!(error = %e, "federated round failed");
    }
    Ok(axum::Json(
        server.ticket(&principal.tenant_id, now).map_err(problem)?,
    ))
}

#[utoipa::path(post, path = "/v1/fl/updates", tag = "federated", request_body = Object, responses((status = 202, body = Submitted), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "malformed JSON", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 415, description = "not a JSON content type", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "JSON of the wrong shape or invalid values", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn submit(
    State(state): State<FlState>,
    principal: Principal,
    ApiJson(body): ApiJson<Submit>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(&SITE_ROLES)?;
    let mut server = lock(&state.server);
    let closed = server
        .submit(&principal.tenant_id, body.round, body.update, now_ms())
        .map_err(problem)?;
    if let Some(record) = &closed {
        tracing::info!(
            round = record.round,
            sites = record.participants.len(),
            "federated round aggregated"
        );
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Submitted {
            accepted: true,
            closed,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/fl/status", tag = "federated", responses((status = 200, description = "completed rounds, the open round, who sent, quorum, deadline, the last outcome", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn status(
    State(state): State<FlState>,
    principal: Principal,
) -> Result<axum::Json<RoundStatus>, Problem> {
    principal.require(&SITE_ROLES)?;
    Ok(axum::Json(lock(&state.server).status()))
}

/// What a stage produced, once it has closed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ready<T> {
    /// False while the stage is still open: ask again.
    pub ready: bool,
    /// The stage's output for this site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<T>,
}

impl<T> From<Option<T>> for Ready<T> {
    fn from(value: Option<T>) -> Self {
        Ready {
            ready: value.is_some(),
            value,
        }
    }
}

#[utoipa::path(post, path = "/v1/fl/secagg/keys", tag = "federated", request_body = Object, responses((status = 202, description = "the keys are accepted"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "malformed JSON", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 415, description = "not a JSON content type", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "JSON of the wrong shape or invalid values", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_advertise(
    State(state): State<FlState>,
    principal: Principal,
    ApiJson(msg): ApiJson<AdvertiseKeys>,
) -> Result<StatusCode, Problem> {
    principal.require(&SITE_ROLES)?;
    lock(&state.server)
        .secagg_advertise(&principal.tenant_id, msg, now_ms())
        .map_err(problem)?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(get, path = "/v1/fl/secagg/keys", tag = "federated", responses((status = 200, description = "{ready: false} while the stage is open, else every site's public keys", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_adverts(
    State(state): State<FlState>,
    principal: Principal,
) -> Result<axum::Json<Ready<Vec<AdvertiseKeys>>>, Problem> {
    principal.require(&SITE_ROLES)?;
    let v = lock(&state.server)
        .secagg_adverts(&principal.tenant_id, now_ms())
        .map_err(problem)?;
    Ok(axum::Json(v.into()))
}

#[utoipa::path(post, path = "/v1/fl/secagg/shares", tag = "federated", request_body = Object, responses((status = 202, description = "the shares are accepted"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "malformed JSON", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 415, description = "not a JSON content type", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "JSON of the wrong shape or invalid values", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_share(
    State(state): State<FlState>,
    principal: Principal,
    ApiJson(msg): ApiJson<ShareKeys>,
) -> Result<StatusCode, Problem> {
    principal.require(&SITE_ROLES)?;
    lock(&state.server)
        .secagg_share(&principal.tenant_id, msg, now_ms())
        .map_err(problem)?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(get, path = "/v1/fl/secagg/inbox", tag = "federated", responses((status = 200, description = "{ready: false} while the stage is open, else the shares encrypted to this site", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_inbox(
    State(state): State<FlState>,
    principal: Principal,
) -> Result<axum::Json<Ready<Vec<wardstream_federated::secagg::EncryptedShare>>>, Problem> {
    principal.require(&SITE_ROLES)?;
    let v = lock(&state.server)
        .secagg_inbox(&principal.tenant_id, now_ms())
        .map_err(problem)?;
    Ok(axum::Json(v.into()))
}

#[utoipa::path(post, path = "/v1/fl/secagg/masked", tag = "federated", request_body = Object, responses((status = 202, description = "the masked input is accepted"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "malformed JSON", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 415, description = "not a JSON content type", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "JSON of the wrong shape or invalid values", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_masked(
    State(state): State<FlState>,
    principal: Principal,
    ApiJson(msg): ApiJson<MaskedInput>,
) -> Result<StatusCode, Problem> {
    principal.require(&SITE_ROLES)?;
    lock(&state.server)
        .secagg_masked(&principal.tenant_id, msg, now_ms())
        .map_err(problem)?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(get, path = "/v1/fl/secagg/survivors", tag = "federated", responses((status = 200, description = "{ready: false} while the stage is open, else the surviving sites' protocol ids", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_survivors(
    State(state): State<FlState>,
    principal: Principal,
) -> Result<axum::Json<Ready<Vec<u32>>>, Problem> {
    principal.require(&SITE_ROLES)?;
    let v = lock(&state.server)
        .secagg_survivors(&principal.tenant_id, now_ms())
        .map_err(problem)?;
    Ok(axum::Json(v.into()))
}

#[utoipa::path(post, path = "/v1/fl/secagg/unmask", tag = "federated", request_body = Object, responses((status = 202, body = Submitted), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "malformed JSON", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 415, description = "not a JSON content type", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "JSON of the wrong shape or invalid values", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "refused: wrong round, past the deadline, sent twice, not registered, or the privacy budget is spent", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 503, description = "the round this request would join failed its quorum", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn secagg_unmask(
    State(state): State<FlState>,
    principal: Principal,
    ApiJson(msg): ApiJson<Unmask>,
) -> Result<impl IntoResponse, Problem> {
    principal.require(&SITE_ROLES)?;
    let closed = lock(&state.server)
        .secagg_unmask(&principal.tenant_id, msg, now_ms())
        .map_err(problem)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Submitted {
            accepted: true,
            closed,
        }),
    ))
}

/// The problem for a federation error.
fn problem(e: FlError) -> Problem {
    match e {
        FlError::Refused(detail) => Problem::new(409, "update_refused", "Update refused", detail),
        FlError::Shape(detail) => Problem::new(422, "invalid_update", "Invalid update", detail),
        FlError::Privacy(p @ PrivacyError::BudgetExceeded { .. }) => Problem::new(
            409,
            "privacy_budget_exceeded",
            "Privacy budget exceeded",
            p.to_string(),
        ),
        e @ FlError::QuorumNotReached { .. } => {
            Problem::new(503, "round_failed", "Round failed", e.to_string())
        }
        e => {
            tracing::error!(error = %e, "federation error");
            Problem::internal().with_cause(format!("federation error: {e}"))
        }
    }
}
