//! Federated learning on the real no-show appointments (Kaggle "Medical Appointment No
//! Shows", `$WARDSTREAM_DATA_DIR/noshow-appointments`), one site per neighbourhood:
//! FedAvg matches centralised training; with 20% of the sites poisoned the median and the
//! trimmed mean keep the AUC while FedAvg loses it; secure aggregation gives FedAvg's model.

use std::path::PathBuf;
use std::sync::OnceLock;

use wardstream_federated::aggregate::Aggregator;
use wardstream_federated::noshow::{self, LoadOptions, NoShowData};
use wardstream_federated::simulation::{self, SimulationConfig, SimulationReport};

/// `$WARDSTREAM_DATA_DIR`, else the first `shared/data` above this crate.
fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WARDSTREAM_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared").join("data"))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

fn data() -> &'static NoShowData {
    static DATA: OnceLock<NoShowData> = OnceLock::new();
    DATA.get_or_init(|| {
        let path = data_dir()
            .join("noshow-appointments")
            .join("KaggleV2-May-2016.csv.gz");
        noshow::load(&path, LoadOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

fn simulate(config: SimulationConfig) -> SimulationReport {
    simulation::run(data(), &config, &mut |_| {}).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_kaggle_file_loads_with_its_known_bad_rows_refused() {
    let d = data();
    // 110,527 appointments; one has Age −1 and five were booked after their day.
    assert_eq!(d.train.len() + d.test.len() + d.rejected.len(), 110_527);
    assert_eq!(d.rejected.len(), 6, "{:?}", d.rejected);
    assert_eq!(d.site_names.len(), 81);
    let share = d.test.len() as f64 / (d.train.len() + d.test.len()) as f64;
    assert!((share - 0.2).abs() < 0.02, "held-out share {share}");
    // Every patient's appointments are on one side of the split: no leakage.
    let rate = d.train.labels.mean().unwrap_or(0.0);
    assert!((0.19..0.21).contains(&rate), "no-show rate {rate}");
}

#[test]
fn fedavg_matches_centralised_training() {
    let report = simulate(SimulationConfig::default());
    let fed = report.last().expect("rounds");
    let central = report.centralized.expect("baseline");
    let local = report.local_only.expect("baseline");
    eprintln!("federated {fed:?}\ncentralised {central:?}\nlocal only {local:?}");
    assert!(
        (fed.auc - central.auc).abs() <= 0.005,
        "federated {} vs centralised {}",
        fed.auc,
        central.auc
    );
    assert!(
        fed.auc > local.auc,
        "federation {} must beat local-only {}",
        fed.auc,
        local.auc
    );
    assert!(fed.auc > 0.7, "AUC {}", fed.auc);
    // The model improves over the rounds.
    assert!(report.rounds[0].evaluation.log_loss > fed.log_loss);
}

#[test]
fn robust_aggregation_survives_poisoned_sites() {
    let rounds = 50;
    let base = SimulationConfig {
        rounds,
        baselines: false,
        ..SimulationConfig::default()
    };
    let clean = simulate(base.clone()).last().expect("rounds").auc;
    let poisoned = |aggregator| {
        let r = simulate(SimulationConfig {
            aggregator,
            poisoned: 0.2,
            ..base.clone()
        });
        assert_eq!(r.poisoned_sites, 16);
        r.last().expect("rounds").auc
    };
    let fedavg = poisoned(Aggregator::Mean);
    let median = poisoned(Aggregator::Median);
    let trimmed = poisoned(Aggregator::TrimmedMean { beta: 0.25 });
    eprintln!(
        "clean {clean:.4}, poisoned: fedavg {fedavg:.4}, median {median:.4}, trimmed {trimmed:.4}"
    );
    assert!(
        clean - fedavg > 0.1,
        "FedAvg should degrade: {clean} → {fedavg}"
    );
    assert!(clean - median < 0.01, "median: {clean} → {median}");
    assert!(clean - trimmed < 0.01, "trimmed mean: {clean} → {trimmed}");
}

#[test]
fn secure_aggregation_gives_fedavgs_model() {
    let base = SimulationConfig {
        rounds: 3,
        baselines: false,
        ..SimulationConfig::default()
    };
    let plain = simulate(base.clone());
    let masked = simulate(SimulationConfig {
        secure_aggregation: true,
        ..base.clone()
    });
    for (p, m) in plain.rounds.iter().zip(&masked.rounds) {
        assert!(
            (p.evaluation.auc - m.evaluation.auc).abs() < 1e-4,
            "round {}: {p:?} vs {m:?}",
            p.round
        );
        assert!((p.evaluation.log_loss - m.evaluation.log_loss).abs() < 1e-4);
    }
    // A quarter of the sites drop out of every round after sharing keys: rounds still finish.
    let dropped = simulate(SimulationConfig {
        secure_aggregation: true,
        dropout: 0.25,
        ..base
    });
    assert_eq!(dropped.rounds.len(), 3);
    assert_eq!(dropped.rounds[0].participants, 81 - 20);
    assert!(dropped.last().expect("rounds").auc > 0.6);
}
