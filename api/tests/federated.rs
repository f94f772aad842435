//! Federated learning over HTTP on a real listener: three hospitals (tenants) train on their
//! own neighbourhoods of the real no-show data and send only updates; the served model is the
//! FedAvg of what they sent; roles and tokens are enforced; a round below its quorum fails at
//! its deadline with nobody asking; the checkpoint on disk holds what was served.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wardstream_api::auth::AuthConfig;
use wardstream_api::federated::{FlState, SharedFederation};
use wardstream_api::tenants::AppState;
use wardstream_federated::Randomness;
use wardstream_federated::client::{self, LocalUpdate, TrainConfig};
use wardstream_federated::model::Model;
use wardstream_federated::noshow::{self, Dataset, FEATURES, LoadOptions};
use wardstream_federated::server::{FederatedServer, ServerConfig};

mod common;
use common::{Api, KEY};

impl Api {
    async fn onboard(&self, slug: &str) -> String {
        let (s, body) = self
            .call(
                "POST",
                "/v1/tenants",
                None,
                Some(json!({"name": format!("{slug} hospital"), "slug": slug, "kind": "hospital",
                    "admin_email": format!("admin@{slug}.example"), "admin_password": "correct horse battery"})),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        self.login(
            slug,
            &format!("admin@{slug}.example"),
            "correct horse battery",
        )
        .await
    }

    async fn login(&self, slug: &str, email: &str, password: &str) -> String {
        let (s, t) = self
            .call(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"tenant": slug, "email": email, "password": password})),
            )
            .await;
        assert_eq!(s, 200, "{t}");
        t["access_token"].as_str().unwrap_or_default().to_owned()
    }
}

fn params_of(v: &Value) -> Vec<f32> {
    v["params"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hospitals_train_a_no_show_model_over_http() {
    let dir = std::env::temp_dir().join(format!("wardstream-api-fl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db_file = dir.join("ws.db");
    let checkpoint = dir.join("federation.json");
    let _ = std::fs::remove_file(&db_file);
    let _ = std::fs::remove_file(&checkpoint);

    let deadline_ms = 5_000;
    let config = ServerConfig {
        quorum: 3,
        round_deadline_ms: deadline_ms,
        ..ServerConfig::default()
    };
    let federation: SharedFederation = std::sync::Arc::new(std::sync::Mutex::new(
        FederatedServer::open(config.clone(), Some(&checkpoint)).unwrap_or_else(|e| panic!("{e}")),
    ));
    let db = wardstream_api::db::open(&format!("sqlite://{}", db_file.display()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let auth = AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"));
    let app = wardstream_api::transactional_router(AppState {
        db,
        auth: auth.clone(),
    })
    .merge(wardstream_api::federated::router(FlState {
        server: federation.clone(),
        auth,
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };

    // Three sites' own records: three neighbourhoods of the real file.
    let path = wardstream_tests::data_dir()
        .join("noshow-appointments")
        .join("KaggleV2-May-2016.csv.gz");
    let data = noshow::load(
        &path,
        LoadOptions {
            test_fraction: 0.0,
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pick = ["JARDIM CAMBURI", "MARIA ORTIZ", "RESISTÊNCIA"];
    let sites: Vec<Dataset> = pick
        .iter()
        .map(|name| {
            let k = data
                .site_names
                .iter()
                .position(|n| n == name)
                .unwrap_or_else(|| panic!("{name}"));
            data.train.site(k as u32)
        })
        .collect();

    let tokens = [
        api.onboard("camburi").await,
        api.onboard("ortiz").await,
        api.onboard("resistencia").await,
    ];

    // No token: 401. A clinician: 403. Not registered yet: 409.
    assert_eq!(api.call("GET", "/v1/fl/model", None, None).await.0, 401);
    let (s, _) = api
        .call("POST", "/v1/auth/register", Some(&tokens[0]), Some(json!({"email": "doc@camburi.example", "password": "clinicians train too", "role": "clinician"})))
        .await;
    assert_eq!(s, 201);
    let clinician = api
        .login("camburi", "doc@camburi.example", "clinicians train too")
        .await;
    let (s, p) = api
        .call("GET", "/v1/fl/model", Some(&clinician), None)
        .await;
    assert_eq!((s, p["code"].as_str()), (403, Some("forbidden")));
    let (s, p) = api
        .call("GET", "/v1/fl/model", Some(&tokens[0]), None)
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("update_refused")),
        "{p}"
    );
    let (s, p) = api
        .call(
            "POST",
            "/v1/fl/register",
            Some(&tokens[0]),
            Some(json!({"num_examples": 0})),
        )
        .await;
    assert_eq!((s, p["code"].as_str()), (422, Some("validation_failed")));

    for (token, site) in tokens.iter().zip(&sites) {
        let (s, r) = api
            .call(
                "POST",
                "/v1/fl/register",
                Some(token),
                Some(json!({"num_examples": site.len()})),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    }

    // Round 1: each site fetches the model, trains locally, sends its update.
    let model = Model::Logistic {
        inputs: FEATURES.len(),
    };
    let mut sent = Vec::new();
    let mut last = Value::Null;
    for (k, (token, site)) in tokens.iter().zip(&sites).enumerate() {
        let (s, ticket) = api.call("GET", "/v1/fl/model", Some(token), None).await;
        assert_eq!(s, 200, "{ticket}");
        assert_eq!(ticket["round"], 1);
        let global = params_of(&ticket);
        assert_eq!(global.len(), model.num_params());
        let train: TrainConfig =
            serde_json::from_value(ticket["train"].clone()).unwrap_or_else(|e| panic!("{e}"));
        let update = client::train(
            &model,
            &global,
            site.features.view(),
            site.labels.view(),
            &train,
            Randomness::Seeded(k as u64),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut body = serde_json::to_value(&update).unwrap_or_else(|e| panic!("{e}"));
        body["round"] = json!(1);
        let (s, r) = api
            .call("POST", "/v1/fl/updates", Some(token), Some(body.clone()))
            .await;
        assert_eq!(s, 202, "{r}");
        if k == 0 {
            // The same update again is refused; so is one of the wrong length.
            let (s, p) = api
                .call("POST", "/v1/fl/updates", Some(token), Some(body))
                .await;
            assert_eq!((s, p["code"].as_str()), (409, Some("update_refused")));
            let (s, status) = api
                .call("GET", "/v1/fl/status", Some(&tokens[1]), None)
                .await;
            assert_eq!(s, 200);
            assert_eq!(status["received"], json!([tenant_of(&tokens[0])]));
        }
        sent.push((global, update));
        last = r;
    }
    let record = &last["closed"];
    assert_eq!(
        record["round"], 1,
        "the third update closes the round: {last}"
    );
    assert_eq!(record["participants"].as_array().map(Vec::len), Some(3));

    // The served model is the sample-weighted mean of the three updates, added to the start.
    let total: f64 = sent.iter().map(|(_, u)| u.num_examples as f64).sum();
    let start = &sent[0].0;
    let expected: Vec<f32> = (0..start.len())
        .map(|j| {
            start[j]
                + sent
                    .iter()
                    .map(|(_, u)| u.delta[j] as f64 * u.num_examples as f64 / total)
                    .sum::<f64>() as f32
        })
        .collect();
    let (s, ticket) = api
        .call("GET", "/v1/fl/model", Some(&tokens[0]), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(ticket["round"], 2);
    let served = params_of(&ticket);
    for (a, b) in served.iter().zip(&expected) {
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "served {served:?}\nexpected {expected:?}"
        );
    }

    // Round 2: only two of three answer. Nobody asks again, yet the round fails at its deadline.
    let opened = Instant::now();
    for (k, token) in tokens.iter().enumerate().take(2) {
        let (_, t) = api.call("GET", "/v1/fl/model", Some(token), None).await;
        let update = client::train(
            &model,
            &params_of(&t),
            sites[k].features.view(),
            sites[k].labels.view(),
            &TrainConfig::default(),
            Randomness::Seeded(9),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut body = serde_json::to_value(&update).unwrap_or_else(|e| panic!("{e}"));
        body["round"] = json!(2);
        assert_eq!(
            api.call("POST", "/v1/fl/updates", Some(token), Some(body))
                .await
                .0,
            202
        );
    }
    let status = loop {
        let (_, status) = api
            .call("GET", "/v1/fl/status", Some(&tokens[2]), None)
            .await;
        if status["last"]["round"] == 2 {
            break status;
        }
        assert!(
            opened.elapsed() < Duration::from_millis(deadline_ms + 20_000),
            "round 2 never closed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(opened.elapsed() >= Duration::from_millis(deadline_ms - 1_000));
    assert_eq!(status["completed_rounds"], 1);
    assert!(
        status["last"]["failure"]
            .as_str()
            .is_some_and(|f| f.contains("quorum")),
        "{status}"
    );
    assert_eq!(status["open_round"], Value::Null);

    // The checkpoint holds the served model: a restarted server starts from it.
    let resumed =
        FederatedServer::open(config, Some(&checkpoint)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resumed.state().round, 1);
    assert_eq!(resumed.params(), &served[..]);
    assert_eq!(resumed.state().sites.len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One site's whole secure round over HTTP; `drop_after_sharing` leaves before masking.
async fn secure_site(
    api: std::sync::Arc<Api>,
    token: String,
    site: Dataset,
    seed: u8,
    drop_after_sharing: bool,
) -> Option<(Vec<f32>, LocalUpdate)> {
    use wardstream_federated::secagg::{AdvertiseKeys, EncryptedShare, SecAggClient};
    let model = Model::Logistic {
        inputs: FEATURES.len(),
    };
    let (s, ticket) = api.call("GET", "/v1/fl/model", Some(&token), None).await;
    assert_eq!(s, 200, "{ticket}");
    let secure = &ticket["secure"];
    let config = serde_json::from_value(secure["config"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let index = secure["site"]
        .as_u64()
        .unwrap_or_else(|| panic!("{ticket}")) as u32;
    let weight = secure["weight"].as_f64().unwrap_or(f64::NAN) as f32;
    let global = params_of(&ticket);
    let update = client::train(
        &model,
        &global,
        site.features.view(),
        site.labels.view(),
        &TrainConfig::default(),
        Randomness::Seeded(u64::from(seed)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (mut me, advert) =
        SecAggClient::new(index, config, [seed; 32]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        api.call(
            "POST",
            "/v1/fl/secagg/keys",
            Some(&token),
            Some(serde_json::to_value(&advert).unwrap_or_default())
        )
        .await
        .0,
        202
    );
    let wait = |path: &'static str| {
        let api = api.clone();
        let token = token.clone();
        async move {
            let started = Instant::now();
            loop {
                let (s, r) = api.call("GET", path, Some(&token), None).await;
                assert_eq!(s, 200, "{path}: {r}");
                if r["ready"] == true {
                    return r["value"].clone();
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "{path} never ready"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let adverts: Vec<AdvertiseKeys> =
        serde_json::from_value(wait("/v1/fl/secagg/keys").await).unwrap_or_else(|e| panic!("{e}"));
    let shares = me.share_keys(&adverts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        api.call(
            "POST",
            "/v1/fl/secagg/shares",
            Some(&token),
            Some(serde_json::to_value(&shares).unwrap_or_default())
        )
        .await
        .0,
        202
    );
    let inbox: Vec<EncryptedShare> =
        serde_json::from_value(wait("/v1/fl/secagg/inbox").await).unwrap_or_else(|e| panic!("{e}"));
    if drop_after_sharing {
        return None;
    }
    let weighted: Vec<f32> = update.delta.iter().map(|d| d * weight).collect();
    let masked = me
        .masked_input(&inbox, &weighted)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        api.call(
            "POST",
            "/v1/fl/secagg/masked",
            Some(&token),
            Some(serde_json::to_value(&masked).unwrap_or_default())
        )
        .await
        .0,
        202
    );
    let survivors: Vec<u32> = serde_json::from_value(wait("/v1/fl/secagg/survivors").await)
        .unwrap_or_else(|e| panic!("{e}"));
    let reply = me.unmask(&survivors).unwrap_or_else(|e| panic!("{e}"));
    let (s, r) = api
        .call(
            "POST",
            "/v1/fl/secagg/unmask",
            Some(&token),
            Some(serde_json::to_value(&reply).unwrap_or_default()),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    Some((global, update))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_aggregation_over_http_survives_a_dropout() {
    use wardstream_federated::server::SecureAggregation;
    let dir = std::env::temp_dir().join(format!("wardstream-api-flsec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let db_file = dir.join("ws.db");
    let _ = std::fs::remove_file(&db_file);
    // Four sites, t = 3; each stage's window is a quarter of the 8 s round.
    let config = ServerConfig {
        quorum: 1,
        round_deadline_ms: 8_000,
        secure_aggregation: Some(SecureAggregation::default()),
        ..ServerConfig::default()
    };
    let federation: SharedFederation = std::sync::Arc::new(std::sync::Mutex::new(
        FederatedServer::open(config, None).unwrap_or_else(|e| panic!("{e}")),
    ));
    let db = wardstream_api::db::open(&format!("sqlite://{}", db_file.display()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let auth = AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"));
    let app = wardstream_api::transactional_router(AppState {
        db,
        auth: auth.clone(),
    })
    .merge(wardstream_api::federated::router(FlState {
        server: federation.clone(),
        auth,
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = std::sync::Arc::new(Api {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    });

    let path = wardstream_tests::data_dir()
        .join("noshow-appointments")
        .join("KaggleV2-May-2016.csv.gz");
    let data = noshow::load(
        &path,
        LoadOptions {
            test_fraction: 0.0,
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let names = ["BONFIM", "CENTRO", "ITARARÉ", "SANTA MARTHA"];
    let mut tokens = Vec::new();
    let mut sites = Vec::new();
    for (k, name) in names.iter().enumerate() {
        let slug = format!("site-{k}");
        let token = api.onboard(&slug).await;
        let i = data
            .site_names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{name}"));
        let site = data.train.site(i as u32);
        let (s, r) = api
            .call(
                "POST",
                "/v1/fl/register",
                Some(&token),
                Some(json!({"num_examples": site.len()})),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        tokens.push(token);
        sites.push(site);
    }
    // A plain update is refused when the federation aggregates securely.
    let (_, t) = api
        .call("GET", "/v1/fl/model", Some(&tokens[0]), None)
        .await;
    assert!(
        t["secure"]["weight"]
            .as_f64()
            .is_some_and(|w| w > 0.0 && w < 1.0),
        "{t}"
    );
    let (s, p) = api
        .call("POST", "/v1/fl/updates", Some(&tokens[0]), Some(json!({"round": 1, "delta": vec![0.0; 18], "num_examples": 5, "train_loss": 0.1, "dp_spend": null})))
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (409, Some("update_refused")),
        "{p}"
    );

    // All four share keys; the last leaves before masking. The masked stage waits out its
    // window for it, then the three survivors unmask and the round completes.
    let tasks: Vec<_> = tokens
        .iter()
        .zip(sites.clone())
        .enumerate()
        .map(|(k, (token, site))| {
            tokio::spawn(secure_site(
                api.clone(),
                token.clone(),
                site,
                k as u8 + 1,
                k == 3,
            ))
        })
        .collect();
    let mut sent = Vec::new();
    for t in tasks {
        if let Some(s) = t.await.unwrap_or_else(|e| panic!("{e}")) {
            sent.push(s);
        }
    }
    assert_eq!(sent.len(), 3);
    let (_, status) = api
        .call("GET", "/v1/fl/status", Some(&tokens[0]), None)
        .await;
    assert_eq!(status["completed_rounds"], 1, "{status}");
    assert_eq!(
        status["last"]["participants"].as_array().map(Vec::len),
        Some(3),
        "{status}"
    );

    // FedAvg over the three survivors, to fixed-point precision.
    let total: f64 = sent.iter().map(|(_, u)| u.num_examples as f64).sum();
    let start = &sent[0].0;
    let served = federation
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .params()
        .to_vec();
    for j in 0..start.len() {
        let expected = start[j] as f64
            + sent
                .iter()
                .map(|(_, u)| u.delta[j] as f64 * u.num_examples as f64 / total)
                .sum::<f64>();
        assert!(
            (served[j] as f64 - expected).abs() < 1e-4,
            "param {j}: {} vs {expected}",
            served[j]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The tenant id in an access token (its `tid` claim).
fn tenant_of(token: &str) -> String {
    let auth = AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}"));
    wardstream_api::auth::verify(&auth, token)
        .unwrap_or_else(|e| panic!("{e}"))
        .tid
}
