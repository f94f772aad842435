//! What the API's HTTP tests share: a client, a server on a real listener over a store, and
//! onboarding. Each test crate uses part of it.
#![allow(dead_code)]

use serde_json::{Value, json};
use wardstream_api::auth::AuthConfig;
use wardstream_api::tenants::AppState;
use wardstream_api::transactional_router as router;

pub const KEY: &[u8] = b"test key of thirty-two bytes or more!!";

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            method.parse().unwrap_or_else(|e| panic!("{e}")),
            format!("{}{path}", self.base),
        );
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap_or_else(|e| panic!("{e}"));
        let status = resp.status().as_u16();
        let problem = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes() == b"application/problem+json");
        let text = resp.text().await.unwrap_or_default();
        if status >= 400 {
            assert!(
                problem,
                "{method} {path}: {status} without problem+json: {text}"
            );
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Api {
    /// Registers an analyst in the admin's tenant `slug` and returns their access token.
    pub async fn analyst(&self, admin: &str, slug: &str) -> String {
        self.user(admin, slug, "analyst").await
    }

    /// Registers a user of `role` (`{role}@{slug}.example`, password
    /// [`USER_PASSWORD`]) in the admin's tenant `slug` and returns their access token.
    pub async fn user(&self, admin: &str, slug: &str, role: &str) -> String {
        let email = format!("{role}@{slug}.example");
        let (s, u) = self
            .call(
                "POST",
                "/v1/auth/register",
                Some(admin),
                Some(json!({"email": email, "password": USER_PASSWORD, "role": role})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let (s, t) = self
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"tenant": slug, "email": email, "password": USER_PASSWORD})),
            )
            .await;
        assert_eq!(s, 200, "{t}");
        t["access_token"].as_str().unwrap_or_default().to_owned()
    }
}

/// The password of the users [`Api::user`] registers.
pub const USER_PASSWORD: &str = "a long enough password";

/// An ICU roster from 2026-11-22: day and night shifts, 8 beds, 16 charge-qualified RNs.
pub const ICU_ROSTER: &str = r#"
name = "icu"
start = "2026-11-22"
[[shifts]]
id = "D"
start = "07:00"
hours = 12
[[shifts]]
id = "N"
start = "19:00"
hours = 12
night = true
[[units]]
name = "ICU"
kind = "icu"
beds = 8
[contracts.ft]
hours_per_week = [0, 48]
[[staff]]
prefix = "RN"
count = 16
skills = ["RN", "ICU", "charge"]
units = ["ICU"]
contract = "ft"
hourly = 7000
"#;

/// `wardstream serve` as the binary starts it, over `store`, on 127.0.0.1: with `accounts`
/// the transactional routes too, with `federation` the federated ones.
pub async fn serve_views(
    store: std::sync::Arc<wardstream_pipelines::ViewStore>,
    accounts: Option<AppState>,
    federation: Option<wardstream_api::federated::SharedFederation>,
) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(wardstream_api::serve(
        listener,
        store,
        accounts,
        federation,
        std::future::pending(),
    ));
    Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

/// Accounts on a fresh SQLite file named by `tag`.
pub async fn accounts(tag: &str) -> AppState {
    AppState {
        db: wardstream_api::db::open(&sqlite_url(tag))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        auth: AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}")),
    }
}

pub async fn serve(url: &str, auth: AuthConfig) -> Api {
    serve_with_db(url, auth).await.0
}

/// The API on `url`'s store, and the store's pool (for the outbox relay).
pub async fn serve_with_db(url: &str, auth: AuthConfig) -> (Api, wardstream_api::db::Db) {
    let db = wardstream_api::db::open(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let app = router(AppState {
        db: db.clone(),
        auth,
    });
    (serve_app(app).await, db)
}

/// `app` on a real listener on 127.0.0.1 (with the peer address, as `wardstream serve`).
pub async fn serve_app(app: axum::Router) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

pub fn sqlite_url(tag: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wardstream-api-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("ws.db");
    let _ = std::fs::remove_file(&file);
    format!("sqlite://{}", file.display())
}

pub async fn onboard(api: &Api, slug: &str) -> (String, String) {
    let (s, body) = api
        .call(
            "POST",
            "/v1/tenants",
            None,
            Some(json!({"name": format!("{slug} hospital"), "slug": slug, "kind": "hospital",
                "admin_email": format!("Admin@{slug}.example"), "admin_password": "correct horse battery"})),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let tenant = body["tenant"]["id"].as_str().unwrap_or_default().to_owned();
    let (s, tokens) = api
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"tenant": slug, "email": format!("admin@{slug}.example"), "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(s, 200, "{tokens}");
    (
        tenant,
        tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}
