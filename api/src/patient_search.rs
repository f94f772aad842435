//! Patient search: `GET /v1/patients` and the FHIR R4 search `GET /fhir/Patient`.
//!
//! Parameters (all optional, combined with AND), after FHIR R4's Patient search
//! (<https://hl7.org/fhir/R4/patient.html#search>):
//! - `family`, `given`: the family name, or any given name, *starts with* the text,
//!   case-insensitively (FHIR `string` search; on SQLite only ASCII letters fold case).
//! - `birthdate`: `YYYY-MM-DD`, optionally prefixed `eq`, `ne`, `lt`, `le`, `gt` or `ge`.
//! - `mrn` (v1) or `identifier` (FHIR: `[system|]value`, system [`MRN_SYSTEM`]): exact.
//! - `active`: `true` or `false`.
//! - `_count` (default 20, at most 100) and `_offset`: the page.
//!
//! Results are ordered by family name, given names and id. Every patient answered is
//! recorded in the audit trail as a `search` by the caller (a search discloses records as a
//! read does), in the same transaction as the page is read. Unknown parameters answer 422,
//! so a misspelt filter never silently widens a search.

use std::collections::BTreeMap;

use crate::audit::{self, Client};
use crate::auth::Principal;
use crate::patients::{MRN_SYSTEM, Patient, READERS, from_row, to_fhir};
use crate::problem::{FieldError, Problem};
use crate::tenants::AppState;
use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;

/// Default and largest page.
const DEFAULT_COUNT: i64 = 20;
const MAX_COUNT: i64 = 100;

/// A parsed search: SQL conditions with their parameters, and the page.
#[derive(Debug, Default, PartialEq)]
struct Search {
    conditions: Vec<String>,
    params: Vec<String>,
    count: i64,
    offset: i64,
}

impl Search {
    fn bind(&mut self, condition: impl FnOnce(usize) -> String, value: String) {
        // $1 is the tenant.
        self.params.push(value);
        let n = self.params.len() + 1;
        self.conditions.push(condition(n));
    }
}

/// `text` as a LIKE prefix pattern: lower-cased, `\`, `%` and `_` escaped.
fn prefix_pattern(text: &str) -> String {
    let mut p = String::new();
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Parses the query; `fhir` names the MRN parameter `identifier` instead of `mrn`.
fn parse(q: &BTreeMap<String, String>, fhir: bool) -> Result<Search, Problem> {
    let mut s = Search {
        count: DEFAULT_COUNT,
        ..Search::default()
    };
    let mut errors = Vec::new();
    for (key, value) in q {
        match key.as_str() {
            "family" | "given" if value.trim().is_empty() || value.chars().count() > 200 => {
                errors.push(FieldError::new(key, "must have 1–200 characters"));
            }
            "family" => s.bind(
                |n| format!("lower(family_name) LIKE ${n} ESCAPE '\\'"),
                prefix_pattern(value),
            ),
            // Given names are stored as a JSON array of strings: a name starting with the
            // text follows a quote.
            "given" => s.bind(
                |n| format!("lower(given_names) LIKE ${n} ESCAPE '\\'"),
                format!("%\"{}", prefix_pattern(value)),
            ),
            "birthdate" => {
                let (op, date) = match value.get(..2) {
                    Some(p @ ("eq" | "ne" | "lt" | "le" | "gt" | "ge")) => (p, &value[2..]),
                    _ => ("eq", value.as_str()),
                };
                if date.len() != 10 || wardstream_schemas::time::parse_date(date).is_none() {
                    errors.push(FieldError::new(
                        "birthdate",
                        "must be YYYY-MM-DD, optionally prefixed eq, ne, lt, le, gt or ge",
                    ));
                    continue;
                }
                let sql = match op {
                    "ne" => "<>",
                    "lt" => "<",
                    "le" => "<=",
                    "gt" => ">",
                    "ge" => ">=",
                    _ => "=",
                };
                s.bind(|n| format!("birth_date {sql} ${n}"), date.to_owned());
            }
            "mrn" if !fhir => s.bind(|n| format!("mrn = ${n}"), value.clone()),
            "identifier" if fhir => {
                let mrn = match value.split_once('|') {
                    Some((system, v)) if system.is_empty() || system == MRN_SYSTEM => v,
                    Some(_) => {
                        errors.push(FieldError::new(
                            "identifier",
                            format!("only the system {MRN_SYSTEM} is searchable"),
                        ));
                        continue;
                    }
                    None => value.as_str(),
                };
                s.bind(|n| format!("mrn = ${n}"), mrn.to_owned());
            }
            "active" => match value.as_str() {
                "true" => s.conditions.push("active <> 0".into()),
                "false" => s.conditions.push("active = 0".into()),
                _ => errors.push(FieldError::new("active", "must be true or false")),
            },
            "_count" => match value.parse::<i64>() {
                Ok(n) if (1..=MAX_COUNT).contains(&n) => s.count = n,
                _ => errors.push(FieldError::new("_count", "must be 1–100")),
            },
            "_offset" => match value.parse::<i64>() {
                Ok(n) if n >= 0 => s.offset = n,
                _ => errors.push(FieldError::new("_offset", "must be 0 or more")),
            },
            other => errors.push(FieldError::new(
                other,
                if fhir {
                    "unknown search parameter (family, given, birthdate, identifier, active, _count, _offset)"
                } else {
                    "unknown search parameter (family, given, birthdate, mrn, active, _count, _offset)"
                },
            )),
        }
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(Problem::validation(errors))
    }
}

/// One page of a search.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PatientPage {
    /// Patients matching, in all pages.
    pub total: i64,
    /// This page's patients.
    pub patients: Vec<Patient>,
}

/// Runs `search` for `who`, recording every patient answered in the audit trail.
async fn run(
    state: &AppState,
    who: &Principal,
    client: &Client,
    search: &Search,
) -> Result<(i64, Vec<Patient>), Problem> {
    who.require(READERS)?;
    let filter = std::iter::once("tenant_id = $1".to_owned())
        .chain(search.conditions.iter().cloned())
        .collect::<Vec<_>>()
        .join(" AND ");
    let n = search.params.len();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    let count_sql = format!("SELECT COUNT(*) AS n FROM patients WHERE {filter}");
    // The SQL is built from the fixed fragments above and `$n` placeholders only: every
    // value the caller sent is a bound parameter.
    let mut count = sqlx::query(sqlx::AssertSqlSafe(count_sql)).bind(&who.tenant_id);
    for p in &search.params {
        count = count.bind(p);
    }
    let total: i64 = count
        .fetch_one(&mut *tx)
        .await
        .map_err(Problem::from_db)?
        .try_get("n")
        .map_err(Problem::from_db)?;
    let page_sql = format!(
        "SELECT id, mrn, family_name, given_names, gender, birth_date, phone, email, active \
         FROM patients WHERE {filter} ORDER BY family_name, given_names, id LIMIT ${} OFFSET ${}",
        n + 2,
        n + 3
    );
    let mut page = sqlx::query(sqlx::AssertSqlSafe(page_sql)).bind(&who.tenant_id);
    for p in &search.params {
        page = page.bind(p);
    }
    let rows = page
        .bind(search.count)
        .bind(search.offset)
        .fetch_all(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    let patients = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    for p in &patients {
        audit::record(&mut tx, who, client, "search", &p.id).await?;
    }
    tx.commit().await.map_err(Problem::from_db)?;
    Ok((total, patients))
}

#[utoipa::path(get, path = "/v1/patients", tag = "patients", params(("family" = Option<String>, Query, description = "family name starts with"), ("given" = Option<String>, Query, description = "a given name starts with"), ("birthdate" = Option<String>, Query, description = "YYYY-MM-DD, optionally prefixed eq/ne/lt/le/gt/ge"), ("mrn" = Option<String>, Query, description = "exact MRN"), ("active" = Option<bool>, Query, description = "active or deactivated records"), ("_count" = Option<i64>, Query, description = "page size, 1–100 (default 20)"), ("_offset" = Option<i64>, Query, description = "results to skip")), responses((status = 200, body = PatientPage), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid or unknown parameters, each listed", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn search(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<PatientPage>, Problem> {
    let s = parse(&q, false)?;
    let (total, patients) = run(&state, &who, &client, &s).await?;
    Ok(Json(PatientPage { total, patients }))
}

#[utoipa::path(get, path = "/fhir/Patient", tag = "patients", params(("family" = Option<String>, Query, description = "family name starts with"), ("given" = Option<String>, Query, description = "a given name starts with"), ("birthdate" = Option<String>, Query, description = "YYYY-MM-DD, optionally prefixed eq/ne/lt/le/gt/ge"), ("identifier" = Option<String>, Query, description = "[system|]MRN"), ("active" = Option<bool>, Query, description = "active or deactivated records"), ("_count" = Option<i64>, Query, description = "page size, 1–100 (default 20)"), ("_offset" = Option<i64>, Query, description = "results to skip")), responses((status = 200, description = "a FHIR R4 searchset Bundle of Patients", body = Object, content_type = "application/fhir+json"), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid or unknown parameters, each listed", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn fhir_search(
    State(state): State<AppState>,
    who: Principal,
    client: Client,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<impl axum::response::IntoResponse, Problem> {
    let s = parse(&q, true)?;
    let (total, patients) = run(&state, &who, &client, &s).await?;
    let query = |offset: i64| {
        let mut pairs: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "_offset")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        pairs.push(("_offset".into(), offset.to_string()));
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("/fhir/Patient?{}", encoded.join("&"))
    };
    let mut links = vec![json!({"relation": "self", "url": query(s.offset)})];
    if s.offset + (patients.len() as i64) < total {
        links.push(json!({"relation": "next", "url": query(s.offset + s.count)}));
    }
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": patients.iter().map(|p| json!({
            "fullUrl": format!("/fhir/Patient/{}", p.id),
            "resource": to_fhir(p),
            "search": {"mode": "match"},
        })).collect::<Vec<Value>>(),
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/fhir+json")],
        Json(bundle),
    ))
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_become_conditions() {
        let s = parse(
            &q(&[
                ("family", "O'Ne_il%"),
                ("given", "Flo"),
                ("birthdate", "ge1980-01-01"),
                ("_count", "5"),
            ]),
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.conditions,
            [
                "birth_date >= $2",
                "lower(family_name) LIKE $3 ESCAPE '\\'",
                "lower(given_names) LIKE $4 ESCAPE '\\'",
            ]
        );
        assert_eq!(s.params, ["1980-01-01", "o'ne\\_il\\%%", "%\"flo%"]);
        assert_eq!((s.count, s.offset), (5, 0));
        let s = parse(&q(&[("identifier", "urn:wardstream:mrn|MRN-1")]), true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.params, ["MRN-1"]);
    }

    #[test]
    fn bad_and_unknown_parameters_are_listed() {
        let fields = |pairs: &[(&str, &str)], fhir| match parse(&q(pairs), fhir) {
            Ok(_) => Vec::new(),
            Err(p) => p.errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
        };
        assert_eq!(
            fields(
                &[
                    ("birthdate", "1980-13-01"),
                    ("_count", "1000"),
                    ("famliy", "x"),
                    ("mrn", "M"),
                ],
                true
            ),
            ["_count", "birthdate", "famliy", "mrn"]
        );
        assert_eq!(
            fields(&[("identifier", "http://other|1"), ("active", "yes")], true),
            ["active", "identifier"]
        );
    }
}
