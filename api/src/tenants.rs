//! Tenants and their users: onboarding, reading a tenant, its settings, registering users and
//! the auth endpoints.
//!
//! Every row carries `tenant_id` and every query is confined to the caller's tenant. A request
//! for another tenant's resource answers 404, exactly as for one that does not exist, so
//! existence does not leak across tenants.

use crate::auth::{self, AuthConfig, LoginOutcome, Peer, Principal, Role, Tokens};
use crate::db::{Db, now_ms};
use crate::problem::{ApiJson, FieldError, Problem};
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;

/// What the transactional routes share.
#[derive(Clone)]
pub struct AppState {
    /// The transactional store.
    pub db: Db,
    /// Token keys and policy.
    pub auth: AuthConfig,
}

impl FromRef<AppState> for AuthConfig {
    fn from_ref(s: &AppState) -> AuthConfig {
        s.auth.clone()
    }
}

/// The kind of organisation a tenant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    /// A single doctor's practice.
    Doctor,
    /// One clinic.
    Clinic,
    /// Several clinics under one organisation.
    MultiClinic,
    /// A hospital.
    Hospital,
}

impl TenantKind {
    fn as_str(self) -> &'static str {
        match self {
            TenantKind::Doctor => "doctor",
            TenantKind::Clinic => "clinic",
            TenantKind::MultiClinic => "multi_clinic",
            TenantKind::Hospital => "hospital",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "doctor" => TenantKind::Doctor,
            "clinic" => TenantKind::Clinic,
            "multi_clinic" => TenantKind::MultiClinic,
            "hospital" => TenantKind::Hospital,
            _ => return None,
        })
    }
}

/// `POST /v1/tenants`: a new tenant and its first admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Onboard {
    /// Display name, 1–200 characters.
    pub name: String,
    /// URL-safe unique handle: 3–63 of `a-z`, `0-9` and inner single `-`.
    pub slug: String,
    /// `doctor`, `clinic`, `multi_clinic` or `hospital`.
    pub kind: TenantKind,
    /// The first admin's email.
    pub admin_email: String,
    /// The first admin's password (at least 12 characters).
    pub admin_password: String,
}

/// A tenant as answered.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Tenant {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Unique handle.
    pub slug: String,
    /// Kind of organisation.
    pub kind: TenantKind,
    /// Created at, ms since 1970-01-01 UTC.
    pub created_at: i64,
}

/// `201` answer of onboarding.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Onboarded {
    /// The tenant.
    pub tenant: Tenant,
    /// The first admin's user id.
    pub admin_user_id: String,
}

/// `POST /v1/auth/register` (admin): a user of the caller's tenant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Register {
    /// Email, unique within the tenant (case-insensitive).
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    /// The user's role.
    pub role: Role,
}

/// A user as answered (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    /// Id.
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Email, lower-cased.
    pub email: String,
    /// Role.
    pub role: Role,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Login {
    /// The tenant's slug.
    pub tenant: String,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /v1/auth/refresh` and `/v1/auth/logout`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Refresh {
    /// The refresh token.
    pub refresh_token: String,
}

fn check_email(field: &str, email: &str, errors: &mut Vec<FieldError>) {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if !ok {
        errors.push(FieldError::new(field, "must be an email address"));
    }
}

fn check_password(field: &str, password: &str, errors: &mut Vec<FieldError>) {
    let n = password.chars().count();
    if n < 12 {
        errors.push(FieldError::new(field, "must have at least 12 characters"));
    } else if n > 1024 {
        errors.push(FieldError::new(field, "must have at most 1024 characters"));
    }
}

fn check_slug(slug: &str, errors: &mut Vec<FieldError>) {
    let ok = (3..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if !ok {
        errors.push(FieldError::new(
            "slug",
            "must be 3–63 characters of a-z, 0-9 and single inner hyphens",
        ));
    }
}

/// Argon2id on a blocking thread (tens of ms of CPU: not on the async workers).
async fn hash_off_thread(password: &str) -> Result<String, Problem> {
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || auth::hash_password(&pw))
        .await
        .map_err(|e| Problem::internal().with_cause(format!("password hash task failed: {e}")))
}

fn tenant_from(row: &sqlx::any::AnyRow) -> Result<Tenant, Problem> {
    let s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    Ok(Tenant {
        id: s("id")?,
        name: s("name")?,
        slug: s("slug")?,
        kind: TenantKind::parse(&s("kind")?).ok_or_else(Problem::internal)?,
        created_at: row.try_get("created_at").map_err(Problem::from_db)?,
    })
}

#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = Onboard, responses((status = 201, body = Onboarded), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "the slug is taken", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub(crate) async fn onboard(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Onboard>,
) -> Result<(StatusCode, Json<Onboarded>), Problem> {
    let mut errors = Vec::new();
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must have 1–200 characters"));
    }
    check_slug(&req.slug, &mut errors);
    check_email("admin_email", &req.admin_email, &mut errors);
    check_password("admin_password", &req.admin_password, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let hash = hash_off_thread(&req.admin_password).await?;
    let tenant = Tenant {
        id: auth::new_id(),
        name: name.to_owned(),
        slug: req.slug.clone(),
        kind: req.kind,
        created_at: now_ms(),
    };
    let admin_id = auth::new_id();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    let inserted = sqlx::query(
        "INSERT INTO tenants (id, name, slug, kind, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(&tenant.slug)
    .bind(tenant.kind.as_str())
    .bind(tenant.created_at)
    .execute(&mut *tx)
    .await;
    inserted.map_err(|e| {
        Problem::from_db_or_conflict(e, format!("the slug {:?} is taken", tenant.slug))
    })?;
    sqlx::query(
        "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&admin_id)
    .bind(&tenant.id)
    .bind(req.admin_email.to_lowercase())
    .bind(&hash)
    .bind(Role::Admin.as_str())
    .bind(tenant.created_at)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?;
    tx.commit().await.map_err(Problem::from_db)?;
    tracing::info!(tenant_id = %tenant.id, "tenant onboarded");
    Ok((
        StatusCode::CREATED,
        Json(Onboarded {
            tenant,
            admin_user_id: admin_id,
        }),
    ))
}

/// The caller's tenant, or 404 for any other id.
fn own_tenant(who: &Principal, id: &str) -> Result<(), Problem> {
    if who.tenant_id == id {
        Ok(())
    } else {
        Err(Problem::not_found(format!("no tenant {id}")))
    }
}

#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "tenants", params(("id" = String, Path, description = "the record's id")), responses((status = 200, body = Tenant), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_tenant(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, Problem> {
    own_tenant(&who, &id)?;
    let row = sqlx::query("SELECT id, name, slug, kind, created_at FROM tenants WHERE id = $1")
        .bind(&id)
        .fetch_optional(&state.db)
        .await
        .map_err(Problem::from_db)?
        .ok_or_else(|| Problem::not_found(format!("no tenant {id}")))?;
    Ok(Json(tenant_from(&row)?))
}

#[utoipa::path(get, path = "/v1/tenants/{id}/settings", tag = "tenants", params(("id" = String, Path, description = "the record's id")), responses((status = 200, description = "key → JSON value", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<BTreeMap<String, serde_json::Value>>, Problem> {
    own_tenant(&who, &id)?;
    let rows = sqlx::query("SELECT key, value FROM tenant_settings WHERE tenant_id = $1")
        .bind(&id)
        .fetch_all(&state.db)
        .await
        .map_err(Problem::from_db)?;
    let mut out = BTreeMap::new();
    for r in rows {
        let key: String = r.try_get("key").map_err(Problem::from_db)?;
        let value: String = r.try_get("value").map_err(Problem::from_db)?;
        out.insert(
            key,
            serde_json::from_str(&value)
                .map_err(|e| Problem::internal().with_cause(format!("stored setting: {e}")))?,
        );
    }
    Ok(Json(out))
}

#[utoipa::path(put, path = "/v1/tenants/{id}/settings/{key}", tag = "tenants", params(("id" = String, Path, description = "the record's id"), ("key" = String, Path, description = "setting key")), request_body = Object, responses((status = 200, description = "the stored value", body = Object), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn put_setting(
    State(state): State<AppState>,
    who: Principal,
    Path((id, key)): Path<(String, String)>,
    ApiJson(value): ApiJson<serde_json::Value>,
) -> Result<Json<serde_json::Value>, Problem> {
    own_tenant(&who, &id)?;
    who.require(&[Role::Admin])?;
    if key.is_empty()
        || key.len() > 100
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err(Problem::validation(vec![FieldError::new(
            "key",
            "must be 1–100 characters of A-Z, a-z, 0-9, '_', '.' and '-'",
        )]));
    }
    let text = value.to_string();
    if text.len() > 64 * 1024 {
        return Err(Problem::validation(vec![FieldError::new(
            "value",
            "must be at most 64 KiB of JSON",
        )]));
    }
    let now = now_ms();
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    let updated = sqlx::query(
        "UPDATE tenant_settings SET value = $1, updated_at = $2 WHERE tenant_id = $3 AND key = $4",
    )
    .bind(&text)
    .bind(now)
    .bind(&id)
    .bind(&key)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?
    .rows_affected();
    if updated == 0 {
        sqlx::query(
            "INSERT INTO tenant_settings (tenant_id, key, value, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(&key)
        .bind(&text)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    }
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(Json(value))
}

#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = Register, responses((status = 201, body = User), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 409, description = "the email is taken", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn register(
    State(state): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<Register>,
) -> Result<(StatusCode, Json<User>), Problem> {
    who.require(&[Role::Admin])?;
    let mut errors = Vec::new();
    check_email("email", &req.email, &mut errors);
    check_password("password", &req.password, &mut errors);
    if !errors.is_empty() {
        return Err(Problem::validation(errors));
    }
    let hash = hash_off_thread(&req.password).await?;
    let user = User {
        id: auth::new_id(),
        tenant_id: who.tenant_id.clone(),
        email: req.email.to_lowercase(),
        role: req.role,
    };
    let r = sqlx::query(
        "INSERT INTO users (id, tenant_id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&user.id)
    .bind(&user.tenant_id)
    .bind(&user.email)
    .bind(&hash)
    .bind(user.role.as_str())
    .bind(now_ms())
    .execute(&state.db)
    .await;
    r.map_err(|e| Problem::from_db_or_conflict(e, "a user with this email exists in the tenant"))?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login, responses((status = 200, body = crate::auth::Tokens), (status = 401, description = "wrong tenant, email or password", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 429, description = "account locked (`account_locked`), or too many attempts from this address (`rate_limited`)", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub(crate) async fn login(
    State(state): State<AppState>,
    peer: Peer,
    ApiJson(req): ApiJson<Login>,
) -> Result<Json<Tokens>, Problem> {
    sign_in(&state, peer, &req.tenant, &req.email, &req.password)
        .await
        .map(Json)
}

/// A password login from `peer`, as `/v1/auth/login` and the dashboard's form do it: the
/// per-address limit (429 `rate_limited`), the password check with lockout (401
/// `unauthorized`, 429 `account_locked`), then new tokens.
pub(crate) async fn sign_in(
    state: &AppState,
    peer: Peer,
    slug: &str,
    email: &str,
    password: &str,
) -> Result<Tokens, Problem> {
    state
        .auth
        .login_limit
        .check(peer.0)
        .map_err(Problem::rate_limited)?;
    match auth::check_login(&state.db, &state.auth, slug, email, password).await? {
        LoginOutcome::Ok(user_id, tenant_id, role) => {
            auth::issue(&state.db, &state.auth, &user_id, &tenant_id, role, None)
                .await
                .map_err(Problem::from_db)
        }
        LoginOutcome::Invalid => Err(Problem::unauthorized("unknown tenant, email or password")),
        LoginOutcome::Locked(until) => Err(Problem::locked(
            ((until - now_ms()).max(0) as u64).div_ceil(1000),
        )),
    }
}

#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = Refresh, responses((status = 200, body = crate::auth::Tokens), (status = 401, description = "spent, revoked or expired refresh token", body = crate::problem::Problem, content_type = "application/problem+json")))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Refresh>,
) -> Result<Json<Tokens>, Problem> {
    Ok(Json(
        auth::rotate(&state.db, &state.auth, &req.refresh_token).await?,
    ))
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = Refresh, responses((status = 204, description = "the token family is revoked")))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<Refresh>,
) -> Result<StatusCode, Problem> {
    auth::revoke(&state.db, &req.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", responses((status = 200, body = User), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn me(
    State(state): State<AppState>,
    who: Principal,
) -> Result<Json<User>, Problem> {
    let row = sqlx::query(
        "SELECT id, tenant_id, email, role FROM users WHERE id = $1 AND tenant_id = $2",
    )
    .bind(&who.user_id)
    .bind(&who.tenant_id)
    .fetch_optional(&state.db)
    .await
    .map_err(Problem::from_db)?
    .ok_or_else(|| Problem::unauthorized("the user no longer exists"))?;
    let s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    Ok(Json(User {
        id: s("id")?,
        tenant_id: s("tenant_id")?,
        email: s("email")?,
        role: Role::parse(&s("role")?).ok_or_else(Problem::internal)?,
    }))
}

/// The tenant and auth routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/tenants", post(onboard))
        .route("/v1/tenants/{id}", get(get_tenant))
        .route("/v1/tenants/{id}/settings", get(get_settings))
        .route("/v1/tenants/{id}/settings/{key}", put(put_setting))
        .route("/v1/auth/register", post(register))
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/me", get(me))
        .with_state(state)
}
