//! A private PostgreSQL server per test: `initdb` into its own folder, `postgres` on a free
//! loopback port, stopped when dropped. Uses Debian's PostgreSQL (`scripts/setup.sh` installs
//! it). Run as root (as CI does), the server runs as the `postgres` user, which PostgreSQL
//! requires.

use anyhow::{Context, bail};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PostgreSQL server owned by a test.
pub struct PostgresServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    user: Option<(u32, u32)>,
    child: Option<Child>,
}

/// The folder of PostgreSQL's server programs: `$WARDSTREAM_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("WARDSTREAM_PG_BIN") {
        return Ok(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (run scripts/setup.sh)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, p)| p.join("postgres").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .context("no /usr/lib/postgresql/<version>/bin/postgres (run scripts/setup.sh)")
}

/// The `postgres` account's uid and gid when running as root.
fn server_user() -> anyhow::Result<Option<(u32, u32)>> {
    let out = Command::new("id").arg("-u").output()?;
    if String::from_utf8_lossy(&out.stdout).trim() != "0" {
        return Ok(None);
    }
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        if !out.status.success() {
            bail!(
                "running as root needs a `postgres` account (Debian's postgresql package makes it)"
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

impl PostgresServer {
    /// Initialises a cluster in a new temp folder and starts it; waits until it accepts
    /// connections (30 s at most). The superuser is `wardstream`, trusted on loopback.
    pub fn start() -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("wardstream-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let user = server_user()?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        let mut server = PostgresServer {
            dir,
            bin: bin_dir()?,
            port,
            user,
            child: None,
        };
        let out = server
            .command("initdb")
            .arg("-D")
            .arg(server.dir.join("data"))
            .args([
                "-U",
                "wardstream",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .output()
            .context("starting initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let log = std::fs::File::create(server.dir.join("server.log"))?;
        let child = server
            .command("postgres")
            .arg("-D")
            .arg(server.dir.join("data"))
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&server.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting postgres")?;
        server.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = server
                .command("pg_isready")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "wardstream",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!(
                    "PostgreSQL did not accept connections within 30 s; see {}",
                    server.dir.join("server.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.current_dir(&self.dir);
        if let Some((uid, gid)) = self.user {
            c.uid(uid).gid(gid);
        }
        c
    }

    /// A new, empty database; returns its URL.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let out = self
            .command("createdb")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "wardstream",
                name,
            ])
            .output()?;
        if !out.status.success() {
            bail!(
                "createdb {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(format!(
            "postgres://wardstream@127.0.0.1:{}/{name}",
            self.port
        ))
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["stop", "-m", "immediate", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
