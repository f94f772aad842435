//! The federation server: FedAvg of known updates, a round below its quorum failing by its
//! deadline (never hanging), privacy budgets refusing rounds, and a checkpointed server
//! resuming exactly where it stopped.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use wardstream_federated::Error;
use wardstream_federated::accountant::{PrivacyBudget, PrivacyError};
use wardstream_federated::aggregate::Aggregator;
use wardstream_federated::client::{DpSgd, LocalUpdate, TrainConfig};
use wardstream_federated::model::Model;
use wardstream_federated::optimizer::ServerOptimizer;
use wardstream_federated::server::{CentralDp, FederatedServer, ServerConfig};

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
        train_loss: 0.5,
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
