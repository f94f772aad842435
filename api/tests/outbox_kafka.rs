//! The outbox relay into Kafka, on a private tansu broker: what the API writes is published
//! to the input topics (keyed by patient, once the brokers acknowledge it), an engine that
//! reads only Kafka shows it in `no_show` and `revenue`, a relay that loses its stamps
//! publishes again and the views still count each event once, and a relay whose brokers are
//! gone stamps nothing.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use wardstream_api::auth::AuthConfig;
use wardstream_api::db::Db;
use wardstream_api::outbox::{self, Destination};
use wardstream_operators::Outcome;
use wardstream_pipelines::kafka::KafkaConfig;
use wardstream_pipelines::kafka::publish::{Publisher, ensure_topics};
use wardstream_pipelines::{EngineConfig, ViewStore, records_source};
use wardstream_tests::kafka::KafkaBroker;

mod common;
use common::*;

/// Runs `sql` over the store's current views and returns the rows as JSON objects.
async fn rows(store: &ViewStore, sql: &str) -> Value {
    let snapshot = store.snapshot().unwrap_or_else(|e| panic!("{e}"));
    let batches = wardstream_pipelines::sql::query(&snapshot, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let body = wardstream_api::encode_json(&batches).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls until `check` holds or 60 s pass (the relay, the broker and the engine each run on
/// their own clocks; there is nothing to subscribe to).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) => assert!(Instant::now() < deadline, "{what}: {last}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn view_is(store: &ViewStore, sql: &str, want: Value) {
    eventually(sql, || async {
        let got = rows(store, sql).await;
        if got == want {
            Ok(())
        } else {
            Err(format!("got {got}, want {want}"))
        }
    })
    .await;
}

/// Every message on `topic` (all partitions): `(key, event_id)` per message.
fn read_topic(brokers: &str, topic: &str, n: usize) -> Vec<(String, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "outbox-test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    consumer.assign(&tpl).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            let value: Value =
                serde_json::from_slice(m.payload().unwrap_or_default()).unwrap_or(Value::Null);
            out.push((
                key,
                value["event_id"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

/// How many messages each event id has on `topic`.
fn copies(messages: &[(String, String)]) -> BTreeMap<&str, usize> {
    let mut n = BTreeMap::new();
    for (_, id) in messages {
        *n.entry(id.as_str()).or_default() += 1;
    }
    n
}

async fn outbox_rows(db: &Db, published: bool) -> i64 {
    let sql = if published {
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NOT NULL"
    } else {
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
    };
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn duplicates(store: &ViewStore) -> u64 {
    store
        .stats()
        .outcomes
        .iter()
        .filter(|((_, o), _)| *o == Outcome::Duplicate)
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_writes_reach_the_views_through_kafka_once_each() {
    let broker = KafkaBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let mut kafka = KafkaConfig::new(broker.brokers());
    kafka.topics = wardstream_pipelines::kafka::Topics::with_prefix("outbox");
    let k = kafka.clone();
    tokio::task::spawn_blocking(move || ensure_topics(&k, 2))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));

    // An engine that reads only the Kafka topics (no live input, no other source).
    let store = Arc::new(ViewStore::new());
    let stop = Arc::new(AtomicBool::new(false));
    let engine = {
        let config = EngineConfig {
            workers: 2,
            kafka: Some(Arc::new(kafka.clone())),
            ..EngineConfig::default()
        };
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            wardstream_pipelines::run(
                &config,
                records_source(Arc::new(Vec::new())),
                Vec::new(),
                store,
                stop,
            )
        })
    };

    let (api, db) = serve_with_db(
        &sqlite_url("outbox-kafka"),
        AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let publisher = Publisher::new(&kafka).unwrap_or_else(|e| panic!("{e}"));
    let relay = outbox::spawn_relay(
        db.clone(),
        Destination::Kafka(Arc::new(Mutex::new(publisher))),
    );
    let (tenant, admin) = onboard(&api, "kafka").await;
    let (_, p) = api
        .call(
            "POST",
            "/v1/providers",
            Some(&admin),
            Some(json!({"name": "Dr Okafor", "specialty": "general", "clinic": "west"})),
        )
        .await;
    let provider = p["id"].as_str().unwrap_or_default().to_owned();
    let mut ids = Vec::new();
    for (patient, start, end) in [
        ("p-1", "2030-03-04T09:00:00Z", "2030-03-04T09:20:00Z"),
        ("p-2", "2030-03-04T10:00:00Z", "2030-03-04T10:20:00Z"),
        // Dated before the day it is booked on: the engine dead-letters it.
        ("p-3", "2020-03-04T10:00:00Z", "2020-03-04T10:20:00Z"),
    ] {
        let (s, a) = api
            .call("POST", "/v1/appointments", Some(&admin), Some(json!({"provider_id": provider, "patient_id": patient, "starts_at": start, "ends_at": end})))
            .await;
        assert_eq!(s, 201, "{a}");
        ids.push(a["id"].as_str().unwrap_or_default().to_owned());
    }
    for (id, action) in [
        (&ids[0], "no-show"),
        (&ids[1], "check-in"),
        (&ids[1], "complete"),
    ] {
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
    let (_, inv) = api
        .call("POST", "/v1/invoices", Some(&admin), Some(json!({"encounter_id": "enc-9", "patient_id": "p-2", "care_unit": "ED", "currency": "USD",
            "lines": [{"code_system": "hcpcs", "code": "99284", "diagnoses": ["R07.9"], "amount_minor": 31200}]})))
        .await;
    let invoice = inv["id"].as_str().unwrap_or_default().to_owned();
    let (s, p) = api
        .call(
            "POST",
            &format!("/v1/invoices/{invoice}/issue"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{p}");

    // The engine saw them through Kafka: the day of clinic west and the charge.
    let no_show = format!(
        "SELECT booked, attended, no_shows FROM no_show WHERE tenant_id = '{tenant}' AND clinic = 'west' AND day = TIMESTAMP '2030-03-04T00:00:00Z'"
    );
    view_is(
        &store,
        &no_show,
        json!([{"booked": 2, "attended": 1, "no_shows": 1}]),
    )
    .await;
    let revenue = format!(
        "SELECT code, care_unit, posted_minor, net_minor FROM revenue WHERE tenant_id = '{tenant}'"
    );
    let charged =
        json!([{"code": "99284", "care_unit": "ED", "posted_minor": 31200, "net_minor": 31200}]);
    view_is(&store, &revenue, charged.clone()).await;
    // The bad booking went through Kafka too and is a dead letter with its position there.
    view_is(
        &store,
        "SELECT reason, starts_with(origin, 'outbox.appointments/') AS from_kafka FROM dead_letters",
        json!([{"reason": "booked_after_appointment", "from_kafka": true}]),
    )
    .await;

    // Each row of the outbox is one message, stamped; keyed by its patient (the bad one by
    // its event id), so every version of an appointment lands in one partition.
    let appointment_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE topic = 'wardstream.appointments'")
            .fetch_one(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(appointment_rows, 6, "3 bookings and 3 status changes");
    eventually("every row stamped", || async {
        match outbox_rows(&db, false).await {
            0 => Ok(()),
            n => Err(format!("{n} unstamped")),
        }
    })
    .await;
    let first = read_topic(&broker.brokers(), "outbox.appointments", 6);
    assert_eq!(first.len(), 6, "{first:?}");
    assert!(copies(&first).values().all(|&n| n == 1), "{first:?}");
    let keys: std::collections::BTreeSet<&str> = first.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.contains("p-1") && keys.contains("p-2"), "{keys:?}");
    let billing = read_topic(&broker.brokers(), "outbox.billing", 1);
    assert_eq!(billing.len(), 1, "{billing:?}");
    assert_eq!(billing[0].0, "p-2", "a charge is keyed by its patient");

    // A relay that crashed after the brokers acknowledged but before it stamped: the rows
    // are unstamped again, so the running relay publishes every one a second time …
    let stamped = outbox_rows(&db, true).await;
    let before = duplicates(&store);
    sqlx::query("UPDATE outbox SET published_at = NULL")
        .execute(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = read_topic(&broker.brokers(), "outbox.appointments", 12);
    assert_eq!(second.len(), 12);
    assert!(copies(&second).values().all(|&n| n == 2), "{second:?}");
    // … and the engine counts the valid ones as duplicates (5 appointment events and the
    // charge; the bad booking is dead-lettered again), so the views are unchanged.
    let valid = u64::try_from(stamped - 1).unwrap_or_default();
    eventually("re-sent events counted as duplicates", || async {
        let d = duplicates(&store) - before;
        if d == valid {
            Ok(())
        } else {
            Err(format!("{d} duplicates, want {valid}"))
        }
    })
    .await;
    view_is(
        &store,
        &no_show,
        json!([{"booked": 2, "attended": 1, "no_shows": 1}]),
    )
    .await;
    view_is(&store, &revenue, charged).await;

    relay.abort();
    stop.store(true, Ordering::Relaxed);
    let summary = engine
        .join()
        .unwrap_or_else(|_| panic!("engine thread panicked"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.records, 2 * (stamped as u64), "{summary:?}");

    // A relay whose brokers are gone waits for acknowledgements and stamps nothing.
    drop(broker);
    let (api, db) = serve_with_db(
        &sqlite_url("outbox-kafka-down"),
        AuthConfig::new(KEY).unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let (_, admin) = onboard(&api, "down").await;
    let (_, p) = api
        .call(
            "POST",
            "/v1/providers",
            Some(&admin),
            Some(json!({"name": "Dr Lind", "specialty": "general", "clinic": "east"})),
        )
        .await;
    let (s, a) = api
        .call("POST", "/v1/appointments", Some(&admin), Some(json!({"provider_id": p["id"], "patient_id": "p-9", "starts_at": "2030-03-05T09:00:00Z", "ends_at": "2030-03-05T09:20:00Z"})))
        .await;
    assert_eq!(s, 201, "{a}");
    let mut gone = kafka.clone();
    gone.properties = vec![("message.timeout.ms".into(), "1500".into())];
    let publisher = Publisher::new(&gone).unwrap_or_else(|e| panic!("{e}"));
    let err = outbox::relay_once(&db, &Destination::Kafka(Arc::new(Mutex::new(publisher))))
        .await
        .expect_err("no broker acknowledged");
    assert!(err.to_string().contains("not acknowledged"), "{err}");
    assert_eq!(outbox_rows(&db, false).await, 1, "the booking waits");
    assert_eq!(outbox_rows(&db, true).await, 0, "nothing stamped");
}
