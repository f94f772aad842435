//! Tenants and auth over HTTP on a real listener, each scenario on a SQLite file and on a
//! private PostgreSQL server: onboarding, validation, login, `/auth/me`, settings, roles,
//! cross-tenant isolation (404, never 403), refresh rotation with reuse detection, logout,
//! expiry and lockout; providers and appointments: no overlapping bookings (also N at once),
//! the life cycle, roles and tenant isolation.

use serde_json::{Value, json};
use std::time::Duration;
use wardstream_api::auth::{AuthConfig, Claims, Role};
use wardstream_api::outbox;
use wardstream_pipelines::{LiveInput, ViewStore};
use wardstream_schemas::{AppointmentStatus, ChargeStatus, Event};
use wardstream_tests::postgres::PostgresServer;

mod common;
use common::*;

async fn tenants_and_auth(url: &str) {
    let api = serve(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;

    // Validation lists every bad field; a taken slug is a conflict.
    let (s, p) = api
        .call("POST", "/v1/tenants", None, Some(json!({"name": "", "slug": "A b", "kind": "clinic", "admin_email": "nope", "admin_password": "short"})))
        .await;
    assert_eq!((s, p["code"].as_str()), (422, Some("validation_failed")));
    let mut fields: Vec<&str> = p["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.sort();
    assert_eq!(fields, ["admin_email", "admin_password", "name", "slug"]);
    let (s, p) = api
        .call("POST", "/v1/tenants", None, Some(json!({"name": "x"})))
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (422, Some("validation_failed")),
        "{p}"
    );

    let (a, a_token) = onboard(&api, "st-agnes").await;
    let (b, b_token) = onboard(&api, "st-bart").await;
    let (s, p) = api
        .call("POST", "/v1/tenants", None, Some(json!({"name": "again", "slug": "st-agnes", "kind": "clinic", "admin_email": "x@y.example", "admin_password": "correct horse battery"})))
        .await;
    assert_eq!((s, p["code"].as_str()), (409, Some("conflict")));

    // Me, the tenant, settings.
    let (s, me) = api.call("GET", "/v1/auth/me", Some(&a_token), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            me["tenant_id"].as_str(),
            me["role"].as_str(),
            me["email"].as_str()
        ),
        (
            Some(a.as_str()),
            Some("admin"),
            Some("admin@st-agnes.example")
        )
    );
    let (s, t) = api
        .call("GET", &format!("/v1/tenants/{a}"), Some(&a_token), None)
        .await;
    assert_eq!(
        (s, t["slug"].as_str(), t["kind"].as_str()),
        (200, Some("st-agnes"), Some("hospital"))
    );
    let (s, _) = api
        .call(
            "PUT",
            &format!("/v1/tenants/{a}/settings/timezone"),
            Some(&a_token),
            Some(json!("Europe/London")),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "PUT",
            &format!("/v1/tenants/{a}/settings/beds"),
            Some(&a_token),
            Some(json!({"ICU": 12})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .call(
            "PUT",
            &format!("/v1/tenants/{a}/settings/timezone"),
            Some(&a_token),
            Some(json!("UTC")),
        )
        .await;
    assert_eq!(s, 200);
    let (_, settings) = api
        .call(
            "GET",
            &format!("/v1/tenants/{a}/settings"),
            Some(&a_token),
            None,
        )
        .await;
    assert_eq!(settings, json!({"beds": {"ICU": 12}, "timezone": "UTC"}));

    // Tenant B cannot see or change A: 404, the same as for an id that does not exist.
    for (method, path, body) in [
        ("GET", format!("/v1/tenants/{a}"), None),
        ("GET", format!("/v1/tenants/{a}/settings"), None),
        (
            "PUT",
            format!("/v1/tenants/{a}/settings/timezone"),
            Some(json!("Asia/Tokyo")),
        ),
    ] {
        let (s, p) = api.call(method, &path, Some(&b_token), body).await;
        assert_eq!(
            (s, p["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    let (s, _) = api
        .call("GET", "/v1/tenants/no-such-id", Some(&b_token), None)
        .await;
    assert_eq!(s, 404);
    let (_, settings) = api
        .call(
            "GET",
            &format!("/v1/tenants/{a}/settings"),
            Some(&a_token),
            None,
        )
        .await;
    assert_eq!(settings["timezone"], "UTC", "B changed A's settings");
    let (s, _) = api
        .call("GET", &format!("/v1/tenants/{b}"), Some(&b_token), None)
        .await;
    assert_eq!(s, 200);

    // Roles: an analyst may read their tenant but not manage it.
    let (s, u) = api
        .call("POST", "/v1/auth/register", Some(&a_token), Some(json!({"email": "ana@st-agnes.example", "password": "analysts like sql", "role": "analyst"})))
        .await;
    assert_eq!((s, u["role"].as_str()), (201, Some("analyst")));
    let (s, p) = api
        .call("POST", "/v1/auth/register", Some(&a_token), Some(json!({"email": "ANA@st-agnes.example", "password": "analysts like sql", "role": "billing"})))
        .await;
    assert_eq!((s, p["code"].as_str()), (409, Some("conflict")));
    let (s, tokens) = api
        .call("POST", "/v1/auth/login", None, Some(json!({"tenant": "st-agnes", "email": "ana@st-agnes.example", "password": "analysts like sql"})))
        .await;
    assert_eq!(s, 200);
    let ana = tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (s, _) = api
        .call("GET", &format!("/v1/tenants/{a}"), Some(&ana), None)
        .await;
    assert_eq!(s, 200);
    let (s, p) = api
        .call(
            "PUT",
            &format!("/v1/tenants/{a}/settings/timezone"),
            Some(&ana),
            Some(json!("x")),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = api
        .call("POST", "/v1/auth/register", Some(&ana), Some(json!({"email": "eve@st-agnes.example", "password": "analysts like sql", "role": "admin"})))
        .await;
    assert_eq!(s, 403);
    // The same email in another tenant is another user.
    let (s, _) = api
        .call("POST", "/v1/auth/register", Some(&b_token), Some(json!({"email": "ana@st-agnes.example", "password": "a different password", "role": "clinician"})))
        .await;
    assert_eq!(s, 201);

    // No token, a forged token, an expired token.
    let (s, _) = api.call("GET", "/v1/auth/me", None, None).await;
    assert_eq!(s, 401);
    let forged = AuthConfig::new(b"another key of thirty-two bytes or more")
        .unwrap_or_else(|e| panic!("{e}"));
    let token = wardstream_api::auth::access_token(&forged, "u", &a, Role::Admin);
    let (s, _) = api
        .call("GET", &format!("/v1/tenants/{a}"), Some(&token), None)
        .await;
    assert_eq!(s, 401);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &Claims {
            sub: me["id"].as_str().unwrap_or_default().into(),
            tid: a.clone(),
            role: Role::Admin,
            iat: now - 1000,
            exp: now - 100,
        },
        &jsonwebtoken::EncodingKey::from_secret(KEY),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (s, p) = api.call("GET", "/v1/auth/me", Some(&expired), None).await;
    assert_eq!(s, 401);
    assert!(
        p["detail"].as_str().unwrap_or_default().contains("expired"),
        "{p}"
    );
}

async fn refresh_and_lockout(url: &str) {
    let mut auth = AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"));
    auth.max_failed_logins = 3;
    auth.lockout = Duration::from_secs(60);
    let api = serve(url, auth).await;
    onboard(&api, "st-cuth").await;
    let login = json!({"tenant": "st-cuth", "email": "admin@st-cuth.example", "password": "correct horse battery"});
    let (_, first) = api
        .call("POST", "/v1/auth/login", None, Some(login.clone()))
        .await;
    let r1 = first["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Rotation: each refresh token works once and yields a working pair.
    let (s, second) = api
        .call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await;
    assert_eq!(s, 200, "{second}");
    let r2 = second["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(r1, r2);
    let (s, _) = api
        .call("GET", "/v1/auth/me", second["access_token"].as_str(), None)
        .await;
    assert_eq!(s, 200);
    // Reusing r1 (a stolen copy) fails and ends the family: r2 stops working too.
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await;
    assert_eq!(s, 401);
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r2})),
        )
        .await;
    assert_eq!(s, 401, "the family survived a reuse");
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": "00"})),
        )
        .await;
    assert_eq!(s, 401);

    // Logout revokes.
    let (_, third) = api
        .call("POST", "/v1/auth/login", None, Some(login.clone()))
        .await;
    let r3 = third["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/logout",
            None,
            Some(json!({"refresh_token": r3})),
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = api
        .call(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": r3})),
        )
        .await;
    assert_eq!(s, 401);

    // Lockout: the third wrong password locks; then even the right one is refused.
    let wrong = json!({"tenant": "st-cuth", "email": "admin@st-cuth.example", "password": "wrong horse battery"});
    for expect in [401, 401, 429] {
        let (s, p) = api
            .call("POST", "/v1/auth/login", None, Some(wrong.clone()))
            .await;
        assert_eq!(s, expect, "{p}");
    }
    let (s, p) = api.call("POST", "/v1/auth/login", None, Some(login)).await;
    assert_eq!((s, p["code"].as_str()), (429, Some("account_locked")));
    assert!(
        p["retry_after_seconds"]
            .as_u64()
            .is_some_and(|r| r > 0 && r <= 60),
        "{p}"
    );
    // Unknown users and tenants get the same answer as a wrong password.
    let (s, p) = api
        .call("POST", "/v1/auth/login", None, Some(json!({"tenant": "nowhere", "email": "a@b.example", "password": "correct horse battery"})))
        .await;
    assert_eq!(
        (s, p["detail"].as_str()),
        (401, Some("unknown tenant, email or password"))
    );
}

async fn scheduling(url: &str) {
    let api = serve(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;
    let (_, admin) = onboard(&api, "st-dunstan").await;
    let (_, other) = onboard(&api, "st-elmo").await;
    let (s, p) = api
        .call(
            "POST",
            "/v1/providers",
            Some(&admin),
            Some(json!({"name": "Dr Osler", "specialty": "cardiology"})),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let provider = p["id"].as_str().unwrap_or_default().to_owned();
    let slot = |start: &str, end: &str| json!({"provider_id": provider, "patient_id": "p-1", "starts_at": start, "ends_at": end});

    // N bookings of one slot at once: exactly one wins, the rest are told the slot is taken.
    let n = 64;
    // Warm n keep-alive connections, then release the n bookings together.
    let mut warm = Vec::new();
    for _ in 0..n {
        let (api, admin) = (api.clone(), admin.clone());
        warm.push(tokio::spawn(async move {
            api.call("GET", "/v1/providers", Some(&admin), None).await
        }));
    }
    for h in warm {
        h.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut handles = Vec::new();
    for _ in 0..n {
        let barrier = barrier.clone();
        let (api, admin, body) = (
            api.clone(),
            admin.clone(),
            slot("2026-12-01T09:00:00Z", "2026-12-01T09:30:00Z"),
        );
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            api.call("POST", "/v1/appointments", Some(&admin), Some(body))
                .await
        }));
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let won: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    let lost = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "slot_taken")
        .count();
    assert_eq!((won.len(), lost), (1, n - 1), "{results:?}");
    let booked = won[0]["id"].as_str().unwrap_or_default().to_owned();

    // Overlaps are refused, back-to-back is not; a cancelled slot is free again.
    let (s, _) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(slot("2026-12-01T09:29:00Z", "2026-12-01T10:00:00Z")),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(slot("2026-12-01T08:00:00Z", "2026-12-01T11:00:00Z")),
        )
        .await;
    assert_eq!(s, 409, "an appointment inside a longer one");
    let (s, next) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(slot("2026-12-01T09:30:00Z", "2026-12-01T10:00:00Z")),
        )
        .await;
    assert_eq!(s, 201, "{next}");
    let (s, p) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(slot("2026-12-01T10:00:00Z", "2026-12-01T09:00:00Z")),
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("ends_at"))
    );

    // Life cycle.
    let (s, a) = api
        .call(
            "POST",
            &format!("/v1/appointments/{booked}/check-in"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("checked_in")));
    let (s, p) = api
        .call(
            "POST",
            &format!("/v1/appointments/{booked}/no-show"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (409, Some("invalid_transition")));
    let (s, a) = api
        .call(
            "POST",
            &format!("/v1/appointments/{booked}/cancel"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("cancelled")));
    let (s, _) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(slot("2026-12-01T09:00:00Z", "2026-12-01T09:30:00Z")),
        )
        .await;
    assert_eq!(s, 201, "the cancelled slot is not free");
    let (_, got) = api
        .call(
            "GET",
            &format!("/v1/appointments/{booked}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (got["status"].as_str(), got["starts_at"].as_str()),
        (Some("cancelled"), Some("2026-12-01T09:00:00Z"))
    );

    // Another tenant sees none of it and cannot book this provider.
    let (s, _) = api
        .call(
            "GET",
            &format!("/v1/appointments/{booked}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(
            "POST",
            &format!("/v1/appointments/{booked}/cancel"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&other),
            Some(slot("2026-12-02T09:00:00Z", "2026-12-02T09:30:00Z")),
        )
        .await;
    assert_eq!(s, 404);
    let (_, list) = api.call("GET", "/v1/providers", Some(&other), None).await;
    assert_eq!(list, json!([]));

    // Reschedule: under the same overlap rule (its own old slot does not count).
    let mut moved = Vec::new();
    for (start, end) in [
        ("2026-12-05T09:00:00Z", "2026-12-05T09:30:00Z"),
        ("2026-12-05T10:00:00Z", "2026-12-05T10:30:00Z"),
    ] {
        let (s, a) = api
            .call(
                "POST",
                "/v1/appointments",
                Some(&admin),
                Some(slot(start, end)),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        moved.push(a["id"].as_str().unwrap_or_default().to_owned());
    }
    let to = |start: &str, end: &str| json!({"starts_at": start, "ends_at": end});
    let path = |id: &str| format!("/v1/appointments/{id}/reschedule");
    let (s, p) = api
        .call(
            "POST",
            &path(&moved[1]),
            Some(&admin),
            Some(to("2026-12-05T09:15:00Z", "2026-12-05T09:45:00Z")),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (409, Some("slot_taken")), "{p}");
    let (s, p) = api
        .call(
            "POST",
            &path(&moved[0]),
            Some(&admin),
            Some(to("2026-12-05T09:10:00Z", "2026-12-05T09:40:00Z")),
        )
        .await;
    assert_eq!(
        (s, p["starts_at"].as_str(), p["status"].as_str()),
        (200, Some("2026-12-05T09:10:00Z"), Some("booked")),
        "{p}"
    );
    let (s, p) = api
        .call(
            "POST",
            &path(&moved[1]),
            Some(&admin),
            Some(json!({"starts_at": "soon"})),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    let (s, _) = api
        .call(
            "POST",
            &path(&moved[1]),
            Some(&other),
            Some(to("2026-12-05T12:00:00Z", "2026-12-05T12:30:00Z")),
        )
        .await;
    assert_eq!(s, 404, "another tenant's appointment");
    let (s, _) = api
        .call(
            "POST",
            &format!("/v1/appointments/{}/check-in", moved[1]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, p) = api
        .call(
            "POST",
            &path(&moved[1]),
            Some(&admin),
            Some(to("2026-12-05T12:00:00Z", "2026-12-05T12:30:00Z")),
        )
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "{p}"
    );

    // Roles: an analyst may not book.
    let analyst = api.analyst(&admin, "st-dunstan").await;
    let (s, _) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&analyst),
            Some(slot("2026-12-03T09:00:00Z", "2026-12-03T09:30:00Z")),
        )
        .await;
    assert_eq!(s, 403);
}

async fn patients(url: &str) {
    let api = serve(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;
    let (_, admin) = onboard(&api, "st-fiacre").await;
    let (_, other) = onboard(&api, "st-gall").await;
    let florence = json!({"mrn": "MRN-0001", "family_name": "Nightingale", "given_names": ["Florence"],
        "gender": "female", "birth_date": "1820-05-12", "phone": "+44 20 7946 0000"});
    let (s, p) = api
        .call("POST", "/v1/patients", Some(&admin), Some(florence.clone()))
        .await;
    assert_eq!((s, p["active"].as_bool()), (201, Some(true)), "{p}");
    let id = p["id"].as_str().unwrap_or_default().to_owned();
    let (s, p) = api
        .call("POST", "/v1/patients", Some(&admin), Some(florence.clone()))
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("conflict")),
        "a second MRN-0001"
    );
    let (s, p) = api
        .call("POST", "/v1/patients", Some(&admin), Some(json!({"mrn": "", "family_name": "X", "given_names": [], "gender": "f", "birth_date": "1990-02-30"})))
        .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(
        (s, fields),
        (422, vec!["mrn", "given_names", "gender", "birth_date"])
    );

    // Update, then read it back as FHIR.
    let mut changed = florence.clone();
    changed["email"] = json!("florence@example.org");
    let (s, p) = api
        .call(
            "PUT",
            &format!("/v1/patients/{id}"),
            Some(&admin),
            Some(changed),
        )
        .await;
    assert_eq!(
        (s, p["email"].as_str()),
        (200, Some("florence@example.org"))
    );
    let (s, r) = api
        .call("GET", &format!("/fhir/Patient/{id}"), Some(&admin), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (r["resourceType"].as_str(), r["birthDate"].as_str()),
        (Some("Patient"), Some("1820-05-12"))
    );
    assert_eq!(r["identifier"][0]["value"], "MRN-0001");
    assert_eq!(
        r["telecom"],
        json!([{"system": "phone", "value": "+44 20 7946 0000"}, {"system": "email", "value": "florence@example.org"}])
    );

    // FHIR create: the resource is stored and readable both ways.
    let mary = json!({"resourceType": "Patient", "identifier": [{"system": "urn:wardstream:mrn", "value": "MRN-0002"}],
        "name": [{"use": "official", "family": "Seacole", "given": ["Mary", "Jane"]}], "gender": "female", "birthDate": "1805-11-23"});
    let (s, r) = api
        .call("POST", "/fhir/Patient", Some(&admin), Some(mary))
        .await;
    assert_eq!(s, 201, "{r}");
    let (_, p) = api
        .call(
            "GET",
            &format!("/v1/patients/{}", r["id"].as_str().unwrap_or_default()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(p["given_names"], json!(["Mary", "Jane"]));
    let (s, p) = api
        .call(
            "POST",
            "/fhir/Patient",
            Some(&admin),
            Some(json!({"resourceType": "Patient"})),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (422, Some("validation_failed")));

    // Other tenants see nothing; analysts read nothing; deactivation keeps the record.
    for (method, path) in [
        ("GET", format!("/v1/patients/{id}")),
        ("GET", format!("/fhir/Patient/{id}")),
        ("DELETE", format!("/v1/patients/{id}")),
    ] {
        let (s, _) = api.call(method, &path, Some(&other), None).await;
        assert_eq!(s, 404, "{method} {path}");
    }
    let (s, _) = api
        .call(
            "PUT",
            &format!("/v1/patients/{id}"),
            Some(&other),
            Some(florence),
        )
        .await;
    assert_eq!(s, 404);
    let analyst = api.analyst(&admin, "st-fiacre").await;
    let (s, _) = api
        .call("GET", &format!("/v1/patients/{id}"), Some(&analyst), None)
        .await;
    assert_eq!(s, 403);
    let (s, _) = api
        .call("DELETE", &format!("/v1/patients/{id}"), Some(&admin), None)
        .await;
    assert_eq!(s, 204);
    let (_, p) = api
        .call("GET", &format!("/v1/patients/{id}"), Some(&admin), None)
        .await;
    assert_eq!(p["active"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patients_on_sqlite() {
    patients(&sqlite_url("patients")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_on_sqlite() {
    scheduling(&sqlite_url("scheduling")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_auth_on_sqlite() {
    tenants_and_auth(&sqlite_url("tenants")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_lockout_on_sqlite() {
    refresh_and_lockout(&sqlite_url("refresh")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_on_postgres() {
    let pg = PostgresServer::start().unwrap_or_else(|e| panic!("{e}"));
    let db = |name: &str| pg.create_database(name).unwrap_or_else(|e| panic!("{e}"));
    tenants_and_auth(&db("tenants")).await;
    refresh_and_lockout(&db("refresh")).await;
    scheduling(&db("scheduling")).await;
    patients(&db("patients")).await;
    billing_and_outbox(&db("billing")).await;
    audit_trail(&db("audit")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_on_sqlite() {
    audit_trail(&sqlite_url("audit")).await;
}

/// Every read and change of a patient record is in the tenant's chain, newest first, from
/// where it came; `verify` finds an altered entry and entries cut from the end.
async fn audit_trail(url: &str) {
    use wardstream_api::audit;
    let (api, db) =
        serve_with_db(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;
    let (tenant_a, admin_a) = onboard(&api, "audit-a").await;
    let (tenant_b, admin_b) = onboard(&api, "audit-b").await;
    let patient = json!({"mrn": "MRN-7", "family_name": "Snow", "given_names": ["John"],
        "gender": "male", "birth_date": "1813-03-15"});
    let (s, p) = api
        .call(
            "POST",
            "/v1/patients",
            Some(&admin_a),
            Some(patient.clone()),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let id = p["id"].as_str().unwrap_or_default().to_owned();
    let mut changed = patient.clone();
    changed["phone"] = json!("+44 20 7946 0001");
    for (method, path, body, want) in [
        ("GET", format!("/v1/patients/{id}"), None, 200),
        ("PUT", format!("/v1/patients/{id}"), Some(changed), 200),
        ("GET", format!("/fhir/Patient/{id}"), None, 200),
        ("DELETE", format!("/v1/patients/{id}"), None, 204),
    ] {
        let (s, p) = api.call(method, &path, Some(&admin_a), body).await;
        assert_eq!(s, want, "{method} {path}: {p}");
    }
    // Another tenant's attempt finds nothing, and reads nothing into anyone's trail.
    let (s, _) = api
        .call("GET", &format!("/v1/patients/{id}"), Some(&admin_b), None)
        .await;
    assert_eq!(s, 404);
    let (s, trail) = api
        .call(
            "GET",
            &format!("/v1/audit?resource_id={id}"),
            Some(&admin_a),
            None,
        )
        .await;
    assert_eq!(s, 200, "{trail}");
    let entries: Vec<(i64, &str, &str)> = trail
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap_or(-1),
                e["action"].as_str().unwrap_or_default(),
                e["client"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (5, "deactivate", "127.0.0.1"),
            (4, "read", "127.0.0.1"),
            (3, "update", "127.0.0.1"),
            (2, "read", "127.0.0.1"),
            (1, "create", "127.0.0.1"),
        ]
    );
    // A forwarded-for claim is kept beside the real peer, never instead of it.
    let forwarded = reqwest::Client::new()
        .get(format!("{}/v1/patients/{id}", api.base))
        .bearer_auth(&admin_a)
        .header("x-forwarded-for", "10.1.2.3, 10.0.0.1")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forwarded, 200);
    let (_, newest) = api
        .call("GET", "/v1/audit?limit=1", Some(&admin_a), None)
        .await;
    assert_eq!(newest[0]["client"], "127.0.0.1 for 10.1.2.3", "{newest}");
    let (s, none) = api.call("GET", "/v1/audit", Some(&admin_b), None).await;
    assert_eq!((s, none), (200, json!([])), "tenant B's trail is its own");
    let analyst = api.analyst(&admin_a, "audit-a").await;
    assert_eq!(
        api.call("GET", "/v1/audit", Some(&analyst), None).await.0,
        403
    );

    // B gets a chain of its own: one patient, created and read.
    let (_, pb) = api
        .call("POST", "/v1/patients", Some(&admin_b), Some(patient))
        .await;
    let pb = pb["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        api.call("GET", &format!("/v1/patients/{pb}"), Some(&admin_b), None)
            .await
            .0,
        200
    );
    let verify = |db: wardstream_api::db::Db| async move {
        let mut reports = audit::verify(&db).await.unwrap_or_else(|e| panic!("{e}"));
        reports.sort_by(|a, b| a.tenant_id.cmp(&b.tenant_id));
        reports
    };
    let intact = verify(db.clone()).await;
    assert!(intact.iter().all(|r| r.broken.is_none()), "{intact:?}");
    let count = |t: &str| intact.iter().find(|r| r.tenant_id == t).map(|r| r.entries);
    assert_eq!((count(&tenant_a), count(&tenant_b)), (Some(6), Some(2)));

    // Someone edits where entry 2 of A came from; someone removes B's last entry.
    let exec = |sql: &'static str, tenant: String| {
        let db = db.clone();
        async move {
            sqlx::query(sql)
                .bind(tenant)
                .execute(&db)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    };
    exec(
        "UPDATE audit_log SET client = '10.9.8.7' WHERE tenant_id = $1 AND seq = 2",
        tenant_a.clone(),
    )
    .await;
    exec(
        "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 2",
        tenant_b.clone(),
    )
    .await;
    let reports = verify(db.clone()).await;
    let broken = |t: &str| {
        reports
            .iter()
            .find(|r| r.tenant_id == t)
            .and_then(|r| r.broken.clone())
            .unwrap_or_default()
    };
    assert!(
        broken(&tenant_a).contains("entry 2 was altered"),
        "{reports:?}"
    );
    assert!(
        broken(&tenant_b).contains("removed from the end"),
        "{reports:?}"
    );
    // Putting the value back makes A's chain whole again: the check is on content.
    exec(
        "UPDATE audit_log SET client = '127.0.0.1' WHERE tenant_id = $1 AND seq = 2",
        tenant_a.clone(),
    )
    .await;
    exec(
        "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 3",
        tenant_a.clone(),
    )
    .await;
    // Removing B's head does not hide B's chain.
    exec(
        "DELETE FROM audit_heads WHERE tenant_id = $1",
        tenant_b.clone(),
    )
    .await;
    let reports = verify(db).await;
    let broken = |t: &str| {
        reports
            .iter()
            .find(|r| r.tenant_id == t)
            .and_then(|r| r.broken.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        broken(&tenant_a),
        "entry 4 follows entry 2: entries are missing"
    );
    assert!(broken(&tenant_b).contains("head is missing"), "{reports:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_and_outbox_on_sqlite() {
    billing_and_outbox(&sqlite_url("billing")).await;
}

/// Drains the outbox once into a fresh live input; returns the events handed over.
async fn relay(db: &wardstream_api::db::Db) -> Vec<Event> {
    let live = std::sync::Arc::new(LiveInput::new());
    let store = std::sync::Arc::new(ViewStore::new());
    let destination = outbox::Destination::Engine {
        live: live.clone(),
        store,
    };
    let pass = outbox::relay_once(db, &destination)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pass.dead_lettered, 0);
    let events = live.take(0, usize::MAX);
    assert_eq!(events.len(), pass.published);
    events
}

fn charges(events: &[Event]) -> Vec<(String, String, i64, ChargeStatus)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Charge(c) => Some((
                c.charge_id.clone(),
                c.code.clone(),
                c.amount_minor,
                c.status,
            )),
            _ => None,
        })
        .collect()
}

/// Invoices: validation with field paths, the status table, roles, other tenants' 404s; and
/// the outbox: exactly the events each change committed, once.
async fn billing_and_outbox(url: &str) {
    let (api, db) =
        serve_with_db(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;
    let (tenant, admin) = onboard(&api, "billing-a").await;
    let (_, other) = onboard(&api, "billing-b").await;
    assert!(
        relay(&db).await.is_empty(),
        "onboarding is not a stream event"
    );

    let (s, bad) = api
        .call(
            "POST",
            "/v1/invoices",
            Some(&admin),
            Some(json!({"encounter_id": "", "currency": "US", "lines": [
                {"code_system": "hcpcs", "code": "99213", "diagnoses": ["E11.9"], "amount_minor": 12500},
                {"code_system": "hcpcs", "code": "ABCDE", "diagnoses": ["E11.9", "not-icd"], "amount_minor": -5}
            ]})),
        )
        .await;
    assert_eq!(s, 422, "{bad}");
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        [
            "encounter_id",
            "currency",
            "lines[1].code",
            "lines[1].diagnoses[1]",
            "lines[1].amount_minor"
        ]
    );

    let invoice = json!({"encounter_id": "enc-1", "patient_id": "p-1", "care_unit": "MICU", "currency": "USD", "lines": [
        {"code_system": "ms_drg", "code": "871", "diagnoses": ["A41.9"], "description": "Sepsis w MCC", "amount_minor": 1203400},
        {"code_system": "hcpcs", "code": "99223", "diagnoses": ["A41.9", "R65.20"], "amount_minor": 28000}
    ]});
    let (s, inv) = api
        .call("POST", "/v1/invoices", Some(&admin), Some(invoice.clone()))
        .await;
    assert_eq!(s, 201, "{inv}");
    assert_eq!(inv["status"], "draft");
    assert_eq!(inv["total_minor"], 1_231_400);
    let id = inv["id"].as_str().unwrap_or_default().to_owned();
    let (s, got) = api
        .call("GET", &format!("/v1/invoices/{id}"), Some(&admin), None)
        .await;
    assert_eq!((s, &got), (200, &inv));
    assert!(relay(&db).await.is_empty(), "a draft posts nothing");

    // Another tenant sees nothing and can do nothing; an analyst may not bill.
    for (method, path) in [
        ("GET", format!("/v1/invoices/{id}")),
        ("POST", format!("/v1/invoices/{id}/issue")),
    ] {
        let (s, p) = api.call(method, &path, Some(&other), None).await;
        assert_eq!(s, 404, "{method} {path}: {p}");
    }
    let analyst = api.analyst(&admin, "billing-a").await;
    let (s, _) = api
        .call("GET", &format!("/v1/invoices/{id}"), Some(&analyst), None)
        .await;
    assert_eq!(s, 403);

    let act = |id: String, action: &'static str| {
        let (api, admin) = (api.clone(), admin.clone());
        async move {
            api.call(
                "POST",
                &format!("/v1/invoices/{id}/{action}"),
                Some(&admin),
                None,
            )
            .await
        }
    };
    let (s, p) = act(id.clone(), "pay").await;
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("invalid_transition")),
        "{p}"
    );
    let (s, p) = act(id.clone(), "issue").await;
    assert_eq!((s, p["status"].as_str()), (200, Some("issued")), "{p}");
    let issued = relay(&db).await;
    assert_eq!(
        charges(&issued),
        [
            (
                format!("{id}-0"),
                "871".to_owned(),
                1_203_400,
                ChargeStatus::Posted
            ),
            (
                format!("{id}-1"),
                "99223".to_owned(),
                28_000,
                ChargeStatus::Posted
            ),
        ]
    );
    assert!(issued.iter().all(|e| e.tenant_id() == tenant));
    assert!(relay(&db).await.is_empty(), "published once");
    let (s, _) = act(id.clone(), "issue").await;
    assert_eq!(s, 409);
    let (s, p) = act(id.clone(), "void").await;
    assert_eq!((s, p["status"].as_str()), (200, Some("void")), "{p}");
    let voided = charges(&relay(&db).await);
    assert_eq!(voided.len(), 2);
    assert!(
        voided.iter().all(|c| c.3 == ChargeStatus::Voided),
        "{voided:?}"
    );

    // issued -> paid; a paid invoice cannot be voided; a voided draft posts nothing.
    let (_, second) = api
        .call("POST", "/v1/invoices", Some(&admin), Some(invoice.clone()))
        .await;
    let second = second["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(act(second.clone(), "issue").await.0, 200);
    assert_eq!(act(second.clone(), "pay").await.1["status"], "paid");
    assert_eq!(act(second.clone(), "void").await.0, 409);
    assert_eq!(charges(&relay(&db).await).len(), 2);
    let (_, third) = api
        .call("POST", "/v1/invoices", Some(&admin), Some(invoice))
        .await;
    let third = third["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(act(third, "void").await.1["status"], "void");
    assert!(relay(&db).await.is_empty());

    // A booking and its no-show: two appointment events, in order, with the provider's clinic.
    let (s, p) = api
        .call(
            "POST",
            "/v1/providers",
            Some(&admin),
            Some(json!({"name": "Dr Apgar", "specialty": "obstetrics", "clinic": "north"})),
        )
        .await;
    assert_eq!((s, p["clinic"].as_str()), (201, Some("north")), "{p}");
    let provider = p["id"].as_str().unwrap_or_default().to_owned();
    let (s, a) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(json!({"provider_id": provider, "patient_id": "p-9",
            "starts_at": "2030-01-02T09:00:00Z", "ends_at": "2030-01-02T09:20:00Z"})),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let appt = a["id"].as_str().unwrap_or_default().to_owned();
    let (s, _) = api
        .call(
            "POST",
            &format!("/v1/appointments/{appt}/no-show"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let events = relay(&db).await;
    let statuses: Vec<(AppointmentStatus, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Appointment(a) if a.appointment_id == appt => {
                Some((a.status, a.clinic.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (AppointmentStatus::Booked, "north"),
            (AppointmentStatus::NoShow, "north")
        ]
    );
}

/// Runs `sql` over the store's current views and returns the rows as JSON objects.
async fn rows(store: &ViewStore, sql: &str) -> Vec<Value> {
    let snapshot = store.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let batches = wardstream_pipelines::sql::query(&snapshot, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let body = wardstream_api::encode_json(&batches).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `sql` until it answers `want` or 20 s pass (the engine and the relay run on their
/// own clocks; there is nothing to subscribe to).
async fn eventually(store: &ViewStore, sql: &str, want: Value) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = Value::Array(rows(store, sql).await);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{sql}: got {got}, want {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A two-worker engine with no source but a live input, on its own thread.
struct Engine {
    store: std::sync::Arc<ViewStore>,
    live: std::sync::Arc<LiveInput>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<wardstream_pipelines::Result<wardstream_pipelines::RunSummary>>,
}

impl Engine {
    fn start() -> Engine {
        use std::sync::Arc;
        let store = Arc::new(ViewStore::new());
        let live = Arc::new(LiveInput::new());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let config = wardstream_pipelines::EngineConfig {
            workers: 2,
            live: Some(live.clone()),
            ..Default::default()
        };
        let (s, halt) = (store.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let source = wardstream_pipelines::records_source(Arc::new(Vec::new()));
            wardstream_pipelines::run(&config, source, Vec::new(), s, halt)
        });
        Engine {
            store,
            live,
            stop,
            thread,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_writes_reach_the_views() {
    use std::sync::atomic::Ordering;
    // A running engine with no source but the API's outbox relay.
    let Engine {
        store,
        live,
        stop,
        thread: engine,
    } = Engine::start();
    let (api, db) = serve_with_db(
        &sqlite_url("e2e"),
        AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let relay = outbox::spawn_relay(
        db.clone(),
        outbox::Destination::Engine {
            live: live.clone(),
            store: store.clone(),
        },
    );
    let (tenant, admin) = onboard(&api, "e2e").await;

    let (_, p) = api
        .call(
            "POST",
            "/v1/providers",
            Some(&admin),
            Some(json!({"name": "Dr Lind", "specialty": "general", "clinic": "east"})),
        )
        .await;
    let provider = p["id"].as_str().unwrap_or_default().to_owned();
    let mut ids = Vec::new();
    for (start, end) in [
        ("2030-01-02T09:00:00Z", "2030-01-02T09:20:00Z"),
        ("2030-01-02T10:00:00Z", "2030-01-02T10:20:00Z"),
        ("2020-01-02T10:00:00Z", "2020-01-02T10:20:00Z"),
    ] {
        let (s, a) = api
            .call("POST", "/v1/appointments", Some(&admin), Some(json!({"provider_id": provider, "patient_id": "p-1", "starts_at": start, "ends_at": end})))
            .await;
        assert_eq!(s, 201, "{a}");
        ids.push(a["id"].as_str().unwrap_or_default().to_owned());
    }
    for (id, actions) in [
        (&ids[0], &["no-show"][..]),
        (&ids[1], &["check-in", "complete"][..]),
    ] {
        for action in actions {
            let (s, p) = api
                .call(
                    "POST",
                    &format!("/v1/appointments/{id}/{action}"),
                    Some(&admin),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{p}");
        }
    }
    let (_, inv) = api
        .call("POST", "/v1/invoices", Some(&admin), Some(json!({"encounter_id": "enc-7", "care_unit": "ED", "currency": "USD",
            "lines": [{"code_system": "hcpcs", "code": "99285", "diagnoses": ["R07.9"], "amount_minor": 54321}]})))
        .await;
    let invoice = inv["id"].as_str().unwrap_or_default().to_owned();
    let (s, _) = api
        .call(
            "POST",
            &format!("/v1/invoices/{invoice}/issue"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);

    // The 2030 day of clinic east: two booked, one attended, one no-show.
    eventually(
        &store,
        &format!("SELECT booked, attended, no_shows FROM no_show WHERE tenant_id = '{tenant}' AND clinic = 'east' AND day = TIMESTAMP '2030-01-02T00:00:00Z'"),
        json!([{"booked": 2, "attended": 1, "no_shows": 1}]),
    )
    .await;
    eventually(
        &store,
        &format!("SELECT code, care_unit, posted_minor, net_minor FROM revenue WHERE tenant_id = '{tenant}'"),
        json!([{"code": "99285", "care_unit": "ED", "posted_minor": 54321, "net_minor": 54321}]),
    )
    .await;
    // The booking dated before its own day is not lost: it is a dead letter with its reason.
    eventually(
        &store,
        "SELECT reason, starts_with(origin, 'outbox:') AS from_outbox FROM dead_letters",
        json!([{"reason": "booked_after_appointment", "from_outbox": true}]),
    )
    .await;
    // What a tenant's SQL sees: its own rows; nothing of anyone else's, and no engine-wide
    // tables (the dead letter above is in the unconfined snapshot only).
    let snapshot = store.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let rows_of = |s: &wardstream_pipelines::Snapshot, t: &str| {
        s.table(t).map_or(usize::MAX, |b| b.num_rows())
    };
    let own = snapshot
        .for_tenant(&tenant)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rows_of(&own, "revenue"), rows_of(&own, "no_show")), (1, 1));
    assert_eq!(
        (
            rows_of(&snapshot, "dead_letters"),
            rows_of(&own, "dead_letters")
        ),
        (1, 0)
    );
    let stranger = snapshot
        .for_tenant("someone-else")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(stranger.tables.iter().all(|(_, b)| b.num_rows() == 0));
    // Voiding takes the revenue back.
    let (s, _) = api
        .call(
            "POST",
            &format!("/v1/invoices/{invoice}/void"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    eventually(
        &store,
        &format!(
            "SELECT posted_minor, voided_minor, net_minor FROM revenue WHERE tenant_id = '{tenant}'"
        ),
        json!([{"posted_minor": 54321, "voided_minor": 54321, "net_minor": 0}]),
    )
    .await;
    relay.abort();
    stop.store(true, Ordering::Relaxed);
    let summary = engine
        .join()
        .unwrap_or_else(|_| panic!("engine thread panicked"))
        .unwrap_or_else(|e| panic!("{e}"));
    // Two valid bookings, three transitions, a posted and a voided charge.
    assert_eq!(summary.records, 7, "{summary:?}");

    // A restarted engine starts from empty views; its relay replays the outbox's history, so
    // the API's share of the views comes back (and the bad booking's dead letter with it).
    let Engine {
        store,
        live,
        stop,
        thread: engine,
    } = Engine::start();
    let relay = outbox::spawn_relay(
        db,
        outbox::Destination::Engine {
            live,
            store: store.clone(),
        },
    );
    eventually(
        &store,
        &format!("SELECT booked, attended, no_shows FROM no_show WHERE tenant_id = '{tenant}' AND clinic = 'east'"),
        json!([{"booked": 2, "attended": 1, "no_shows": 1}]),
    )
    .await;
    eventually(
        &store,
        &format!(
            "SELECT posted_minor, voided_minor, net_minor FROM revenue WHERE tenant_id = '{tenant}'"
        ),
        json!([{"posted_minor": 54321, "voided_minor": 54321, "net_minor": 0}]),
    )
    .await;
    eventually(
        &store,
        "SELECT count(*) AS n FROM dead_letters",
        json!([{"n": 1}]),
    )
    .await;
    relay.abort();
    stop.store(true, Ordering::Relaxed);
    let summary = engine
        .join()
        .unwrap_or_else(|_| panic!("engine thread panicked"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.records, 7, "the same events once each: {summary:?}");
}
