//! The calibration as text for people: the commented hospital file ([`to_commented_toml`]) and
//! the value column of the estimate table (kinds, durations, routes, arrival rates).
use super::{ASSUMPTIONS, Calibration};
use crate::Result;
use crate::scenario::{Duration, Route, UnitKind};

/// The hospital file of `c` as TOML, preceded by `#` comment lines: `header` (each of its
/// lines), a table of every estimate (parameter, value, n, source) and [`ASSUMPTIONS`]. The
/// comments do not change what the file parses to.
///
/// Errors: [`Error::Invalid`](crate::Error::Invalid) if the hospital cannot be written as TOML.
pub fn to_commented_toml(c: &Calibration, header: &str) -> Result<String> {
    let body = c.hospital.to_toml()?;
    let clean = |s: &str| s.replace(['\r', '\n'], " ");
    let mut out = String::new();
    let mut comment = |text: &str| {
        out.push('#');
        if !text.is_empty() {
            out.push(' ');
            out.push_str(text);
        }
        out.push('\n');
    };
    for l in header.lines() {
        comment(&clean(l));
    }
    if !header.is_empty() {
        comment("");
    }
    comment("Estimates:");
    let rows: Vec<[String; 4]> = c
        .report
        .iter()
        .map(|l| {
            [
                clean(&l.parameter),
                clean(&l.value),
                l.n.to_string(),
                clean(&l.source),
            ]
        })
        .collect();
    let width = |i: usize, cap: usize, title: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
            .min(cap)
    };
    let (wp, wv, wn) = (
        width(0, 48, "parameter"),
        width(1, 40, "value"),
        width(2, 12, "n"),
    );
    comment(&format!(
        "{:<wp$}  {:<wv$}  {:>wn$}  source",
        "parameter", "value", "n"
    ));
    comment(&format!(
        "{}  {}  {}  {}",
        "-".repeat(wp),
        "-".repeat(wv),
        "-".repeat(wn),
        "-".repeat(6)
    ));
    for [p, v, n, s] in &rows {
        comment(format!("{p:<wp$}  {v:<wv$}  {n:>wn$}  {s}").trim_end());
    }
    comment("");
    comment("Assumptions:");
    for a in ASSUMPTIONS {
        comment(&format!("- {a}"));
    }
    out.push('\n');
    out.push_str(&body);
    Ok(out)
}

/// The file name of a unit kind (serde snake_case).
pub(super) fn kind_label(k: UnitKind) -> &'static str {
    match k {
        UnitKind::Icu => "icu",
        UnitKind::Pacu => "pacu",
        UnitKind::StepDown => "step_down",
        UnitKind::Telemetry => "telemetry",
        UnitKind::Ed => "ed",
        UnitKind::Pediatrics => "pediatrics",
        UnitKind::MedSurg => "med_surg",
        UnitKind::Psychiatric => "psychiatric",
        UnitKind::Obstetrics => "obstetrics",
        UnitKind::Other => "other",
    }
}

pub(super) fn duration_text(d: &Duration) -> String {
    match d {
        Duration::Lognormal { mu, sigma } => format!(
            "lognormal mu {mu:.3} sigma {sigma:.3} (median {:.1} h, mean {:.1} h)",
            mu.exp(),
            d.mean()
        ),
        other => format!("mean {:.1} h", other.mean()),
    }
}

/// `A 0.500, B 0.250, <rest> 0.250`; the remainder is shown when `rest` is not empty.
pub(super) fn routes_text(routes: &[Route], rest: &str) -> String {
    let mut parts: Vec<String> = routes
        .iter()
        .map(|r| format!("{} {:.3}", r.to, r.p))
        .collect();
    let remainder = 1.0 - routes.iter().map(|r| r.p).sum::<f64>();
    if !rest.is_empty() && (remainder > 1e-9 || routes.is_empty()) {
        parts.push(format!("{rest} {:.3}", remainder.max(0.0)));
    }
    parts.join(", ")
}

pub(super) fn rates_text(per_hour: &[f64]) -> String {
    let mean = per_hour.iter().sum::<f64>() / per_hour.len().max(1) as f64;
    let (peak_h, peak) =
        per_hour.iter().copied().enumerate().fold(
            (0, 0.0),
            |best, (h, r)| if r > best.1 { (h, r) } else { best },
        );
    format!("mean {mean:.4}/h, peak {peak:.4}/h at {peak_h:02}:00 UTC")
}
