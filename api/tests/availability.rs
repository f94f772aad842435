//! Providers' weekly availability over HTTP, on a SQLite file and on a private PostgreSQL
//! server: bookings and reschedules inside a window (judged in the provider's time zone) are
//! taken, outside answer 409 `outside_availability` naming the day's hours; windows are
//! validated; roles and tenants are kept apart; clearing the windows lifts the rule.

use serde_json::{Value, json};
use wardstream_api::auth::AuthConfig;
use wardstream_tests::postgres::PostgresServer;

mod common;
use common::*;

async fn availability(url: &str) {
    let api = serve(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;
    let (_, admin) = onboard(&api, "avail-a").await;
    let (_, other) = onboard(&api, "avail-b").await;
    let (s, p) = api
        .call(
            "POST",
            "/v1/providers",
            Some(&admin),
            Some(json!({"name": "Dr Chagas", "specialty": "infectious disease"})),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let provider = p["id"].as_str().unwrap_or_default().to_owned();
    let hours = format!("/v1/providers/{provider}/availability");
    let book = |start: &str, end: &str| json!({"provider_id": provider, "patient_id": "p-7", "starts_at": start, "ends_at": end});

    // No windows yet: any time.
    let (s, a) = api.call("GET", &hours, Some(&admin), None).await;
    assert_eq!((s, &a), (200, &json!({"timezone": "UTC", "windows": []})));
    let (s, p) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(book("2026-12-08T03:00:00Z", "2026-12-08T03:30:00Z")),
        )
        .await;
    assert_eq!(s, 201, "{p}");

    // Mondays 08:00–12:00 and 13:00–17:00, São Paulo time (UTC−3).
    let week = json!({"timezone": "America/Sao_Paulo", "windows": [
        {"weekday": "mon", "start": "13:00", "end": "17:00"},
        {"weekday": "mon", "start": "08:00", "end": "12:00"},
    ]});
    let (s, a) = api.call("PUT", &hours, Some(&admin), Some(week)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["windows"][0]["start"], "08:00", "sorted: {a}");
    let (s, read) = api.call("GET", &hours, Some(&admin), None).await;
    assert_eq!((s, &read), (200, &a));

    // 2026-12-07 is a Monday.
    let (s, first) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(book(
                "2026-12-07T09:00:00-03:00",
                "2026-12-07T09:30:00-03:00",
            )),
        )
        .await;
    assert_eq!(s, 201, "{first}");
    // 13:00 UTC is 10:00 in São Paulo: inside.
    let (s, p) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(book("2026-12-07T13:00:00Z", "2026-12-07T13:30:00Z")),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let refused = |p: &Value| {
        p["code"] == "outside_availability"
            && p["detail"]
                .as_str()
                .is_some_and(|d| d.contains("08:00–12:00, 13:00–17:00"))
    };
    for (start, end, why) in [
        (
            "2026-12-07T11:45:00-03:00",
            "2026-12-07T12:15:00-03:00",
            "over lunch",
        ),
        (
            "2026-12-07T07:30:00-03:00",
            "2026-12-07T08:30:00-03:00",
            "before opening",
        ),
        (
            "2026-12-07T09:00:00Z",
            "2026-12-07T09:30:00Z",
            "06:00 local",
        ),
    ] {
        let (s, p) = api
            .call(
                "POST",
                "/v1/appointments",
                Some(&admin),
                Some(book(start, end)),
            )
            .await;
        assert!(s == 409 && refused(&p), "{why}: {s} {p}");
    }
    let (s, p) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(book(
                "2026-12-08T09:00:00-03:00",
                "2026-12-08T09:30:00-03:00",
            )),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (409, Some("outside_availability")));
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains("tue")),
        "{p}"
    );

    // Reschedules follow the same rule.
    let moved = format!(
        "/v1/appointments/{}/reschedule",
        first["id"].as_str().unwrap_or_default()
    );
    let (s, p) = api
        .call(
            "POST",
            &moved,
            Some(&admin),
            Some(json!({"starts_at": "2026-12-08T09:00:00-03:00", "ends_at": "2026-12-08T09:30:00-03:00"})),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (409, Some("outside_availability")));
    let (s, p) = api
        .call(
            "POST",
            &moved,
            Some(&admin),
            Some(json!({"starts_at": "2026-12-07T16:30:00-03:00", "ends_at": "2026-12-07T17:00:00-03:00"})),
        )
        .await;
    assert_eq!(s, 200, "{p}");

    // Validation, roles and tenants.
    let (s, p) = api
        .call(
            "PUT",
            &hours,
            Some(&admin),
            Some(json!({"timezone": "Mars/Olympus", "windows": [
                {"weekday": "mon", "start": "08:00", "end": "12:00"},
                {"weekday": "mon", "start": "11:00", "end": "13:00"},
                {"weekday": "someday", "start": "25:00", "end": "08:00"},
            ]})),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        [
            "timezone",
            "windows[2].weekday",
            "windows[2].start",
            "windows"
        ],
        "{p}"
    );
    let analyst = api.analyst(&admin, "avail-a").await;
    let clear = json!({"timezone": "UTC", "windows": []});
    let (s, _) = api
        .call("PUT", &hours, Some(&analyst), Some(clear.clone()))
        .await;
    assert_eq!(s, 403);
    let (s, _) = api.call("GET", &hours, Some(&other), None).await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call("PUT", &hours, Some(&other), Some(clear.clone()))
        .await;
    assert_eq!(s, 404);

    // No windows again: Tuesday is bookable.
    let (s, _) = api.call("PUT", &hours, Some(&admin), Some(clear)).await;
    assert_eq!(s, 200);
    let (s, p) = api
        .call(
            "POST",
            "/v1/appointments",
            Some(&admin),
            Some(book(
                "2026-12-08T09:00:00-03:00",
                "2026-12-08T09:30:00-03:00",
            )),
        )
        .await;
    assert_eq!(s, 201, "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_on_sqlite() {
    availability(&sqlite_url("availability")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_on_postgres() {
    let pg = PostgresServer::start().unwrap_or_else(|e| panic!("{e}"));
    availability(
        &pg.create_database("availability")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
}
