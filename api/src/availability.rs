//! Providers' weekly availability, and the booking rule it sets.
//!
//! A provider's availability is a time zone (IANA, e.g. `Europe/Berlin`; default `UTC`) and
//! windows of local wall-clock time per weekday, e.g. Monday 08:00–12:00 and 13:00–17:00.
//! `PUT /v1/providers/{id}/availability` replaces them (admins and schedulers);
//! `GET` reads them (any role of the tenant). A provider without windows takes bookings at
//! any time. With windows, a booking or reschedule must lie inside one window of the local
//! day it starts on, judged in the provider's time zone (so across daylight-saving changes
//! 08:00 stays 08:00); otherwise it answers 409 `outside_availability`, naming the day's
//! hours. Windows of one day must not overlap (422). `end` may be `24:00`.

use crate::auth::{Principal, Role};
use crate::problem::{ApiJson, FieldError, Problem};
use crate::tenants::AppState;
use axum::Json;
use axum::extract::{Path, State};
use chrono::{Datelike, TimeZone, Timelike};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Who may set availability.
const WRITERS: &[Role] = &[Role::Admin, Role::Scheduler];
/// Most windows a provider may have.
const MAX_WINDOWS: usize = 100;
/// ISO weekday names, Monday first.
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A provider's weekly availability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Availability {
    /// IANA time zone the windows are in, e.g. `Europe/Berlin` (default `UTC`).
    #[serde(default = "utc")]
    pub timezone: String,
    /// Windows of local time (at most 100); none: bookable at any time.
    pub windows: Vec<Window>,
}

fn utc() -> String {
    "UTC".into()
}

/// One window: a weekday and local `HH:MM` times, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Window {
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or `sun`.
    pub weekday: String,
    /// Local start, `HH:MM` (00:00–23:59).
    pub start: String,
    /// Local end, `HH:MM` after `start` (up to `24:00`).
    pub end: String,
}

/// A validated window: ISO weekday (1 = Monday) and minutes of the local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Minutes {
    weekday: i64,
    start: i64,
    end: i64,
}

/// `HH:MM` as minutes of the day (`24:00` only when `end`).
fn minutes(text: &str, end: bool) -> Option<i64> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

fn hhmm(minutes: i64) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Checks `a`, listing each bad field; the time zone and the windows on success.
fn validate(a: &Availability) -> Result<(chrono_tz::Tz, Vec<Minutes>), Problem> {
    let mut errors = Vec::new();
    let tz = a.timezone.parse::<chrono_tz::Tz>().ok();
    if tz.is_none() {
        errors.push(FieldError::new(
            "timezone",
            "must be an IANA time zone, e.g. Europe/Berlin",
        ));
    }
    if a.windows.len() > MAX_WINDOWS {
        errors.push(FieldError::new(
            "windows",
            format!("at most {MAX_WINDOWS} windows"),
        ));
    }
    let mut windows = Vec::new();
    for (i, w) in a.windows.iter().enumerate() {
        let weekday = WEEKDAYS.iter().position(|d| *d == w.weekday);
        let start = minutes(&w.start, false);
        let end = minutes(&w.end, true);
        if weekday.is_none() {
            errors.push(FieldError::new(
                format!("windows[{i}].weekday"),
                "must be mon, tue, wed, thu, fri, sat or sun",
            ));
        }
        if start.is_none() {
            errors.push(FieldError::new(
                format!("windows[{i}].start"),
                "must be HH:MM, 00:00–23:59",
            ));
        }
        match (start, end) {
            (_, None) => errors.push(FieldError::new(
                format!("windows[{i}].end"),
                "must be HH:MM, up to 24:00",
            )),
            (Some(s), Some(e)) if e <= s => errors.push(FieldError::new(
                format!("windows[{i}].end"),
                "must be after start",
            )),
            _ => {}
        }
        if let (Some(d), Some(start), Some(end)) = (weekday, start, end) {
            windows.push(Minutes {
                weekday: d as i64 + 1,
                start,
                end,
            });
        }
    }
    windows.sort();
    for pair in windows.windows(2) {
        if pair[0].weekday == pair[1].weekday && pair[1].start < pair[0].end {
            errors.push(FieldError::new(
                "windows",
                format!(
                    "{} {}–{} overlaps {}–{}",
                    WEEKDAYS[(pair[0].weekday - 1) as usize],
                    hhmm(pair[0].start),
                    hhmm(pair[0].end),
                    hhmm(pair[1].start),
                    hhmm(pair[1].end)
                ),
            ));
        }
    }
    match tz {
        Some(tz) if errors.is_empty() => Ok((tz, windows)),
        _ => Err(Problem::validation(errors)),
    }
}

/// Whether `[starts, ends)` (ms since the Unix epoch) lies inside one of `windows` on the
/// local day it starts on, in `tz`. `Err` holds that day's name for the answer.
fn admits(tz: chrono_tz::Tz, windows: &[Minutes], starts: i64, ends: i64) -> Result<(), i64> {
    let (Some(start), Some(end)) = (
        tz.timestamp_millis_opt(starts).single(),
        tz.timestamp_millis_opt(ends).single(),
    ) else {
        return Err(0);
    };
    let weekday = i64::from(start.weekday().number_from_monday());
    let of_day = |t: &chrono::DateTime<chrono_tz::Tz>| {
        i64::from(t.num_seconds_from_midnight()) * 1000 + i64::from(t.nanosecond() / 1_000_000)
    };
    let start_ms = of_day(&start);
    // The end on the start's local day: midnight after it counts as 24:00.
    let end_ms = if end.date_naive() == start.date_naive() {
        of_day(&end)
    } else if end.date_naive() == start.date_naive().succ_opt().unwrap_or_default()
        && of_day(&end) == 0
    {
        1440 * 60_000
    } else {
        return Err(weekday);
    };
    windows
        .iter()
        .any(|w| w.weekday == weekday && w.start * 60_000 <= start_ms && end_ms <= w.end * 60_000)
        .then_some(())
        .ok_or(weekday)
}

/// The windows in rows of `weekday`, `start_minute`, `end_minute`.
fn windows_of(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Minutes>, Problem> {
    rows.iter()
        .map(|r| {
            Ok(Minutes {
                weekday: r.try_get("weekday")?,
                start: r.try_get("start_minute")?,
                end: r.try_get("end_minute")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(Problem::from_db)
}

/// Refuses `[starts, ends)` for `provider` unless it lies inside the provider's availability
/// (any time when the provider has no windows). Call inside the booking transaction, after
/// the provider's lock.
pub(crate) async fn check(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    provider: &str,
    starts: i64,
    ends: i64,
) -> Result<(), Problem> {
    let rows = sqlx::query(
        "SELECT p.timezone, a.weekday, a.start_minute, a.end_minute FROM providers p \
         JOIN provider_availability a ON a.provider_id = p.id WHERE p.id = $1",
    )
    .bind(provider)
    .fetch_all(&mut **tx)
    .await
    .map_err(Problem::from_db)?;
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let zone: String = first.try_get("timezone").map_err(Problem::from_db)?;
    let tz = zone
        .parse::<chrono_tz::Tz>()
        .map_err(|e| Problem::internal().with_cause(format!("stored time zone {zone:?}: {e}")))?;
    let windows = windows_of(&rows)?;
    admits(tz, &windows, starts, ends).map_err(|weekday| {
        let mut hours: Vec<&Minutes> = windows.iter().filter(|w| w.weekday == weekday).collect();
        hours.sort();
        let hours = hours
            .iter()
            .map(|w| format!("{}–{}", hhmm(w.start), hhmm(w.end)))
            .collect::<Vec<_>>()
            .join(", ");
        let day = usize::try_from(weekday - 1)
            .ok()
            .and_then(|i| WEEKDAYS.get(i))
            .copied()
            .unwrap_or("that day");
        Problem::new(
            409,
            "outside_availability",
            "Outside availability",
            if hours.is_empty() {
                format!("the provider takes no appointments on {day} ({zone})")
            } else {
                format!(
                    "the provider's hours on {day} are {hours} ({zone}); the appointment must lie within one of them"
                )
            },
        )
    })
}

#[utoipa::path(put, path = "/v1/providers/{id}/availability", tag = "scheduling", params(("id" = String, Path, description = "Provider id")), request_body = Availability, responses((status = 200, body = Availability), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 403, description = "the caller's role may not", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 422, description = "invalid fields, each listed", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn put(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Availability>,
) -> Result<Json<Availability>, Problem> {
    who.require(WRITERS)?;
    let (_, windows) = validate(&req)?;
    let mut tx = state.db.begin().await.map_err(Problem::from_db)?;
    // The provider's row first, as bookings take it: a booking sees the old or the new hours.
    let found = sqlx::query(
        "UPDATE providers SET timezone = $1, booking_seq = booking_seq + 1 WHERE id = $2 AND tenant_id = $3",
    )
    .bind(&req.timezone)
    .bind(&id)
    .bind(&who.tenant_id)
    .execute(&mut *tx)
    .await
    .map_err(Problem::from_db)?
    .rows_affected();
    if found == 0 {
        return Err(Problem::not_found(format!("no provider {id}")));
    }
    sqlx::query("DELETE FROM provider_availability WHERE provider_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    for w in &windows {
        sqlx::query(
            "INSERT INTO provider_availability (provider_id, weekday, start_minute, end_minute) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(w.weekday)
        .bind(w.start)
        .bind(w.end)
        .execute(&mut *tx)
        .await
        .map_err(Problem::from_db)?;
    }
    tx.commit().await.map_err(Problem::from_db)?;
    Ok(Json(answer(req.timezone, &windows)))
}

fn answer(timezone: String, windows: &[Minutes]) -> Availability {
    Availability {
        timezone,
        windows: windows
            .iter()
            .map(|w| Window {
                weekday: WEEKDAYS[(w.weekday - 1).clamp(0, 6) as usize].into(),
                start: hhmm(w.start),
                end: hhmm(w.end),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/v1/providers/{id}/availability", tag = "scheduling", params(("id" = String, Path, description = "Provider id")), responses((status = 200, body = Availability), (status = 401, description = "no valid access token", body = crate::problem::Problem, content_type = "application/problem+json"), (status = 404, description = "no such record in the caller's tenant", body = crate::problem::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Availability>, Problem> {
    let provider = sqlx::query("SELECT timezone FROM providers WHERE id = $1 AND tenant_id = $2")
        .bind(&id)
        .bind(&who.tenant_id)
        .fetch_optional(&state.db)
        .await
        .map_err(Problem::from_db)?
        .ok_or_else(|| Problem::not_found(format!("no provider {id}")))?;
    let timezone: String = provider.try_get("timezone").map_err(Problem::from_db)?;
    let rows = sqlx::query(
        "SELECT weekday, start_minute, end_minute FROM provider_availability WHERE provider_id = $1 ORDER BY weekday, start_minute",
    )
    .bind(&id)
    .fetch_all(&state.db)
    .await
    .map_err(Problem::from_db)?;
    let windows = windows_of(&rows)?;
    Ok(Json(answer(timezone, &windows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tz: chrono_tz::Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .map_or(0, |t| t.timestamp_millis())
    }

    #[test]
    fn bookings_must_lie_inside_a_local_window() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap_or(chrono_tz::UTC);
        // Mondays 08:00–12:00 and 13:00–24:00, Berlin time.
        let windows = [
            Minutes {
                weekday: 1,
                start: 480,
                end: 720,
            },
            Minutes {
                weekday: 1,
                start: 780,
                end: 1440,
            },
        ];
        // 2026-03-30 is a Monday, the day after Berlin's clocks went forward.
        let ok = |h0, m0, h1, m1| {
            admits(
                berlin,
                &windows,
                at(berlin, 2026, 3, 30, h0, m0),
                at(berlin, 2026, 3, 30, h1, m1),
            )
        };
        assert_eq!(ok(8, 0, 8, 30), Ok(()));
        assert_eq!(ok(11, 30, 12, 0), Ok(()));
        assert_eq!(ok(11, 30, 12, 30), Err(1), "spans the lunch gap");
        assert_eq!(ok(7, 45, 8, 15), Err(1), "starts before the window");
        // Up to midnight: the end is 00:00 the next day.
        let late = at(berlin, 2026, 3, 30, 23, 30);
        assert_eq!(admits(berlin, &windows, late, late + 30 * 60_000), Ok(()));
        assert_eq!(admits(berlin, &windows, late, late + 45 * 60_000), Err(1));
        // Tuesday has no window.
        let tue = at(berlin, 2026, 3, 31, 9, 0);
        assert_eq!(admits(berlin, &windows, tue, tue + 60_000), Err(2));
        // 08:00 local is 06:00 UTC in summer time, 07:00 UTC in winter time: judged locally.
        let winter_monday = at(berlin, 2026, 3, 23, 8, 0);
        assert_eq!(
            admits(berlin, &windows, winter_monday, winter_monday + 60_000),
            Ok(())
        );
        assert_eq!(
            admits(
                chrono_tz::UTC,
                &windows,
                winter_monday,
                winter_monday + 60_000
            ),
            Err(1),
            "the same instant is 07:00 in UTC"
        );
    }

    #[test]
    fn windows_are_validated() {
        let a = |tz: &str, w: &[(&str, &str, &str)]| Availability {
            timezone: tz.into(),
            windows: w
                .iter()
                .map(|(d, s, e)| Window {
                    weekday: (*d).into(),
                    start: (*s).into(),
                    end: (*e).into(),
                })
                .collect(),
        };
        let fields = |v: &Availability| match validate(v) {
            Ok(_) => Vec::new(),
            Err(p) => p.errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
        };
        assert!(fields(&a("America/Sao_Paulo", &[("mon", "08:00", "24:00")])).is_empty());
        assert_eq!(fields(&a("Mars/Olympus", &[])), ["timezone"]);
        assert_eq!(
            fields(&a(
                "UTC",
                &[
                    ("monday", "08:00", "12:00"),
                    ("tue", "8:00", "12:00"),
                    ("wed", "12:00", "11:00"),
                    ("thu", "24:00", "24:00"),
                ]
            )),
            [
                "windows[0].weekday",
                "windows[1].start",
                "windows[2].end",
                "windows[3].start"
            ]
        );
        assert_eq!(
            fields(&a(
                "UTC",
                &[("fri", "08:00", "12:00"), ("fri", "11:00", "13:00")]
            )),
            ["windows"]
        );
    }
}
