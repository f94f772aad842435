//! Headless Chromium (Debian's `chromium` package, installed by `scripts/setup.sh`) for tests
//! of the pages the API serves: [`dump_dom`] loads a page, runs its scripts and gives back the
//! DOM they built, as a user's browser would show it; [`Browser`] drives a live page over
//! WebDriver (Debian's `chromedriver` on loopback, with the [fantoccini] client over plain
//! HTTP): typing, clicking,
//! scripts, screenshots.
//!
//! Started as the workplace's machines need it: no sandbox (tests run as root), no GPU, and no
//! background networking, component updates or sync, whose connections this machine's closed
//! network refuses; a fresh profile each time, removed afterwards.

pub use fantoccini;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Chromium's flags for this machine: headless, no sandbox (tests run as root), no GPU, and no
/// background connections (refused by the closed network).
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The browser: `$WARDSTREAM_CHROMIUM`, else `/usr/bin/chromium`.
///
/// # Panics
/// When it is not there, naming the package to install.
pub fn chromium() -> PathBuf {
    program("WARDSTREAM_CHROMIUM", "/usr/bin/chromium", "chromium")
}

/// `$env`, else `default`; panics naming the Debian `package` when it is missing.
fn program(env: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: install Debian's {package} package (scripts/setup.sh does) or set {env}",
        path.display()
    );
    path
}

/// Loads `url` headless, lets its scripts run for up to `budget_ms` of virtual time (network
/// fetches and timers included; Chromium moves on as soon as the page is idle), and returns
/// the serialised DOM. With `screenshot`, also saves a 1280-pixel-wide PNG of the page there.
///
/// Blocking: call it from a blocking thread in async tests.
///
/// # Panics
/// When the browser cannot start or exits with an error (its stderr in the message).
pub fn dump_dom(url: &str, budget_ms: u64, screenshot: Option<&std::path::Path>) -> String {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary profile: {e}"));
    let mut flags: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
    flags.push(format!("--user-data-dir={}", profile.path().display()));
    flags.push(format!("--virtual-time-budget={budget_ms}"));
    let dom = String::from_utf8_lossy(&run(&flags, "--dump-dom", url)).into_owned();
    if let Some(png) = screenshot {
        flags.push("--window-size=1280,2400".to_owned());
        run(&flags, &format!("--screenshot={}", png.display()), url);
    }
    dom
}

/// Runs the browser with `flags` and `action` on `url`; its stdout.
fn run(flags: &[String], action: &str, url: &str) -> Vec<u8> {
    let out = Command::new(chromium())
        .args(flags)
        .arg(action)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("starting chromium: {e}"));
    assert!(
        out.status.success(),
        "chromium {action} {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The driver: `$WARDSTREAM_CHROMEDRIVER`, else `/usr/bin/chromedriver`.
///
/// # Panics
/// When it is not there, naming the package to install.
pub fn chromedriver() -> PathBuf {
    program(
        "WARDSTREAM_CHROMEDRIVER",
        "/usr/bin/chromedriver",
        "chromium-driver",
    )
}

/// A headless Chromium driven over WebDriver: its own chromedriver on a free loopback port and
/// a fresh profile, both gone when it is dropped.
pub struct Browser {
    /// The WebDriver session.
    pub client: fantoccini::Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver, waits for it to say it listens, and opens a session with a
    /// 1280×1000 window.
    ///
    /// # Panics
    /// When the driver or the browser cannot start.
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free port: {e}"));
        let mut driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting chromedriver: {e}"));
        // It prints one line once it listens.
        let stdout = driver.stdout.take();
        let started = tokio::task::spawn_blocking(move || {
            let mut lines = std::io::BufReader::new(stdout?).lines();
            lines
                .find(|l| l.as_ref().is_ok_and(|l| l.contains("started successfully")))
                .map(|_| lines)
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let Some(rest) = started else {
            let _ = driver.kill();
            panic!("chromedriver exited before it listened");
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || rest.for_each(drop));
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary profile: {e}"));
        let mut args: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push("--window-size=1280,1000".to_owned());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({"binary": chromium(), "args": args}),
        );
        let client = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| {
            let _ = driver.kill();
            panic!("WebDriver session: {e}")
        });
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Saves a PNG of the window to `path` (a test artefact).
    ///
    /// # Panics
    /// When the browser or the file system fails.
    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
