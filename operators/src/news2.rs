//! NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017), and the
//! `news2` / `alerts` views.
//!
//! Scoring follows RCP 2017, chart 1 ("The NEWS2 scoring system"), for all seven parameters:
//! respiration rate, SpO2 on scale 1 or scale 2, air or oxygen, systolic blood pressure, pulse,
//! consciousness (ACVPU) and temperature. Clinical response follows chart 2 ("NEWS thresholds
//! and triggers"): aggregate 0–4 *low*; a single parameter scoring 3 (a *red flag*) with an
//! aggregate below 5 *low-medium*; 5–6 *medium*; 7 or more *high*.
//!
//! Measured values are rounded before banding: whole numbers for rates, saturations and
//! pressures, one decimal for temperature (halves away from zero), so that a reading between
//! two chart bands (e.g. 20.6 /min) falls in exactly one.
//!
//! ## Incremental contract
//! Input: `VitalSign` updates `(event, time, ±1)`. Stage 1 reduces per
//! `(tenant, patient, parameter)` to the latest reading by `(effective time, event_id)` and the
//! latest at an earlier time; stage 2 reduces each patient's ≤ 16 such readings to one
//! [`News2Row`], scored at its latest observation and just before it (`previous_score`). A
//! change costs O(readings of that patient and parameter) in stage 1 and O(1) in stage 2. The
//! `alerts` view adds one reduce per `(tenant, encounter)` over the alerting row and the
//! encounter's location (O(1)). State: the arrangements hold every reading applied (bounded by
//! retention, not yet by time — see the ADR on state bounds).

use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use wardstream_schemas::{Acvpu, Milli, Millis, Spo2Scale, VitalCode, VitalSign};

/// The clinical response a NEWS2 aggregate triggers (RCP 2017, chart 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Response {
    /// Aggregate 0–4, no red flag: ward-based response.
    Low,
    /// A single parameter scoring 3, aggregate below 5: urgent ward-based response.
    LowMedium,
    /// Aggregate 5–6: key threshold for urgent response.
    Medium,
    /// Aggregate 7 or more: urgent or emergency response.
    High,
}

impl Response {
    /// `low`, `low-medium`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Response::Low => "low",
            Response::LowMedium => "low-medium",
            Response::Medium => "medium",
            Response::High => "high",
        }
    }
}

/// Respiration rate score (breaths `/min`): ≤8 → 3, 9–11 → 1, 12–20 → 0, 21–24 → 2, ≥25 → 3.
pub fn score_respiration_rate(rate: Milli) -> u8 {
    match rate.round_whole() {
        ..=8 => 3,
        9..=11 => 1,
        12..=20 => 0,
        21..=24 => 2,
        _ => 3,
    }
}

/// SpO2 score (`%`). Scale 1: ≤91 → 3, 92–93 → 2, 94–95 → 1, ≥96 → 0. Scale 2: ≤83 → 3,
/// 84–85 → 2, 86–87 → 1, 88–92 → 0 and ≥93 on air → 0; on oxygen 93–94 → 1, 95–96 → 2, ≥97 → 3.
/// `on_oxygen` unknown is taken as air.
pub fn score_spo2(spo2: Milli, scale: Spo2Scale, on_oxygen: bool) -> u8 {
    let s = spo2.round_whole();
    match scale {
        Spo2Scale::Scale1 => match s {
            ..=91 => 3,
            92..=93 => 2,
            94..=95 => 1,
            _ => 0,
        },
        Spo2Scale::Scale2 => match s {
            ..=83 => 3,
            84..=85 => 2,
            86..=87 => 1,
            88..=92 => 0,
            _ if !on_oxygen => 0,
            93..=94 => 1,
            95..=96 => 2,
            _ => 3,
        },
    }
}

/// Air or oxygen score: supplemental oxygen → 2, air → 0.
pub fn score_air_or_oxygen(on_oxygen: bool) -> u8 {
    if on_oxygen { 2 } else { 0 }
}

/// Systolic blood pressure score (`mm[Hg]`): ≤90 → 3, 91–100 → 2, 101–110 → 1, 111–219 → 0, ≥220 → 3.
pub fn score_systolic_bp(sbp: Milli) -> u8 {
    match sbp.round_whole() {
        ..=90 => 3,
        91..=100 => 2,
        101..=110 => 1,
        111..=219 => 0,
        _ => 3,
    }
}

/// Pulse score (`/min`): ≤40 → 3, 41–50 → 1, 51–90 → 0, 91–110 → 1, 111–130 → 2, ≥131 → 3.
pub fn score_pulse(pulse: Milli) -> u8 {
    match pulse.round_whole() {
        ..=40 => 3,
        41..=50 => 1,
        51..=90 => 0,
        91..=110 => 1,
        111..=130 => 2,
        _ => 3,
    }
}

/// Consciousness score: Alert → 0; new Confusion, Voice, Pain, Unresponsive → 3.
pub fn score_consciousness(level: Acvpu) -> u8 {
    if level == Acvpu::A { 0 } else { 3 }
}

/// Temperature score (`Cel`): ≤35.0 → 3, 35.1–36.0 → 1, 36.1–38.0 → 0, 38.1–39.0 → 1, ≥39.1 → 2.
pub fn score_temperature(temp: Milli) -> u8 {
    match temp.round_tenths() {
        ..=350 => 3,
        351..=360 => 1,
        361..=380 => 0,
        381..=390 => 1,
        _ => 2,
    }
}

/// One NEWS2 parameter as tracked per patient (the latest value of each is kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Parameter {
    /// Respiration rate.
    RespirationRate,
    /// Oxygen saturation: SpO2 (59408-5) or SaO2 (2708-6), whichever is latest.
    OxygenSaturation,
    /// Supplemental oxygen or air.
    AirOrOxygen,
    /// Systolic blood pressure.
    SystolicBp,
    /// Pulse (heart rate).
    Pulse,
    /// ACVPU.
    Consciousness,
    /// Temperature.
    Temperature,
    /// The SpO2 scale a clinician set (not scored; selects the scale).
    Spo2Scale,
}

/// A parameter's latest reading: the value in thousandths (booleans 0/1, ACVPU 0–4, scale 1/2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reading {
    /// Effective time.
    pub time: Millis,
    /// The value, encoded per parameter.
    pub value: i64,
}

fn acvpu_code(a: Acvpu) -> i64 {
    a as i64
}

fn acvpu_from(code: i64) -> Acvpu {
    match code {
        0 => Acvpu::A,
        1 => Acvpu::C,
        2 => Acvpu::V,
        3 => Acvpu::P,
        _ => Acvpu::U,
    }
}

/// The NEWS2 parameters a vital-sign event carries, with encoded values.
pub fn parameters(v: &VitalSign) -> impl Iterator<Item = (Parameter, i64)> {
    let quantity = v.quantity().and_then(|(code, value)| {
        let p = match code {
            VitalCode::RespiratoryRate => Parameter::RespirationRate,
            VitalCode::Spo2 | VitalCode::Sao2 => Parameter::OxygenSaturation,
            VitalCode::SystolicBp => Parameter::SystolicBp,
            VitalCode::HeartRate => Parameter::Pulse,
            VitalCode::BodyTemperature => Parameter::Temperature,
            VitalCode::DiastolicBp => return None,
        };
        Some((p, value.0))
    });
    let oxygen = v
        .supplemental_oxygen
        .map(|o| (Parameter::AirOrOxygen, i64::from(o)));
    let conscious = v
        .consciousness
        .map(|c| (Parameter::Consciousness, acvpu_code(c)));
    let scale = v.spo2_scale.map(|s| {
        (
            Parameter::Spo2Scale,
            if s == Spo2Scale::Scale2 { 2 } else { 1 },
        )
    });
    quantity
        .into_iter()
        .chain(oxygen)
        .chain(conscious)
        .chain(scale)
}

/// The latest NEWS2 of one patient.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct News2Row {
    /// Tenant.
    pub tenant_id: String,
    /// Patient.
    pub patient_id: String,
    /// Encounter of the latest observation.
    pub encounter_id: String,
    /// Aggregate score over the parameters present (0–20).
    pub score: u8,
    /// Whether any single parameter scores 3.
    pub red_flag: bool,
    /// Clinical response level.
    pub response: Response,
    /// How many of the seven scored parameters have a reading (7 = complete).
    pub parameters_present: u8,
    /// Latest respiration rate, `/min`.
    pub respiration_rate: Option<Milli>,
    /// Latest oxygen saturation, `%`.
    pub spo2: Option<Milli>,
    /// The scale used for SpO2.
    pub spo2_scale: Spo2Scale,
    /// Latest air (false) or supplemental oxygen (true).
    pub supplemental_oxygen: Option<bool>,
    /// Latest systolic BP, `mm[Hg]`.
    pub systolic_bp: Option<Milli>,
    /// Latest pulse, `/min`.
    pub pulse: Option<Milli>,
    /// Latest ACVPU.
    pub consciousness: Option<Acvpu>,
    /// Latest temperature, `Cel`.
    pub temperature: Option<Milli>,
    /// Time of the most recent reading of any parameter.
    pub last_observed: Millis,
    /// The aggregate score just before `last_observed`: over the latest reading of each
    /// parameter earlier than it (`None` when no scored parameter had one). `score` against it is the
    /// trend a chart review reads.
    pub previous_score: Option<u8>,
}

impl News2Row {
    /// Scores a patient from the latest reading of each parameter.
    pub fn score(
        tenant_id: String,
        patient_id: String,
        encounter_id: String,
        latest: &[(Parameter, Reading)],
    ) -> Self {
        let get = |p: Parameter| latest.iter().find(|(q, _)| *q == p).map(|(_, r)| r.value);
        let scale = if get(Parameter::Spo2Scale) == Some(2) {
            Spo2Scale::Scale2
        } else {
            Spo2Scale::Scale1
        };
        let oxygen = get(Parameter::AirOrOxygen).map(|v| v != 0);
        let mut row = News2Row {
            tenant_id,
            patient_id,
            encounter_id,
            score: 0,
            red_flag: false,
            response: Response::Low,
            parameters_present: 0,
            respiration_rate: get(Parameter::RespirationRate).map(Milli),
            spo2: get(Parameter::OxygenSaturation).map(Milli),
            spo2_scale: scale,
            supplemental_oxygen: oxygen,
            systolic_bp: get(Parameter::SystolicBp).map(Milli),
            pulse: get(Parameter::Pulse).map(Milli),
            consciousness: get(Parameter::Consciousness).map(acvpu_from),
            temperature: get(Parameter::Temperature).map(Milli),
            last_observed: latest.iter().map(|(_, r)| r.time).max().unwrap_or(0),
            previous_score: None,
        };
        let scores = [
            row.respiration_rate.map(score_respiration_rate),
            row.spo2
                .map(|s| score_spo2(s, scale, oxygen.unwrap_or(false))),
            oxygen.map(score_air_or_oxygen),
            row.systolic_bp.map(score_systolic_bp),
            row.pulse.map(score_pulse),
            row.consciousness.map(score_consciousness),
            row.temperature.map(score_temperature),
        ];
        row.parameters_present = scores.iter().flatten().count() as u8;
        row.score = scores.iter().flatten().sum();
        row.red_flag = scores.iter().flatten().any(|&s| s == 3);
        row.response = response(row.score, row.red_flag);
        row
    }
}

/// The clinical response for an aggregate and red-flag status (RCP 2017, chart 2).
pub fn response(score: u8, red_flag: bool) -> Response {
    match score {
        7.. => Response::High,
        5..=6 => Response::Medium,
        _ if red_flag => Response::LowMedium,
        _ => Response::Low,
    }
}

type Key = (String, String);

/// Which reading of a parameter: its latest, or its latest strictly earlier than that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Slot {
    Earlier,
    Latest,
}

/// The `news2` view: one [`News2Row`] per `(tenant, patient)` from the latest reading of each
/// parameter (latest by effective time, ties by `event_id`), with the score just before the
/// latest observation time (`previous_score`).
///
/// Incremental contract: per `(patient, parameter)` a reduce over its readings keeps the
/// latest and the latest at an earlier time (O(readings of the parameter) per change); per
/// patient a reduce over those (at most 16 values) scores both.
pub fn news2_view<'s>(
    vitals: VecCollection<'s, u64, VitalSign>,
) -> VecCollection<'s, u64, News2Row> {
    vitals
        .flat_map(|v| {
            let key: Key = (v.tenant_id.clone(), v.patient_id.clone());
            parameters(&v)
                .map(|(p, value)| {
                    (
                        (key.clone(), p),
                        (
                            v.event_time,
                            v.event_id.clone(),
                            value,
                            v.encounter_id.clone(),
                        ),
                    )
                })
                .collect::<Vec<_>>()
        })
        .reduce_named("Latest reading", |_key, input, output| {
            // Values are sorted: the last is the latest by (time, event_id).
            if let Some(((time, id, value, encounter), _)) = input.last() {
                output.push((
                    (Slot::Latest, *time, id.clone(), *value, encounter.clone()),
                    1isize,
                ));
                if let Some(((t, id, value, encounter), _)) =
                    input.iter().rev().find(|((t, ..), _)| t < time)
                {
                    output.push((
                        (Slot::Earlier, *t, id.clone(), *value, encounter.clone()),
                        1isize,
                    ));
                }
            }
        })
        .map(|((key, p), (slot, time, _id, value, encounter))| {
            (key, (p, slot, time, value, encounter))
        })
        .reduce_named("NEWS2", |key: &Key, input, output| {
            let reading = |time: &Millis, value: &i64| Reading {
                time: *time,
                value: *value,
            };
            let latest: Vec<(Parameter, Reading)> = input
                .iter()
                .filter(|((_, slot, ..), _)| *slot == Slot::Latest)
                .map(|((p, _, time, value, _), _)| (*p, reading(time, value)))
                .collect();
            let last = latest.iter().map(|(_, r)| r.time).max().unwrap_or(0);
            // Just before `last`: each parameter's latest if earlier, else its earlier one.
            let latest_at_last =
                |p: &Parameter| latest.iter().any(|(q, r)| q == p && r.time == last);
            let before: Vec<(Parameter, Reading)> = input
                .iter()
                .filter(|((p, slot, time, ..), _)| match slot {
                    Slot::Latest => *time < last,
                    Slot::Earlier => latest_at_last(p),
                })
                .map(|((p, _, time, value, _), _)| (*p, reading(time, value)))
                .collect();
            // The encounter of the most recent reading.
            let encounter = input
                .iter()
                .filter(|((_, slot, ..), _)| *slot == Slot::Latest)
                .max_by_key(|((_, _, time, _, enc), _)| (*time, enc.clone()))
                .map(|((.., enc), _)| enc.clone())
                .unwrap_or_default();
            let mut row = News2Row::score(key.0.clone(), key.1.clone(), encounter, &latest);
            // No scored parameter before (e.g. only an SpO2 scale): no previous score.
            let earlier = News2Row::score(String::new(), String::new(), String::new(), &before);
            if earlier.parameters_present > 0 {
                row.previous_score = Some(earlier.score);
            }
            output.push((row, 1isize));
        })
        .map(|(_, row)| row)
}

/// A row of the `alerts` view: a patient's NEWS2 at medium or high clinical risk, and where
/// the patient is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertRow {
    /// The patient's latest NEWS2.
    pub news2: News2Row,
    /// The care unit of the observations' encounter now; `None` when no ADT event names the
    /// encounter (e.g. a monitor feed without ADT).
    pub care_unit: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Side {
    Alert(News2Row),
    Location(Option<String>),
}

/// The `alerts` view: patients whose latest NEWS2 response is medium or high (RCP 2017:
/// urgent or emergency response), unless the encounter of their latest observation has been
/// discharged: an alert is for someone in the hospital. `locations` is
/// [`crate::census::encounter_locations`].
///
/// Incremental contract: one reduce per `(tenant, encounter)` over that encounter's alerting
/// NEWS2 row (at most one per patient) and its location; O(1) per change.
pub fn alerts_view<'s>(
    news2: VecCollection<'s, u64, News2Row>,
    locations: VecCollection<'s, u64, (crate::census::EncounterKey, Option<String>)>,
) -> VecCollection<'s, u64, AlertRow> {
    let alerting = news2
        .filter(|row| matches!(row.response, Response::Medium | Response::High))
        .map(|row| {
            (
                (row.tenant_id.clone(), row.encounter_id.clone()),
                Side::Alert(row),
            )
        });
    alerting
        .concat(locations.map(|(key, unit)| (key, Side::Location(unit))))
        .reduce_named("Alerts in house", |_key, input, output| {
            let mut location = None;
            for (side, _) in input {
                if let Side::Location(unit) = side {
                    location = Some(unit.clone());
                }
            }
            if let Some(None) = location {
                return; // discharged
            }
            for (side, _) in input {
                if let Side::Alert(row) = side {
                    output.push((
                        AlertRow {
                            news2: row.clone(),
                            care_unit: location.clone().flatten(),
                        },
                        1isize,
                    ));
                }
            }
        })
        .map(|(_, row)| row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: f64) -> Milli {
        Milli::from_f64(v).unwrap_or_default()
    }

    /// Every band boundary of RCP 2017 chart 1: (value, expected score) on each side.
    #[test]
    fn respiration_rate_bands() {
        for (v, s) in [
            (8.0, 3),
            (9.0, 1),
            (11.0, 1),
            (12.0, 0),
            (20.0, 0),
            (21.0, 2),
            (24.0, 2),
            (25.0, 3),
            (0.0, 3),
            (60.0, 3),
        ] {
            assert_eq!(score_respiration_rate(m(v)), s, "RR {v}");
        }
        assert_eq!(score_respiration_rate(m(20.4)), 0);
        assert_eq!(score_respiration_rate(m(20.5)), 2);
    }

    #[test]
    fn spo2_scale1_bands() {
        for (v, s) in [
            (91.0, 3),
            (92.0, 2),
            (93.0, 2),
            (94.0, 1),
            (95.0, 1),
            (96.0, 0),
            (100.0, 0),
        ] {
            assert_eq!(
                score_spo2(m(v), Spo2Scale::Scale1, false),
                s,
                "SpO2 {v} air"
            );
            assert_eq!(
                score_spo2(m(v), Spo2Scale::Scale1, true),
                s,
                "SpO2 {v} oxygen"
            );
        }
    }

    #[test]
    fn spo2_scale2_bands() {
        for (v, s) in [
            (83.0, 3),
            (84.0, 2),
            (85.0, 2),
            (86.0, 1),
            (87.0, 1),
            (88.0, 0),
            (92.0, 0),
        ] {
            assert_eq!(
                score_spo2(m(v), Spo2Scale::Scale2, false),
                s,
                "SpO2 {v} air"
            );
            assert_eq!(
                score_spo2(m(v), Spo2Scale::Scale2, true),
                s,
                "SpO2 {v} oxygen"
            );
        }
        for v in [93.0, 95.0, 97.0, 100.0] {
            assert_eq!(
                score_spo2(m(v), Spo2Scale::Scale2, false),
                0,
                "SpO2 {v} on air"
            );
        }
        for (v, s) in [
            (93.0, 1),
            (94.0, 1),
            (95.0, 2),
            (96.0, 2),
            (97.0, 3),
            (100.0, 3),
        ] {
            assert_eq!(
                score_spo2(m(v), Spo2Scale::Scale2, true),
                s,
                "SpO2 {v} on oxygen"
            );
        }
    }

    #[test]
    fn other_parameter_bands() {
        assert_eq!(score_air_or_oxygen(true), 2);
        assert_eq!(score_air_or_oxygen(false), 0);
        for (v, s) in [
            (90.0, 3),
            (91.0, 2),
            (100.0, 2),
            (101.0, 1),
            (110.0, 1),
            (111.0, 0),
            (219.0, 0),
            (220.0, 3),
        ] {
            assert_eq!(score_systolic_bp(m(v)), s, "SBP {v}");
        }
        for (v, s) in [
            (40.0, 3),
            (41.0, 1),
            (50.0, 1),
            (51.0, 0),
            (90.0, 0),
            (91.0, 1),
            (110.0, 1),
            (111.0, 2),
            (130.0, 2),
            (131.0, 3),
        ] {
            assert_eq!(score_pulse(m(v)), s, "pulse {v}");
        }
        assert_eq!(score_consciousness(Acvpu::A), 0);
        for a in [Acvpu::C, Acvpu::V, Acvpu::P, Acvpu::U] {
            assert_eq!(score_consciousness(a), 3);
        }
        for (v, s) in [
            (35.0, 3),
            (35.1, 1),
            (36.0, 1),
            (36.1, 0),
            (38.0, 0),
            (38.1, 1),
            (39.0, 1),
            (39.1, 2),
            (42.0, 2),
        ] {
            assert_eq!(score_temperature(m(v)), s, "temp {v}");
        }
        assert_eq!(score_temperature(m(35.04)), 3);
        assert_eq!(score_temperature(m(35.05)), 1);
    }

    #[test]
    fn response_thresholds() {
        assert_eq!(response(0, false), Response::Low);
        assert_eq!(response(4, false), Response::Low);
        assert_eq!(response(3, true), Response::LowMedium);
        assert_eq!(response(4, true), Response::LowMedium);
        assert_eq!(response(5, true), Response::Medium);
        assert_eq!(response(6, false), Response::Medium);
        assert_eq!(response(7, false), Response::High);
        assert_eq!(response(20, true), Response::High);
    }

    #[test]
    fn aggregate_of_a_deteriorating_patient() {
        // RR 24 (2), SpO2 93 scale 1 (2), oxygen (2), SBP 105 (1), pulse 115 (2), A (0), 38.5 (1) = 10.
        let r = |value| Reading { time: 1, value };
        let latest = [
            (Parameter::RespirationRate, r(24_000)),
            (Parameter::OxygenSaturation, r(93_000)),
            (Parameter::AirOrOxygen, r(1)),
            (Parameter::SystolicBp, r(105_000)),
            (Parameter::Pulse, r(115_000)),
            (Parameter::Consciousness, r(0)),
            (Parameter::Temperature, r(38_500)),
        ];
        let row = News2Row::score("t".into(), "p".into(), "e".into(), &latest);
        assert_eq!(
            (
                row.score,
                row.red_flag,
                row.response,
                row.parameters_present
            ),
            (10, false, Response::High, 7)
        );
        // Only a new confusion: a red flag at aggregate 3.
        let row = News2Row::score(
            "t".into(),
            "p".into(),
            "e".into(),
            &[(Parameter::Consciousness, r(1))],
        );
        assert_eq!(
            (row.score, row.red_flag, row.response),
            (3, true, Response::LowMedium)
        );
    }
}
