//! Appointment no-shows per clinic and day: the `no_show` view.
//!
//! Each appointment is described by its latest lifecycle event (by `event_time`, then status
//! order booked < rescheduled < cancelled < checked_in < completed < no_show, then
//! `event_id`). Per clinic and scheduled day (UTC): *booked* counts appointments not
//! cancelled; *attended* those checked in or completed; *no_shows* those marked no-show;
//! *cancelled* the cancelled ones. The no-show rate is no_shows / (attended + no_shows). Lead
//! time is scheduled day − booking day in whole days; its median is over booked appointments
//! (mean of the two middle values for an even count).
//!
//! ## Incremental contract
//! Input: `Appointment` updates. Stage 1 reduces per `(tenant, appointment)` to the latest
//! event: O(events of that appointment) per change. Stage 2 reduces per `(tenant, clinic, day)`:
//! O(appointments that day) per change. State: all applied appointment events.

use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use wardstream_schemas::time::day_start;
use wardstream_schemas::{Appointment, AppointmentStatus, Milli, Millis};

/// No-shows of one clinic on one day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NoShowRow {
    /// Tenant.
    pub tenant_id: String,
    /// Clinic.
    pub clinic: String,
    /// Scheduled day (midnight UTC).
    pub day: Millis,
    /// Appointments not cancelled.
    pub booked: i64,
    /// Checked in or completed.
    pub attended: i64,
    /// Marked no-show.
    pub no_shows: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Median lead time of booked appointments, days.
    pub median_lead_days: Option<Milli>,
}

impl NoShowRow {
    /// no_shows / (attended + no_shows), when any appointment was resolved.
    pub fn rate(&self) -> Option<f64> {
        let resolved = self.attended + self.no_shows;
        (resolved > 0).then(|| self.no_shows as f64 / resolved as f64)
    }
}

/// The median of a sorted multiset of whole days, in thousandths of a day.
pub fn median_days(sorted: &[(i64, i64)]) -> Option<Milli> {
    let n: i64 = sorted.iter().map(|(_, c)| c).sum();
    if n <= 0 {
        return None;
    }
    let nth = |k: i64| {
        let mut seen = 0;
        for (v, c) in sorted {
            seen += c;
            if seen > k {
                return *v;
            }
        }
        sorted.last().map(|(v, _)| *v).unwrap_or(0)
    };
    let (a, b) = if n % 2 == 1 {
        (nth(n / 2), nth(n / 2))
    } else {
        (nth(n / 2 - 1), nth(n / 2))
    };
    Some(Milli((a + b) * 500))
}

/// The `no_show` view.
pub fn no_show_view<'s>(
    appointments: VecCollection<'s, u64, Appointment>,
) -> VecCollection<'s, u64, NoShowRow> {
    appointments
        .map(|a| {
            let lead = a.lead_days();
            (
                (a.tenant_id, a.appointment_id),
                (
                    a.event_time,
                    a.status,
                    a.event_id,
                    a.clinic,
                    day_start(a.scheduled_start),
                    lead,
                ),
            )
        })
        .reduce_named("Latest appointment state", |_key, input, output| {
            if let Some(((_, status, _, clinic, day, lead), _)) = input.last() {
                output.push(((*status, clinic.clone(), *day, *lead), 1isize));
            }
        })
        .map(|((tenant, _appt), (status, clinic, day, lead))| {
            ((tenant, clinic, day), (lead, status))
        })
        .reduce_named(
            "No-shows per clinic-day",
            |(tenant, clinic, day): &(String, String, Millis), input, output| {
                let mut row = NoShowRow {
                    tenant_id: tenant.clone(),
                    clinic: clinic.clone(),
                    day: *day,
                    booked: 0,
                    attended: 0,
                    no_shows: 0,
                    cancelled: 0,
                    median_lead_days: None,
                };
                let mut leads: Vec<(i64, i64)> = Vec::with_capacity(input.len());
                for ((lead, status), n) in input {
                    let n = *n as i64;
                    match status {
                        AppointmentStatus::Cancelled => row.cancelled += n,
                        other => {
                            row.booked += n;
                            match other {
                                AppointmentStatus::CheckedIn | AppointmentStatus::Completed => {
                                    row.attended += n
                                }
                                AppointmentStatus::NoShow => row.no_shows += n,
                                _ => {}
                            }
                            // Input is sorted by lead first, so leads stay sorted.
                            match leads.last_mut() {
                                Some((l, c)) if l == lead => *c += n,
                                _ => leads.push((*lead, n)),
                            }
                        }
                    }
                }
                row.median_lead_days = median_days(&leads);
                output.push((row, 1isize));
            },
        )
        .map(|(_, row)| row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median_days(&[]), None);
        assert_eq!(median_days(&[(3, 1)]), Some(Milli(3_000)));
        assert_eq!(median_days(&[(0, 1), (3, 1)]), Some(Milli(1_500)));
        assert_eq!(median_days(&[(0, 2), (3, 1)]), Some(Milli(0)));
        assert_eq!(median_days(&[(0, 2), (3, 2)]), Some(Milli(1_500)));
    }
}
