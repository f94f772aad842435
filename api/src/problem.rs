//! Errors as RFC 9457 `application/problem+json` responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An RFC 9457 problem: a stable `code`, a title, the status and a detail safe to show.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct Problem {
    /// `about:blank` or a URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Short, stable summary.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// Stable machine-readable code, e.g. `invalid_sql`.
    pub code: &'static str,
}

impl Problem {
    /// 400 `invalid_sql`: the query failed to parse, plan or run.
    pub fn invalid_sql(detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: "Invalid SQL",
            status: 400,
            detail: detail.into(),
            code: "invalid_sql",
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: "Bad request",
            status: 400,
            detail: detail.into(),
            code: "bad_request",
        }
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: "Not found",
            status: 404,
            detail: detail.into(),
            code: "not_found",
        }
    }

    /// 500 `internal`: details are logged, not sent.
    pub fn internal() -> Self {
        Problem {
            kind: "about:blank",
            title: "Internal error",
            status: 500,
            detail: "the server could not complete the request; see its log".into(),
            code: "internal",
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
