//! The one typed configuration: built-in defaults, then a TOML file (`--config`), then
//! `WARDSTREAM__SECTION__KEY` environment variables (e.g. `WARDSTREAM__ENGINE__WORKERS=2`).

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use wardstream_operators::{IngestConfig, LatePolicy};
use wardstream_pipelines::generator::GeneratorConfig;

/// Everything `wardstream` reads from configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the real public data sets live (`../shared/data` beside the checkout).
    pub data_dir: PathBuf,
    /// The dataflow engine.
    pub engine: EngineSection,
    /// The HTTP endpoint.
    pub serve: ServeSection,
    /// Replay of files.
    pub replay: ReplaySection,
    /// The built-in generator (the default source of `wardstream run`).
    pub generator: GeneratorConfig,
    /// The ClickHouse mirror (off unless `url` is set or `run --clickhouse` is given).
    pub clickhouse: ClickHouseSection,
    /// Federated-learning rounds over HTTP (`/v1/fl/*`; off unless `enabled`, and only with
    /// the tenant and auth store).
    pub federated: FederatedSection,
    /// Kafka input (`run --kafka`) and `produce`.
    pub kafka: KafkaSection,
}

/// `[kafka]`: the brokers `run --kafka` reads and `produce` writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSection {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092` (absent: `run` uses its embedded source).
    pub brokers: Option<String>,
    /// Topics are `<prefix>.appointments`, `.vitals`, `.billing`, `.adt` and `.dead-letter`.
    pub topic_prefix: String,
    /// Consumer group offsets are committed to, for monitoring only.
    pub group_id: String,
    /// Where the engine checkpoints its state and offsets; a restart resumes from it.
    pub checkpoint_dir: PathBuf,
    /// How often each worker checkpoints, ms.
    pub checkpoint_interval_ms: u64,
    /// Partitions of the topics `produce` creates.
    pub partitions: i32,
    /// A partition read to its end and quiet this long stops holding back watermarks, ms.
    pub idle_timeout_ms: u64,
    /// Further librdkafka properties (e.g. `"security.protocol" = "SASL_SSL"`).
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaSection {
    fn default() -> Self {
        KafkaSection {
            brokers: None,
            topic_prefix: "wardstream".into(),
            group_id: "wardstream-engine".into(),
            checkpoint_dir: PathBuf::from("wardstream-checkpoint"),
            checkpoint_interval_ms: 5_000,
            partitions: 4,
            idle_timeout_ms: 1_000,
            properties: Default::default(),
        }
    }
}

impl KafkaSection {
    /// The pipelines' settings for `brokers` (the command line's, else this section's).
    pub fn config(
        &self,
        brokers: Option<&str>,
    ) -> anyhow::Result<wardstream_pipelines::kafka::KafkaConfig> {
        let brokers = brokers
            .map(str::to_owned)
            .or_else(|| self.brokers.clone())
            .context("no Kafka brokers: pass --brokers/--kafka or set [kafka] brokers")?;
        let mut c = wardstream_pipelines::kafka::KafkaConfig::new(brokers);
        c.topics = wardstream_pipelines::kafka::Topics::with_prefix(&self.topic_prefix);
        c.group_id = self.group_id.clone();
        c.checkpoint_dir = Some(self.checkpoint_dir.clone());
        c.checkpoint_interval = std::time::Duration::from_millis(self.checkpoint_interval_ms);
        c.idle_timeout = std::time::Duration::from_millis(self.idle_timeout_ms);
        c.properties = self
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(c)
    }
}

/// `[federated]`: the federation `wardstream run` serves.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederatedSection {
    /// Serve `/v1/fl/*`.
    pub enabled: bool,
    /// Checkpoint of the federation (model, round, optimiser moments, privacy spent), written
    /// after every round; a restart resumes from it.
    pub checkpoint: PathBuf,
    /// Model, aggregation, optimiser, training plan, quorum, deadline and privacy: see
    /// `wardstream_federated::server::ServerConfig` (default: FedAvg of a logistic regression
    /// on the no-show features, quorum 2, 10-minute rounds).
    pub server: wardstream_federated::server::ServerConfig,
}

impl Default for FederatedSection {
    fn default() -> Self {
        FederatedSection {
            enabled: false,
            checkpoint: PathBuf::from("federation.json"),
            server: wardstream_federated::server::ServerConfig::default(),
        }
    }
}

/// `[clickhouse]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseSection {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`; absent = no mirror.
    pub url: Option<String>,
    /// Database the tables go in (created if missing).
    pub database: String,
    /// User, if not `default`.
    pub user: Option<String>,
    /// Password (masked when the configuration is printed).
    #[serde(serialize_with = "mask")]
    pub password: Option<String>,
    /// Flush when this many view rows or archive records wait.
    pub min_rows: usize,
    /// Flush at least this often, ms.
    pub max_interval_ms: u64,
    /// Archive records queued before the engine stops feeding (backpressure).
    pub archive_capacity: usize,
}

fn mask<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("***"),
        None => s.serialize_none(),
    }
}

impl Default for ClickHouseSection {
    fn default() -> Self {
        ClickHouseSection {
            url: None,
            database: "wardstream".into(),
            user: None,
            password: None,
            min_rows: 1_000,
            max_interval_ms: 1_000,
            archive_capacity: 200_000,
        }
    }
}

/// `[engine]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Timely worker threads.
    pub workers: usize,
    /// Tick length, ms: events fed within one tick share an epoch (a live Kafka source closes
    /// its epoch early once it has handed over all it fetched).
    pub epoch_ms: u64,
    /// How far behind the greatest event time an event may arrive and count as on time, s.
    pub allowed_lateness_s: i64,
    /// `dead_letter` (default) or `apply` for events later than that.
    pub late_policy: LatePolicy,
    /// Backpressure: stop feeding while views lag the input by more ticks than this.
    pub max_lag_epochs: u64,
}

/// `[serve]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSection {
    /// Address the HTTP endpoint listens on.
    pub listen: String,
    /// The transactional API's store (tenants, users): `sqlite://path/file.db` (created if
    /// missing) or `postgres://user:password@host/db`; `DATABASE_URL` also sets it. Absent:
    /// the tenant and auth routes are off. The password is masked when printed.
    #[serde(serialize_with = "mask_url")]
    pub database_url: Option<String>,
    /// HS256 key of access tokens, at least 32 bytes (masked when printed);
    /// `WARDSTREAM_JWT_SECRET` also sets it. Absent: a random key per process, so tokens end
    /// with it.
    #[serde(serialize_with = "mask")]
    pub jwt_secret: Option<String>,
    /// Login attempts allowed per client address and minute (a burst of this many, then one
    /// every 60/n s); more answer 429 `rate_limited`.
    pub login_attempts_per_minute: u32,
}

fn mask_url<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(u) => s.serialize_some(&wardstream_api::db::mask(u)),
        None => s.serialize_none(),
    }
}

/// `[replay]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplaySection {
    /// Replay speed factor (event-time seconds per wall second); absent = as fast as possible.
    pub speed: Option<f64>,
    /// Speed of the generator when `run` uses it.
    pub generator_speed: f64,
    /// Where re-anchored real-data timelines start (RFC 3339).
    pub anchor: String,
    /// USD cents per unit of MS-DRG relative weight.
    pub drg_base_rate_minor: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("../shared/data"),
            engine: EngineSection::default(),
            serve: ServeSection::default(),
            replay: ReplaySection::default(),
            generator: GeneratorConfig::default(),
            clickhouse: ClickHouseSection::default(),
            federated: FederatedSection::default(),
            kafka: KafkaSection::default(),
        }
    }
}

impl Default for EngineSection {
    fn default() -> Self {
        let ingest = IngestConfig::default();
        EngineSection {
            workers: 1,
            epoch_ms: 50,
            allowed_lateness_s: ingest.allowed_lateness_ms / 1000,
            late_policy: ingest.late_policy,
            max_lag_epochs: 20,
        }
    }
}

impl Default for ServeSection {
    fn default() -> Self {
        ServeSection {
            listen: "127.0.0.1:7878".into(),
            database_url: None,
            jwt_secret: None,
            login_attempts_per_minute: 30,
        }
    }
}

impl Default for ReplaySection {
    fn default() -> Self {
        ReplaySection {
            speed: None,
            generator_speed: 3600.0,
            anchor: "2025-01-01T00:00:00Z".into(),
            // FY 2023 IPPS national operating standardized amount (labor + non-labor), no wage index.
            drg_base_rate_minor: 637_574,
        }
    }
}

impl EngineSection {
    /// The ingest settings.
    pub fn ingest(&self) -> IngestConfig {
        IngestConfig {
            allowed_lateness_ms: self.allowed_lateness_s * 1000,
            late_policy: self.late_policy,
        }
    }
}

/// Loads defaults, then `file` (if given), then `WARDSTREAM__*` environment variables.
pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(f) = file {
        anyhow::ensure!(f.exists(), "config file {} does not exist", f.display());
        figment = figment.merge(Toml::file(f));
    }
    let mut config: Config = figment
        .merge(Env::prefixed("WARDSTREAM__").split("__"))
        .extract()
        .context("invalid configuration")?;
    if let Ok(url) = std::env::var("DATABASE_URL") {
        config.serve.database_url = Some(url);
    }
    if let Ok(key) = std::env::var("WARDSTREAM_JWT_SECRET") {
        config.serve.jwt_secret = Some(key);
    }
    Ok(config)
}
