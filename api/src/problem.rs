//! Errors as RFC 9457 `application/problem+json` responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An RFC 9457 problem: a stable `code`, a title, the status and a detail safe to show.
#[derive(Debug, Clone, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("{code}: {detail}")]
pub struct Problem {
    /// The problem type: `about:blank` (the stable `code` names the problem).
    #[serde(rename = "type")]
    pub kind: ProblemType,
    /// Short, stable summary.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_sql`.
    pub code: &'static str,
    /// Each invalid field, for `validation_failed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// When to try again, for `account_locked` (also sent as `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// For 5xx answers: what went wrong, kept in the exceptions log
    /// ([`crate::exceptions`]), never sent.
    #[serde(skip)]
    #[schema(ignore)]
    pub cause: Option<Box<str>>,
}

/// RFC 9457's `type` member. Only `about:blank`: problems are told apart by `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum ProblemType {
    /// `about:blank`.
    #[serde(rename = "about:blank")]
    AboutBlank,
}

impl Problem {
    /// 400 `invalid_sql`: the query failed to parse, plan or run.
    pub fn invalid_sql(detail: impl Into<String>) -> Self {
        Problem::new(400, "invalid_sql", "Invalid SQL", detail)
    }

    /// 400 `bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(400, "bad_request", "Bad request", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(404, "not_found", "Not found", detail)
    }

    /// 500 `internal`: details are logged, not sent.
    pub fn internal() -> Self {
        Problem::new(
            500,
            "internal",
            "Internal error",
            "the server could not complete the request; see its log",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(s) = self.retry_after_seconds {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        resp.extensions_mut()
            .insert(crate::exceptions::ProblemCode(self.code));
        if let Some(message) = self.cause {
            resp.extensions_mut().insert(crate::exceptions::Unhandled {
                kind: "error",
                message: message.into(),
            });
        }
        resp
    }
}

/// One field's validation error, listed in a 422 problem's `errors`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// The request field, e.g. `admin_email`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field's error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    /// A problem with `status`, a stable `code` and `title`, and this request's `detail`.
    pub fn new(
        status: u16,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            kind: ProblemType::AboutBlank,
            title,
            status,
            detail: detail.into(),
            code,
            errors: Vec::new(),
            retry_after_seconds: None,
            cause: None,
        }
    }

    /// The same problem, with `cause` kept for the exceptions log (5xx answers).
    pub fn with_cause(mut self, cause: impl std::fmt::Display) -> Self {
        self.cause = Some(cause.to_string().into());
        self
    }

    /// 401 `unauthorized`: no valid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(401, "unauthorized", "Unauthorized", detail)
    }

    /// 403 `forbidden`: authenticated, but the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(403, "forbidden", "Forbidden", detail)
    }

    /// 409 `invalid_transition`: `what` (e.g. "an invoice") in `status` cannot `action`.
    pub fn invalid_transition(what: &str, status: &str, action: &str) -> Self {
        Problem::new(
            409,
            "invalid_transition",
            "Invalid transition",
            format!("{what} that is {status} cannot {action}"),
        )
    }

    /// 409 `conflict`: the request clashes with what exists (a taken slug or email).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(409, "conflict", "Conflict", detail)
    }

    /// 422 `validation_failed`, listing each field's error.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut p = Problem::new(
            422,
            "validation_failed",
            "Validation failed",
            format!("{} field(s) are not valid", errors.len()),
        );
        p.errors = errors;
        p
    }

    /// 429 `account_locked`: too many failed logins; `Retry-After` says when to try again.
    pub fn locked(retry_after_seconds: u64) -> Self {
        let mut p = Problem::new(
            429,
            "account_locked",
            "Account locked",
            format!("too many failed logins; try again in {retry_after_seconds} s"),
        );
        p.retry_after_seconds = Some(retry_after_seconds);
        p
    }

    /// 429 `rate_limited`: too many requests from this address; `Retry-After` says when to
    /// try again.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let mut p = Problem::new(
            429,
            "rate_limited",
            "Too many requests",
            format!(
                "too many login attempts from this address; try again in {retry_after_seconds} s"
            ),
        );
        p.retry_after_seconds = Some(retry_after_seconds);
        p
    }

    /// A database error, except that a unique-constraint violation (a taken slug, email or
    /// MRN) answers 409 `conflict` with `detail`.
    pub fn from_db_or_conflict(e: sqlx::Error, detail: impl Into<String>) -> Self {
        if crate::db::is_unique_violation(&e) {
            Problem::conflict(detail)
        } else {
            Problem::from_db(e)
        }
    }

    /// A database error: logged, answered 503 `unavailable` when the database cannot be
    /// reached in time or is busy (SQLite `SQLITE_BUSY`/`SQLITE_LOCKED` past the busy
    /// timeout; PostgreSQL serialization failures, deadlocks, lock timeouts: a retry can
    /// succeed), otherwise 500 `internal`.
    pub fn from_db(e: sqlx::Error) -> Self {
        let busy = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| is_busy_code(&code));
        match e {
            _ if busy => {
                tracing::warn!(error = %e, "database busy");
                Problem::new(
                    503,
                    "unavailable",
                    "Service unavailable",
                    "the database is busy; try again",
                )
                .with_cause(format!("database busy: {e}"))
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error = %e, "database unavailable");
                Problem::new(
                    503,
                    "unavailable",
                    "Service unavailable",
                    "the database is unavailable; try again",
                )
                .with_cause(format!("database unavailable: {e}"))
            }
            e => {
                tracing::error!(error = %e, "database error");
                Problem::internal().with_cause(format!("database error: {e}"))
            }
        }
    }
}

/// Whether a database error code means "busy, try again": SQLite's `SQLITE_BUSY` (5) and
/// `SQLITE_LOCKED` (6) with any extended code, PostgreSQL's `40001`, `40P01` and `55P03`.
fn is_busy_code(code: &str) -> bool {
    match code.parse::<u32>() {
        Ok(sqlite) if code.len() <= 4 => matches!(sqlite & 0xff, 5 | 6),
        _ => matches!(code, "40001" | "40P01" | "55P03"),
    }
}

/// A JSON request body whose rejections are problems: 415 `unsupported_media_type` without a
/// JSON content type, 400 `bad_request` for malformed JSON, 422 `validation_failed` for JSON of
/// the wrong shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    axum::Json<T>:
        axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(r)) => Err(Problem::new(
                415,
                "unsupported_media_type",
                "Unsupported media type",
                r.body_text(),
            )),
            Err(JsonRejection::JsonDataError(r)) => {
                let mut p = Problem::validation(vec![FieldError::new("body", r.body_text())]);
                p.detail = r.body_text();
                Err(p)
            }
            Err(r) => Err(Problem::bad_request(r.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_busy_code;

    #[test]
    fn busy_codes_are_told_apart_from_other_errors() {
        for busy in ["5", "517", "6", "262", "40001", "40P01", "55P03"] {
            assert!(is_busy_code(busy), "{busy}");
        }
        // Constraint failures (SQLite 19, 2067; PostgreSQL 23505) are not busy.
        for other in ["19", "2067", "23505", "42P01", "1"] {
            assert!(!is_busy_code(other), "{other}");
        }
    }
}
