//! Billing: invoices of coded line items, in minor units of an ISO 4217 currency, with
//! enforced status transitions; issuing and voiding post to the billing stream.
//!
//! A line carries a CPT / HCPCS Level II code or a three-digit MS-DRG, the ICD-10-CM
//! diagnoses that support it, and an amount ≥ 0 in the currency's minor unit (cents for USD,
//! yen for JPY). Codes are checked for their shape (the schemas' [`codes`] rules), not
//! against a licensed code list. Transitions:
//!
//! | from | `issue` | `pay` | `void` |
//! |---|---|---|---|
//! | draft | issued | — | void |
//! | issued | — | paid | void |
//!
//! Anything else answers 409 `invalid_transition`. Issuing writes one `posted`
//! [`Charge`](wardstream_schemas::Charge) per line into the outbox, in the same transaction;
//! voiding an issued invoice writes a `voided` charge per line, so the `revenue` view takes
//! them back. The charge id of line `k` of invoice `i` is `i-k`. Billing and admin users write
//! and read invoices; other roles get 403.
//!
//! [`codes`]: wardstream_schemas::codes

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
use wardstream_schemas::codes::{currency_exponent, is_cpt_or_hcpcs, is_icd10, is_ms_drg};
use wardstream_schemas::{Charge, ChargeStatus, CodeSystem, Event};

/// Who may read and write invoices.
const BILLERS: &[Role] = &[Role::Admin, Role::Billing];
/// Largest line amount accepted, in minor units (10¹² cents is ten billion dollars).
const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;
/// Most lines per invoice.
const MAX_LINES: usize = 200;

/// One line of `POST /v1/invoices`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct InvoiceLine {
    /// `hcpcs` (CPT / HCPCS Level II) or `ms_drg`.
    pub code_system: String,
    /// The code: `99213`, `0001F`, `J1100`, or an MS-DRG such as `871`.
    pub code: String,
    /// Supporting ICD-10-CM diagnoses (`E11.9` or `E119`).
    #[serde(default)]
    pub diagnoses: Vec<String>,
    /// Free text, at most 200 characters.
    #[serde(default)]
    pub description: String,
    /// Amount in minor units, 0 ≤ amount ≤ 10¹².
    pub amount_minor: i64,
}

/// `POST /v1/invoices`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewInvoice {
    /// The encounter billed (1–100 characters).
    pub encounter_id: String,
    /// The patient, if known.
    #[serde(default)]
    pub patient_id: Option<String>,
    /// The care unit that rendered the services, if known (the `revenue` view groups by it).
    #[serde(default)]
    pub care_unit: Option<String>,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// 1–200 lines.
    pub lines: Vec<InvoiceLine>,
}

/// An invoice as answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Invoice {
    /// Id.
    pub id: String,
    /// Encounter.
    pub encounter_id: String,
    /// Patient.
    pub patient_id: Option<String>,
    /// Care unit.
    pub care_unit: Option<String>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Sum of the lines, minor units.
    pub total_minor: i64,
    /// `draft`, `issued`, `paid` or `void`.
    pub status: String,
    /// The lines, in order.
    pub lines: Vec<InvoiceLine>,
}

/// The status an action leads to from `from`, if allowed.
pub fn transition(from: &str, action: &str) -> Option<&'static str> {
    Some(match (from, action) {
        ("draft", "issue") => "issued",
        ("issued", "pay") => "paid",
        ("draft", "void") | ("issued", "void") => "void",
        _ => return None,
    })
}

fn optional_id(value: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > 100 {
        errors.push(FieldError::new(field, "must have at most 100 characters"));
    }
    Some(v.to_owned())
}

/// Checks a new invoice; every problem is listed with its field path (`lines[2].code`).
fn validate(req: &NewInvoice) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let encounter = req.encounter_id.trim();
    if encounter.is_empty() || encounter.chars().count() > 100 {
        errors.push(FieldError::new(
            "encounter_id",
            "must have 1–100 characters",
        ));
    }
    optional_id(req.patient_id.as_deref(), "patient_id", &mut errors);
    optional_id(req.care_unit.as_deref(), "care_unit", &mut errors);
    if currency_exponent(&req.currency).is_none() {
        errors.push(FieldError::new(
            "currency",
            "must be an accepted ISO 4217 code such as USD, EUR or JPY",
        ));
    }
    if req.lines.is_empty() || req.lines.len() > MAX_LINES {
        errors.push(FieldError::new("lines", "must have 1–200 lines"));
    }
    for (k, line) in req.lines.iter().enumerate() {
        let field = |name: &str| format!("lines[{k}].{name}");
        match line.code_system.as_str() {
            "hcpcs" if !is_cpt_or_hcpcs(&line.code) => errors.push(FieldError::new(
                field("code"),
                "must be a CPT code (five digits, or four digits and F/T/U) or a HCPCS Level II code (a letter A–V and four digits)",
            )),
            "ms_drg" if !is_ms_drg(&line.code) => errors.push(FieldError::new(
                field("code"),
                "must be an MS-DRG: three digits, 001–999",
            )),
            "hcpcs" | "ms_drg" => {}
            _ => errors.push(FieldError::new(
                field("code_system"),
                "must be hcpcs or ms_drg",
            )),
        }
        for (d, dx) in line.diagnoses.iter().enumerate() {
            if !is_icd10(dx) {
                errors.push(FieldError::new(
                    format!("lines[{k}].diagnoses[{d}]"),
                    "must be an ICD-10-CM code such as E11.9",
                ));
            }
        }
        if line.description.chars().count() > 200 {
            errors.push(FieldError::new(
                field("description"),
                "must have at most 200 characters",
            ));
        }
        if !(0..=MAX_AMOUNT_MINOR).contains(&line.amount_minor) {
            errors.push(FieldError::new(
                field("amount_minor"),
                "must be between 0 and 10^12 minor units",
            ));
        }
    }
    errors
}

#[utoipa::path(post, path = "/v1/invoices", tag = "billing", request_body = NewInvoice, responses((status = 201, body = Invoice), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<NewInvoice>,
) -> Result<(StatusCode, Json<Invoice>), Problem> {
    who.require(BILLERS)?;
    let errors = validate(&req);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let mut ignored = Vec::new();
    let invoice = Invoice {
        id: auth::new_id(),
        encounter_id: req.encounter_id.trim().to_owned(),
        patient_id: optional_id(req.patient_id.as_deref(), "patient_id", &mut ignored),
        care_unit: optional_id(req.care_unit.as_deref(), "care_unit", &mut ignored),
        currency: req.currency.clone(),
        total_minor: req.lines.iter().map(|l| l.amount_minor).sum(),
        status: "draft".into(),
        lines: req
            .lines
            .iter()
            .map(|l| InvoiceLine {
                code: l.code.trim().to_owned(),
                diagnoses: l.diagnoses.iter().map(|d| d.trim().to_owned()).collect(),
                description: l.description.trim().to_owned(),
                ..l.clone()
            })
            .collect(),
    };
    let now = now_ms();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    sqlx::query(
        "INSERT INTO invoices (id, tenant_id, encounter_id, patient_id, care_unit, currency, total_minor, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $8)",
    )
    .bind(&invoice.id)
    .bind(&who.tenant_id)
    .bind(&invoice.encounter_id)
    .bind(&invoice.patient_id)
    .bind(&invoice.care_unit)
    .bind(&invoice.currency)
    .bind(invoice.total_minor)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?;
    for (k, line) in invoice.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, line_no, code_system, code, diagnoses, description, amount_minor) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&invoice.id)
        .bind(k as i64)
        .bind(&line.code_system)
        .bind(&line.code)
        .bind(line.diagnoses.join(","))
        .bind(&line.description)
        .bind(line.amount_minor)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    }
    tx.commit().await.map_err(Problem::from_db)?;
    Ok((StatusCode::CREATED, Json(invoice)))
}

/// Reads invoice `id` of `tenant_id` with its lines, in `conn`.
async fn load(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    id: &str,
) -> Result<Invoice, Problem> {
    let row = sqlx::query(
        "SELECT id, encounter_id, patient_id, care_unit, currency, total_minor, status FROM invoices WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(Problem::from_db)?
    .ok_or_else(|| Problem::not_found(format!("no invoice {id}")))?;
    let s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    let o = |c: &str| {
        row.try_get::<Option<String>, _>(c)
            .map_err(Problem::from_db)
    };
    let mut invoice = Invoice {
        id: s("id")?,
        encounter_id: s("encounter_id")?,
        patient_id: o("patient_id")?,
        care_unit: o("care_unit")?,
        currency: s("currency")?,
        total_minor: row.try_get("total_minor").map_err(Problem::from_db)?,
        status: s("status")?,
        lines: Vec::new(),
    };
    let lines = sqlx::query(
        "SELECT code_system, code, diagnoses, description, amount_minor FROM invoice_lines WHERE invoice_id = $1 ORDER BY line_no",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .map_err(Problem::from_db)?;
    for l in &lines {
        let s = |c: &str| l.try_get::<String, _>(c).map_err(Problem::from_db);
        let diagnoses = s("diagnoses")?;
        invoice.lines.push(InvoiceLine {
            code_system: s("code_system")?,
            code: s("code")?,
            diagnoses: diagnoses
                .split(',')
                .filter(|d| !d.is_empty())
                .map(str::to_owned)
                .collect(),
            description: s("description")?,
            amount_minor: l.try_get("amount_minor").map_err(Problem::from_db)?,
        });
    }
    Ok(invoice)
}

#[utoipa::path(get, path = "/v1/invoices/{id}", tag = "billing", params(("id" = String, Path, description = "the record's id")), responses((status = 200, body = Invoice), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_invoice(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Invoice>, Problem> {
    who.require(BILLERS)?;
    let mut conn = state.db.acquire().await.map_err(Problem::from_db)?;
    load(&mut conn, &who.tenant_id, &id).await.map(Json)
}

/// The charge events of `invoice`'s lines with `status`, at `event_time`.
fn charges(
    tenant_id: &str,
    invoice: &Invoice,
    status: ChargeStatus,
    event_time: i64,
) -> Vec<Event> {
    invoice
        .lines
        .iter()
        .enumerate()
        .map(|(k, line)| {
            Event::Charge(Charge {
                event_id: auth::new_id(),
                tenant_id: tenant_id.to_owned(),
                event_time,
                schema_version: wardstream_schemas::SCHEMA_VERSION,
                charge_id: format!("{}-{k}", invoice.id),
                encounter_id: invoice.encounter_id.clone(),
                patient_id: invoice.patient_id.clone(),
                care_unit: invoice.care_unit.clone(),
                code_system: if line.code_system == "ms_drg" {
                    CodeSystem::MsDrg
                } else {
                    CodeSystem::Hcpcs
                },
                code: line.code.clone(),
                diagnoses: line.diagnoses.clone(),
                amount_minor: line.amount_minor,
                currency: invoice.currency.clone(),
                status,
            })
        })
        .collect()
}

#[utoipa::path(post, path = "/v1/invoices/{id}/{action}", tag = "billing", params(("id" = String, Path, description = "the record's id"), ("action" = String, Path, description = "issue, pay or void")), responses((status = 200, body = Invoice), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "conflicts with the current state", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn act(
    State(state): State<AppState>,
    who: Principal,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Invoice>, Problem> {
    who.require(BILLERS)?;
    if !["issue", "pay", "void"].contains(&action.as_str()) {
        return Err(Problem::not_found(format!(
            "no action {action}; use issue, pay or void"
        )));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    // Touch the row first (a write), so two concurrent actions on it are serialised.
    let found = sqlx::query("UPDATE invoices SET updated_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(&id)
        .bind(&who.tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?
        .rows_affected();
    if found == 0 {
        return Err(Problem::not_found(format!("no invoice {id}")));
    }
    let mut invoice = load(&mut tx, &who.tenant_id, &id).await?;
    let Some(to) = transition(&invoice.status, &action) else {
        return Err(Problem::invalid_transition(
            "an invoice",
            &invoice.status,
            &action,
        ));
    };
    sqlx::query("UPDATE invoices SET status = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(to)
        .bind(&id)
        .bind(&who.tenant_id)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    let posted = match (invoice.status.as_str(), to) {
        (_, "issued") => Some(ChargeStatus::Posted),
        ("issued", "void") => Some(ChargeStatus::Voided),
        _ => None,
    };
    if let Some(status) = posted {
        for event in charges(&who.tenant_id, &invoice, status, now) {
            outbox::enqueue(&mut tx, &event).await?;
        }
    }
    tx.commit().await.map_err(Problem::from_db)?;
    invoice.status = to.into();
    Ok(Json(invoice))
}

/// The invoice routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/invoices", post(create))
        .route("/v1/invoices/{id}", get(get_invoice))
        .route("/v1/invoices/{id}/{action}", post(act))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(system: &str, code: &str, dx: &[&str], amount: i64) -> InvoiceLine {
        InvoiceLine {
            code_system: system.into(),
            code: code.into(),
            diagnoses: dx.iter().map(|d| (*d).to_owned()).collect(),
            description: String::new(),
            amount_minor: amount,
        }
    }

    #[test]
    fn transitions_follow_the_table() {
        assert_eq!(transition("draft", "issue"), Some("issued"));
        assert_eq!(transition("issued", "pay"), Some("paid"));
        assert_eq!(transition("draft", "void"), Some("void"));
        assert_eq!(transition("issued", "void"), Some("void"));
        for (from, action) in [
            ("draft", "pay"),
            ("issued", "issue"),
            ("paid", "void"),
            ("paid", "issue"),
            ("void", "issue"),
            ("void", "pay"),
        ] {
            assert_eq!(transition(from, action), None, "{from} {action}");
        }
    }

    #[test]
    fn every_bad_field_is_listed_with_its_path() {
        let req = NewInvoice {
            encounter_id: " ".into(),
            patient_id: None,
            care_unit: Some("MICU".into()),
            currency: "XYZ".into(),
            lines: vec![
                line("hcpcs", "99213", &["E11.9"], 12_500),
                line("hcpcs", "9921", &["E11.9", "11.9"], 100),
                line("ms_drg", "0871", &[], 5),
                line("loinc", "1234-5", &[], -1),
            ],
        };
        let fields: Vec<String> = validate(&req).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "encounter_id",
                "currency",
                "lines[1].code",
                "lines[1].diagnoses[1]",
                "lines[2].code",
                "lines[3].code_system",
                "lines[3].amount_minor",
            ]
        );
        let good = NewInvoice {
            encounter_id: "enc-1".into(),
            currency: "USD".into(),
            lines: vec![line("ms_drg", "871", &["A41.9"], 1_203_400)],
            patient_id: None,
            care_unit: None,
        };
        assert!(validate(&good).is_empty());
    }
}
