//! Authentication and authorisation: users with a role per tenant, argon2id passwords,
//! short-lived access JWTs (HS256, 15 min) and rotating, revocable refresh tokens (30 days).
//!
//! - Passwords: Argon2id v19 with the `argon2` crate's defaults (19 MiB, 2 passes, 1 lane:
//!   OWASP's Password Storage Cheat Sheet minimum; RFC 9106), stored as PHC strings. A login
//!   for an unknown email still runs one verification, so timing does not tell who exists.
//! - Lockout: after [`AuthConfig::max_failed_logins`] failures in a row an account refuses
//!   logins for [`AuthConfig::lockout`] (429 `account_locked`), correct password or not.
//! - Access token claims: `sub` (user id), `tid` (tenant id), `role`, `iat`, `exp` (s).
//! - Refresh tokens: 32 random bytes, hex; only their SHA-256 is stored. Each use rotates it
//!   (the old one is marked used, a new one of the same family issued). Presenting a used or
//!   revoked token revokes the whole family: whoever holds the stolen copy is logged out too.

use crate::db::{Db, now_ms};
use crate::problem::Problem;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// What a user may do. Routes name the roles they admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the tenant, including users and settings.
    Admin,
    /// Patients and their clinical records.
    Clinician,
    /// Providers' availability and appointments.
    Scheduler,
    /// Invoices.
    Billing,
    /// SQL over the views.
    Analyst,
}

impl Role {
    /// The name stored and sent: `admin`, `clinician`, `scheduler`, `billing`, `analyst`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clinician => "clinician",
            Role::Scheduler => "scheduler",
            Role::Billing => "billing",
            Role::Analyst => "analyst",
        }
    }

    /// Parses a stored role name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "clinician" => Role::Clinician,
            "scheduler" => Role::Scheduler,
            "billing" => Role::Billing,
            "analyst" => Role::Analyst,
            _ => return None,
        })
    }
}

/// Token lifetimes, the signing key and the lockout policy.
#[derive(Clone)]
pub struct AuthConfig {
    key: Arc<[u8]>,
    /// Access-token lifetime (default 15 min).
    pub access_ttl: Duration,
    /// Refresh-token lifetime (default 30 days).
    pub refresh_ttl: Duration,
    /// Failed logins in a row that lock an account (default 5).
    pub max_failed_logins: i64,
    /// How long a locked account refuses logins (default 15 min).
    pub lockout: Duration,
    /// Login attempts per client address (default 30 a minute).
    pub login_limit: LoginLimiter,
}

/// Login attempts per client address (the connection's peer, not `X-Forwarded-For`, which
/// the caller can forge): a GCRA limiter ([governor]) allowing `per_minute` attempts at once
/// and then one every `60 / per_minute` s. It slows password guessing across many accounts,
/// which the per-account lockout does not. Memory is one small entry per address seen
/// recently (older ones are dropped as it goes).
#[derive(Clone)]
pub struct LoginLimiter {
    limiter: Arc<governor::DefaultKeyedRateLimiter<std::net::IpAddr>>,
    per_minute: u32,
    checks: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoginLimiter({}/min)", self.per_minute)
    }
}

impl LoginLimiter {
    /// `per_minute` attempts per address (at least 1).
    pub fn new(per_minute: u32) -> Self {
        let n = std::num::NonZeroU32::new(per_minute.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        LoginLimiter {
            limiter: Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(n))),
            per_minute: n.get(),
            checks: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// Takes one attempt for `ip`: `Ok`, or `Err(seconds)` until the next is allowed.
    pub fn check(&self, ip: std::net::IpAddr) -> Result<(), u64> {
        use governor::clock::Clock;
        let n = self
            .checks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % 1024 == 1023 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("key", &"***")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("max_failed_logins", &self.max_failed_logins)
            .field("lockout", &self.lockout)
            .field("login_limit", &self.login_limit)
            .finish()
    }
}

impl AuthConfig {
    /// Signs with `key` (HS256; at least 32 bytes, as RFC 7518 §3.2 asks).
    ///
    /// Errors: a shorter key.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < 32 {
            return Err(format!(
                "the JWT signing key has {} bytes; HS256 needs at least 32",
                key.len()
            ));
        }
        Ok(AuthConfig {
            key: key.into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            max_failed_logins: 5,
            lockout: Duration::from_secs(15 * 60),
            login_limit: LoginLimiter::new(30),
        })
    }

    /// A random key: tokens do not survive a restart. For tests and a first look.
    pub fn ephemeral() -> Self {
        let mut key = [0u8; 32];
        fill_random(&mut key);
        AuthConfig::new(&key).unwrap_or_else(|_| unreachable!("a 32-byte key is long enough"))
    }
}

fn fill_random(buf: &mut [u8]) {
    // The OS generator failing is not recoverable: nothing secure can be issued.
    getrandom::fill(buf).unwrap_or_else(|e| panic!("the OS random generator failed: {e}"));
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Tenant id.
    pub tid: String,
    /// The user's role.
    pub role: Role,
    /// Issued at (s since 1970).
    pub iat: i64,
    /// Expires at (s since 1970).
    pub exp: i64,
}

/// Who is calling: read from a valid `Authorization: Bearer <access token>`.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User id.
    pub user_id: String,
    /// The tenant every query of this request is confined to.
    pub tenant_id: String,
    /// The user's role.
    pub role: Role,
}

impl Principal {
    /// Admits the caller if their role is one of `roles`; otherwise 403 `forbidden`.
    pub fn require(&self, roles: &[Role]) -> Result<(), Problem> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "the {} role may not do this",
                self.role.as_str()
            )))
        }
    }
}

/// Issues a signed access token.
pub fn access_token(config: &AuthConfig, user_id: &str, tenant_id: &str, role: Role) -> String {
    let iat = now_ms() / 1000;
    let claims = Claims {
        sub: user_id.to_owned(),
        tid: tenant_id.to_owned(),
        role,
        iat,
        exp: iat + config.access_ttl.as_secs() as i64,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&config.key),
    )
    .unwrap_or_else(|e| panic!("HS256 signing cannot fail: {e}"))
}

/// Verifies an access token's signature and expiry (no leeway).
pub fn verify(config: &AuthConfig, token: &str) -> Result<Claims, Problem> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 0;
    v.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&config.key), &v)
        .map(|d| d.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                Problem::unauthorized("the access token has expired; refresh it")
            }
            _ => Problem::unauthorized("the access token is not valid"),
        })
}

/// The token of an `Authorization: Bearer <token>` header; 401 without one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Result<&str, Problem> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| Problem::unauthorized("send Authorization: Bearer <access token>"))?;
    header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .ok_or_else(|| Problem::unauthorized("the Authorization scheme must be Bearer"))
}

/// The caller an access token names, once [`verify`] accepts it.
pub fn authenticate(config: &AuthConfig, token: &str) -> Result<Principal, Problem> {
    let claims = verify(config, token)?;
    Ok(Principal {
        user_id: claims.sub,
        tenant_id: claims.tid,
        role: claims.role,
    })
}

/// Reads and verifies the bearer token of a request.
fn principal(parts: &Parts, config: &AuthConfig) -> Result<Principal, Problem> {
    authenticate(config, bearer_token(&parts.headers)?)
}

impl<S> FromRequestParts<S> for Principal
where
    AuthConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        principal(parts, &AuthConfig::from_ref(state))
    }
}

/// The caller of a route that is open without accounts and protected with them: `Caller(None)`
/// when the API has no accounts (the embedded default on localhost), `Caller(Some(..))` with a
/// valid bearer token when it has; with accounts and no valid token the request is refused
/// (401 `unauthorized`).
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// Admits every caller without accounts; with accounts, only the `roles` (403 `forbidden`).
    pub fn require(&self, roles: &[Role]) -> Result<(), Problem> {
        match &self.0 {
            Some(p) => p.require(roles),
            None => Ok(()),
        }
    }

    /// The tenant the caller is confined to (`None` without accounts).
    pub fn tenant(&self) -> Option<&str> {
        self.0.as_ref().map(|p| p.tenant_id.as_str())
    }
}

impl<S> FromRequestParts<S> for Caller
where
    Option<AuthConfig>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Option::<AuthConfig>::from_ref(state) {
            Some(config) => principal(parts, &config).map(|p| Caller(Some(p))),
            None => Ok(Caller(None)),
        }
    }
}

/// The connection's peer address, for per-address limits. Without connection info (a server
/// not started by [`crate::serve`]) it is the unspecified address, so such callers share one
/// allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub std::net::IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
                    c.0.ip()
                }),
        ))
    }
}

/// Hashes a password with Argon2id (PHC string). CPU-bound: call from a blocking thread.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .unwrap_or_else(|e| panic!("argon2 with default parameters cannot fail: {e}"))
}

/// Whether `password` matches the PHC string `hash`. CPU-bound: call from a blocking thread.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches in practice, verified against for unknown emails.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut pw = [0u8; 24];
    fill_random(&mut pw);
    hash_password(&hex(&pw))
});

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new random id (128 bits, hex).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    hex(&b)
}

/// An access and a refresh token, as the login and refresh endpoints answer.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tokens {
    /// The access JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token is valid for.
    pub expires_in: u64,
    /// The refresh token (use once).
    pub refresh_token: String,
}

/// Issues an access token and a refresh token of `family` (a new family when `None`).
pub async fn issue(
    db: &Db,
    config: &AuthConfig,
    user_id: &str,
    tenant_id: &str,
    role: Role,
    family: Option<&str>,
) -> Result<Tokens, sqlx::Error> {
    let mut raw = [0u8; 32];
    fill_random(&mut raw);
    let refresh = hex(&raw);
    let now = now_ms();
    let family = family.map(str::to_owned).unwrap_or_else(new_id);
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, family, user_id, tenant_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash(&refresh))
    .bind(&family)
    .bind(user_id)
    .bind(tenant_id)
    .bind(now + config.refresh_ttl.as_millis() as i64)
    .bind(now)
    .execute(db)
    .await?;
    Ok(Tokens {
        access_token: access_token(config, user_id, tenant_id, role),
        token_type: "Bearer".into(),
        expires_in: config.access_ttl.as_secs(),
        refresh_token: refresh,
    })
}

/// Outcome of checking a password login.
pub enum LoginOutcome {
    /// The password matched: the user's id, tenant and role.
    Ok(String, String, Role),
    /// Wrong tenant, email or password (not told apart).
    Invalid,
    /// Too many failures: refused until this time (ms).
    Locked(i64),
}

/// Checks `email` / `password` in the tenant with `slug`, counting failures and locking.
pub async fn check_login(
    db: &Db,
    config: &AuthConfig,
    slug: &str,
    email: &str,
    password: &str,
) -> Result<LoginOutcome, Problem> {
    let row = sqlx::query(
        "SELECT u.id, u.tenant_id, u.password_hash, u.role, u.failed_logins, u.locked_until FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = $1 AND u.email = $2",
    )
    .bind(slug)
    .bind(email.to_lowercase())
    .fetch_optional(db)
    .await
    .map_err(Problem::from_db)?;
    let now = now_ms();
    let Some(row) = row else {
        let pw = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || verify_password(&pw, &DECOY_HASH)).await;
        return Ok(LoginOutcome::Invalid);
    };
    let get_s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    let (id, tenant_id, hash, role) = (
        get_s("id")?,
        get_s("tenant_id")?,
        get_s("password_hash")?,
        get_s("role")?,
    );
    let failed: i64 = row.try_get("failed_logins").map_err(Problem::from_db)?;
    let locked_until: i64 = row.try_get("locked_until").map_err(Problem::from_db)?;
    if locked_until > now {
        return Ok(LoginOutcome::Locked(locked_until));
    }
    let pw = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| Problem::internal().with_cause(format!("password check task failed: {e}")))?;
    if ok {
        sqlx::query("UPDATE users SET failed_logins = 0, locked_until = 0 WHERE id = $1")
            .bind(&id)
            .execute(db)
            .await
            .map_err(Problem::from_db)?;
        let role = Role::parse(&role).ok_or_else(Problem::internal)?;
        return Ok(LoginOutcome::Ok(id, tenant_id, role));
    }
    let failed = failed + 1;
    let lock = if failed >= config.max_failed_logins {
        now + config.lockout.as_millis() as i64
    } else {
        0
    };
    sqlx::query("UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3")
        .bind(if lock > 0 { 0 } else { failed })
        .bind(lock)
        .bind(&id)
        .execute(db)
        .await
        .map_err(Problem::from_db)?;
    Ok(if lock > 0 {
        LoginOutcome::Locked(lock)
    } else {
        LoginOutcome::Invalid
    })
}

/// Rotates a refresh token: returns new tokens, or 401 if it is unknown, expired, used or
/// revoked (a used or revoked one also revokes its family).
pub async fn rotate(db: &Db, config: &AuthConfig, refresh: &str) -> Result<Tokens, Problem> {
    let hash = token_hash(refresh);
    let now = now_ms();
    let mut tx = db.begin().await.map_err(Problem::from_db)?;
    // Claim the token first (a write), so two concurrent uses cannot both succeed.
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&hash)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?
    .rows_affected();
    let row = sqlx::query(
        "SELECT r.family, r.user_id, r.tenant_id, u.role FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await
    .map_err(Problem::from_db)?;
    let Some(row) = row else {
        return Err(Problem::unauthorized("the refresh token is not valid"));
    };
    let get_s = |c: &str| row.try_get::<String, _>(c).map_err(Problem::from_db);
    let (family, user_id, tenant_id, role) = (
        get_s("family")?,
        get_s("user_id")?,
        get_s("tenant_id")?,
        get_s("role")?,
    );
    if claimed == 0 {
        // Reuse of a rotated token, a revoked one, or an expired one: end the family.
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(&family)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
        tx.commit().await.map_err(Problem::from_db)?;
        return Err(Problem::unauthorized(
            "the refresh token was already used, revoked or expired; log in again",
        ));
    }
    tx.commit().await.map_err(Problem::from_db)?;
    let role = Role::parse(&role).ok_or_else(Problem::internal)?;
    issue(db, config, &user_id, &tenant_id, role, Some(&family))
        .await
        .map_err(Problem::from_db)
}

/// Revokes the family of a refresh token (logout). Unknown tokens are ignored.
pub async fn revoke(db: &Db, refresh: &str) -> Result<(), Problem> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family IN (SELECT family FROM refresh_tokens WHERE token_hash = $2)",
    )
    .bind(now_ms())
    .bind(token_hash(refresh))
    .execute(db)
    .await
    .map_err(Problem::from_db)?;
    Ok(())
}
