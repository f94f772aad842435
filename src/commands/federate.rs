//! `wardstream federate`: federated learning over the real no-show appointments, simulated in
//! one process (sites, a real federation server, the baselines it must match).

use crate::config::Config;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use wardstream_federated::accountant::PrivacyBudget;
use wardstream_federated::aggregate::Aggregator;
use wardstream_federated::client::{DpSgd, TrainConfig};
use wardstream_federated::model::Model;
use wardstream_federated::noshow::{self, ClientsBy, FEATURES, LoadOptions};
use wardstream_federated::server::CentralDp;
use wardstream_federated::simulation::{
    self, Attack, SimulationConfig, SimulationReport, Strategy,
};

/// Arguments of `federate`.
#[derive(Args, Debug)]
pub struct FederateArgs {
    #[command(subcommand)]
    command: FederateCommand,
}

#[derive(Subcommand, Debug)]
enum FederateCommand {
    /// Train a no-show model across sites (one per neighbourhood by default) and report
    /// held-out AUC and log-loss per round, next to centralised and local-only training.
    Simulate(SimulateArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum ClientsByArg {
    /// One site per neighbourhood (non-IID, very unequal sizes).
    Neighbourhood,
    /// `--sites` sites of about equal size, patients at random (IID).
    Random,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum StrategyArg {
    /// Sample-weighted mean of the updates, added to the model.
    Fedavg,
    /// FedAvg with the proximal term `--mu` in every site's objective.
    Fedprox,
    /// Adam on the server (`--server-lr`).
    Fedadam,
    /// Yogi on the server (`--server-lr`).
    Fedyogi,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum AggregatorArg {
    /// Sample-weighted mean (FedAvg).
    Mean,
    /// Coordinate-wise median.
    Median,
    /// Coordinate-wise trimmed mean (`--trim`).
    TrimmedMean,
    /// Multi-Krum (`--byzantine`, `--krum-select`).
    Krum,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum ModelArg {
    /// Logistic regression.
    Logistic,
    /// One hidden ReLU layer (`--hidden` units).
    Mlp,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// The Kaggle no-show CSV (plain or .gz); default: noshow-appointments/KaggleV2-May-2016.csv.gz
    /// in the data folder.
    #[arg(long)]
    data: Option<PathBuf>,
    /// How appointments are split into sites.
    #[arg(long, value_enum, default_value_t = ClientsByArg::Neighbourhood)]
    clients_by: ClientsByArg,
    /// Number of sites with `--clients-by random`.
    #[arg(long, default_value_t = 20)]
    sites: usize,
    /// Federated rounds.
    #[arg(long, default_value_t = 50)]
    rounds: usize,
    /// Federated algorithm.
    #[arg(long, value_enum, default_value_t = StrategyArg::Fedavg)]
    strategy: StrategyArg,
    /// FedProx proximal weight μ.
    #[arg(long, default_value_t = 0.01)]
    mu: f32,
    /// Server learning rate of FedAdam / FedYogi.
    #[arg(long, default_value_t = 0.05)]
    server_lr: f32,
    /// How the server combines updates.
    #[arg(long, value_enum, default_value_t = AggregatorArg::Mean)]
    aggregator: AggregatorArg,
    /// Share trimmed from each end by the trimmed mean.
    #[arg(long, default_value_t = 0.2)]
    trim: f64,
    /// Poisoned sites Krum assumes (default: the poisoned count, at least 1).
    #[arg(long)]
    byzantine: Option<usize>,
    /// Updates Multi-Krum keeps (default: n − f).
    #[arg(long)]
    krum_select: Option<usize>,
    /// Classifier.
    #[arg(long, value_enum, default_value_t = ModelArg::Logistic)]
    model: ModelArg,
    /// Hidden units of the MLP.
    #[arg(long, default_value_t = 16)]
    hidden: usize,
    /// Local epochs per round.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Local mini-batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Local SGD step size.
    #[arg(long, default_value_t = 0.5)]
    lr: f32,
    /// Share of sites that send poisoned updates (sign-flipped ×10), 0–1.
    #[arg(long, default_value_t = 0.0)]
    poisoned: f64,
    /// Aggregate through secure aggregation (pairwise masks; mean aggregator only).
    #[arg(long)]
    secure_aggregation: bool,
    /// Share of sites that drop out of each round after sharing keys (secure aggregation).
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Site-level DP-FedAvg: clip each update to this L2 norm and add Gaussian noise.
    #[arg(long)]
    dp_clip: Option<f32>,
    /// DP-FedAvg noise multiplier z.
    #[arg(long, default_value_t = 1.0)]
    dp_noise: f32,
    /// Record-level DP-SGD at every site: per-record clip norm.
    #[arg(long)]
    dp_sgd_clip: Option<f32>,
    /// DP-SGD noise multiplier σ.
    #[arg(long, default_value_t = 1.0)]
    dp_sgd_noise: f32,
    /// Privacy budget ε of DP-FedAvg (rounds past it are refused).
    #[arg(long, default_value_t = 10.0)]
    epsilon: f64,
    /// δ of the budget.
    #[arg(long, default_value_t = 1e-5)]
    delta: f64,
    /// Share of patients held out for evaluation.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of the split, initialisation, sampling and noise.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Skip the centralised and local-only baselines.
    #[arg(long)]
    no_baselines: bool,
    /// Output on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the JSON report here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Runs the command.
pub fn run(config: Config, args: FederateArgs) -> anyhow::Result<()> {
    match args.command {
        FederateCommand::Simulate(a) => simulate(&config, a),
    }
}

fn simulate(config: &Config, a: SimulateArgs) -> anyhow::Result<()> {
    let path = a.data.clone().unwrap_or_else(|| {
        config
            .data_dir
            .join("noshow-appointments")
            .join("KaggleV2-May-2016.csv.gz")
    });
    let clients_by = match a.clients_by {
        ClientsByArg::Neighbourhood => ClientsBy::Neighbourhood,
        ClientsByArg::Random => ClientsBy::Random(a.sites),
    };
    let data = noshow::load(
        &path,
        LoadOptions {
            clients_by,
            test_fraction: a.test_fraction,
            seed: a.seed,
        },
    )
    .with_context(|| format!("loading the no-show appointments from {}", path.display()))?;
    tracing::info!(
        train = data.train.len(),
        held_out = data.test.len(),
        rejected = data.rejected.len(),
        sites = data.site_names.len(),
        "loaded {}",
        path.display()
    );
    let sim = simulation_config(&a, &data)?;
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(a.rounds as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} round {pos}/{len} {msg} ({elapsed}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let every = (a.rounds / 10).max(1);
    let report = simulation::run(&data, &sim, &mut |r| {
        let msg = format!(
            "AUC {:.4} log-loss {:.4}",
            r.evaluation.auc, r.evaluation.log_loss
        );
        match &bar {
            Some(bar) => {
                bar.set_message(msg);
                bar.inc(1);
            }
            None if !a.quiet && (r.round as usize).is_multiple_of(every) => {
                tracing::info!(round = r.round, "{msg}");
            }
            None => {}
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(out) = &a.out {
        std::fs::write(out, &json).with_context(|| format!("writing {}", out.display()))?;
    }
    match a.format {
        Format::Json => println!("{json}"),
        Format::Table => print_table(&report, &sim),
    }
    Ok(())
}

fn simulation_config(
    a: &SimulateArgs,
    data: &noshow::NoShowData,
) -> anyhow::Result<SimulationConfig> {
    let strategy = match a.strategy {
        StrategyArg::Fedavg => Strategy::FedAvg,
        StrategyArg::Fedprox => Strategy::FedProx { mu: a.mu },
        StrategyArg::Fedadam => Strategy::FedAdam { lr: a.server_lr },
        StrategyArg::Fedyogi => Strategy::FedYogi { lr: a.server_lr },
    };
    let sites = data.site_names.len();
    let poisoned_count = (a.poisoned * sites as f64).floor() as usize;
    let aggregator = match a.aggregator {
        AggregatorArg::Mean => Aggregator::Mean,
        AggregatorArg::Median => Aggregator::Median,
        AggregatorArg::TrimmedMean => Aggregator::TrimmedMean { beta: a.trim },
        AggregatorArg::Krum => {
            let byzantine = a.byzantine.unwrap_or(poisoned_count.max(1));
            Aggregator::MultiKrum {
                byzantine,
                select: a
                    .krum_select
                    .unwrap_or(sites.saturating_sub(byzantine).max(1)),
            }
        }
    };
    let model = match a.model {
        ModelArg::Logistic => Model::Logistic {
            inputs: FEATURES.len(),
        },
        ModelArg::Mlp => Model::Mlp {
            inputs: FEATURES.len(),
            hidden: a.hidden,
        },
    };
    let central_dp = match a.dp_clip {
        Some(clip) => Some(CentralDp {
            clip_norm: clip,
            noise_multiplier: a.dp_noise,
            budget: PrivacyBudget::new(a.epsilon, a.delta)?,
        }),
        None => None,
    };
    Ok(SimulationConfig {
        model,
        strategy,
        aggregator,
        rounds: a.rounds,
        train: TrainConfig {
            epochs: a.epochs,
            batch_size: a.batch_size,
            learning_rate: a.lr,
            proximal_mu: 0.0,
            dp: a.dp_sgd_clip.map(|clip| DpSgd {
                clip_norm: clip,
                noise_multiplier: a.dp_sgd_noise,
            }),
        },
        poisoned: a.poisoned,
        attack: Attack::SignFlip { scale: 10.0 },
        secure_aggregation: a.secure_aggregation,
        dropout: a.dropout,
        central_dp,
        seed: a.seed,
        baselines: !a.no_baselines,
    })
}

fn print_table(report: &SimulationReport, sim: &SimulationConfig) {
    println!(
        "{} sites ({} poisoned), {} training / {} held-out appointments; {:?}, {:?}",
        report.sites,
        report.poisoned_sites,
        report.records.0,
        report.records.1,
        sim.strategy,
        sim.aggregator
    );
    println!(
        "{:>6}  {:>8}  {:>9}  {:>6}  {:>8}",
        "round", "AUC", "log-loss", "sites", "ε"
    );
    let every = (report.rounds.len() / 10).max(1);
    for (k, r) in report.rounds.iter().enumerate() {
        if k % every == every - 1 || k == 0 || k + 1 == report.rounds.len() {
            let eps = r.epsilon.map_or("-".to_string(), |e| format!("{e:.3}"));
            println!(
                "{:>6}  {:>8.4}  {:>9.4}  {:>6}  {:>8}",
                r.round, r.evaluation.auc, r.evaluation.log_loss, r.participants, eps
            );
        }
    }
    if let Some(last) = report.last() {
        println!(
            "federated     AUC {:.4}  log-loss {:.4}",
            last.auc, last.log_loss
        );
    }
    if let Some(c) = report.centralized {
        println!("centralised   AUC {:.4}  log-loss {:.4}", c.auc, c.log_loss);
    }
    if let Some(l) = report.local_only {
        println!("local only    AUC {:.4}  log-loss {:.4}", l.auc, l.log_loss);
    }
}
