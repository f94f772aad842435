//! `GET /metrics`: the engine's counters in the Prometheus text exposition format
//! (OpenMetrics, via the `prometheus-client` crate), and `GET /readyz`.
//!
//! Families (all read from the view store at scrape time):
//! - `wardstream_records_received_total{stream}`: records the sources handed in.
//! - `wardstream_ingest_total{stream, outcome}`: ingest outcomes (`applied`, `corrected`,
//!   `duplicate`, `dead_lettered`).
//! - `wardstream_dead_letters_total{stream, reason}`: dead letters by reason.
//! - `wardstream_view_frontier`: the epoch all views are complete up to (ms since the Unix
//!   epoch at which that input was fed).
//! - `wardstream_max_event_time_seconds`: greatest event time ingested (Unix seconds).
//! - `wardstream_freshness_p50_seconds`, `wardstream_freshness_p99_seconds`: event-to-view
//!   latency.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use wardstream_operators::Outcome;
use wardstream_pipelines::ViewStore;

use crate::problem::Problem;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabel {
    stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    stream: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    stream: String,
    reason: String,
}

/// The store's metrics as Prometheus text.
///
/// # Errors
/// Formatting errors of the encoder (none in practice).
pub fn render(store: &ViewStore) -> Result<String, std::fmt::Error> {
    let stats = store.stats();
    let mut registry = Registry::with_prefix("wardstream");
    let received = Family::<StreamLabel, Counter>::default();
    for (stream, n) in &stats.received {
        received
            .get_or_create(&StreamLabel {
                stream: stream.as_str().into(),
            })
            .inc_by(*n);
    }
    registry.register(
        "records_received",
        "Records the sources handed in",
        received,
    );
    let outcomes = Family::<OutcomeLabels, Counter>::default();
    let reasons = Family::<ReasonLabels, Counter>::default();
    for ((stream, outcome), n) in &stats.outcomes {
        outcomes
            .get_or_create(&OutcomeLabels {
                stream: stream.as_str().into(),
                outcome: outcome.as_str().into(),
            })
            .inc_by(*n);
        if let Outcome::DeadLettered(reason) = outcome {
            reasons
                .get_or_create(&ReasonLabels {
                    stream: stream.as_str().into(),
                    reason: reason.code().into(),
                })
                .inc_by(*n);
        }
    }
    registry.register("ingest", "Ingest outcomes", outcomes);
    registry.register("dead_letters", "Dead letters by reason", reasons);
    let frontier = Gauge::<i64>::default();
    frontier.set(i64::try_from(store.frontier()).unwrap_or(i64::MAX));
    registry.register(
        "view_frontier",
        "Epoch all views are complete up to",
        frontier,
    );
    let max_time = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
    max_time.set(store.max_event_time().map_or(0.0, |t| t as f64 / 1000.0));
    registry.register(
        "max_event_time_seconds",
        "Greatest event time ingested, Unix seconds",
        max_time,
    );
    let fresh = store.freshness();
    for (name, value) in [
        ("freshness_p50_seconds", fresh.p50),
        ("freshness_p99_seconds", fresh.p99),
    ] {
        let g = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        g.set(value.as_secs_f64());
        registry.register(name, "Event-to-view latency", g);
    }
    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus / OpenMetrics text: per-source counts, dead letters, frontier, view sizes, freshness", body = String, content_type = "application/openmetrics-text")))]
pub async fn metrics(State(store): State<Arc<ViewStore>>) -> Result<impl IntoResponse, Problem> {
    let body = render(&store).map_err(|e| {
        tracing::error!(error = %e, "metrics encoding failed");
        Problem::internal().with_cause(format!("metrics encoding failed: {e}"))
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    ))
}

/// `GET /readyz` with a store: 200 once the database answers, else 503 `unavailable`.
pub async fn ready(State(db): State<crate::db::Db>) -> Result<&'static str, Problem> {
    sqlx::query("SELECT 1")
        .execute(&db)
        .await
        .map_err(Problem::from_db)?;
    Ok("ready")
}
