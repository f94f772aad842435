//! The operations dashboard: a page at `/` over the live views, kept current by server-sent
//! events.
//!
//! - `GET /` → the page: census per care unit against capacity, NEWS2 alerts (score, response,
//!   trend, time since the last observation), ED arrivals per hour and patients in the ED,
//!   no-show rate per clinic, net revenue per day (admin and billing roles only). Its script
//!   (`/assets/dashboard.js`, no dependencies) draws SVG from a copy of the views.
//! - `GET /v1/dashboard/stream` → `text/event-stream`: first a `snapshot` event (every row of
//!   the caller's views with its multiplicity), then a `changes` event per batch of net
//!   changes (rows with +n / −n; at least every second while the frontier moves, even with
//!   none). Each event's data is `{"base", "frontier", "views": {name: {"rows": [...],
//!   "diffs": [...]}}}` and its id the frontier; a reconnect with
//!   `Last-Event-ID` (browsers send it) resumes right after it, or starts from a new snapshot
//!   when the server no longer keeps that far back ([`hub`]).
//! - With accounts, `GET /login` and `POST /login` (tenant slug, email, password) open a
//!   session: the access and refresh tokens of `/v1/auth/login` in `HttpOnly`,
//!   `SameSite=Strict` cookies; an expired access cookie is renewed from the refresh cookie
//!   (rotating it). `POST /logout` revokes the refresh token's family and clears both. The
//!   stream also takes `Authorization: Bearer`. Every row shown is the caller's tenant's; the
//!   revenue tile and the `revenue` view are sent only to the admin and billing roles.
//! - Without accounts (the embedded default on localhost) the page is open and shows every
//!   tenant's rows.

pub mod hub;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::auth::{self, LoginOutcome, Peer, Principal, Role};
use crate::db::now_ms;
use crate::problem::Problem;
use crate::tenants::AppState;
use hub::{Frame, Hub};

/// The access-token cookie.
pub const ACCESS_COOKIE: &str = "wardstream_access";
/// The refresh-token cookie.
pub const REFRESH_COOKIE: &str = "wardstream_refresh";
/// The roles that see revenue.
pub const REVENUE_ROLES: &[Role] = &[Role::Admin, Role::Billing];

/// State of the dashboard routes.
#[derive(Clone)]
pub struct DashboardState {
    /// The change hub over the views.
    pub hub: Arc<Hub>,
    /// The tenant and auth store, when the API has accounts.
    pub accounts: Option<AppState>,
}

/// The routes: the page, its assets, login and logout, and the event stream.
pub fn router(state: DashboardState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/assets/dashboard.js", get(script))
        .route("/assets/dashboard.css", get(style))
        .route("/v1/dashboard/stream", get(stream))
        .with_state(state)
}

/// Who is looking, and cookies to set (a renewed session).
struct Viewer {
    principal: Option<Principal>,
    set_cookies: Vec<HeaderValue>,
}

impl Viewer {
    fn sees_revenue(&self) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| REVENUE_ROLES.contains(&p.role))
    }

    fn tenant(&self) -> Option<&str> {
        self.principal.as_ref().map(|p| p.tenant_id.as_str())
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn session_cookies(tokens: &auth::Tokens, access_ttl: u64, refresh_ttl: u64) -> Vec<HeaderValue> {
    [
        (ACCESS_COOKIE, tokens.access_token.as_str(), access_ttl),
        (REFRESH_COOKIE, tokens.refresh_token.as_str(), refresh_ttl),
    ]
    .into_iter()
    .filter_map(|(name, value, ttl)| {
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; Max-Age={ttl}; HttpOnly; SameSite=Strict"
        ))
        .ok()
    })
    .collect()
}

fn cleared_cookies() -> Vec<HeaderValue> {
    [ACCESS_COOKIE, REFRESH_COOKIE]
        .into_iter()
        .filter_map(|name| {
            HeaderValue::from_str(&format!(
                "{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            ))
            .ok()
        })
        .collect()
}

/// The viewer of a request: everyone without accounts; with them a bearer token, the access
/// cookie, or a session renewed from the refresh cookie; otherwise 401.
async fn viewer(state: &DashboardState, headers: &HeaderMap) -> Result<Viewer, Problem> {
    let Some(accounts) = &state.accounts else {
        return Ok(Viewer {
            principal: None,
            set_cookies: Vec::new(),
        });
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::to_owned);
    let principal = |token: &str| {
        auth::verify(&accounts.auth, token.trim()).map(|c| Principal {
            user_id: c.sub,
            tenant_id: c.tid,
            role: c.role,
        })
    };
    if let Some(token) = bearer.or_else(|| cookie(headers, ACCESS_COOKIE)) {
        if let Ok(p) = principal(&token) {
            return Ok(Viewer {
                principal: Some(p),
                set_cookies: Vec::new(),
            });
        }
    }
    let Some(refresh) = cookie(headers, REFRESH_COOKIE) else {
        return Err(Problem::unauthorized("log in at /login"));
    };
    let tokens = auth::rotate(&accounts.db, &accounts.auth, &refresh).await?;
    let p = principal(&tokens.access_token)?;
    Ok(Viewer {
        principal: Some(p),
        set_cookies: session_cookies(
            &tokens,
            accounts.auth.access_ttl.as_secs(),
            accounts.auth.refresh_ttl.as_secs(),
        ),
    })
}

fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for c in cookies {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn document(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
{body}
</body>
</html>
"#,
        title = escape(title)
    )
}

async fn page(State(state): State<DashboardState>, headers: HeaderMap) -> Response {
    let viewer = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(_) => return Redirect::to("/login").into_response(),
    };
    let who = match &viewer.principal {
        Some(p) => format!(
            r#"<span>{role}</span><form method="post" action="/logout"><button type="submit">Log out</button></form>"#,
            role = escape(p.role.as_str()),
        ),
        None => String::new(),
    };
    let revenue = if viewer.sees_revenue() {
        r#"<section id="revenue" aria-labelledby="revenue-title">
<h2 id="revenue-title">Revenue per day</h2>
<p class="kpi">Net revenue, every day in the view: <strong id="revenue-total">0</strong> (chart: the last <span id="revenue-days">0</span> days)</p>
<div id="revenue-chart"></div>
</section>"#
    } else {
        ""
    };
    let body = format!(
        r##"<a class="skip" href="#tiles">Skip to the tiles</a>
<header>
<h1>wardstream · hospital operations</h1>
<span id="status" role="status" aria-live="polite">Connecting…</span>
{who}
</header>
<main id="tiles" tabindex="-1">
<section id="census" aria-labelledby="census-title">
<h2 id="census-title">Census per care unit</h2>
<p class="kpi">Patients in house: <strong id="census-total">0</strong></p>
<div id="census-chart"></div>
</section>
<section id="alerts" aria-labelledby="alerts-title">
<h2 id="alerts-title">NEWS2 alerts</h2>
<p class="kpi">Patients at medium or high clinical risk: <strong id="alerts-count">0</strong></p>
<table>
<caption class="skip">Patients at medium or high NEWS2 clinical risk, highest score first</caption>
<thead><tr><th scope="col">Patient</th><th scope="col">Score</th><th scope="col">Response</th><th scope="col">Trend</th><th scope="col">Since last obs.</th></tr></thead>
<tbody id="alerts-body"></tbody>
</table>
</section>
<section id="ed" aria-labelledby="ed-title">
<h2 id="ed-title">ED flow</h2>
<p class="kpi">Patients in the ED now: <strong id="ed-now">0</strong></p>
<div id="ed-chart"></div>
</section>
<section id="noshow" aria-labelledby="noshow-title">
<h2 id="noshow-title">No-show rate per clinic</h2>
<div id="noshow-chart"></div>
</section>
{revenue}
</main>
<script src="/assets/dashboard.js" defer></script>"##
    );
    with_cookies(
        Html(document("wardstream dashboard", &body)).into_response(),
        viewer.set_cookies,
    )
}

fn login_form(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    document(
        "Log in · wardstream",
        &format!(
            r#"<main>
<form class="login" method="post" action="/login">
<h1>Log in to wardstream</h1>
{error}
<label>Organisation (slug)<input name="tenant" autocomplete="organization" required></label>
<label>Email<input name="email" type="email" autocomplete="username" required></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>
</main>"#
        ),
    )
}

async fn login_page(State(state): State<DashboardState>) -> Response {
    if state.accounts.is_none() {
        return Redirect::to("/").into_response();
    }
    Html(login_form(None)).into_response()
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// Tenant slug.
    pub tenant: String,
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

async fn login(
    State(state): State<DashboardState>,
    peer: Peer,
    Form(form): Form<LoginForm>,
) -> Response {
    let Some(accounts) = &state.accounts else {
        return Redirect::to("/").into_response();
    };
    let refuse = |status: StatusCode, message: &str| {
        (status, Html(login_form(Some(message)))).into_response()
    };
    if let Err(wait) = accounts.auth.login_limit.check(peer.0) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many attempts from this address; try again in {wait} s."),
        );
    }
    let outcome = auth::check_login(
        &accounts.db,
        &accounts.auth,
        &form.tenant,
        &form.email,
        &form.password,
    )
    .await;
    match outcome {
        Ok(LoginOutcome::Ok(user_id, tenant_id, role)) => {
            match auth::issue(&accounts.db, &accounts.auth, &user_id, &tenant_id, role, None).await
            {
                Ok(tokens) => with_cookies(
                    Redirect::to("/").into_response(),
                    session_cookies(
                        &tokens,
                        accounts.auth.access_ttl.as_secs(),
                        accounts.auth.refresh_ttl.as_secs(),
                    ),
                ),
                Err(e) => Problem::from_db(e).into_response(),
            }
        }
        Ok(LoginOutcome::Invalid) => refuse(
            StatusCode::UNAUTHORIZED,
            "Unknown organisation, email or password.",
        ),
        Ok(LoginOutcome::Locked(until)) => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many failed logins: the account is locked for {} s.",
                ((until - now_ms()).max(0) as u64).div_ceil(1000)
            ),
        ),
        Err(p) => p.into_response(),
    }
}

async fn logout(State(state): State<DashboardState>, headers: HeaderMap) -> Response {
    if let (Some(accounts), Some(refresh)) = (&state.accounts, cookie(&headers, REFRESH_COOKIE)) {
        if let Err(p) = auth::revoke(&accounts.db, &refresh).await {
            return p.into_response();
        }
    }
    with_cookies(Redirect::to("/login").into_response(), cleared_cookies())
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("dashboard/dashboard.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("dashboard/dashboard.css"),
    )
}

/// Query parameters of the stream: `after` = the last frontier seen (as `Last-Event-ID`).
#[derive(Debug, Deserialize, Default)]
pub struct StreamParams {
    /// Resume after this frontier.
    pub after: Option<u64>,
}

/// What a stream may show: one tenant's rows (all without accounts), revenue or not.
#[derive(Clone, Debug)]
struct Scope {
    tenant: Option<String>,
    revenue: bool,
}

impl Scope {
    /// `frame` as an event for this scope (with no rows when none is for this scope: the
    /// frontier still moves on).
    fn event(&self, frame: &Frame) -> Option<Event> {
        let mut views = Map::new();
        for (name, rows) in &frame.views {
            if *name == "revenue" && !self.revenue {
                continue;
            }
            let (mut out, mut diffs) = (Vec::new(), Vec::new());
            for (row, diff) in rows {
                let ours = self
                    .tenant
                    .as_deref()
                    .is_none_or(|t| row.get("tenant_id").and_then(Value::as_str) == Some(t));
                if ours {
                    out.push(Value::Object((**row).clone()));
                    diffs.push(*diff);
                }
            }
            if !out.is_empty() {
                views.insert((*name).to_owned(), json!({"rows": out, "diffs": diffs}));
            }
        }
        let data = json!({"base": frame.base, "frontier": frame.frontier, "views": views});
        Some(
            Event::default()
                .event(if frame.snapshot { "snapshot" } else { "changes" })
                .id(frame.frontier.to_string())
                .data(data.to_string()),
        )
    }
}

async fn stream(
    State(state): State<DashboardState>,
    Query(params): Query<StreamParams>,
    headers: HeaderMap,
) -> Response {
    let viewer = match viewer(&state, &headers).await {
        Ok(v) => v,
        Err(p) => return p.into_response(),
    };
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(params.after);
    let scope = Scope {
        tenant: viewer.tenant().map(str::to_owned),
        revenue: viewer.sees_revenue(),
    };
    let events = frames(&state.hub, after).filter_map(move |frame| {
        let event = scope.event(&frame).map(Ok::<_, Infallible>);
        async move { event }
    });
    // Reconnect quickly after a cut (a lagging stream, a restart).
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().retry(Duration::from_millis(500)).comment("wardstream"))
    });
    with_cookies(
        Sse::new(first.chain(events))
            .keep_alive(KeepAlive::default())
            .into_response(),
        viewer.set_cookies,
    )
}

/// The frames of one stream: the subscription's start, then every published frame, ending
/// when the stream falls too far behind (the client reconnects and resumes).
fn frames(hub: &Hub, after: Option<u64>) -> impl Stream<Item = Arc<Frame>> + Send + 'static {
    let sub = hub.subscribe(after);
    let rest = futures_util::stream::unfold(sub.receiver, |mut rx| async move {
        match rx.recv().await {
            Ok(frame) => Some((frame, rx)),
            Err(e) => {
                tracing::debug!(error = %e, "dashboard stream ends");
                None
            }
        }
    });
    futures_util::stream::iter(sub.initial).chain(rest)
}
