//! Providers and appointments: booking with no two active appointments of a provider
//! overlapping, enforced inside the database transaction (also under concurrent requests),
//! and the appointment life cycle.
//!
//! An appointment is *active* while `booked` or `checked_in`; intervals are half-open
//! `[starts_at, ends_at)`, so back-to-back appointments do not overlap. Transitions:
//!
//! | from | `check-in` | `complete` | `cancel` | `no-show` | `reschedule` |
//! |---|---|---|---|---|---|
//! | booked | checked_in | — | cancelled | no_show | booked (new time) |
//! | checked_in | — | completed | cancelled | — | — |
//!
//! A reschedule (`{"starts_at", "ends_at"}`) moves a booked appointment under the same
//! provider lock and overlap rule as a booking (its own old slot does not count), and posts a
//! `rescheduled` event.
//!
//! A provider with weekly availability ([`crate::availability`]) takes bookings and
//! reschedules only inside it (409 `outside_availability`).
//!
//! Anything else answers 409 `invalid_transition`. Times are RFC 3339 in requests and
//! answers, `BIGINT` ms in the store.
//!
//! Every booking and every transition writes its appointment event (the schemas'
//! [`Appointment`](wardstream_schemas::Appointment): status, provider, the provider's clinic,
//! scheduled start, booking time) into the outbox in the same transaction
//! ([`crate::outbox`]), so the `no_show` view follows the API's appointments.

use crate::auth::{self, Principal, Role};
use crate::db::now_ms;
use crate::outbox;
use crate::problem::{ApiJson, FieldError, Problem};
use crate::tenants::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use wardstream_schemas::time::{format_rfc3339, parse_rfc3339};
use wardstream_schemas::{AppointmentStatus, Event};

/// Who may create providers.
const PROVIDER_WRITERS: &[Role] = &[Role::Admin, Role::Scheduler];
/// Who may book and move appointments.
const BOOKERS: &[Role] = &[Role::Admin, Role::Scheduler, Role::Clinician];

/// `POST /v1/providers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewProvider {
    /// Display name, 1–200 characters.
    pub name: String,
    /// Specialty, e.g. `cardiology` (1–100 characters).
    pub specialty: String,
    /// The clinic the provider sees patients in (1–100 characters; default `main`). The
    /// `no_show` view counts per clinic.
    #[serde(default)]
    pub clinic: Option<String>,
}

/// A provider as answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Provider {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Specialty.
    pub specialty: String,
    /// Clinic.
    pub clinic: String,
}

/// `POST /v1/appointments`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Book {
    /// A provider of the caller's tenant.
    pub provider_id: String,
    /// The patient's id (1–100 characters).
    pub patient_id: String,
    /// Start, RFC 3339.
    pub starts_at: String,
    /// End, RFC 3339, after the start and at most 24 h later.
    pub ends_at: String,
}

/// An appointment as answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Appointment {
    /// Id.
    pub id: String,
    /// Provider id.
    pub provider_id: String,
    /// Patient id.
    pub patient_id: String,
    /// Start, RFC 3339 UTC.
    pub starts_at: String,
    /// End, RFC 3339 UTC.
    pub ends_at: String,
    /// `booked`, `checked_in`, `completed`, `cancelled` or `no_show`.
    pub status: String,
}

fn appointment_from(row: &sqlx::any::AnyRow) -> Result<Appointment, Problem> {
    let s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    let t = |c: &str| row.try_get::<i64, _>(c).map_err(Problem::from_db);
    Ok(Appointment {
        id: s("id")?,
        provider_id: s("provider_id")?,
        patient_id: s("patient_id")?,
        starts_at: format_rfc3339(t("starts_at")?),
        ends_at: format_rfc3339(t("ends_at")?),
        status: s("status")?,
    })
}

#[utoipa::path(post, path = "/v1/providers", tag = "scheduling", request_body = NewProvider, responses((status = 201, body = Provider), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn create_provider(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<NewProvider>,
) -> Result<(StatusCode, Json<Provider>), Problem> {
    who.require(PROVIDER_WRITERS)?;
    let mut errors = Vec::new();
    let (name, specialty) = (req.name.trim(), req.specialty.trim());
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must have 1–200 characters"));
    }
    if specialty.is_empty() || specialty.chars().count() > 100 {
        errors.push(FieldError::new("specialty", "must have 1–100 characters"));
    }
    let clinic = req.clinic.as_deref().map_or("main", str::trim);
    if clinic.is_empty() || clinic.chars().count() > 100 {
        errors.push(FieldError::new("clinic", "must have 1–100 characters"));
    }
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let p = Provider {
        id: auth::new_id(),
        name: name.to_owned(),
        specialty: specialty.to_owned(),
        clinic: clinic.to_owned(),
    };
    sqlx::query(
        "INSERT INTO providers (id, tenant_id, name, specialty, clinic, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&p.id)
    .bind(&who.tenant_id)
    .bind(&p.name)
    .bind(&p.specialty)
    .bind(&p.clinic)
    .bind(now_ms())
    .execute(&state.db)
    .await
    .map_err(Problem::from_db)?;
    Ok((StatusCode::CREATED, Json(p)))
}

#[utoipa::path(get, path = "/v1/providers", tag = "scheduling", responses((status = 200, body = [Provider]), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn list_providers(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<Vec<Provider>>, Problem> {
    let rows = sqlx::query(
        "SELECT id, name, specialty, clinic FROM providers WHERE tenant_id = $1 ORDER BY name, id",
    )
    .bind(&who.tenant_id)
    .fetch_all(&state.db)
    .await
    .map_err(Problem::from_db)?;
    rows.iter()
        .map(|r| {
            let s = |c: &str| r.try_get::<String, _>(c).map_err(Problem::from_db);
            Ok(Provider {
                id: s("id")?,
                name: s("name")?,
                specialty: s("specialty")?,
                clinic: s("clinic")?,
            })
        })
        .collect::<Result<_, _>>()
        .map(Json)
}

#[utoipa::path(post, path = "/v1/appointments", tag = "scheduling", request_body = Book, responses((status = 201, body = Appointment), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "the provider has an overlapping appointment", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn book(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<Book>,
) -> Result<(StatusCode, Json<Appointment>), Problem> {
    who.require(BOOKERS)?;
    let mut errors = Vec::new();
    let (starts, ends) = interval(&req.starts_at, &req.ends_at, &mut errors);
    let patient = req.patient_id.trim();
    if patient.is_empty() || patient.len() > 100 {
        errors.push(FieldError::new("patient_id", "must have 1–100 characters"));
    }
    let (Some(starts), Some(ends)) = (starts, ends) else {
        return Err(Problem::validation(errors));
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    // A write first: it takes the provider's row lock (PostgreSQL) or the database's write
    // lock (SQLite) before anything is read, so a concurrent booking of the same provider
    // waits here and then sees this one's appointment.
    let provider = sqlx::query(
        "UPDATE providers SET booking_seq = booking_seq + 1 WHERE id = $1 AND tenant_id = $2",
    )
    .bind(&req.provider_id)
    .bind(&who.tenant_id)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?
    .rows_affected();
    if provider == 0 {
        return Err(Problem::not_found(format!(
            "no provider {}",
            req.provider_id
        )));
    }
    crate::availability::check(&mut tx, &req.provider_id, starts, ends).await?;
    if let Some(other) = clash(&mut tx, &req.provider_id, starts, ends, "").await? {
        return Err(slot_taken(&other));
    }
    let appt = Appointment {
        id: auth::new_id(),
        provider_id: req.provider_id.clone(),
        patient_id: patient.to_owned(),
        starts_at: format_rfc3339(starts),
        ends_at: format_rfc3339(ends),
        status: "booked".into(),
    };
    sqlx::query(
        "INSERT INTO appointments (id, tenant_id, provider_id, patient_id, starts_at, ends_at, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'booked', $7, $7)",
    )
    .bind(&appt.id)
    .bind(&who.tenant_id)
    .bind(&appt.provider_id)
    .bind(&appt.patient_id)
    .bind(starts)
    .bind(ends)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?;
    let clinic: String = sqlx::query("SELECT clinic FROM providers WHERE id = $1")
        .bind(&appt.provider_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(Problem::from_db)?
        .try_get("clinic")
        .map_err(Problem::from_db)?;
    let context = EventContext {
        clinic,
        scheduled_start: starts,
        booked_at: now,
    };
    let event = appointment_event(
        &who.tenant_id,
        &appt,
        AppointmentStatus::Booked,
        &context,
        now,
    );
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok((StatusCode::CREATED, Json(appt)))
}

/// Parses a `[starts_at, ends_at)` pair, listing what is wrong in `errors`.
fn interval(
    starts_at: &str,
    ends_at: &str,
    errors: &mut Vec<FieldError>,
) -> (Option<i64>, Option<i64>) {
    let starts = parse_rfc3339(starts_at);
    let ends = parse_rfc3339(ends_at);
    if starts.is_none() {
        errors.push(FieldError::new("starts_at", "must be an RFC 3339 time"));
    }
    if ends.is_none() {
        errors.push(FieldError::new("ends_at", "must be an RFC 3339 time"));
    }
    if let (Some(s), Some(e)) = (starts, ends)
        && (e <= s || e - s > 24 * 3_600_000)
    {
        errors.push(FieldError::new(
            "ends_at",
            "must be after starts_at and at most 24 h later",
        ));
    }
    (starts, ends)
}

/// Another active appointment of `provider` overlapping `[starts, ends)`, other than `except`.
async fn clash(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    provider: &str,
    starts: i64,
    ends: i64,
    except: &str,
) -> Result<Option<String>, Problem> {
    let row = sqlx::query(
        "SELECT id FROM appointments WHERE provider_id = $1 AND status IN ('booked', 'checked_in') AND starts_at < $2 AND ends_at > $3 AND id <> $4 LIMIT 1",
    )
    .bind(provider)
    .bind(ends)
    .bind(starts)
    .bind(except)
    .fetch_optional(&mut **tx)
    .await
    .map_err(Problem::from_db)?;
    row.map(|r| r.try_get::<String, _>("id").map_err(Problem::from_db))
        .transpose()
}

fn slot_taken(other: &str) -> Problem {
    Problem::new(
        409,
        "slot_taken",
        "Slot taken",
        format!("the provider has appointment {other} overlapping this time"),
    )
}

/// `POST /v1/appointments/{id}/reschedule`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Reschedule {
    /// New start, RFC 3339.
    pub starts_at: String,
    /// New end, RFC 3339, after the start and at most 24 h later.
    pub ends_at: String,
}

async fn reschedule(
    state: &AppState,
    who: &Principal,
    id: &str,
    body: &[u8],
) -> Result<Json<Appointment>, Problem> {
    let req: Reschedule = serde_json::from_slice(body).map_err(|e| {
        Problem::validation(vec![FieldError::new(
            "body",
            format!("must be {{\"starts_at\", \"ends_at\"}}: {e}"),
        )])
    })?;
    let mut errors = Vec::new();
    let (Some(starts), Some(ends)) = interval(&req.starts_at, &req.ends_at, &mut errors) else {
        return Err(Problem::validation(errors));
    };
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    // The provider's lock first, as a booking takes it.
    let locked = sqlx::query(
        "UPDATE providers SET booking_seq = booking_seq + 1 WHERE id = (SELECT provider_id FROM appointments WHERE id = $1 AND tenant_id = $2)",
    )
    .bind(id)
    .bind(&who.tenant_id)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?
    .rows_affected();
    if locked == 0 {
        return Err(Problem::not_found(format!("no appointment {id}")));
    }
    let (mut appt, mut context) = load_for_change(&mut tx, &who.tenant_id, id).await?;
    if appt.status != "booked" {
        return Err(Problem::invalid_transition(
            "an appointment",
            &appt.status,
            "reschedule",
        ));
    }
    crate::availability::check(&mut tx, &appt.provider_id, starts, ends).await?;
    if let Some(other) = clash(&mut tx, &appt.provider_id, starts, ends, id).await? {
        return Err(slot_taken(&other));
    }
    sqlx::query(
        "UPDATE appointments SET starts_at = $1, ends_at = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(starts)
    .bind(ends)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?;
    appt.starts_at = format_rfc3339(starts);
    appt.ends_at = format_rfc3339(ends);
    context.scheduled_start = starts;
    let event = appointment_event(
        &who.tenant_id,
        &appt,
        AppointmentStatus::Rescheduled,
        &context,
        now,
    );
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(Json(appt))
}

/// What an appointment's stream event carries beyond the appointment as answered.
struct EventContext {
    /// The provider's clinic.
    clinic: String,
    /// Start, ms since the Unix epoch.
    scheduled_start: i64,
    /// When it was booked, ms since the Unix epoch.
    booked_at: i64,
}

/// Reads appointment `id` of `tenant_id` with what its events need, in `tx`.
async fn load_for_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    id: &str,
) -> Result<(Appointment, EventContext), Problem> {
    let row = sqlx::query(
        "SELECT a.id, a.provider_id, a.patient_id, a.starts_at, a.ends_at, a.status, a.created_at, p.clinic FROM appointments a JOIN providers p ON p.id = a.provider_id WHERE a.id = $1 AND a.tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await
    .map_err(Problem::from_db)?;
    let context = EventContext {
        clinic: row.try_get("clinic").map_err(Problem::from_db)?,
        scheduled_start: row.try_get("starts_at").map_err(Problem::from_db)?,
        booked_at: row.try_get("created_at").map_err(Problem::from_db)?,
    };
    Ok((appointment_from(&row)?, context))
}

/// The stream status of a stored appointment status.
fn stream_status(status: &str) -> Result<AppointmentStatus, Problem> {
    Ok(match status {
        "booked" => AppointmentStatus::Booked,
        "checked_in" => AppointmentStatus::CheckedIn,
        "completed" => AppointmentStatus::Completed,
        "cancelled" => AppointmentStatus::Cancelled,
        "no_show" => AppointmentStatus::NoShow,
        other => {
            tracing::error!(status = other, "appointment in an unknown status");
            return Err(Problem::internal()
                .with_cause(format!("appointment in an unknown status {other:?}")));
        }
    })
}

/// The appointment's event for the streams: `status` at `event_time`.
fn appointment_event(
    tenant_id: &str,
    appt: &Appointment,
    status: AppointmentStatus,
    context: &EventContext,
    event_time: i64,
) -> Event {
    Event::Appointment(wardstream_schemas::Appointment {
        event_id: auth::new_id(),
        tenant_id: tenant_id.to_owned(),
        event_time,
        schema_version: wardstream_schemas::SCHEMA_VERSION,
        status,
        appointment_id: appt.id.clone(),
        patient_id: appt.patient_id.clone(),
        provider_id: Some(appt.provider_id.clone()),
        clinic: context.clinic.clone(),
        scheduled_start: context.scheduled_start,
        booked_at: context.booked_at,
        patient_age: None,
    })
}

#[utoipa::path(get, path = "/v1/appointments/{id}", tag = "scheduling", params(("id" = String, Path, description = "the record's id")), responses((status = 200, body = Appointment), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_appointment(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Appointment>, Problem> {
    let row = sqlx::query(
        "SELECT id, provider_id, patient_id, starts_at, ends_at, status FROM appointments WHERE id = $1 AND tenant_id = $2",
    )
    .bind(&id)
    .bind(&who.tenant_id)
    .fetch_optional(&state.db)
    .await
    .map_err(Problem::from_db)?
    .ok_or_else(|| Problem::not_found(format!("no appointment {id}")))?;
    Ok(Json(appointment_from(&row)?))
}

/// The status an action leads to from `from`, if allowed.
pub fn transition(from: &str, action: &str) -> Option<&'static str> {
    Some(match (from, action) {
        ("booked", "check-in") => "checked_in",
        ("booked", "cancel") | ("checked_in", "cancel") => "cancelled",
        ("booked", "no-show") => "no_show",
        ("checked_in", "complete") => "completed",
        _ => return None,
    })
}

#[utoipa::path(post, path = "/v1/appointments/{id}/{action}", tag = "scheduling", params(("id" = String, Path, description = "the record's id"), ("action" = String, Path, description = "check-in, complete, cancel, no-show or reschedule (with a body)")), request_body = Option<Reschedule>, responses((status = 200, body = Appointment), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "conflicts with the current state", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn act(
    State(state): State<AppState>,
    who: Principal,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Appointment>, Problem> {
    who.require(BOOKERS)?;
    if action == "reschedule" {
        return reschedule(&state, &who, &id, &body).await;
    }
    if !["check-in", "complete", "cancel", "no-show"].contains(&action.as_str()) {
        return Err(Problem::not_found(format!(
            "no action {action}; use check-in, complete, cancel, no-show or reschedule"
        )));
    }
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    // Touch the row first (a write), so two concurrent actions are serialised.
    let found =
        sqlx::query("UPDATE appointments SET updated_at = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(now_ms())
            .bind(&id)
            .bind(&who.tenant_id)
            .execute(&mut *tx)
            .await
            .map_err(Problem::from_db)?
            .rows_affected();
    if found == 0 {
        return Err(Problem::not_found(format!("no appointment {id}")));
    }
    let (mut appt, context) = load_for_change(&mut tx, &who.tenant_id, &id).await?;
    let Some(to) = transition(&appt.status, &action) else {
        return Err(Problem::invalid_transition(
            "an appointment",
            &appt.status,
            &action,
        ));
    };
    sqlx::query("UPDATE appointments SET status = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(to)
        .bind(&id)
        .bind(&who.tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    appt.status = to.into();
    let event = appointment_event(
        &who.tenant_id,
        &appt,
        stream_status(to)?,
        &context,
        now_ms(),
    );
    outbox::enqueue(&mut tx, &event).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(Json(appt))
}

/// The provider and appointment routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/providers", post(create_provider).get(list_providers))
        .route(
            "/v1/providers/{id}/availability",
            get(crate::availability::get).put(crate::availability::put),
        )
        .route("/v1/appointments", post(book))
        .route("/v1/appointments/{id}", get(get_appointment))
        .route("/v1/appointments/{id}/{action}", post(act))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::transition;

    #[test]
    fn the_life_cycle_follows_the_table() {
        assert_eq!(transition("booked", "check-in"), Some("checked_in"));
        assert_eq!(transition("checked_in", "complete"), Some("completed"));
        assert_eq!(transition("booked", "no-show"), Some("no_show"));
        assert_eq!(transition("checked_in", "cancel"), Some("cancelled"));
        for (from, action) in [
            ("booked", "complete"),
            ("checked_in", "no-show"),
            ("cancelled", "check-in"),
            ("completed", "cancel"),
            ("no_show", "cancel"),
        ] {
            assert_eq!(transition(from, action), None, "{from} {action}");
        }
    }
}
