//! Patients: create, read, update, deactivate, search ([`crate::patient_search`]), and the
//! same records as FHIR R4 `Patient` resources (`GET/POST /fhir/Patient`).
//!
//! Fields follow FHIR R4 Patient (<https://hl7.org/fhir/R4/patient.html>): the medical record
//! number is an `identifier` (system [`MRN_SYSTEM`]), `name` has one official family name and
//! given names, `gender` is the FHIR code (`male`, `female`, `other`, `unknown`), `birthDate`
//! is `YYYY-MM-DD`, `telecom` holds a phone and an email. Clinicians and admins write;
//! schedulers and billing read. Nothing identifying a patient is logged. Every successful
//! read, creation, update and deactivation is recorded in the audit trail ([`crate::audit`]):
//! changes in their own transaction, reads before the record is answered.

use crate::audit::{self, Client};
use crate::auth::{self, Principal, Role};
use crate::db::now_ms;
use crate::problem::{ApiJson, FieldError, Problem};
use crate::tenants::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

const MRN_TAKEN: &str = "a patient with this MRN exists in the tenant";

/// The FHIR identifier system of our medical record numbers.
pub const MRN_SYSTEM: &str = "urn:wardstream:mrn";
const WRITERS: &[Role] = &[Role::Admin, Role::Clinician];
pub(crate) const READERS: &[Role] = &[Role::Admin, Role::Clinician, Role::Scheduler, Role::Billing];

/// A patient as sent and answered on `/v1/patients`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Patient {
    /// Id (answers only; ignored in requests).
    #[serde(default)]
    pub id: String,
    /// Medical record number, unique within the tenant (1–64 characters).
    pub mrn: String,
    /// Family name (1–200 characters).
    pub family_name: String,
    /// Given names, in order (at least one).
    pub given_names: Vec<String>,
    /// FHIR administrative gender: `male`, `female`, `other` or `unknown`.
    pub gender: String,
    /// `YYYY-MM-DD`, not in the future.
    pub birth_date: String,
    /// Phone, if any.
    #[serde(default)]
    pub phone: Option<String>,
    /// Email, if any.
    #[serde(default)]
    pub email: Option<String>,
    /// False once deactivated (answers only).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn validate(p: &Patient) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let len_ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
    if !len_ok(&p.mrn, 64) {
        errors.push(FieldError::new("mrn", "must have 1–64 characters"));
    }
    if !len_ok(&p.family_name, 200) {
        errors.push(FieldError::new("family_name", "must have 1–200 characters"));
    }
    if p.given_names.is_empty() || !p.given_names.iter().all(|g| len_ok(g, 200)) {
        errors.push(FieldError::new(
            "given_names",
            "must hold 1 or more names of 1–200 characters",
        ));
    }
    if !["male", "female", "other", "unknown"].contains(&p.gender.as_str()) {
        errors.push(FieldError::new(
            "gender",
            "must be male, female, other or unknown",
        ));
    }
    let today = wardstream_schemas::time::format_rfc3339(now_ms());
    let date_ok = p.birth_date.len() == 10
        && wardstream_schemas::time::parse_date(&p.birth_date).is_some()
        && p.birth_date.as_str() <= &today[..10];
    if !date_ok {
        errors.push(FieldError::new(
            "birth_date",
            "must be a date YYYY-MM-DD, not in the future",
        ));
    }
    if p.phone.as_deref().is_some_and(|s| !len_ok(s, 40)) {
        errors.push(FieldError::new("phone", "must have 1–40 characters"));
    }
    if p.email
        .as_deref()
        .is_some_and(|e| !len_ok(e, 254) || !e.contains('@'))
    {
        errors.push(FieldError::new("email", "must be an email address"));
    }
    errors
}

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Patient, Problem> {
    let s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    let o = |c: &str| {
        row.try_get::<Option<String>, _>(c)
            .map_err(Problem::from_db)
    };
    Ok(Patient {
        id: s("id")?,
        mrn: s("mrn")?,
        family_name: s("family_name")?,
        given_names: serde_json::from_str(&s("given_names")?)
            .map_err(|e| Problem::internal().with_cause(format!("stored given_names: {e}")))?,
        gender: s("gender")?,
        birth_date: s("birth_date")?,
        phone: o("phone")?,
        email: o("email")?,
        active: row.try_get::<i64, _>("active").map_err(Problem::from_db)? != 0,
    })
}

async fn insert(
    state: &AppState,
    who: &Principal,
    client: &Client,
    mut p: Patient,
) -> Result<Patient, Problem> {
    who.require(WRITERS)?;
    let errors = validate(&p);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    p.id = auth::new_id();
    p.active = true;
    let now = now_ms();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    sqlx::query(
        "INSERT INTO patients (id, tenant_id, mrn, family_name, given_names, gender, birth_date, phone, email, active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10)",
    )
    .bind(&p.id)
    .bind(&who.tenant_id)
    .bind(&p.mrn)
    .bind(&p.family_name)
    .bind(serde_json::to_string(&p.given_names).unwrap_or_default())
    .bind(&p.gender)
    .bind(&p.birth_date)
    .bind(p.phone.clone())
    .bind(p.email.clone())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| Problem::from_db_or_conflict(e, MRN_TAKEN))?;
    audit::record(&mut tx, who, client, "create", &p.id).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(p)
}

/// Reads patient `id` for `who` and records the read in the audit trail first.
async fn fetch(
    state: &AppState,
    who: &Principal,
    client: &Client,
    id: &str,
) -> Result<Patient, Problem> {
    who.require(READERS)?;
    let p = fetch_unaudited(state, who, id).await?;
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    audit::record(&mut tx, who, client, "read", id).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(p)
}

async fn fetch_unaudited(state: &AppState, who: &Principal, id: &str) -> Result<Patient, Problem> {
    let row = sqlx::query(
        "SELECT id, mrn, family_name, given_names, gender, birth_date, phone, email, active FROM patients WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(&who.tenant_id)
    .fetch_optional(&state.db)
    .await
    .map_err(Problem::from_db)?
    .ok_or_else(|| Problem::not_found(format!("no patient {id}")))?;
    from_row(&row)
}

#[utoipa::path(post, path = "/v1/patients", tag = "patients", request_body = Patient, responses((status = 201, body = Patient), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "the MRN is taken", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    ApiJson(p): ApiJson<Patient>,
) -> Result<(StatusCode, Json<Patient>), Problem> {
    Ok((
        StatusCode::CREATED,
        Json(insert(&state, &who, &client, p).await?),
    ))
}

#[utoipa::path(get, path = "/v1/patients/{id}", tag = "patients", params(("id" = String, Path, description = "the record's id")), responses((status = 200, body = Patient), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn read(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    Path(id): Path<String>,
) -> Result<Json<Patient>, Problem> {
    Ok(Json(fetch(&state, &who, &client, &id).await?))
}

#[utoipa::path(put, path = "/v1/patients/{id}", tag = "patients", params(("id" = String, Path, description = "the record's id")), request_body = Patient, responses((status = 200, body = Patient), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "the MRN is taken", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn update(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<Patient>,
) -> Result<Json<Patient>, Problem> {
    who.require(WRITERS)?;
    let errors = validate(&p);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    let r = sqlx::query(
        "UPDATE patients SET mrn = $1, family_name = $2, given_names = $3, gender = $4, birth_date = $5, phone = $6, email = $7, updated_at = $8 WHERE id = $9 AND tenant_id = $10",
    )
    .bind(&p.mrn)
    .bind(&p.family_name)
    .bind(serde_json::to_string(&p.given_names).unwrap_or_default())
    .bind(&p.gender)
    .bind(&p.birth_date)
    .bind(p.phone.clone())
    .bind(p.email.clone())
    .bind(now_ms())
    .bind(&id)
    .bind(&who.tenant_id)
    .execute(&mut *tx)
    .await;
    let changed = r
        .map_err(|e| Problem::from_db_or_conflict(e, MRN_TAKEN))?
        .rows_affected();
    if changed == 0 {
        return Err(Problem::not_found(format!("no patient {id}")));
    }
    audit::record(&mut tx, &who, &client, "update", &id).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(Json(fetch_unaudited(&state, &who, &id).await?))
}

#[utoipa::path(delete, path = "/v1/patients/{id}", tag = "patients", params(("id" = String, Path, description = "the record's id")), responses((status = 204, description = "deactivated"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    who.require(WRITERS)?;
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    let changed = sqlx::query(
        "UPDATE patients SET active = 0, updated_at = $1 WHERE id = $2 AND tenant_id = $3",
    )
    .bind(now_ms())
    .bind(&id)
    .bind(&who.tenant_id)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?
    .rows_affected();
    if changed == 0 {
        return Err(Problem::not_found(format!("no patient {id}")));
    }
    audit::record(&mut tx, &who, &client, "deactivate", &id).await?;
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The FHIR R4 `Patient` resource of a patient.
pub fn to_fhir(p: &Patient) -> Value {
    let mut telecom = Vec::new();
    if let Some(phone) = &p.phone {
        telecom.push(json!({"system": "phone", "value": phone}));
    }
    if let Some(email) = &p.email {
        telecom.push(json!({"system": "email", "value": email}));
    }
    let mut r = json!({
        "resourceType": "Patient",
        "id": p.id,
        "identifier": [{"system": MRN_SYSTEM, "value": p.mrn}],
        "active": p.active,
        "name": [{"use": "official", "family": p.family_name, "given": p.given_names}],
        "gender": p.gender,
        "birthDate": p.birth_date,
    });
    if !telecom.is_empty() {
        r["telecom"] = Value::Array(telecom);
    }
    r
}

/// A patient from a FHIR R4 `Patient` resource: the identifier of system [`MRN_SYSTEM`] (or
/// the first one), the official name (or the first), gender, birthDate, the first phone and
/// email in `telecom`.
///
/// Errors: each missing or malformed element, as field errors named by their FHIR path.
pub fn from_fhir(r: &Value) -> Result<Patient, Vec<FieldError>> {
    let mut errors = Vec::new();
    if r["resourceType"] != "Patient" {
        errors.push(FieldError::new("resourceType", "must be Patient"));
    }
    let ids = r["identifier"].as_array().cloned().unwrap_or_default();
    let mrn = ids
        .iter()
        .find(|i| i["system"] == MRN_SYSTEM)
        .or(ids.first())
        .and_then(|i| i["value"].as_str());
    if mrn.is_none() {
        errors.push(FieldError::new("identifier", "needs a value (the MRN)"));
    }
    let names = r["name"].as_array().cloned().unwrap_or_default();
    let name = names
        .iter()
        .find(|n| n["use"] == "official")
        .or(names.first());
    let family = name.and_then(|n| n["family"].as_str());
    let given: Vec<String> = name
        .and_then(|n| n["given"].as_array())
        .map(|g| {
            g.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if family.is_none() {
        errors.push(FieldError::new("name.family", "is required"));
    }
    let telecom = |system: &str| {
        r["telecom"].as_array().and_then(|t| {
            t.iter()
                .find(|c| c["system"] == system)
                .and_then(|c| c["value"].as_str().map(str::to_owned))
        })
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Patient {
        id: String::new(),
        mrn: mrn.unwrap_or_default().to_owned(),
        family_name: family.unwrap_or_default().to_owned(),
        given_names: given,
        gender: r["gender"].as_str().unwrap_or("unknown").to_owned(),
        birth_date: r["birthDate"].as_str().unwrap_or_default().to_owned(),
        phone: telecom("phone"),
        email: telecom("email"),
        active: true,
    })
}

#[utoipa::path(get, path = "/fhir/Patient/{id}", tag = "patients", params(("id" = String, Path, description = "the record's id")), responses((status = 200, description = "a FHIR R4 Patient", body = Object, content_type = "application/fhir+json"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn fhir_read(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, Problem> {
    let p = fetch(&state, &who, &client, &id).await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/fhir+json")],
        Json(to_fhir(&p)),
    ))
}

#[utoipa::path(post, path = "/fhir/Patient", tag = "patients", request_body = Object, responses((status = 201, description = "the FHIR R4 Patient created", body = Object, content_type = "application/fhir+json"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 400, description = "not JSON", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn fhir_create(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    body: axum::body::Bytes,
) -> Result<impl axum::response::IntoResponse, Problem> {
    let r: Value = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("not JSON: {e}")))?;
    let p = from_fhir(&r).map_err(Problem::validation)?;
    let p = insert(&state, &who, &client, p).await?;
    Ok((
        StatusCode::CREATED,
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/fhir+json".to_owned(),
            ),
            (
                axum::http::header::LOCATION,
                format!("/fhir/Patient/{}", p.id),
            ),
        ],
        Json(to_fhir(&p)),
    ))
}

/// The patient routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/v1/patients",
            post(create).get(crate::patient_search::search),
        )
        .route(
            "/v1/patients/{id}",
            get(read).put(update).delete(deactivate),
        )
        .route(
            "/fhir/Patient",
            post(fhir_create).get(crate::patient_search::fhir_search),
        )
        .route("/fhir/Patient/{id}", get(fhir_read))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> Patient {
        Patient {
            id: "x".into(),
            mrn: "MRN-1".into(),
            family_name: "Nightingale".into(),
            given_names: vec!["Florence".into()],
            gender: "female".into(),
            birth_date: "1820-05-12".into(),
            phone: Some("+44 20 7946 0000".into()),
            email: None,
            active: true,
        }
    }

    #[test]
    fn fhir_round_trips() {
        let p = patient();
        let r = to_fhir(&p);
        assert_eq!(r["resourceType"], "Patient");
        assert_eq!(r["identifier"][0]["system"], MRN_SYSTEM);
        assert_eq!(r["name"][0]["given"][0], "Florence");
        assert_eq!(r["telecom"][0]["system"], "phone");
        let back = from_fhir(&r).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            Patient {
                id: p.id.clone(),
                ..back
            },
            p
        );
    }

    #[test]
    fn validation_names_each_bad_field() {
        let mut p = patient();
        p.gender = "f".into();
        p.birth_date = "2999-01-01".into();
        p.given_names.clear();
        let fields: Vec<String> = validate(&p).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["given_names", "gender", "birth_date"]);
        let errs = from_fhir(&json!({"resourceType": "Observation"}))
            .err()
            .unwrap_or_default();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["resourceType", "identifier", "name.family"]);
    }
}
