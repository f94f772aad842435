//! The operations dashboard in headless Chromium (WebDriver) against a live engine: the numbers
//! the page shows equal SQL over the same views (real data: MIMIC-IV demo, eICU demo and the
//! no-show appointments); a new ADT event moves the census tile within one second; with
//! accounts each tenant sees only its own rows and only admins and billing see revenue; the
//! event stream resumes after a reconnect without gaps or repeats. Screenshots are saved as
//! test artefacts under Cargo's target tmp dir.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{EngineConfig, LiveInput, SourceRecord, ViewStore, records_source};
use wardstream_schemas::Event;
use wardstream_tests::browser::Browser;
use wardstream_tests::browser::fantoccini::Locator;

mod common;
use common::{Api, ICU_ROSTER, USER_PASSWORD, accounts, onboard, serve_views};

/// An engine over `records` that then keeps taking live events, until dropped.
struct Engine {
    store: Arc<ViewStore>,
    live: Arc<LiveInput>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Engine {
    fn start(records: Vec<SourceRecord>) -> Engine {
        let store = Arc::new(ViewStore::new());
        let live = Arc::new(LiveInput::new());
        let stop = Arc::new(AtomicBool::new(false));
        let config = EngineConfig {
            live: Some(live.clone()),
            ..EngineConfig::default()
        };
        let (s, halt) = (store.clone(), stop.clone());
        let records = Arc::new(records);
        let thread = std::thread::spawn(move || {
            wardstream_pipelines::run(&config, records_source(records), Vec::new(), s, halt)
                .unwrap_or_else(|e| panic!("{e}"));
        });
        Engine {
            store,
            live,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until every one of `n` records is in the views.
    async fn settle(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !(self.store.stats().total_received() >= n && self.store.pending_epochs() == 0) {
            assert!(
                Instant::now() < deadline,
                "the engine did not take {n} records"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.live.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(store: Arc<ViewStore>, tag: Option<&str>) -> Api {
    let accounts = match tag {
        Some(tag) => Some(accounts(tag).await),
        None => None,
    };
    serve_views(store, accounts, None).await
}

/// Rows of `SELECT …` over the views, as JSON objects.
async fn sql(api: &Api, token: Option<&str>, query: &str) -> Vec<Value> {
    let (s, rows) = api
        .call(
            "POST",
            "/v1/sql?format=json",
            token,
            Some(json!({"sql": query})),
        )
        .await;
    assert_eq!(s, 200, "{query}: {rows}");
    rows.as_array().cloned().unwrap_or_default()
}

/// Waits until the page has applied the views up to `frontier`.
async fn page_at(browser: &Browser, frontier: u64) {
    browser
        .client
        .execute_async(
            r#"const [want, done] = arguments;
               const ok = () => Number(document.body.dataset.frontier || 0) >= want;
               if (ok()) return done(true);
               new MutationObserver((_, o) => { if (ok()) { o.disconnect(); done(true); } })
                 .observe(document.body, { attributes: true });"#,
            vec![json!(frontier)],
        )
        .await
        .unwrap_or_else(|e| panic!("the page did not reach frontier {frontier}: {e}"));
}

/// What the page shows, read from its tiles.
async fn shown(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            r#"const q = (s) => [...document.querySelectorAll(s)];
               return {
                 census: q('#census-chart g[data-unit]').map(g => [g.dataset.tenant, g.dataset.unit, Number(g.dataset.patients), g.dataset.beds === '' ? null : Number(g.dataset.beds)]),
                 census_total: Number(document.getElementById('census-total').textContent.replace(/,/g, '')),
                 alerts: q('#alerts-body tr[data-patient]').map(r => [r.dataset.tenant, r.dataset.patient, Number(r.dataset.score),
                   r.dataset.previous === '' ? null : Number(r.dataset.previous), r.dataset.unit === '' ? null : r.dataset.unit]),
                 ed_now: Number(document.getElementById('ed-now').textContent.replace(/,/g, '')),
                 noshow: q('#noshow-chart g[data-clinic]').map(g => [g.dataset.clinic, Number(g.dataset.noShows), Number(g.dataset.resolved)]),
                 revenue: q('#revenue-chart g.col').map(g => [g.dataset.label, Number(g.dataset.value)]),
                 revenue_tile: !!document.getElementById('revenue'),
               };"#,
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(Value::to_string);
    v
}

fn shot(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// An ADT event: `id` names the event; the patient and encounter are `p-{encounter}` and
/// `e-{encounter}`; a transfer comes from `from`.
fn adt(tenant: &str, id: &str, encounter: &str, kind: &str, unit: &str, time: &str) -> Event {
    adt_from(tenant, id, encounter, kind, unit, None, time)
}

fn adt_from(
    tenant: &str,
    id: &str,
    encounter: &str,
    kind: &str,
    unit: &str,
    from: Option<&str>,
    time: &str,
) -> Event {
    let from = from
        .map(|f| format!(r#","from_care_unit":"{f}""#))
        .unwrap_or_default();
    let line = format!(
        r#"{{"type":"adt","event_id":"{id}","tenant_id":"{tenant}","event_time":"{time}","kind":"{kind}","patient_id":"p-{encounter}","encounter_id":"e-{encounter}","care_unit":"{unit}"{from}}}"#
    );
    Event::decode(line.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

/// Checks the ED tile against SQL (ED units as the page names them): arrivals per hour shown
/// (`adt_hourly`), patients boarding now and per hour those boarding at any time in it
/// (`ed_boarding`). Returns the page's boarding-now count and the sum of its hourly columns.
async fn boarding_matches_sql(browser: &Browser, api: &Api) -> (i64, i64) {
    const ED: &str = "(care_unit = 'ED' OR lower(care_unit) LIKE '%emergency%')";
    let page = browser
        .client
        .execute(
            r#"return {
                 now: Number(document.getElementById('boarding-now').textContent.replace(/,/g, '')),
                 hours: [...document.querySelectorAll('#boarding-chart g.col')].map(g => [g.dataset.hour, Number(g.dataset.value)]),
                 arrivals: [...document.querySelectorAll('#ed-chart g.col')].map(g => [g.dataset.hour, Number(g.dataset.value)]),
               };"#,
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let now = sql(
        api,
        None,
        &format!("SELECT COUNT(*) AS n FROM ed_boarding WHERE departed_at IS NULL AND {ED}"),
    )
    .await;
    assert_eq!(page["now"], now[0]["n"], "boarding now");
    // Arrivals into the ED over the same hours.
    for h in page["arrivals"].as_array().cloned().unwrap_or_default() {
        let start = wardstream_schemas::time::parse_rfc3339(h[0].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("{h}: not a time"));
        let want = sql(
            api,
            None,
            &format!("SELECT COALESCE(SUM(admissions + transfers_in), 0) AS n FROM adt_hourly WHERE {ED} AND CAST(hour AS BIGINT) = {start}"),
        )
        .await;
        assert_eq!(h[1], want[0]["n"], "ED arrivals in the hour from {}", h[0]);
    }
    let hours = page["hours"].as_array().cloned().unwrap_or_default();
    let mut total = 0;
    for h in &hours {
        let start = wardstream_schemas::time::parse_rfc3339(h[0].as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("{h}: not a time"));
        let want = sql(
            api,
            None,
            &format!(
                "SELECT COUNT(*) AS n FROM ed_boarding WHERE {ED} AND CAST(decided_at AS BIGINT) < {end} \
                 AND (departed_at IS NULL OR CAST(departed_at AS BIGINT) > {start})",
                end = start + 3_600_000
            ),
        )
        .await;
        assert_eq!(h[1], want[0]["n"], "boarding in the hour from {}", h[0]);
        total += h[1].as_i64().unwrap_or_default();
    }
    (page["now"].as_i64().unwrap_or_default(), total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_views_and_follows_a_new_admission_within_a_second() {
    let opts = ReplayOptions {
        data_dir: wardstream_tests::data_dir(),
        data_sets: vec![DataSet::MimicIvDemo, DataSet::EicuDemo, DataSet::Noshow],
        ..ReplayOptions::default()
    };
    let mut records = replay::load_data_sets(&opts)
        .unwrap_or_else(|e| panic!("real data: {e}"))
        .records;
    // Stop the hospital replays half-way through their ADT timeline, while patients are in
    // house (at the end everyone is discharged and the census is empty).
    let mut adt_times: Vec<i64> = records
        .iter()
        .filter_map(|r| match r {
            SourceRecord::Event(Event::Adt(a)) => Some(a.event_time),
            _ => None,
        })
        .collect();
    adt_times.sort_unstable();
    let cutoff = adt_times[adt_times.len() / 2];
    records.retain(|r| match r {
        SourceRecord::Event(e @ (Event::Adt(_) | Event::VitalSign(_) | Event::Charge(_))) => {
            e.event_time() <= cutoff
        }
        _ => true,
    });
    let n = records.len() as u64;
    let engine = Engine::start(records);
    let api = serve(engine.store.clone(), None).await;
    engine.settle(n).await;

    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/", api.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    page_at(&browser, engine.store.frontier()).await;
    let page = shown(&browser).await;

    // Census: every unit of every tenant, with the SQL view's numbers.
    let census: Vec<Value> = sql(
        &api,
        None,
        "SELECT tenant_id, care_unit, patients, beds FROM census",
    )
    .await
    .into_iter()
    .map(|r| json!([r["tenant_id"], r["care_unit"], r["patients"], r["beds"]]))
    .collect();
    assert!(census.len() > 3, "{census:?}");
    assert_eq!(
        sorted(page["census"].as_array().cloned().unwrap_or_default()),
        sorted(census.clone())
    );
    let total: i64 = census.iter().filter_map(|r| r[2].as_i64()).sum();
    assert_eq!(page["census_total"], total);
    // NEWS2 alerts: the same patients in house, with the same units, scores and previous
    // scores (the trend, also right after loading the page).
    let alerts: Vec<Value> = sql(
        &api,
        None,
        "SELECT tenant_id, patient_id, score, previous_score, care_unit FROM alerts",
    )
    .await
    .into_iter()
    .map(|r| {
        json!([
            r["tenant_id"],
            r["patient_id"],
            r["score"],
            r["previous_score"],
            r["care_unit"]
        ])
    })
    .collect();
    assert!(
        alerts.iter().any(|a| a[3].is_i64()) && alerts.iter().all(|a| a[4].is_string()),
        "alerts with a trend, each in a unit: {alerts:?}"
    );
    // Patients at risk who have been discharged are not alerts.
    let at_risk = sql(
        &api,
        None,
        "SELECT COUNT(*) AS n FROM news2 WHERE response IN ('medium', 'high')",
    )
    .await;
    assert!(
        at_risk[0]["n"].as_u64().unwrap_or_default() > alerts.len() as u64,
        "{at_risk:?} at risk, {} alerts",
        alerts.len()
    );
    assert_eq!(
        sorted(page["alerts"].as_array().cloned().unwrap_or_default()),
        sorted(alerts)
    );
    // ED: patients there now.
    let ed = sql(
        &api,
        None,
        "SELECT COALESCE(SUM(patients), 0) AS n FROM census WHERE care_unit = 'ED' OR lower(care_unit) LIKE '%emergency%'",
    )
    .await;
    assert_eq!(page["ed_now"], ed[0]["n"]);
    // No-shows per clinic.
    let noshow: Vec<Value> = sql(
        &api,
        None,
        "SELECT clinic, SUM(no_shows) AS n, SUM(attended + no_shows) AS resolved FROM no_show GROUP BY clinic",
    )
    .await
    .into_iter()
    .map(|r| json!([r["clinic"], r["n"], r["resolved"]]))
    .collect();
    assert!(noshow.len() > 10, "{noshow:?}");
    assert_eq!(
        sorted(page["noshow"].as_array().cloned().unwrap_or_default()),
        sorted(noshow)
    );
    // Revenue: net per day, the last 30 days.
    let revenue: Vec<Value> = sql(
        &api,
        None,
        "SELECT day, SUM(net_minor) AS net FROM revenue GROUP BY day ORDER BY day DESC LIMIT 30",
    )
    .await
    .into_iter()
    .map(|r| json!([r["day"].as_str().unwrap_or_default().get(..10), r["net"]]))
    .collect();
    assert!(!revenue.is_empty());
    assert_eq!(
        sorted(page["revenue"].as_array().cloned().unwrap_or_default()),
        sorted(revenue)
    );
    browser.screenshot(&shot("dashboard-real-data.png")).await;

    // ED boarding equals SQL over `ed_boarding`; then a patient arrives in the MIMIC ED a
    // minute after the data's now, is admitted 10 minutes later and goes to a ward an hour
    // after that: the tile counts them while they board, and not after.
    let before = boarding_matches_sql(&browser, &api).await;
    let as_of: String = browser
        .client
        .execute("return document.body.dataset.asOf", vec![])
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let t = wardstream_schemas::time::parse_rfc3339(&as_of)
        .unwrap_or_else(|| panic!("as_of {as_of}: not a time"))
        + 60_000;
    let at = |minutes: i64| wardstream_schemas::time::format_rfc3339(t + minutes * 60_000);
    let (tenant, ed) = ("mimic-iv-demo", "Emergency Department");
    let mut fed = n;
    for step in [
        vec![
            adt(tenant, "board-1", "board-1", "admit", ed, &at(0)),
            adt(
                tenant,
                "board-2",
                "board-1",
                "decision_to_admit",
                ed,
                &at(10),
            ),
        ],
        vec![adt_from(
            tenant,
            "board-3",
            "board-1",
            "transfer",
            "Medicine",
            Some(ed),
            &at(70),
        )],
    ] {
        fed += step.len() as u64;
        let last = step.len() == 1;
        engine.live.push(step);
        engine.settle(fed).await;
        page_at(&browser, engine.store.frontier()).await;
        let now = boarding_matches_sql(&browser, &api).await;
        if last {
            assert_eq!(now.0, before.0, "left the ED: no longer boarding");
            assert!(now.1 > before.1, "boarded during the hours shown: {now:?}");
        } else {
            assert_eq!(now.0, before.0 + 1, "boarding now");
            assert!(now.1 > before.1, "{now:?} vs {before:?}");
            browser
                .client
                .execute("document.getElementById('ed').scrollIntoView()", vec![])
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            browser.screenshot(&shot("dashboard-boarding.png")).await;
        }
    }

    // A new admission moves the census tile within one second.
    let unit = census[0][1].as_str().unwrap_or_default().to_owned();
    let tenant = census[0][0].as_str().unwrap_or_default().to_owned();
    let before = census[0][2].as_i64().unwrap_or_default();
    let time = wardstream_schemas::time::format_rfc3339(wardstream_schemas::time::now());
    let pushed = Instant::now();
    engine
        .live
        .push([adt(&tenant, "live-1", "live-1", "admit", &unit, &time)]);
    browser
        .client
        .execute_async(
            r#"const [tenant, unit, want, done] = arguments;
               const ok = () => [...document.querySelectorAll('#census-chart g[data-unit]')]
                 .some(g => g.dataset.tenant === tenant && g.dataset.unit === unit && Number(g.dataset.patients) === want);
               if (ok()) return done(true);
               new MutationObserver((_, o) => { if (ok()) { o.disconnect(); done(true); } })
                 .observe(document.getElementById('census-chart'), { childList: true, subtree: true });"#,
            vec![json!(tenant), json!(unit), json!(before + 1)],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let took = pushed.elapsed();
    eprintln!("the census tile moved {took:?} after the event was handed to the engine");
    assert!(
        took < Duration::from_secs(1),
        "the census tile moved after {took:?}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_sees_only_its_rows_and_roles_decide_the_revenue_tile() {
    let engine = Engine::start(Vec::new());
    let api = serve(engine.store.clone(), Some("dashboard-tenants")).await;
    let (tenant_a, admin_a) = onboard(&api, "dash-a").await;
    let (tenant_b, admin_b) = onboard(&api, "dash-b").await;
    for (admin, slug, role) in [
        (&admin_a, "dash-a", "billing"),
        (&admin_b, "dash-b", "clinician"),
    ] {
        let (s, u) = api
            .call(
                "POST",
                "/v1/auth/register",
                Some(admin),
                Some(json!({"email": format!("{role}@{slug}.example"), "password": USER_PASSWORD, "role": role})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
    }
    let time = wardstream_schemas::time::format_rfc3339(wardstream_schemas::time::now());
    let mut events: Vec<Event> = (0..3)
        .map(|i| {
            adt(
                &tenant_a,
                &format!("a{i}"),
                &format!("a{i}"),
                "admit",
                "ICU",
                &time,
            )
        })
        .collect();
    events.extend((0..5).map(|i| {
        adt(
            &tenant_b,
            &format!("b{i}"),
            &format!("b{i}"),
            "admit",
            "MEDSURG",
            &time,
        )
    }));
    engine.live.push(events);
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine
        .store
        .rows::<wardstream_operators::census::CensusRow>()
        .len()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "the events did not reach the census"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Without a session the page sends the browser to the login form.
    let browser = Browser::start().await;
    let c = &browser.client;
    for (slug, role, tenant, unit, patients, revenue) in [
        ("dash-a", "billing", &tenant_a, "ICU", 3, true),
        ("dash-b", "clinician", &tenant_b, "MEDSURG", 5, false),
    ] {
        c.goto(&format!("{}/", api.base))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = c.current_url().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.path(), "/login");
        let form = c
            .form(Locator::Css("form.login"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for (field, value) in [
            ("tenant", slug.to_owned()),
            ("email", format!("{role}@{slug}.example")),
            ("password", USER_PASSWORD.to_owned()),
        ] {
            form.set_by_name(field, &value)
                .await
                .unwrap_or_else(|e| panic!("{field}: {e}"));
        }
        form.submit_with(Locator::Css("button[type='submit']"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.wait()
            .for_element(Locator::Css("#census-chart g[data-unit]"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let page = shown(&browser).await;
        assert_eq!(
            page["census"],
            json!([[tenant, unit, patients, null]]),
            "{slug} sees only its own census"
        );
        assert_eq!(page["revenue_tile"], revenue, "{role}");
        let source = c.source().await.unwrap_or_else(|e| panic!("{e}"));
        let other = if slug == "dash-a" {
            &tenant_b
        } else {
            &tenant_a
        };
        assert!(
            !source.contains(other.as_str()),
            "{slug} sees the other tenant"
        );
        browser
            .screenshot(&shot(&format!("dashboard-{slug}-{role}.png")))
            .await;
        // Log out: back to the form, and the session no longer opens the page.
        c.find(Locator::Css("form[action='/logout'] button"))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        c.wait()
            .for_element(Locator::Css("form.login"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    browser.close().await;

    // The stream needs a session or a token, and confines rows to the token's tenant.
    let resp = api
        .http
        .get(format!("{}/v1/dashboard/stream", api.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status(), 401);
    let mut stream = Stream::open(&api, Some(&admin_b), None).await;
    let (kind, data) = stream.next().await;
    assert_eq!(kind, "snapshot");
    assert_eq!(
        data["views"]["census"]["rows"][0]["tenant_id"],
        json!(tenant_b)
    );
    assert_eq!(
        data["views"]["census"]["rows"].as_array().map(Vec::len),
        Some(1)
    );
}

/// A server-sent event stream read over HTTP.
struct Stream {
    response: reqwest::Response,
    buffer: String,
    last_id: Option<String>,
}

impl Stream {
    async fn open(api: &Api, token: Option<&str>, last_id: Option<&str>) -> Stream {
        let mut req = api.http.get(format!("{}/v1/dashboard/stream", api.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(id) = last_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"text/event-stream"[..])
        );
        Stream {
            response,
            buffer: String::new(),
            last_id: None,
        }
    }

    /// The next event with data: its type and data.
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut kind, mut data) = (String::from("message"), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    } else if let Some(v) = line.strip_prefix("id:") {
                        self.last_id = Some(v.trim().to_owned());
                    }
                }
                if !data.is_empty() {
                    return (kind, serde_json::from_str(&data).unwrap_or(Value::Null));
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event in 30 s"))
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|| panic!("the stream ended"));
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// A client's copy of one view: row → multiplicity.
fn apply(
    copy: &mut std::collections::BTreeMap<String, i64>,
    data: &Value,
    view: &str,
    snapshot: bool,
) {
    if snapshot {
        copy.clear();
    }
    let delta = &data["views"][view];
    for (row, diff) in delta["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(delta["diffs"].as_array().into_iter().flatten())
    {
        let n = copy.entry(row.to_string()).or_insert(0);
        *n += diff.as_i64().unwrap_or_default();
        if *n == 0 {
            copy.remove(&row.to_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_resumes_after_the_last_event_without_gaps_or_repeats() {
    let engine = Engine::start(Vec::new());
    let api = serve(engine.store.clone(), None).await;
    let time = |m: u32| format!("2026-12-01T08:{m:02}:00Z");
    engine.live.push((0..4).map(|i| {
        adt(
            "general",
            &format!("x{i}"),
            &format!("x{i}"),
            "admit",
            "ICU",
            &time(i),
        )
    }));

    // Follow the stream until the four admissions are in.
    let mut copy = std::collections::BTreeMap::new();
    let mut stream = Stream::open(&api, None, None).await;
    let mut frontier = 0;
    let patients = |copy: &std::collections::BTreeMap<String, i64>| -> i64 {
        copy.keys()
            .filter_map(|k| serde_json::from_str::<Value>(k).ok())
            .filter(|r| r["care_unit"] == "ICU")
            .filter_map(|r| r["patients"].as_i64())
            .sum()
    };
    while patients(&copy) != 4 {
        let (kind, data) = stream.next().await;
        if kind == "changes" {
            assert_eq!(data["base"], frontier, "frames chain");
        }
        apply(&mut copy, &data, "census", kind == "snapshot");
        frontier = data["frontier"].as_u64().unwrap_or_default();
    }
    let seen = stream.last_id.clone().unwrap_or_default();
    assert_eq!(seen, frontier.to_string());
    drop(stream);

    // While disconnected: a transfer out, a discharge and three more admissions.
    engine.live.push([
        adt_from(
            "general",
            "t0",
            "x0",
            "transfer",
            "MEDSURG",
            Some("ICU"),
            &time(10),
        ),
        adt("general", "d1", "x1", "discharge", "ICU", &time(11)),
    ]);
    engine.live.push((4..7).map(|i| {
        adt(
            "general",
            &format!("x{i}"),
            &format!("x{i}"),
            "admit",
            "ICU",
            &time(20 + i),
        )
    }));
    // Resuming from the last id replays only what came after it, chained from there.
    let mut stream = Stream::open(&api, None, Some(&seen)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (kind, data) = stream.next().await;
        assert_eq!(kind, "changes", "a resume does not start over");
        assert_eq!(data["base"], frontier, "no gap, no repeat");
        apply(&mut copy, &data, "census", false);
        frontier = data["frontier"].as_u64().unwrap_or_default();
        if patients(&copy) == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "{copy:?}");
    }
    // The copy equals the view.
    let view: std::collections::BTreeMap<String, i64> = sql(&api, None, "SELECT * FROM census")
        .await
        .into_iter()
        .map(|r| (r.to_string(), 1))
        .collect();
    assert_eq!(copy, view);
    // An id the server never sent (or no longer keeps) starts from a snapshot.
    let mut stream = Stream::open(&api, None, Some("1")).await;
    let (kind, data) = stream.next().await;
    assert_eq!(kind, "snapshot");
    let mut fresh = std::collections::BTreeMap::new();
    apply(&mut fresh, &data, "census", true);
    assert_eq!(fresh, view);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_staffing_and_twin_tiles_show_the_latest_results() {
    let engine = Engine::start(Vec::new());
    let time = wardstream_schemas::time::format_rfc3339(wardstream_schemas::time::now());
    engine.live.push((0..2).map(|i| {
        adt(
            "general",
            &format!("s{i}"),
            &format!("s{i}"),
            "admit",
            "ICU",
            &time,
        )
    }));
    let api = serve(engine.store.clone(), None).await;
    let browser = Browser::start().await;
    // Before any run or recommendation, the tiles say how to get one.
    browser
        .client
        .goto(&format!("{}/", api.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = browser
        .client
        .find(Locator::Css("#staffing"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(text.contains("None yet"), "{text}");

    let scenario = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../twin/scenarios/community-hospital.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut runs = Vec::new();
    for (name, extra) in [
        ("base", ""),
        ("icu+4", "\n[changes]\nadd_beds = { ICU = 4 }\n"),
    ] {
        let (s, run) = api
            .call(
                "POST",
                "/v1/twin/runs",
                None,
                Some(json!({"scenario": format!("{scenario}{extra}"), "name": name, "replications": 3, "horizon_hours": 24 * 14, "seed": 5})),
            )
            .await;
        assert_eq!(s, 201, "{run}");
        runs.push(run);
    }
    let (s, staffing) = api
        .call(
            "POST",
            "/v1/staffing/recommendations",
            None,
            Some(json!({"roster": ICU_ROSTER, "horizon_days": 2})),
        )
        .await;
    assert_eq!(s, 200, "{staffing}");

    browser
        .client
        .goto(&format!("{}/", api.base))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let page = browser
        .client
        .execute(
            r#"const q = (s) => [...document.querySelectorAll(s)];
               return {
                 compliance: q('#staffing g[data-unit]').map(g => [g.dataset.unit, Number(g.dataset.compliance)]),
                 recommendations: q('#staffing li').map(li => li.textContent),
                 twin: q('#twin svg').map(svg => [svg.querySelector('title').textContent, q.call(null, '#twin svg').indexOf(svg), [...svg.querySelectorAll('g[data-run]')].map(g => [g.dataset.run, Number(g.dataset.mean)])]),
               };"#,
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let report = &staffing["report"];
    let pairs = |v: &Value, unit: &str, pct: Option<&str>| -> Vec<(String, f64)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|c| match pct {
                Some(p) => (
                    c[unit].as_str().unwrap_or_default().to_owned(),
                    c[p].as_f64().unwrap_or(f64::NAN),
                ),
                None => (
                    c[0].as_str().unwrap_or_default().to_owned(),
                    c[1].as_f64().unwrap_or(f64::NAN),
                ),
            })
            .collect()
    };
    let coverage = pairs(&report["coverage"], "unit", Some("compliance_percent"));
    assert!(!coverage.is_empty(), "{staffing}");
    assert_eq!(pairs(&page["compliance"], "", None), coverage);
    let words: Vec<Value> = report["recommendations"]
        .as_array()
        .into_iter()
        .flatten()
        .take(6)
        .cloned()
        .collect();
    for w in &words {
        assert!(
            page["recommendations"]
                .as_array()
                .is_some_and(|r| r.contains(w)),
            "{w} not shown"
        );
    }
    // Every hospital-wide KPI of the two runs, with each run's mean.
    let twin = page["twin"].as_array().cloned().unwrap_or_default();
    let kpis: Vec<&Value> = runs[0]["result"]["kpis"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["unit"].is_null() && k["ci"]["mean"].is_number())
        .collect();
    assert!(!kpis.is_empty());
    for k in kpis {
        let chart = twin
            .iter()
            .find(|c| c[0] == k["name"])
            .unwrap_or_else(|| panic!("no chart for {}", k["name"]));
        let means: Vec<f64> = chart[2]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r[1].as_f64())
            .collect();
        let expected: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                r["result"]["kpis"]
                    .as_array()?
                    .iter()
                    .find(|x| x["name"] == k["name"] && x["unit"].is_null())?["ci"]["mean"]
                    .as_f64()
            })
            .collect();
        assert_eq!(means.len(), 2, "{chart}");
        for (m, e) in means.iter().zip(&expected) {
            assert!(
                (m - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{}: {m} vs {e}",
                k["name"]
            );
        }
    }
    browser
        .screenshot(&shot("dashboard-staffing-twin.png"))
        .await;
    browser.close().await;
}
