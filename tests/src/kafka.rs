//! A private Kafka-protocol broker per test: `tansu` (crates.io; `scripts/setup.sh` installs
//! it under `$HOME/.cache/wardstream/tools`) with in-memory storage on a free port.

use anyhow::{Context, bail};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running broker owned by a test; killed when dropped.
pub struct KafkaBroker {
    port: u16,
    log: PathBuf,
    child: Child,
}

/// The `tansu` binary: `$WARDSTREAM_TANSU`, else the one `scripts/setup.sh` installs, else
/// `tansu` on the `PATH`.
pub fn tansu_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WARDSTREAM_TANSU") {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(".cache/wardstream/tools/bin/tansu");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("tansu")
}

impl KafkaBroker {
    /// Starts a broker on a free port and waits until it accepts connections.
    ///
    /// Errors: `tansu` is missing (run `scripts/setup.sh`), exits, or does not listen
    /// within 30 s.
    pub fn start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::env::temp_dir().join(format!(
            "wardstream-tansu-{}-{port}.log",
            std::process::id()
        ));
        let out = std::fs::File::create(&log)?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting tansu (install it with scripts/setup.sh)")?;
        let mut broker = KafkaBroker { port, log, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(broker);
            }
            if let Some(status) = broker.child.try_wait()? {
                bail!(
                    "tansu exited with {status}: {}",
                    std::fs::read_to_string(&broker.log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!("tansu did not listen on {port} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `bootstrap.servers` for clients.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
