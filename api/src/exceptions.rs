//! The exceptions log: every request answered 5xx (an unhandled error or a panic) is written
//! down as a record, and admins read their tenant's with `GET /v1/exceptions`.
//!
//! The caller always gets an RFC 9457 problem with a stable `code` (`internal`, `unavailable`)
//! and no internals; the record keeps what went wrong. A record holds when, the method, the
//! matched route *template* (`/v1/patients/{id}`, never the request path, so no record ids
//! are kept), the status and code, `kind` (`error` or `panic`) and the cause's text (the
//! database driver's message, or the panic message). Records of requests without a valid
//! access token have no tenant and are not served by the API (they are in the table and the
//! server log). Writing a record is best effort: if the database cannot take it either, the
//! server log still has it.

use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::{Principal, Role, new_id};
use crate::db::now_ms;
use crate::problem::Problem;
use crate::tenants::AppState;

/// What a 5xx answer was caused by, carried from the handler to [`record`] as a response
/// extension (never sent).
#[derive(Debug, Clone)]
pub struct Unhandled {
    /// `error` or `panic`.
    pub kind: &'static str,
    /// The cause's text.
    pub message: String,
}

/// One exception record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExceptionRecord {
    /// Record id.
    pub id: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// HTTP method.
    pub method: String,
    /// The matched route template, e.g. `/v1/patients/{id}`.
    pub route: String,
    /// The status answered (5xx).
    pub status: i64,
    /// The problem's stable code (`internal`, `unavailable`).
    pub code: String,
    /// `error` or `panic`.
    pub kind: String,
    /// What went wrong (not sent to the caller of the failed request).
    pub message: String,
}

/// Middleware: runs the request; when the answer is 5xx, writes an exception record. Layer
/// it over the whole router (`Router::layer`), so that the matched route is known.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(no route)".to_owned(), |m| m.as_str().to_owned());
    // Only the Authorization header is kept: the token is verified for the record, when
    // there is one to write, not on every request.
    let authorization = req.headers().get(AUTHORIZATION).cloned();
    let response = next.run(req).await;
    let status = response.status();
    if !status.is_server_error() {
        return response;
    }
    let tenant = authorization
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|token| crate::auth::verify(&state.auth, token.trim()).ok())
        .map(|claims| claims.tid);
    let (kind, message) = match response.extensions().get::<Unhandled>() {
        Some(u) => (u.kind, u.message.clone()),
        None => ("error", "answered without a recorded cause".to_owned()),
    };
    let code = response
        .extensions()
        .get::<ProblemCode>()
        .map_or("internal", |c| c.0);
    tracing::error!(%method, %route, status = status.as_u16(), code, kind, %message, "request failed");
    let written = sqlx::query(
        "INSERT INTO exceptions (id, tenant_id, at, method, route, status, code, kind, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(tenant)
    .bind(now_ms())
    .bind(&method)
    .bind(&route)
    .bind(i64::from(status.as_u16()))
    .bind(code)
    .bind(kind)
    .bind(&message)
    .execute(&state.db)
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, "the exception record could not be written");
    }
    response
}

/// The stable code of a problem answer, carried as a response extension for [`record`].
#[derive(Debug, Clone, Copy)]
pub struct ProblemCode(pub &'static str);

/// The answer to a panicked handler (for `tower_http::catch_panic`): 500 `internal`, with
/// the panic message kept for the record.
pub fn panic_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a handler panicked".to_owned());
    tracing::error!(%message, "a handler panicked");
    let mut response = Problem::internal().into_response();
    response.extensions_mut().insert(Unhandled {
        kind: "panic",
        message,
    });
    response
}

/// `GET /v1/exceptions` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExceptionQuery {
    /// Most records, newest first (default and maximum 500).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/exceptions", tag = "operations", params(ExceptionQuery), responses((status = 200, body = [ExceptionRecord]), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ExceptionQuery>,
) -> Result<Json<Vec<ExceptionRecord>>, Problem> {
    who.require(&[Role::Admin])?;
    let limit = q.limit.unwrap_or(500).clamp(1, 500);
    let rows = sqlx::query(
        "SELECT id, at, method, route, status, code, kind, message FROM exceptions \
         WHERE tenant_id = $1 ORDER BY at DESC, id LIMIT $2",
    )
    .bind(&who.tenant_id)
    .bind(limit)
    .fetch_all(&state.db)
    .await
    .map_err(Problem::from_db)?;
    rows.iter()
        .map(|r| {
            Ok(ExceptionRecord {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                method: r.try_get("method")?,
                route: r.try_get("route")?,
                status: r.try_get("status")?,
                code: r.try_get("code")?,
                kind: r.try_get("kind")?,
                message: r.try_get("message")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map(Json)
        .map_err(Problem::from_db)
}

/// `router` with its panics answered as problems ([`panic_problem`]) and every 5xx answer
/// recorded ([`record`]). Applies to the routes `router` has now (`Router::layer`).
pub fn layer(router: Router, state: AppState) -> Router {
    router
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_problem,
        ))
        .layer(axum::middleware::from_fn_with_state(state, record))
}

/// `router` with its panics answered as problems, for a server without a store to record
/// them in (they are still in the server log).
pub fn catch_panics(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(
        panic_problem,
    ))
}

/// `GET /v1/exceptions` (admins): the tenant's exception records, newest first.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/exceptions", get(list))
        .with_state(state)
}
