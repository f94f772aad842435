//! The operations dashboard: a page at `/` over the live views, kept current by server-sent
//! events.
//!
//! - `GET /` → the page: census per care unit against capacity, NEWS2 alerts of patients in
//!   house (unit, score, response, trend against the score before the latest observation,
//!   time since the last observation), ED arrivals per hour, patients in the ED and
//!   ED boarding (boarding now, the longest wait, patients boarding per hour from the
//!   `ed_boarding` view), no-show rate per clinic, net revenue per day (admin and billing roles only). Its script
//!   (`/assets/dashboard.js`, no dependencies) draws SVG from a copy of the views.
//! - `GET /v1/dashboard/stream` → `text/event-stream`: first a `snapshot` event (every row of
//!   the caller's views with its multiplicity), then a `changes` event per batch of net
//!   changes (rows with +n / −n; at least every second while the frontier moves, even with
//!   none). Each event's data is `{"base", "frontier", "as_of" (greatest event time, RFC
//!   3339), "views": {name: {"rows": [...], "diffs": [...]}}}` and its id the frontier; a
//!   reconnect with
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
use serde_json::{Map, Value};

use crate::auth::{self, Peer, Principal, Role};
use crate::problem::Problem;
use crate::tenants::AppState;
use hub::{Frame, Hub};

/// The access-token cookie.
pub const ACCESS_COOKIE: &str = "wardstream_access";
/// The refresh-token cookie.
pub const REFRESH_COOKIE: &str = "wardstream_refresh";
/// The roles that see revenue.
pub const REVENUE_ROLES: &[Role] = &[Role::Admin, Role::Billing];
/// Twin runs compared on the page.
pub const TWIN_RUNS_SHOWN: usize = 4;

/// State of the dashboard routes.
#[derive(Clone)]
pub struct DashboardState {
    /// The change hub over the views.
    pub hub: Arc<Hub>,
    /// The tenant and auth store, when the API has accounts.
    pub accounts: Option<AppState>,
    /// The twin runs the API keeps.
    pub twin_runs: crate::twin::SharedRuns,
    /// The latest staffing recommendation per tenant.
    pub staffing: crate::staffing::SharedLatest,
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
    /// Whether the viewer has one of `roles` (everyone does without accounts).
    fn is(&self, roles: &[Role]) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| roles.contains(&p.role))
    }

    fn sees_revenue(&self) -> bool {
        self.is(REVENUE_ROLES)
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

/// A `Set-Cookie` value for `name` (`HttpOnly`, `SameSite=Strict`, path `/`).
fn set_cookie(name: &str, value: &str, max_age: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

fn session_cookies(tokens: &auth::Tokens, config: &auth::AuthConfig) -> Vec<HeaderValue> {
    [
        set_cookie(
            ACCESS_COOKIE,
            &tokens.access_token,
            config.access_ttl.as_secs(),
        ),
        set_cookie(
            REFRESH_COOKIE,
            &tokens.refresh_token,
            config.refresh_ttl.as_secs(),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn cleared_cookies() -> Vec<HeaderValue> {
    [
        set_cookie(ACCESS_COOKIE, "", 0),
        set_cookie(REFRESH_COOKIE, "", 0),
    ]
    .into_iter()
    .flatten()
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
    let token = auth::bearer_token(headers)
        .ok()
        .map(str::to_owned)
        .or_else(|| cookie(headers, ACCESS_COOKIE));
    if let Some(Ok(p)) = token.map(|t| auth::authenticate(&accounts.auth, &t)) {
        return Ok(Viewer {
            principal: Some(p),
            set_cookies: Vec::new(),
        });
    }
    let Some(refresh) = cookie(headers, REFRESH_COOKIE) else {
        return Err(Problem::unauthorized("log in at /login"));
    };
    let tokens = auth::rotate(&accounts.db, &accounts.auth, &refresh).await?;
    Ok(Viewer {
        principal: Some(auth::authenticate(&accounts.auth, &tokens.access_token)?),
        set_cookies: session_cookies(&tokens, &accounts.auth),
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
    let staffing = if viewer.is(crate::staffing::STAFFING_ROLES) {
        let latest = {
            let all = state.staffing.lock().unwrap_or_else(|p| p.into_inner());
            match viewer.tenant() {
                Some(t) => all.get(&Some(t.to_owned())).cloned(),
                None => all.values().max_by_key(|l| l.made_at).cloned(),
            }
        };
        staffing_tile(latest.as_ref())
    } else {
        String::new()
    };
    let twin = if viewer.is(crate::twin::TWIN_ROLES) {
        let runs = state
            .twin_runs
            .lock()
            .map(|r| r.latest(viewer.tenant(), TWIN_RUNS_SHOWN))
            .unwrap_or_default();
        twin_tile(&runs)
    } else {
        String::new()
    };
    let body = format!(
        r##"<a class="skip" href="#tiles">Skip to the tiles</a>
<header>
<h1>wardstream · hospital operations</h1>
<span id="as-of" title="Greatest event time in the views">no events yet</span>
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
<p class="kpi">Patients in house at medium or high clinical risk: <strong id="alerts-count">0</strong></p>
<table>
<caption class="skip">Patients in house at medium or high NEWS2 clinical risk, highest score first; trend against the score before the latest observation</caption>
<thead><tr><th scope="col">Patient</th><th scope="col">Unit</th><th scope="col">Score</th><th scope="col">Response</th><th scope="col">Trend</th><th scope="col">Since last obs.</th></tr></thead>
<tbody id="alerts-body"></tbody>
</table>
</section>
<section id="ed" aria-labelledby="ed-title">
<h2 id="ed-title">ED flow</h2>
<p class="kpi">Patients in the ED now: <strong id="ed-now">0</strong></p>
<div id="ed-chart"></div>
<h3>Boarding</h3>
<p class="kpi">Admitted and still in the ED: <strong id="boarding-now">0</strong>, longest waiting <strong id="boarding-longest">—</strong></p>
<div id="boarding-chart"></div>
</section>
<section id="noshow" aria-labelledby="noshow-title">
<h2 id="noshow-title">No-show rate per clinic</h2>
<div id="noshow-chart"></div>
<h3>Over time</h3>
<div id="noshow-trend"></div>
</section>
{revenue}
{staffing}
{twin}
</main>
<script src="/assets/dashboard.js" defer></script>"##
    );
    with_cookies(
        Html(document("wardstream dashboard", &body)).into_response(),
        viewer.set_cookies,
    )
}

/// The latest staffing recommendation: status, cost, ratio compliance per unit (bars) and the
/// recommendations in words. Drawn when the page loads.
fn staffing_tile(latest: Option<&crate::staffing::Latest>) -> String {
    let head = r#"<section id="staffing" aria-labelledby="staffing-title">
<h2 id="staffing-title">Staffing recommendation</h2>"#;
    let Some(latest) = latest else {
        return format!(
            "{head}\n<p class=\"kpi\">None yet: ask for one with <code>POST /v1/staffing/recommendations</code>.</p>\n</section>"
        );
    };
    let r = &latest.report;
    let status = serde_json::to_value(r.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let cost = wardstream_solver::report::money(r.cost.total, &r.currency);
    let mut bars = String::new();
    for (i, c) in r.coverage.iter().enumerate() {
        let y = i * 28;
        let w = (c.compliance_percent.clamp(0.0, 100.0) * 2.6).round();
        bars.push_str(&format!(
            r#"<g class="bar{cls}" transform="translate(0 {y})" data-unit="{unit}" data-compliance="{pct}"><text x="0" y="19" class="label">{unit}</text><rect x="150" y="6" width="260" height="16" class="track"/><rect x="150" y="6" width="{w}" height="16" class="fill"/><text x="418" y="19" class="value">{pct:.1}% of {hours} h</text></g>"#,
            cls = if c.compliance_percent < 100.0 { " critical" } else { "" },
            unit = escape(&c.unit),
            pct = c.compliance_percent,
            hours = c.hours,
        ));
    }
    let label = r
        .coverage
        .iter()
        .map(|c| format!("{} {:.1}%", c.unit, c.compliance_percent))
        .collect::<Vec<_>>()
        .join("; ");
    let recs: String = r
        .recommendations
        .iter()
        .take(6)
        .map(|t| format!("<li>{}</li>", escape(t)))
        .collect();
    let more = r.recommendations.len().saturating_sub(6);
    let more = if more > 0 {
        format!("<p class=\"kpi\">and {more} more</p>")
    } else {
        String::new()
    };
    let explanation: String = r
        .explanation
        .iter()
        .map(|t| format!("<li>{}</li>", escape(t)))
        .collect();
    format!(
        r#"{head}
<p class="kpi">Roster {name}: <strong>{status}</strong>, cost <strong>{cost}</strong>, {gaps} agency gap(s); census as of {at}</p>
<svg viewBox="0 0 520 {h}" width="100%" role="img" aria-label="Ratio compliance per unit: {label}"><title>Ratio compliance per unit</title>{bars}</svg>
<ul>{recs}{explanation}</ul>{more}
</section>"#,
        name = escape(&r.name),
        status = escape(&status),
        cost = escape(&cost),
        gaps = r.gaps.len(),
        at = escape(latest.census_at.as_deref().unwrap_or("no events yet")),
        h = (r.coverage.len() * 28).max(28),
        label = escape(&label),
    )
}

/// The last twin runs side by side: every hospital-wide KPI as a forest plot (mean and 95%
/// interval per run). Drawn when the page loads.
fn twin_tile(runs: &[(u64, Arc<wardstream_twin::replication::RunResult>)]) -> String {
    let head = r#"<section id="twin" aria-labelledby="twin-title">
<h2 id="twin-title">Digital twin: scenarios compared</h2>"#;
    if runs.is_empty() {
        return format!(
            "{head}\n<p class=\"kpi\">No runs yet: start one with <code>POST /v1/twin/runs</code> or <code>wardstream twin</code>.</p>\n</section>"
        );
    }
    let mut names: Vec<(&str, &str)> = Vec::new();
    for (_, r) in runs {
        for k in r.kpis.iter().filter(|k| k.unit.is_none()) {
            if !names.contains(&(k.name.as_str(), k.measure)) {
                names.push((k.name.as_str(), k.measure));
            }
        }
    }
    let mut charts = String::new();
    for (name, measure) in names {
        let cis: Vec<(String, Option<&wardstream_twin::stats::ConfidenceInterval>)> = runs
            .iter()
            .map(|(id, r)| {
                (
                    format!("#{id} {}", r.scenario),
                    r.kpi(name, None).map(|k| &k.ci),
                )
            })
            .collect();
        let finite = |v: f64| v.is_finite().then_some(v);
        let lo = cis
            .iter()
            .filter_map(|(_, c)| c.and_then(|c| finite(c.lower)))
            .fold(f64::INFINITY, f64::min);
        let hi = cis
            .iter()
            .filter_map(|(_, c)| c.and_then(|c| finite(c.upper)))
            .fold(f64::NEG_INFINITY, f64::max);
        if !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        let span = if hi > lo { hi - lo } else { 1.0 };
        let x = |v: f64| 170.0 + (v - lo) / span * 230.0;
        let mut rows = String::new();
        let mut label = Vec::new();
        for (i, (run, ci)) in cis.iter().enumerate() {
            let y = 14 + i * 22;
            let Some(ci) = ci.filter(|c| c.mean.is_finite()) else {
                continue;
            };
            label.push(format!(
                "{run} {:.2} [{:.2}, {:.2}]",
                ci.mean, ci.lower, ci.upper
            ));
            rows.push_str(&format!(
                r#"<g data-run="{run}" data-mean="{mean}"><text x="0" y="{ty}" class="label">{run}</text><line x1="{x1:.1}" x2="{x2:.1}" y1="{y}" y2="{y}" class="whisker"/><circle cx="{cx:.1}" cy="{y}" r="4" class="fill"/><text x="410" y="{ty}" class="value">{mean:.2} {measure}</text></g>"#,
                run = escape(run),
                mean = ci.mean,
                ty = y + 4,
                x1 = x(if ci.lower.is_finite() { ci.lower } else { ci.mean }),
                x2 = x(if ci.upper.is_finite() { ci.upper } else { ci.mean }),
                cx = x(ci.mean),
                measure = escape(measure),
            ));
        }
        charts.push_str(&format!(
            r#"<h3>{name} ({measure})</h3><svg viewBox="0 0 520 {h}" width="100%" role="img" aria-label="{name}, mean and 95% interval per run: {label}"><title>{name}</title>{rows}</svg>"#,
            name = escape(name),
            measure = escape(measure),
            h = 8 + cis.len() * 22,
            label = escape(&label.join("; ")),
        ));
    }
    format!("{head}\n{charts}\n</section>")
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
    match crate::tenants::sign_in(accounts, peer, &form.tenant, &form.email, &form.password).await {
        Ok(tokens) => with_cookies(
            Redirect::to("/").into_response(),
            session_cookies(&tokens, &accounts.auth),
        ),
        // Refusals (wrong password, lockout, the address limit) go back to the form.
        Err(p) if matches!(p.status, 401 | 429) => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNAUTHORIZED);
            (status, Html(login_form(Some(&p.detail)))).into_response()
        }
        Err(p) => p.into_response(),
    }
}

async fn logout(State(state): State<DashboardState>, headers: HeaderMap) -> Response {
    if let (Some(accounts), Some(refresh)) = (&state.accounts, cookie(&headers, REFRESH_COOKIE))
        && let Err(p) = auth::revoke(&accounts.db, &refresh).await
    {
        return p.into_response();
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
        /// One view's rows in an event, borrowed from the frame.
        #[derive(serde::Serialize)]
        struct Rows<'a> {
            rows: Vec<&'a Map<String, Value>>,
            diffs: Vec<i64>,
        }
        #[derive(serde::Serialize)]
        struct Data<'a> {
            base: u64,
            frontier: u64,
            as_of: Option<String>,
            views: std::collections::BTreeMap<&'static str, Rows<'a>>,
        }
        let mut views = std::collections::BTreeMap::new();
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
                    out.push(&**row);
                    diffs.push(*diff);
                }
            }
            if !out.is_empty() {
                views.insert(*name, Rows { rows: out, diffs });
            }
        }
        let data = Data {
            base: frame.base,
            frontier: frame.frontier,
            as_of: frame.as_of.map(wardstream_schemas::time::format_rfc3339),
            views,
        };
        Some(
            Event::default()
                .event(if frame.snapshot {
                    "snapshot"
                } else {
                    "changes"
                })
                .id(frame.frontier.to_string())
                .data(serde_json::to_string(&data).unwrap_or_default()),
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
        Ok::<_, Infallible>(
            Event::default()
                .retry(Duration::from_millis(500))
                .comment("wardstream"),
        )
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
