//! Headless Chromium (Debian's `chromium` package, installed by `scripts/setup.sh`) for tests
//! of the pages the API serves: it loads a page, runs its scripts and gives back the DOM they
//! built, as a user's browser would show it.
//!
//! Started as the workplace's machines need it: no sandbox (tests run as root), no GPU, and no
//! background networking, component updates or sync, whose connections this machine's closed
//! network refuses; a fresh profile each time, removed afterwards.

use std::path::PathBuf;
use std::process::Command;

/// The browser: `$WARDSTREAM_CHROMIUM`, else `/usr/bin/chromium`.
///
/// # Panics
/// When it is not there, naming the package to install.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("WARDSTREAM_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: install Debian's chromium package (scripts/setup.sh does) or set WARDSTREAM_CHROMIUM",
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
    let mut flags = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
        format!("--virtual-time-budget={budget_ms}"),
    ];
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
