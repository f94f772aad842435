//! Patient search over HTTP, on a SQLite file and on a private PostgreSQL server: by family
//! and given name (prefix, case-insensitive, wildcards taken literally), birth date with
//! comparators, MRN / FHIR identifier, active; paging; FHIR searchset Bundles with a next
//! link; tenants apart; roles; unknown parameters refused; every patient answered audited.

use serde_json::{Value, json};
use wardstream_api::auth::AuthConfig;
use wardstream_tests::postgres::PostgresServer;

mod common;
use common::*;

fn patient(mrn: &str, family: &str, given: &[&str], gender: &str, born: &str) -> Value {
    json!({"mrn": mrn, "family_name": family, "given_names": given, "gender": gender, "birth_date": born})
}

/// Family names of a `/v1/patients` page, and its total.
async fn found(api: &Api, token: &str, query: &str) -> (Vec<String>, i64) {
    let (s, page) = api
        .call("GET", &format!("/v1/patients?{query}"), Some(token), None)
        .await;
    assert_eq!(s, 200, "{query}: {page}");
    let names = page["patients"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["family_name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (names, page["total"].as_i64().unwrap_or(-1))
}

async fn search(url: &str) {
    let api = serve(url, AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"))).await;
    let (_, admin) = onboard(&api, "search-a").await;
    let (_, other) = onboard(&api, "search-b").await;
    let mut ids = Vec::new();
    for p in [
        patient(
            "MRN-1",
            "Nightingale",
            &["Florence"],
            "female",
            "1820-05-12",
        ),
        patient("MRN-2", "Night", &["Ann", "Flora"], "female", "1990-01-02"),
        patient("MRN-3", "O'Neil_%", &["Bob"], "male", "1985-06-01"),
        patient("MRN-4", "Osler", &["William"], "male", "1849-07-12"),
    ] {
        let (s, body) = api
            .call("POST", "/v1/patients", Some(&admin), Some(p))
            .await;
        assert_eq!(s, 201, "{body}");
        ids.push(body["id"].as_str().unwrap_or_default().to_owned());
    }
    let (s, _) = api
        .call(
            "POST",
            "/v1/patients",
            Some(&other),
            Some(patient(
                "MRN-1",
                "Nightingale",
                &["Florence"],
                "female",
                "1820-05-12",
            )),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = api
        .call(
            "DELETE",
            &format!("/v1/patients/{}", ids[3]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 204);

    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        found(&api, &admin, "family=night").await,
        (names(&["Night", "Nightingale"]), 2),
        "prefix, own tenant only"
    );
    assert_eq!(
        found(&api, &admin, "family=NIGHTINGALE").await,
        (names(&["Nightingale"]), 1)
    );
    assert_eq!(
        found(&api, &admin, "given=flo").await,
        (names(&["Night", "Nightingale"]), 2),
        "any given name"
    );
    assert_eq!(
        found(&api, &admin, "family=o%27neil_").await,
        (names(&["O'Neil_%"]), 1)
    );
    assert_eq!(found(&api, &admin, "family=o%25").await, (names(&[]), 0));
    assert_eq!(found(&api, &admin, "family=n_ght").await, (names(&[]), 0));
    assert_eq!(
        found(&api, &admin, "birthdate=lt1900-01-01").await,
        (names(&["Nightingale", "Osler"]), 2)
    );
    assert_eq!(
        found(&api, &admin, "birthdate=1990-01-02&family=ni").await,
        (names(&["Night"]), 1)
    );
    assert_eq!(
        found(&api, &admin, "active=false").await,
        (names(&["Osler"]), 1)
    );
    assert_eq!(found(&api, &admin, "mrn=MRN-3").await.1, 1);
    assert_eq!(
        found(&api, &admin, "_count=1&_offset=1").await,
        (names(&["Nightingale"]), 4)
    );
    let (s, p) = api
        .call("GET", "/v1/patients?famliy=x", Some(&admin), None)
        .await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (422, Some("famliy")));

    // FHIR: a searchset Bundle, with a next link while more remain.
    let (s, b) = api
        .call(
            "GET",
            "/fhir/Patient?identifier=urn:wardstream:mrn%7CMRN-2",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["resourceType"].as_str(), b["type"].as_str()),
        (Some("Bundle"), Some("searchset"))
    );
    assert_eq!(b["total"], 1);
    assert_eq!(b["entry"][0]["resource"]["name"][0]["family"], "Night");
    assert_eq!(b["entry"][0]["search"]["mode"], "match");
    let (s, b) = api
        .call("GET", "/fhir/Patient?_count=3", Some(&admin), None)
        .await;
    assert_eq!((s, b["total"].as_i64()), (200, Some(4)));
    let next = b["link"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
        .and_then(|l| l["url"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(next.contains("_offset=3"), "{b}");
    let (s, rest) = api.call("GET", &next, Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(rest["entry"].as_array().map(Vec::len), Some(1));
    assert!(
        rest["link"]
            .as_array()
            .is_some_and(|l| l.iter().all(|l| l["relation"] != "next")),
        "{rest}"
    );

    // Roles: an analyst may not search patients.
    let analyst = api.analyst(&admin, "search-a").await;
    let (s, _) = api
        .call("GET", "/v1/patients?family=n", Some(&analyst), None)
        .await;
    assert_eq!(s, 403);

    // Each patient a search answered is in the audit trail.
    let (s, trail) = api
        .call(
            "GET",
            &format!("/v1/audit?resource_id={}", ids[1]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let searches = trail
        .as_array()
        .map(|t| t.iter().filter(|e| e["action"] == "search").count())
        .unwrap_or_default();
    // The searches that answered Night: family=night, given=flo, birthdate&family, the FHIR
    // identifier search and the first FHIR page (Night sorts first, so the _count=1&_offset=1
    // page was Nightingale).
    assert_eq!(searches, 5, "{trail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_on_sqlite() {
    search(&sqlite_url("search")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_on_postgres() {
    let pg = PostgresServer::start().unwrap_or_else(|e| panic!("{e}"));
    search(
        &pg.create_database("search")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
}
