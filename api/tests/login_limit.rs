//! Login attempts are limited per client address, over HTTP on a real listener: past the
//! allowance even the right password answers 429 `rate_limited` with `Retry-After`;
//! `X-Forwarded-For` does not reset it; another address has its own allowance.

use serde_json::json;
use wardstream_api::auth::{AuthConfig, LoginLimiter};
use wardstream_api::tenants::AppState;

mod common;
use common::*;

fn login(slug: &str, email: &str, password: &str) -> serde_json::Value {
    json!({"tenant": slug, "email": email, "password": password})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_limited_per_address() {
    let db = wardstream_api::db::open(&sqlite_url("login-limit"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut auth = AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"));
    auth.login_limit = LoginLimiter::new(3);
    let api = serve_app(wardstream_api::transactional_router(AppState { db, auth })).await;
    // Onboarding logs the admin in: the first attempt from 127.0.0.1.
    onboard(&api, "limit-a").await;
    let right = login("limit-a", "admin@limit-a.example", "correct horse battery");
    // Two guesses at other accounts: wrong, but allowed.
    for who in ["nurse@limit-a.example", "clerk@limit-a.example"] {
        let (s, p) = api
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(login("limit-a", who, "guess guess guess")),
            )
            .await;
        assert_eq!((s, p["code"].as_str()), (401, Some("unauthorized")), "{p}");
    }
    // The fourth attempt, even with the right password.
    let (s, p) = api
        .call("POST", "/v1/auth/login", None, Some(right.clone()))
        .await;
    assert_eq!((s, p["code"].as_str()), (429, Some("rate_limited")), "{p}");
    let wait = p["retry_after_seconds"].as_u64().unwrap_or_default();
    assert!((1..=20).contains(&wait), "one attempt every 20 s: {p}");
    // A forged X-Forwarded-For does not make another address.
    let resp = api
        .http
        .post(format!("{}/v1/auth/login", api.base))
        .header("x-forwarded-for", "203.0.113.9")
        .header("content-type", "application/json")
        .body(right.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    // Another address (127.0.0.2 is loopback too) has its own allowance.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let resp = other
        .post(format!("{}/v1/auth/login", api.base))
        .header("content-type", "application/json")
        .body(right.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 200);
}
