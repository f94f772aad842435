//! The federation server: FedAvg of known updates, a round below its quorum failing by its
//! deadline (never hanging), privacy budgets refusing rounds, and a checkpointed server
//! resuming exactly where it stopped.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use wardstream_federated::accountant::{PrivacyBudget, PrivacyError};
use wardstream_federated::aggregate::Aggregator;
use wardstream_federated::client::{DpSgd, LocalUpdate, TrainConfig};
use wardstream_federated::model::Model;
use wardstream_federated::optimizer::ServerOptimizer;
use wardstream_federated::server::{CentralDp, FederatedServer, ServerConfig};
use wardstream_federated::{Error, Randomness};

fn config(quorum: usize, deadline_ms: u64) -> ServerConfig {
    ServerConfig {
        model: Model::Logistic { inputs: 2 },
        quorum,
        round_deadline_ms: deadline_ms,
        ..ServerConfig::default()
    }
}

fn update(delta: Vec<f32>, n: u64) -> LocalUpdate {
    LocalUpdate {
        delta,
        num_examples: n,
        train_loss: Some(0.5),
        dp_spend: None,
    }
}

#[test]
fn a_round_is_the_weighted_mean_of_its_updates() {
    let mut server = FederatedServer::open(config(2, 60_000), None).expect("opens");
    server.register("a", 100).expect("a");
    server.register("b", 300).expect("b");
    let t = server.ticket("a", 0).expect("ticket");
    assert_eq!(t.round, 1);
    server.ticket("b", 0).expect("ticket");
    assert!(
        server
            .submit("a", 1, update(vec![1.0, 2.0, -3.0], 100), 1)
            .expect("accepted")
            .is_none()
    );
    // A repeated or wrong-length or non-finite update is refused and changes nothing.
    assert!(matches!(
        server.submit("a", 1, update(vec![1.0, 2.0, -3.0], 100), 1),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        server.submit("b", 1, update(vec![1.0], 300), 1),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        server.submit("b", 1, update(vec![f32::NAN, 0.0, 0.0], 300), 1),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        server.submit("b", 2, update(vec![0.0; 3], 300), 1),
        Err(Error::Refused(_))
    ));
    let record = server
        .submit("b", 1, update(vec![3.0, 6.0, 1.0], 300), 2)
        .expect("ok")
        .expect("closed");
    assert_eq!(record.participants, vec!["a", "b"]);
    // FedAvg from zeros: x = (1·[1,2,−3] + 3·[3,6,1]) / 4.
    assert_eq!(server.params(), &[2.5, 5.0, 0.0]);
    // Late for the closed round.
    assert!(matches!(
        server.submit("a", 1, update(vec![0.0; 3], 100), 3),
        Err(Error::Refused(_))
    ));
}

#[test]
fn below_quorum_the_round_fails_by_its_deadline() {
    let deadline = 300;
    let mut server = FederatedServer::open(config(3, deadline), None).expect("opens");
    for site in ["a", "b", "c"] {
        server.register(site, 10).expect("registered");
    }
    let started = Instant::now();
    let clock = move || started.elapsed().as_millis() as i64;
    let ticket = server.ticket("a", clock()).expect("opens round 1");
    let (tx, rx) = mpsc::channel();
    // Two of three sites answer; the third never does, and its sender stays open.
    tx.send(("a".to_string(), ticket.round, update(vec![1.0; 3], 10)))
        .expect("send");
    tx.send(("b".to_string(), ticket.round, update(vec![1.0; 3], 10)))
        .expect("send");
    let err = server.collect(&rx, &clock).expect_err("quorum not reached");
    let waited = started.elapsed();
    assert!(
        matches!(
            err,
            Error::QuorumNotReached {
                round: 1,
                received: 2,
                quorum: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        waited >= Duration::from_millis(deadline),
        "failed before the deadline: {waited:?}"
    );
    // Bounded: the round did not wait on the silent site (a generous bound, not a speed target).
    assert!(waited < Duration::from_secs(10), "hung: {waited:?}");
    drop(tx);
    let status = server.status();
    assert_eq!(status.completed_rounds, 0);
    assert!(
        status
            .last
            .expect("recorded")
            .failure
            .expect("failed")
            .contains("quorum")
    );
    assert_eq!(
        server.params(),
        &[0.0, 0.0, 0.0],
        "a failed round changes nothing"
    );
    // The next ticket retries round 1.
    assert_eq!(server.ticket("c", clock()).expect("ticket").round, 1);
}

#[test]
fn dp_fedavg_stops_at_its_budget_and_dp_sgd_at_the_tenants() {
    let budget = PrivacyBudget::new(2.0, 1e-5).expect("valid");
    let cfg = ServerConfig {
        central_dp: Some(CentralDp {
            clip_norm: 1.0,
            noise_multiplier: 5.0,
            budget,
        }),
        ..config(1, 60_000)
    };
    let mut server = FederatedServer::open(cfg, None).expect("opens");
    server.register("a", 50).expect("a");
    let mut rounds = 0;
    let refusal = loop {
        match server.ticket("a", 0) {
            Ok(t) => {
                // An update far above the clip: the noisy mean moves at most clip + noise.
                let record = server
                    .submit("a", t.round, update(vec![100.0, 0.0, 0.0], 50), 0)
                    .expect("ok")
                    .expect("closed");
                let eps = record.epsilon.expect("DP-FedAvg reports ε");
                assert!(eps <= 2.0, "round {} spent ε = {eps}", record.round);
                rounds += 1;
            }
            Err(e) => break e,
        }
        assert!(rounds < 1000, "the budget never ran out");
    };
    assert!(rounds >= 1);
    assert!(
        matches!(refusal, Error::Privacy(PrivacyError::BudgetExceeded { .. })),
        "{refusal}"
    );

    // Record-level: a tenant budget refuses the ticket whose DP-SGD plan would exceed it.
    let cfg = ServerConfig {
        train: TrainConfig {
            epochs: 50,
            batch_size: 10,
            dp: Some(DpSgd {
                clip_norm: 1.0,
                noise_multiplier: 0.6,
            }),
            ..TrainConfig::default()
        },
        tenant_budget: Some(PrivacyBudget::new(1.0, 1e-5).expect("valid")),
        ..config(1, 60_000)
    };
    let mut server = FederatedServer::open(cfg, None).expect("opens");
    server.register("small", 20).expect("registered");
    assert!(matches!(
        server.ticket("small", 0),
        Err(Error::Privacy(PrivacyError::BudgetExceeded { .. }))
    ));
}

#[test]
fn a_restarted_server_resumes_from_its_checkpoint() {
    let dir = std::env::temp_dir().join(format!("wardstream-fl-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("federation.json");
    let _ = std::fs::remove_file(&path);
    let cfg = ServerConfig {
        optimizer: ServerOptimizer::adam(0.1),
        ..config(2, 60_000)
    };
    let updates = |round: u64| {
        let r = round as f32;
        [
            update(vec![r, -1.0, 0.5], 10),
            update(vec![0.5, r * r, -r], 30),
        ]
    };
    let play = |server: &mut FederatedServer, round: u64| {
        for (site, u) in ["a", "b"].into_iter().zip(updates(round)) {
            let t = server.ticket(site, 0).expect("ticket");
            assert_eq!(t.round, round);
            server.submit(site, round, u, 0).expect("accepted");
        }
    };
    // Uninterrupted: four rounds.
    let mut straight = FederatedServer::open(cfg.clone(), None).expect("opens");
    straight.register("a", 10).expect("a");
    straight.register("b", 30).expect("b");
    for round in 1..=4 {
        play(&mut straight, round);
    }
    // Two rounds, the process "dies" (the server is dropped), a new one resumes from disk.
    {
        let mut first = FederatedServer::open(cfg.clone(), Some(&path)).expect("opens");
        first.register("a", 10).expect("a");
        first.register("b", 30).expect("b");
        play(&mut first, 1);
        play(&mut first, 2);
        // An open round with one update in is lost with the process, as it was never done.
        first.ticket("a", 0).expect("round 3 opens");
    }
    let mut resumed = FederatedServer::open(cfg.clone(), Some(&path)).expect("resumes");
    assert_eq!(resumed.state().round, 2);
    assert_eq!(resumed.state().sites.len(), 2);
    play(&mut resumed, 3);
    play(&mut resumed, 4);
    assert_eq!(resumed.state().params, straight.state().params);
    assert_eq!(resumed.state().optimizer, straight.state().optimizer);
    assert_eq!(resumed.state().history.len(), 4);
    // A checkpoint of another model is refused, not silently reused.
    let other = ServerConfig {
        model: Model::Logistic { inputs: 5 },
        ..cfg
    };
    assert!(matches!(
        FederatedServer::open(other, Some(&path)),
        Err(Error::Config(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn robust_aggregators_are_chosen_by_configuration() {
    let cfg = ServerConfig {
        aggregator: Aggregator::Median,
        ..config(3, 60_000)
    };
    let mut server = FederatedServer::open(cfg, None).expect("opens");
    for site in ["a", "b", "c"] {
        server.register(site, 1).expect("registered");
        server.ticket(site, 0).expect("ticket");
    }
    server
        .submit("a", 1, update(vec![1.0, 1.0, 1.0], 1), 0)
        .expect("ok");
    server
        .submit("b", 1, update(vec![2.0, 2.0, 2.0], 1), 0)
        .expect("ok");
    server
        .submit("c", 1, update(vec![-900.0, 900.0, 3.0], 1_000_000), 0)
        .expect("ok")
        .expect("closed");
    assert_eq!(server.params(), &[1.0, 2.0, 2.0]);
}

#[test]
fn configurations_whose_guarantees_would_not_hold_are_refused() {
    let dp = Some(CentralDp {
        clip_norm: 1.0,
        noise_multiplier: 1.0,
        budget: PrivacyBudget::new(10.0, 1e-5).expect("valid"),
    });
    // DP-FedAvg's noise is calibrated to the mean of clipped updates, not to a median.
    let median_dp = ServerConfig {
        aggregator: Aggregator::Median,
        central_dp: dp,
        ..config(3, 60_000)
    };
    assert!(matches!(
        FederatedServer::open(median_dp, None),
        Err(Error::Config(_))
    ));
    // Multi-Krum with f = 1 needs more than 2f + 2 = 4 updates in every round.
    let krum = |quorum| ServerConfig {
        aggregator: Aggregator::MultiKrum {
            byzantine: 1,
            select: 2,
        },
        ..config(quorum, 60_000)
    };
    assert!(matches!(
        FederatedServer::open(krum(4), None),
        Err(Error::Config(_))
    ));
    assert!(FederatedServer::open(krum(5), None).is_ok());
}

#[test]
fn dp_fedavg_noise_is_fresh_and_scaled_by_the_invited_sites() {
    // 10,000 parameters; two of four invited sites send all-zero updates. The released mean
    // is (0 + N(0, (z·S)²)) / 4 per coordinate: a standard deviation of z·S/4 = 0.25, where
    // dividing by the two that sent would give 0.5.
    let inputs = 9_999;
    let cfg = ServerConfig {
        model: Model::Logistic { inputs },
        central_dp: Some(CentralDp {
            clip_norm: 1.0,
            noise_multiplier: 1.0,
            budget: PrivacyBudget::new(100.0, 1e-5).expect("valid"),
        }),
        ..config(2, 1_000)
    };
    let run = |server: FederatedServer| {
        let mut server = server;
        for site in ["a", "b", "c", "d"] {
            server.register(site, 10).expect("registered");
        }
        for site in ["a", "b"] {
            let t = server.ticket(site, 0).expect("ticket");
            server
                .submit(site, t.round, update(vec![0.0; inputs + 1], 10), 0)
                .expect("accepted");
        }
        let record = server.poll(1_000).expect("closes").expect("a round");
        assert_eq!(record.participants, vec!["a", "b"]);
        server.params().to_vec()
    };
    let noisy = run(FederatedServer::open(cfg.clone(), None).expect("opens"));
    let n = noisy.len() as f64;
    let mean = noisy.iter().map(|&v| v as f64).sum::<f64>() / n;
    let sd = (noisy
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    assert!((sd - 0.25).abs() < 0.02, "noise sd {sd}");
    assert!(mean.abs() < 0.02, "noise mean {mean}");
    // A second server draws other noise; a seeded one repeats itself (simulations only).
    let other = run(FederatedServer::open(cfg.clone(), None).expect("opens"));
    assert_ne!(noisy, other, "the server's noise must not be replayable");
    let seeded = |seed| {
        FederatedServer::open(cfg.clone(), None)
            .expect("opens")
            .with_randomness(Randomness::Seeded(seed))
    };
    assert_eq!(run(seeded(3)), run(seeded(3)));
}

#[test]
fn dp_sgd_is_charged_when_an_update_arrives_even_if_its_round_fails() {
    let cfg = ServerConfig {
        train: TrainConfig {
            epochs: 1,
            batch_size: 10,
            dp: Some(DpSgd {
                clip_norm: 1.0,
                noise_multiplier: 1.0,
            }),
            ..TrainConfig::default()
        },
        tenant_budget: Some(PrivacyBudget::new(50.0, 1e-5).expect("valid")),
        ..config(2, 1_000)
    };
    let mut server = FederatedServer::open(cfg, None).expect("opens");
    server.register("a", 100).expect("a");
    server.register("b", 100).expect("b");
    let t = server.ticket("a", 0).expect("ticket");
    server
        .submit("a", t.round, update(vec![0.1; 3], 100), 0)
        .expect("accepted");
    let err = server.poll(1_000).expect_err("below quorum");
    assert!(matches!(err, Error::QuorumNotReached { .. }), "{err}");
    let spent = |site: &str| {
        server.state().sites[site]
            .accountant
            .epsilon(1e-5)
            .expect("δ valid")
    };
    // a's update reached the server: its DP-SGD run is spent whatever became of the round.
    assert!(spent("a") > 0.0, "a spent {}", spent("a"));
    assert_eq!(spent("b"), 0.0, "b sent nothing");
}

#[test]
fn a_site_weighs_at_most_the_configured_cap() {
    let cfg = ServerConfig {
        max_site_weight: Some(100),
        ..config(2, 60_000)
    };
    let mut server = FederatedServer::open(cfg, None).expect("opens");
    server.register("a", 100).expect("a");
    // b claims a million records: capped at 100, it weighs what a does.
    server.register("b", 1_000_000).expect("b");
    for (site, delta) in [("a", vec![1.0, 0.0, 0.0]), ("b", vec![3.0, 2.0, 0.0])] {
        let t = server.ticket(site, 0).expect("ticket");
        server
            .submit(site, t.round, update(delta, 1_000_000), 0)
            .expect("accepted");
    }
    assert_eq!(server.params(), &[2.0, 1.0, 0.0]);
}

#[test]
fn a_secure_round_goes_on_without_registered_sites_that_stay_idle() {
    use wardstream_federated::secagg::SecAggClient;
    use wardstream_federated::server::SecureAggregation;
    // Five registered, two idle: the three that advertise are the round (t = 2 of 3). With
    // the threshold fixed by all five (t = 4), no round could finish.
    let cfg = ServerConfig {
        secure_aggregation: Some(SecureAggregation::default()),
        ..config(2, 4_000)
    };
    let mut server = FederatedServer::open(cfg, None).expect("opens");
    let counts = [("a", 10u64), ("b", 30), ("c", 60), ("d", 5), ("e", 5)];
    for (site, n) in counts {
        server.register(site, n).expect("registered");
    }
    let deltas = [
        ("a", vec![1.0f32, 0.0, -1.0]),
        ("b", vec![0.0, 2.0, 1.0]),
        ("c", vec![0.5, 0.5, 0.5]),
    ];
    let mut clients = Vec::new();
    for (site, delta) in &deltas {
        let ticket = server.ticket(site, 0).expect("ticket");
        let secure = ticket.secure.expect("secure round");
        let (client, advert) =
            SecAggClient::from_os_randomness(secure.site, secure.config).expect("client");
        server.secagg_advertise(site, advert, 0).expect("advert");
        let weighted: Vec<f32> = delta.iter().map(|d| d * secure.weight as f32).collect();
        clients.push((*site, client, weighted));
    }
    // The advertise window ends at 1 s with three of five: the round goes on.
    let now = 1_000;
    for (site, client, _) in &mut clients {
        let adverts = server
            .secagg_adverts(site, now)
            .expect("ok")
            .expect("closed");
        assert_eq!(adverts.len(), 3);
        let shares = client.share_keys(&adverts).expect("shares");
        server.secagg_share(site, shares, now).expect("in");
    }
    for (site, client, weighted) in &mut clients {
        let inbox = server.secagg_inbox(site, now).expect("ok").expect("closed");
        let masked = client.masked_input(&inbox, weighted).expect("masked");
        server.secagg_masked(site, masked, now).expect("in");
    }
    let mut record = None;
    for (site, client, _) in &mut clients {
        let survivors = server
            .secagg_survivors(site, now)
            .expect("ok")
            .expect("closed");
        let reply = client.unmask(&survivors).expect("unmask");
        if let Some(r) = server.secagg_unmask(site, reply, now).expect("in") {
            record = Some(r);
        }
    }
    let record = record.expect("the round completed");
    assert_eq!(record.participants, vec!["a", "b", "c"]);
    // FedAvg over the three: (10·a + 30·b + 60·c) / 100.
    let expected = [0.4f32, 0.9, 0.5];
    for (got, want) in server.params().iter().zip(expected) {
        assert!((got - want).abs() < 1e-5, "{:?}", server.params());
    }
}
