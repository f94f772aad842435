//! Live progress of a run: a spinner line on a terminal, structured log lines otherwise.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use wardstream_pipelines::ViewStore;
use wardstream_schemas::time::format_rfc3339;

/// Reports events/s, watermark, view lag and dead letters while a run goes on.
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
    last_count: u64,
    last_at: Instant,
    lateness_ms: i64,
}

impl Progress {
    /// Starts reporting (a spinner if stderr is a terminal and `quiet` is false).
    pub fn new(quiet: bool, lateness_ms: i64) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            started: now,
            last_log: now,
            last_count: 0,
            last_at: now,
            lateness_ms,
        }
    }

    /// Updates the line from the store.
    pub fn update(&mut self, store: &ViewStore) {
        let stats = store.stats();
        let count = stats.total_received();
        let now = Instant::now();
        let dt = now.duration_since(self.last_at).as_secs_f64();
        let rate = if dt > 0.0 {
            (count - self.last_count) as f64 / dt
        } else {
            0.0
        };
        self.last_count = count;
        self.last_at = now;
        let watermark = store
            .max_event_time()
            .map(|t| format_rfc3339(t - self.lateness_ms))
            .unwrap_or_else(|| "-".into());
        let event_time = store
            .max_event_time()
            .map(format_rfc3339)
            .unwrap_or_else(|| "-".into());
        let lag_epochs = store.pending_epochs();
        let msg = format!(
            "events {count} ({rate:.0}/s) · event time {event_time} · watermark {watermark} · view lag {lag_epochs} epochs · dead letters {}",
            stats.total_dead_lettered()
        );
        match &self.bar {
            Some(bar) => bar.set_message(msg),
            None => {
                if now.duration_since(self.last_log) >= Duration::from_secs(5) {
                    self.last_log = now;
                    tracing::info!(
                        events = count,
                        events_per_s = rate as u64,
                        event_time,
                        watermark,
                        dead_letters = stats.total_dead_lettered(),
                        "progress"
                    );
                }
            }
        }
    }

    /// Ends the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        tracing::debug!(
            elapsed_s = self.started.elapsed().as_secs_f64(),
            "progress finished"
        );
    }
}
