//! Revenue per day, code and care unit: the `revenue` view.
//!
//! A charge (`charge_id`) is attributed to the day (UTC), code system, code, care unit and
//! currency of its earliest posting (or of its earliest event if it was never posted).
//! *posted* sums its postings, *adjusted* its signed adjustments; a *void* retracts the
//! charge: its posted + adjusted amount moves to *voided* and its *net* becomes 0. Otherwise
//! net = posted + adjusted. Amounts are integers in the currency's minor unit.
//!
//! ## Incremental contract
//! Input: `Charge` updates. Stage 1 reduces per `(tenant, charge)`: O(events of the charge) per
//! change. Stage 2 sums per `(tenant, day, code system, code, care unit, currency)`: O(distinct
//! charges' amount tuples in that group). State: all applied charge events.

use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use wardstream_schemas::time::day_start;
use wardstream_schemas::{Charge, ChargeStatus, CodeSystem, Millis};

/// Revenue of one group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RevenueRow {
    /// Tenant.
    pub tenant_id: String,
    /// Day of the posting (midnight UTC).
    pub day: Millis,
    /// Code system.
    pub code_system: CodeSystem,
    /// CPT/HCPCS code or MS-DRG.
    pub code: String,
    /// Care unit, when the charge names one.
    pub care_unit: Option<String>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Charges in the group.
    pub charges: i64,
    /// Sum of postings (minor units).
    pub posted: i64,
    /// Sum of adjustments (minor units, signed).
    pub adjusted: i64,
    /// Amount retracted by voids (minor units).
    pub voided: i64,
    /// posted + adjusted − voided.
    pub net: i64,
}

type Group = (Millis, CodeSystem, String, Option<String>, String);

/// The `revenue` view.
pub fn revenue_view<'s>(
    charges: VecCollection<'s, u64, Charge>,
) -> VecCollection<'s, u64, RevenueRow> {
    charges
        .map(|c| {
            let first_posting = c.status != ChargeStatus::Posted;
            let group: Group = (
                day_start(c.event_time),
                c.code_system,
                c.code,
                c.care_unit,
                c.currency,
            );
            (
                (c.tenant_id, c.charge_id),
                (
                    first_posting,
                    c.event_time,
                    c.event_id,
                    group,
                    c.status,
                    c.amount_minor,
                ),
            )
        })
        .reduce_named("Charge state", |_key, input, output| {
            // Sorted: postings (false) first, earliest first, so input[0] names the group.
            let group = input[0].0.3.clone();
            let (mut posted, mut adjusted, mut void) = (0i64, 0i64, false);
            for ((_, _, _, _, status, amount), n) in input {
                let n = *n as i64;
                match status {
                    ChargeStatus::Posted => posted += amount * n,
                    ChargeStatus::Adjusted => adjusted += amount * n,
                    ChargeStatus::Voided => void = true,
                }
            }
            let (voided, net) = if void {
                (posted + adjusted, 0)
            } else {
                (0, posted + adjusted)
            };
            output.push(((group, posted, adjusted, voided, net), 1isize));
        })
        .map(
            |((tenant, _charge), (group, posted, adjusted, voided, net))| {
                ((tenant, group), (posted, adjusted, voided, net))
            },
        )
        .reduce_named(
            "Revenue",
            |(tenant, group): &(String, Group), input, output| {
                let (day, system, code, unit, currency) = group.clone();
                let mut row = RevenueRow {
                    tenant_id: tenant.clone(),
                    day,
                    code_system: system,
                    code,
                    care_unit: unit,
                    currency,
                    charges: 0,
                    posted: 0,
                    adjusted: 0,
                    voided: 0,
                    net: 0,
                };
                for ((posted, adjusted, voided, net), n) in input {
                    let n = *n as i64;
                    row.charges += n;
                    row.posted += posted * n;
                    row.adjusted += adjusted * n;
                    row.voided += voided * n;
                    row.net += net * n;
                }
                output.push((row, 1isize));
            },
        )
        .map(|(_, row)| row)
}
