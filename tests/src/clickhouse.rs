//! A private ClickHouse server per test: its own data folder and free ports, started from the
//! `clickhouse-server` binary (Debian's package, installed by `scripts/setup.sh`), killed and
//! restarted on the same folder when a test needs an outage.

use anyhow::{Context, bail};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `clickhouse-server` owned by a test.
pub struct ClickHouseServer {
    dir: PathBuf,
    http_port: u16,
    tcp_port: u16,
    interserver_port: u16,
    child: Option<Child>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn config_file() -> PathBuf {
    std::env::var_os("WARDSTREAM_CLICKHOUSE_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/clickhouse-server/config.xml"))
}

impl ClickHouseServer {
    /// Starts a server on a new folder under the system temp dir and waits until it answers.
    ///
    /// Errors: `clickhouse-server` is missing (run `scripts/setup.sh`) or does not answer
    /// `/ping` within 30 s.
    pub fn start() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "wardstream-clickhouse-{}-{}",
            std::process::id(),
            free_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        let mut server = ClickHouseServer {
            dir,
            http_port: free_port()?,
            tcp_port: free_port()?,
            interserver_port: free_port()?,
            child: None,
        };
        server.restart()?;
        Ok(server)
    }

    /// The HTTP interface's URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Starts the server (again) on the same folder and ports, and waits until it answers.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let d = self.dir.display();
        let log = std::fs::File::create(self.dir.join("stdout.log"))?;
        let child = Command::new("clickhouse-server")
            .arg(format!("--config-file={}", config_file().display()))
            .arg("--")
            .arg(format!("--path={d}/"))
            .arg(format!("--tmp_path={d}/tmp/"))
            .arg(format!("--user_files_path={d}/user_files/"))
            .arg(format!("--format_schema_path={d}/format_schemas/"))
            .arg(format!("--logger.log={d}/server.log"))
            .arg(format!("--logger.errorlog={d}/server.err.log"))
            .arg("--listen_host=127.0.0.1")
            .arg(format!("--http_port={}", self.http_port))
            .arg(format!("--tcp_port={}", self.tcp_port))
            .arg(format!("--interserver_http_port={}", self.interserver_port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting clickhouse-server (install it with scripts/setup.sh)")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.ping() {
                return Ok(());
            }
            if let Some(c) = &mut self.child
                && let Some(status) = c.try_wait()?
            {
                bail!(
                    "clickhouse-server exited with {status}; see {}",
                    self.dir.join("server.err.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("clickhouse-server did not answer /ping within 30 s")
    }

    /// Whether `/ping` answers `Ok.`.
    pub fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.http_port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut body = String::new();
        s.read_to_string(&mut body).is_ok() && body.ends_with("Ok.\n")
    }

    /// Kills the server at once (SIGKILL), as a crash would, and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
