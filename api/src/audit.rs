//! The audit trail of patient records: who read or changed which record, when and from
//! where, in a hash chain per tenant that [`verify`] (and `wardstream audit verify`) checks.
//!
//! Each entry is `(tenant, seq, at, user, role, action, resource, resource_id, client,
//! prev_hash)` and its `hash` = SHA-256 over those fields, each written as
//! `<byte length>:<bytes>;` so that no two different entries hash the same text. `seq` counts
//! from 1 per tenant; the first entry's `prev_hash` is 64 zeros. A change and its entry
//! commit in one transaction; a read's entry is written before the record is answered, and
//! when it cannot be, the record is not answered (the request fails with 503 or 500).
//!
//! `client` is the peer address of the connection (`unknown` when the server was started
//! without connection info); when the request carries `X-Forwarded-For`, its first address is
//! added as `<peer> for <address>`. The header is the caller's claim: a proxy in front makes
//! it useful, but it never replaces the address the request really came from.
//!
//! What the chain shows: an entry edited, inserted or removed in the middle breaks the
//! chain; entries cut from the end no longer match `audit_heads`. It does not stop someone
//! with write access to the database from rewriting the whole chain and its head: for that,
//! copy the heads elsewhere (the `hash` of a verified head pins everything before it).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::auth::{Principal, Role, hex};
use crate::db::{Db, now_ms};
use crate::problem::Problem;
use crate::tenants::AppState;

/// `prev_hash` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where a request came from (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 100);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let peer = peer.unwrap_or_else(|| "unknown".into());
        Ok(Client(match forwarded {
            Some(claimed) => format!("{peer} for {claimed}"),
            None => peer,
        }))
    }
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entry {
    /// Tenant.
    pub tenant_id: String,
    /// Position in the tenant's chain, from 1.
    pub seq: i64,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// Who (user id).
    pub user_id: String,
    /// Their role then.
    pub role: String,
    /// `create`, `read`, `search` (answered by a search), `update` or `deactivate`.
    pub action: String,
    /// `patient`.
    pub resource: String,
    /// The record's id.
    pub resource_id: String,
    /// Where from.
    pub client: String,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl Entry {
    /// SHA-256 (hex) over the entry's fields and `prev_hash`, each as `<len>:<bytes>;`.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        let seq = self.seq.to_string();
        let at = self.at.to_string();
        for field in [
            self.tenant_id.as_str(),
            &seq,
            &at,
            &self.user_id,
            &self.role,
            &self.action,
            &self.resource,
            &self.resource_id,
            &self.client,
            &self.prev_hash,
        ] {
            h.update(field.len().to_string().as_bytes());
            h.update(b":");
            h.update(field.as_bytes());
            h.update(b";");
        }
        hex(&h.finalize())
    }
}

/// Appends an entry for `who` doing `action` on patient `patient_id` from `client`, inside
/// `tx`.
///
/// # Errors
/// Database errors as a [`Problem`]; the caller's transaction then rolls back.
pub async fn record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    who: &Principal,
    client: &Client,
    action: &str,
    patient_id: &str,
) -> Result<(), Problem> {
    sqlx::query(
        "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (tenant_id) DO NOTHING",
    )
    .bind(&who.tenant_id)
    .bind(GENESIS)
    .execute(&mut **tx)
    .await
    .map_err(Problem::from_db)?;
    // The write takes the head's lock before it is read.
    sqlx::query("UPDATE audit_heads SET seq = seq + 1 WHERE tenant_id = $1")
        .bind(&who.tenant_id)
        .execute(&mut **tx)
        .await
        .map_err(Problem::from_db)?;
    let head = sqlx::query("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
        .bind(&who.tenant_id)
        .fetch_one(&mut **tx)
        .await
        .map_err(Problem::from_db)?;
    let mut entry = Entry {
        tenant_id: who.tenant_id.clone(),
        seq: head.try_get("seq").map_err(Problem::from_db)?,
        at: now_ms(),
        user_id: who.user_id.clone(),
        role: who.role.as_str().to_owned(),
        action: action.to_owned(),
        resource: "patient".into(),
        resource_id: patient_id.to_owned(),
        client: client.0.clone(),
        prev_hash: head.try_get("hash").map_err(Problem::from_db)?,
        hash: String::new(),
    };
    entry.hash = entry.digest();
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, seq, at, user_id, role, action, resource, resource_id, client, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&entry.tenant_id)
    .bind(entry.seq)
    .bind(entry.at)
    .bind(&entry.user_id)
    .bind(&entry.role)
    .bind(&entry.action)
    .bind(&entry.resource)
    .bind(&entry.resource_id)
    .bind(&entry.client)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(&mut **tx)
    .await
    .map_err(Problem::from_db)?;
    sqlx::query("UPDATE audit_heads SET hash = $1 WHERE tenant_id = $2")
        .bind(&entry.hash)
        .bind(&who.tenant_id)
        .execute(&mut **tx)
        .await
        .map_err(Problem::from_db)?;
    Ok(())
}

fn entry_from(row: &sqlx::any::AnyRow) -> Result<Entry, sqlx::Error> {
    let s = |c: &str| row.try_get::<String, _>(c);
    Ok(Entry {
        tenant_id: s("tenant_id")?,
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        user_id: s("user_id")?,
        role: s("role")?,
        action: s("action")?,
        resource: s("resource")?,
        resource_id: s("resource_id")?,
        client: s("client")?,
        prev_hash: s("prev_hash")?,
        hash: s("hash")?,
    })
}

/// `SELECT <every column> FROM audit_log <rest>`, as a literal.
macro_rules! select_entries {
    ($rest:literal) => {
        concat!(
            "SELECT tenant_id, seq, at, user_id, role, action, resource, resource_id, client, prev_hash, hash FROM audit_log ",
            $rest
        )
    };
}

/// The outcome of checking one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    /// Tenant.
    pub tenant_id: String,
    /// Entries read.
    pub entries: u64,
    /// `None` when intact; else the first problem found.
    pub broken: Option<String>,
}

/// Checks every tenant's chain: contiguous `seq` from 1, each `prev_hash` the previous entry's
/// `hash`, each `hash` recomputed, the head equal to the last entry. Safe on a live store:
/// each chain is read up to the head read just before it (entries appended meanwhile are
/// newer and left for the next run); a tenant with entries but no head is reported too.
///
/// # Errors
/// Database errors.
pub async fn verify(db: &Db) -> Result<Vec<ChainReport>, sqlx::Error> {
    let mut tenants: Vec<String> = Vec::new();
    for sql in [
        "SELECT tenant_id FROM audit_heads",
        "SELECT DISTINCT tenant_id FROM audit_log",
    ] {
        for row in sqlx::query(sql).fetch_all(db).await? {
            tenants.push(row.try_get("tenant_id")?);
        }
    }
    tenants.sort();
    tenants.dedup();
    let mut reports = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let head = sqlx::query("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_optional(db)
            .await?;
        let Some(head) = head else {
            reports.push(ChainReport {
                tenant_id: tenant,
                entries: 0,
                broken: Some("the chain's head is missing: it was removed".into()),
            });
            continue;
        };
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let rows = sqlx::query(select_entries!(
            "WHERE tenant_id = $1 AND seq <= $2 ORDER BY seq"
        ))
        .bind(&tenant)
        .bind(head_seq)
        .fetch_all(db)
        .await?;
        let mut report = ChainReport {
            tenant_id: tenant.clone(),
            entries: rows.len() as u64,
            broken: None,
        };
        let mut prev = (0i64, GENESIS.to_owned());
        for row in &rows {
            let e = entry_from(row)?;
            let problem = if e.seq != prev.0 + 1 {
                Some(format!(
                    "entry {} follows entry {}: entries are missing",
                    e.seq, prev.0
                ))
            } else if e.prev_hash != prev.1 {
                Some(format!(
                    "entry {} does not continue the chain (prev_hash differs)",
                    e.seq
                ))
            } else if e.digest() != e.hash {
                Some(format!(
                    "entry {} was altered (its hash does not match its content)",
                    e.seq
                ))
            } else {
                None
            };
            if problem.is_some() {
                report.broken = problem;
                break;
            }
            prev = (e.seq, e.hash);
        }
        if report.broken.is_none() && (prev.0 != head_seq || prev.1 != head_hash) {
            report.broken = Some(format!(
                "the chain ends at entry {} but its head says {}: entries were removed from the end",
                prev.0, head_seq
            ));
        }
        reports.push(report);
    }
    Ok(reports)
}

/// `GET /v1/audit` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this record.
    pub resource_id: Option<String>,
    /// Most entries, newest first (default and maximum 500).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = [Entry]), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<Entry>>, Problem> {
    who.require(&[Role::Admin])?;
    let limit = q.limit.unwrap_or(500).clamp(1, 500);
    let rows = match &q.resource_id {
        Some(id) => sqlx::query(select_entries!(
            "WHERE tenant_id = $1 AND resource_id = $2 ORDER BY seq DESC LIMIT $3"
        ))
        .bind(&who.tenant_id)
        .bind(id)
        .bind(limit),
        None => sqlx::query(select_entries!(
            "WHERE tenant_id = $1 ORDER BY seq DESC LIMIT $2"
        ))
        .bind(&who.tenant_id)
        .bind(limit),
    }
    .fetch_all(&state.db)
    .await
    .map_err(Problem::from_db)?;
    rows.iter()
        .map(|r| entry_from(r).map_err(Problem::from_db))
        .collect::<Result<_, _>>()
        .map(Json)
}

/// `GET /v1/audit` (admins): the tenant's audit entries, newest first.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/audit", get(list))
        .with_state(state)
}
