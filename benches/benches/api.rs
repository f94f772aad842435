//! The transactional API under load on loopback, on a SQLite file and on a private
//! PostgreSQL server (`tests/src/postgres.rs`). Prints one row per workload and store.
//!
//! The server (`transactional_router`, as `wardstream serve` runs it) and the load generator
//! (reqwest clients, one keep-alive connection each) share one tokio runtime on the same
//! 2 cores. Workloads, each for [`SECONDS`] s with [`CLIENTS`] clients in closed loop:
//! - `book`: `POST /v1/appointments`, every request a free slot (slot `k` goes to provider
//!   `k % PROVIDERS`, half an hour after its previous one), so each must answer 201: the
//!   provider lock, overlap check, insert and outbox event in one transaction.
//! - `read appointment`: `GET /v1/appointments/{id}` of a random booked appointment.
//! - `read patient`: `GET /v1/patients/{id}`: a read that also appends to the tenant's
//!   audit hash chain in a transaction, so reads of one tenant serialise on its chain.
//!
//! Run: `cargo bench --workspace --bench api --profile dev [-- sqlite|postgres]`.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wardstream_api::auth::{AuthConfig, LoginLimiter};
use wardstream_api::tenants::AppState;
use wardstream_tests::postgres::PostgresServer;

/// Concurrent clients.
const CLIENTS: usize = 32;
/// Length of each workload, s.
const SECONDS: u64 = 10;
/// Providers the bookings spread over.
const PROVIDERS: u64 = 50;

struct Client {
    base: String,
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// Requests per second and latency of one workload.
struct Outcome {
    ok: u64,
    failed: u64,
    elapsed: Duration,
    latency: hdrhistogram::Histogram<u64>,
}

/// Runs `request(client, k)` from [`CLIENTS`] clients in closed loop for [`SECONDS`] s;
/// `k` counts requests across clients. A request is good when it answers `expect`.
async fn load<F, Fut>(clients: &[Arc<Client>], expect: u16, request: F) -> anyhow::Result<Outcome>
where
    F: Fn(Arc<Client>, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<(u16, Value)>> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS);
    let mut tasks = Vec::new();
    for c in clients {
        let (c, request, next) = (c.clone(), request.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let (mut ok, mut failed) = (0u64, 0u64);
            while Instant::now() < deadline {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let (status, _) = request(c.clone(), k).await?;
                h.record((t.elapsed().as_micros() as u64).max(1))?;
                if status == expect {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            anyhow::Ok((ok, failed, h))
        }));
    }
    let mut total = Outcome {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latency: hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    for t in tasks {
        let (ok, failed, h) = t.await??;
        total.ok += ok;
        total.failed += failed;
        total.latency.add(&h)?;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

fn print(store: &str, workload: &str, o: &Outcome) {
    let ms = |q: f64| o.latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{store:<9} {workload:<17} {:>8} ok {:>4} failed  {:>6.2} s  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        o.ok,
        o.failed,
        o.elapsed.as_secs_f64(),
        o.ok as f64 / o.elapsed.as_secs_f64(),
        ms(0.5),
        ms(0.99)
    );
}

async fn bench(store: &str, url: &str) -> anyhow::Result<()> {
    let db = wardstream_api::db::open(url).await?;
    let mut auth = AuthConfig::ephemeral();
    auth.login_limit = LoginLimiter::new(10_000);
    let app = wardstream_api::transactional_router(AppState { db, auth });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    post(
        "/v1/tenants",
        json!({"name": "Bench General", "slug": "bench", "kind": "hospital",
            "admin_email": "admin@bench.example", "admin_password": "correct horse battery"}),
    )
    .await?
    .error_for_status()?;
    let tokens: Value = serde_json::from_str(
        &post(
            "/v1/auth/login",
            json!({"tenant": "bench", "email": "admin@bench.example", "password": "correct horse battery"}),
        )
        .await?
        .error_for_status()?
        .text()
        .await?,
    )?;
    let token = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let clients: Vec<Arc<Client>> = (0..CLIENTS)
        .map(|_| {
            Arc::new(Client {
                base: base.clone(),
                http: reqwest::Client::new(),
                token: token.clone(),
            })
        })
        .collect();
    let admin = &clients[0];
    let mut providers = Vec::new();
    for i in 0..PROVIDERS {
        let (s, p) = admin
            .call(
                "POST",
                "/v1/providers",
                Some(json!({"name": format!("Dr {i}"), "specialty": "general"})),
            )
            .await?;
        anyhow::ensure!(s == 201, "provider: {s} {p}");
        providers.push(p["id"].as_str().unwrap_or_default().to_owned());
    }
    let (s, p) = admin
        .call(
            "POST",
            "/v1/patients",
            Some(
                json!({"mrn": "B-1", "family_name": "Bench", "given_names": ["Pat"],
                "gender": "unknown", "birth_date": "1970-01-01"}),
            ),
        )
        .await?;
    anyhow::ensure!(s == 201, "patient: {s} {p}");
    let patient = p["id"].as_str().unwrap_or_default().to_owned();

    let providers = Arc::new(providers);
    let booked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    // 2027-01-04T00:00:00Z, then half-hour slots.
    let origin_ms: i64 = 1_799_020_800_000;
    let o = {
        let (providers, booked) = (providers.clone(), booked.clone());
        load(&clients, 201, move |c, k| {
            let (providers, booked) = (providers.clone(), booked.clone());
            async move {
                let start = origin_ms + (k / PROVIDERS) as i64 * 1_800_000;
                let body = json!({
                    "provider_id": providers[(k % PROVIDERS) as usize],
                    "patient_id": "bench-patient",
                    "starts_at": wardstream_schemas::time::format_rfc3339(start),
                    "ends_at": wardstream_schemas::time::format_rfc3339(start + 1_800_000),
                });
                let (s, a) = c.call("POST", "/v1/appointments", Some(body)).await?;
                if let Some(id) = a["id"].as_str() {
                    booked
                        .lock()
                        .map_err(|_| anyhow::anyhow!("poisoned"))?
                        .push(id.to_owned());
                }
                Ok((s, a))
            }
        })
        .await?
    };
    print(store, "book", &o);
    let ids: Arc<Vec<String>> = Arc::new(
        booked
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .clone(),
    );
    anyhow::ensure!(!ids.is_empty(), "nothing was booked");
    let o = load(&clients, 200, move |c, k| {
        let ids = ids.clone();
        async move {
            // A spread over the booked appointments (multiplicative hash of k).
            let i = (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) % ids.len() as u64) as usize;
            c.call("GET", &format!("/v1/appointments/{}", ids[i]), None)
                .await
        }
    })
    .await?;
    print(store, "read appointment", &o);
    let o = load(&clients, 200, move |c, _| {
        let path = format!("/v1/patients/{patient}");
        async move { c.call("GET", &path, None).await }
    })
    .await?;
    print(store, "read patient", &o);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |name: &str| only.as_deref().is_none_or(|w| w == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!("{CLIENTS} clients, {SECONDS} s per workload, server and clients on the same 2 cores");
    if want("sqlite") {
        let dir = std::env::temp_dir().join(format!("wardstream-api-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("bench.db");
        let _ = std::fs::remove_file(&file);
        runtime.block_on(bench("sqlite", &format!("sqlite://{}", file.display())))?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    if want("postgres") {
        let pg = PostgresServer::start()?;
        let url = pg.create_database("bench")?;
        runtime.block_on(bench("postgres", &url))?;
    }
    Ok(())
}
