//! The built-in synthetic hospital: the embedded default source of `wardstream run`.
//!
//! [`Generator`] is a deterministic discrete-event simulation of one hospital (one tenant).
//! It is an endless [`Iterator`] of validated [`Event`]s in non-decreasing event time:
//!
//! - **ADT**: arrivals follow a non-homogeneous Poisson process by hour of week; each arrival is
//!   admitted to a care unit by [`CareUnitSpec::admission_share`] (the ED for most), stays a
//!   lognormal time there, then is transferred by [`CareUnitSpec::transfer_to`] or discharged.
//!   A patient whose next unit is full boards in their current bed until one frees (at most
//!   [`calibration::MAX_BOARDING_HOURS`], then they are discharged elsewhere); an arrival whose
//!   first unit is full is diverted (no event). Occupancy never exceeds a unit's beds.
//! - **Vitals**: every occupied bed emits a full NEWS2 observation set every
//!   [`GeneratorConfig::vitals_interval_minutes`]: RR `9279-1`, SpO2 `59408-5`, HR `8867-4`,
//!   SBP `8480-6`, temperature `8310-5` (each with its UCUM unit and the bed's monitor as
//!   device), then one event with consciousness (ACVPU) and supplemental oxygen. Some stays
//!   deteriorate and reach NEWS2 medium or high (see `physiology`).
//! - **Appointments**: bookings on weekdays during clinic hours, each for a slot a lead time
//!   later; a few are cancelled or rescheduled, the rest end `completed` or `no_show` at the
//!   slot, with the no-show risk rising with lead time.
//! - **Billing**: at discharge an MS-DRG charge (ED-only visits: an ED E/M CPT charge);
//!   ~2 % are later voided and ~5 % adjusted.
//!
//! Every default figure comes from the real data in `../shared/data` or is a stated assumption:
//! see [`calibration`] and `docs/generator-calibration.md`.
//!
//! Internals: an agenda (binary heap keyed by `(time, sequence)`) of happenings; handling one
//! happening may emit events at its time, which are queued and handed out before the next
//! happening is taken. One seeded xoshiro256++ stream drives everything, so a seed and a
//! configuration fix the output exactly (on one platform and build of this crate).
//!
//! With [`GeneratorConfig::warm_start`] the hospital is simulated silently for 26 weeks before
//! `start`; at `start` the current census is announced as `admit` events (their stays began
//! earlier) and the appointments already on the books as `booked` events (with their real
//! `booked_at`). Without it the hospital opens empty at `start`.
//!
//! ```
//! use wardstream_pipelines::generator::{Generator, GeneratorConfig};
//!
//! let events: Vec<_> = Generator::new(GeneratorConfig::default()).take(1_000).collect();
//! assert!(events.iter().all(|e| e.validate().is_ok()));
//! assert!(events.windows(2).all(|w| w[0].event_time() <= w[1].event_time()));
//! ```

mod agenda;
mod arrivals;
mod billing;
pub mod calibration;
mod clinic;
mod hospital;
mod physiology;

use agenda::{Agenda, Happening};
use arrivals::WeeklyPoisson;
use billing::FollowUp;
use clinic::Clinic;
use hospital::{Patient, Unit};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use wardstream_schemas::time::{DAY_MS, MINUTE_MS};
use wardstream_schemas::{Event, Millis};

/// Monday 2026-01-05T00:00:00Z, the default start.
pub const DEFAULT_START: Millis = 1_767_571_200_000;

/// How long the silent warm-up runs before `start` (26 weeks: longer than the longest
/// appointment lead time and many lengths of stay).
pub const WARM_UP_MS: Millis = 26 * 7 * DAY_MS;

/// Configuration of the generated hospital. Every field has a default (see [`calibration`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorConfig {
    /// Seed of the random stream (default 42). Same seed and configuration, same events.
    pub seed: u64,
    /// The tenant every event carries (default `general`).
    pub tenant_id: String,
    /// Event time of the first events, RFC 3339 in config files (default Monday
    /// 2026-01-05T00:00:00Z).
    #[serde(with = "wardstream_schemas::time::rfc3339")]
    pub start: Millis,
    /// The care units (default: [`calibration::care_units`], ten units, 314 beds).
    pub care_units: Vec<CareUnitSpec>,
    /// Hospital arrivals per average day, all routes (default [`calibration::ADMISSIONS_PER_DAY`]).
    pub admissions_per_day: f64,
    /// Relative arrival weight per hour of day, UTC, hour 0 first; normalised to mean 1
    /// (default [`calibration::HOURLY_ARRIVAL_PROFILE`], from MIMIC-IV demo transfers).
    pub hourly_arrival_profile: [f64; 24],
    /// Relative arrival weight per weekday, Monday first; normalised to mean 1 (default flat:
    /// [`calibration::WEEKDAY_FACTORS`]).
    pub weekday_factors: [f64; 7],
    /// Minutes between two observation sets of an occupied bed (default 15; 0 = no vitals).
    pub vitals_interval_minutes: u32,
    /// Share of stays that deteriorate (default [`calibration::DETERIORATION_RATE`]).
    pub deterioration_rate: f64,
    /// Outpatient clinics (default [`calibration::CLINICS`]; empty = no appointments).
    pub clinics: Vec<String>,
    /// Appointments per weekday across all clinics; clinics are closed at weekends
    /// (default [`calibration::APPOINTMENTS_PER_DAY`]).
    pub appointments_per_day: f64,
    /// Share of appointments that end as a no-show (default [`calibration::NO_SHOW_RATE`],
    /// the Kaggle data's 20.2 %).
    pub no_show_rate: f64,
    /// Post a charge at discharge, and some voids and adjustments later (default true).
    pub charges: bool,
    /// Simulate 26 weeks silently before `start` and announce the census and bookings at
    /// `start` (default true); false opens an empty hospital at `start`.
    pub warm_start: bool,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 42,
            tenant_id: "general".to_string(),
            start: DEFAULT_START,
            care_units: calibration::care_units(),
            admissions_per_day: calibration::ADMISSIONS_PER_DAY,
            hourly_arrival_profile: calibration::HOURLY_ARRIVAL_PROFILE,
            weekday_factors: calibration::WEEKDAY_FACTORS,
            vitals_interval_minutes: 15,
            deterioration_rate: calibration::DETERIORATION_RATE,
            clinics: calibration::CLINICS.iter().map(|c| c.to_string()).collect(),
            appointments_per_day: calibration::APPOINTMENTS_PER_DAY,
            no_show_rate: calibration::NO_SHOW_RATE,
            charges: true,
            warm_start: true,
        }
    }
}

/// One care unit of the generated hospital.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareUnitSpec {
    /// Unit name, as events carry it in `care_unit` (e.g. `MICU`); beds are `MICU-01`, ...
    pub name: String,
    /// Staffed beds (ED: treatment bays).
    pub beds: u32,
    /// Median stay in this unit, hours.
    pub los_hours_median: f64,
    /// Sigma of the lognormal stay (SD of ln hours).
    pub los_sigma: f64,
    /// Relative share of hospital arrivals admitted here first (normalised over units).
    pub admission_share: f64,
    /// On leaving: `(unit name, probability)` of a transfer; the rest are discharged. Unknown
    /// names and moves to the unit itself are ignored; probabilities summing over 1 are scaled.
    #[serde(default)]
    pub transfer_to: Vec<(String, f64)>,
    /// What kind of care the unit gives; picks the MS-DRG family billed (default `medical`).
    #[serde(default)]
    pub service_line: ServiceLine,
}

/// The kind of care a unit gives. A stay is billed by the most specific line it visited, in
/// this order: psychiatric, pediatric, medical ICU, surgical ICU, coronary care, cardiac,
/// surgical, medical; a stay that only saw the emergency department is an outpatient ED visit.
/// Outside the three intensive lines, vital signs vary less (see
/// [`calibration::WARD_SPREAD`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLine {
    /// Emergency department.
    Emergency,
    /// Medical intensive care.
    MedicalIcu,
    /// Surgical intensive care.
    SurgicalIcu,
    /// Coronary care unit (intensive; billed like cardiac).
    CoronaryCare,
    /// Telemetry and other cardiac wards.
    Cardiac,
    /// General medicine (and step-down).
    #[default]
    Medical,
    /// General surgery.
    Surgical,
    /// Paediatrics.
    Pediatric,
    /// Psychiatry.
    Psychiatric,
}

impl ServiceLine {
    /// Billing precedence, most specific first.
    const PRECEDENCE: [ServiceLine; 8] = [
        ServiceLine::Psychiatric,
        ServiceLine::Pediatric,
        ServiceLine::MedicalIcu,
        ServiceLine::SurgicalIcu,
        ServiceLine::CoronaryCare,
        ServiceLine::Cardiac,
        ServiceLine::Surgical,
        ServiceLine::Medical,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Intensive care: vital signs keep the full spread of the ICU data they come from.
    fn is_intensive(self) -> bool {
        matches!(
            self,
            ServiceLine::MedicalIcu | ServiceLine::SurgicalIcu | ServiceLine::CoronaryCare
        )
    }
}

/// Counters of what the generator did since `start` (warm-up excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GeneratorStats {
    /// Hospital arrivals.
    pub arrivals: u64,
    /// Arrivals admitted (the rest were diverted: their first unit was full).
    pub admitted: u64,
    /// Arrivals diverted.
    pub diverted: u64,
    /// Patients who had to board (wait in their bed for one in the next unit).
    pub boarded: u64,
    /// Boarders discharged elsewhere after [`calibration::MAX_BOARDING_HOURS`].
    pub boarding_timeouts: u64,
    /// Appointments booked.
    pub bookings: u64,
    /// Events emitted.
    pub events: u64,
}

/// The synthetic hospital: an endless, time-ordered, deterministic stream of events.
///
/// Build it with [`Generator::new`] and iterate. The stream ends only if the configuration can
/// produce nothing at all (no arrivals and no appointments).
#[derive(Debug)]
pub struct Generator {
    cfg: GeneratorConfig,
    rng: Xoshiro256PlusPlus,
    agenda: Agenda,
    out: VecDeque<Event>,
    now: Millis,
    silent: bool,
    ids: Ids,
    units: Vec<Unit>,
    admission_cdf: Vec<f64>,
    arrivals: WeeklyPoisson,
    patients: Vec<Option<Patient>>,
    free_patient_slots: Vec<u32>,
    vitals_every: Millis,
    noise_ar: f64,
    clinic: Clinic,
    follow_ups: Vec<Option<FollowUp>>,
    free_follow_up_slots: Vec<u32>,
    stats: GeneratorStats,
}

impl Generator {
    /// A hospital built from `cfg`. Never fails: unusable figures are repaired (non-finite or
    /// negative rates and shares count as 0, unknown transfer targets are ignored). With
    /// [`GeneratorConfig::warm_start`] this runs the 26-week warm-up (a few milliseconds).
    pub fn new(cfg: GeneratorConfig) -> Self {
        let units = hospital::build_units(&cfg.care_units);
        let admission_cdf = hospital::admission_cdf(&cfg.care_units);
        let arrivals = WeeklyPoisson::new(
            cfg.admissions_per_day,
            &cfg.hourly_arrival_profile,
            &cfg.weekday_factors,
        );
        let clinic = Clinic::new(cfg.appointments_per_day, cfg.clinics.len());
        let vitals_every = Millis::from(cfg.vitals_interval_minutes) * MINUTE_MS;
        let noise_ar =
            calibration::NOISE_AR_15MIN.powf(f64::from(cfg.vitals_interval_minutes.max(1)) / 15.0);
        let sim_start = if cfg.warm_start {
            cfg.start - WARM_UP_MS
        } else {
            cfg.start
        };
        let mut g = Generator {
            rng: Xoshiro256PlusPlus::seed_from_u64(cfg.seed),
            agenda: Agenda::default(),
            out: VecDeque::new(),
            now: sim_start,
            silent: cfg.warm_start,
            ids: Ids::new(cfg.seed),
            units,
            admission_cdf,
            arrivals,
            patients: Vec::new(),
            free_patient_slots: Vec::new(),
            vitals_every,
            noise_ar,
            clinic,
            follow_ups: Vec::new(),
            free_follow_up_slots: Vec::new(),
            stats: GeneratorStats::default(),
            cfg,
        };
        if g.silent {
            // Scheduled first, so it precedes anything else at `start`.
            g.agenda.schedule(g.cfg.start, Happening::WarmUpEnds);
        }
        // Arrivals only if some of them can be admitted (else they would run forever unseen).
        let admits = g
            .cfg
            .care_units
            .iter()
            .any(|u| u.beds > 0 && u.admission_share > 0.0);
        if admits && let Some(t) = g.arrivals.next_after(sim_start, &mut g.rng) {
            g.agenda.schedule(t, Happening::Arrival);
        }
        if let Some(t) = g.clinic.next_booking(sim_start, &mut g.rng) {
            g.agenda.schedule(t, Happening::Booking);
        }
        // Run the warm-up now, so that the census is known from the start.
        while g.silent {
            let Some((time, what)) = g.agenda.pop() else {
                break;
            };
            g.now = time;
            g.handle(what);
        }
        g
    }

    /// `(tenant, care unit, beds)` of every unit, for the census view's capacity input.
    pub fn capacities(&self) -> Vec<(String, String, u32)> {
        self.units
            .iter()
            .map(|u| (self.cfg.tenant_id.clone(), u.name.clone(), u.beds))
            .collect()
    }

    /// `(care unit, patients in it now)` for every unit, in configuration order: the
    /// simulation's own census, which may run ahead of the events handed out so far (after
    /// [`Generator::new`] with a warm start it is the census that the first events announce).
    pub fn census(&self) -> Vec<(String, u32)> {
        self.units
            .iter()
            .map(|u| u.name.clone())
            .zip(self.occupancy())
            .collect()
    }

    /// The configuration in use.
    pub fn config(&self) -> &GeneratorConfig {
        &self.cfg
    }

    /// What happened since `start`.
    pub fn stats(&self) -> GeneratorStats {
        self.stats
    }

    /// The simulation clock: the time of the last happening handled.
    pub fn now(&self) -> Millis {
        self.now
    }

    fn handle(&mut self, what: Happening) {
        match what {
            Happening::WarmUpEnds => self.on_warm_up_ends(),
            Happening::Arrival => self.on_arrival(),
            Happening::LeaveUnit { slot, encounter } => self.on_leave_unit(slot, encounter),
            Happening::Vitals { slot, encounter } => self.on_vitals(slot, encounter),
            Happening::BoardingTimeout {
                slot,
                encounter,
                wait,
            } => self.on_boarding_timeout(slot, encounter, wait),
            Happening::Booking => self.on_booking(),
            Happening::Appointment { slot } => self.on_appointment(slot),
            Happening::ChargeFollowUp { slot } => self.on_charge_follow_up(slot),
        }
    }

    /// The warm-up is over: announce the census and the bookings, start the monitors.
    fn on_warm_up_ends(&mut self) {
        self.silent = false;
        self.announce_census();
        self.announce_bookings();
    }

    /// Queues an event built around a fresh event id (dropped during the silent warm-up).
    fn emit(&mut self, build: impl FnOnce(String) -> Event) {
        if self.silent {
            return;
        }
        let id = self.ids.event();
        self.stats.events += 1;
        self.out.push_back(build(id));
    }
}

impl Iterator for Generator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.out.pop_front() {
                return Some(e);
            }
            let (time, what) = self.agenda.pop()?;
            self.now = time;
            self.handle(what);
        }
    }
}

/// Mints identifiers: `gen-<seed>-<n>` events, `pat-`, `enc-`, `appt-` and `chg-` likewise.
#[derive(Debug)]
struct Ids {
    seed: String,
    events: u64,
    patients: u64,
    encounters: u64,
    appointments: u64,
    charges: u64,
}

impl Ids {
    fn new(seed: u64) -> Self {
        Ids {
            seed: seed.to_string(),
            events: 0,
            patients: 0,
            encounters: 0,
            appointments: 0,
            charges: 0,
        }
    }

    fn mint(&self, prefix: &str, n: u64) -> String {
        let mut s = String::with_capacity(prefix.len() + self.seed.len() + 22);
        s.push_str(prefix);
        s.push('-');
        s.push_str(&self.seed);
        s.push('-');
        push_decimal(&mut s, n);
        s
    }

    fn event(&mut self) -> String {
        self.events += 1;
        self.mint("gen", self.events)
    }

    fn patient(&mut self) -> String {
        self.patients += 1;
        self.mint("pat", self.patients)
    }

    /// The encounter number and id.
    fn encounter(&mut self) -> (u64, String) {
        self.encounters += 1;
        (self.encounters, self.mint("enc", self.encounters))
    }

    fn appointment(&mut self) -> String {
        self.appointments += 1;
        self.mint("appt", self.appointments)
    }

    fn charge(&mut self) -> String {
        self.charges += 1;
        self.mint("chg", self.charges)
    }
}

/// Appends `n` in decimal without going through `fmt`.
fn push_decimal(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        s.push(char::from(b));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};
    use wardstream_schemas::time::format_rfc3339;
    use wardstream_schemas::{AdtKind, AppointmentStatus, ChargeStatus, CodeSystem, VitalCode};

    fn quiet(seed: u64) -> GeneratorConfig {
        // Fewer vitals so that month-long runs stay quick in debug builds.
        GeneratorConfig {
            seed,
            vitals_interval_minutes: 240,
            ..GeneratorConfig::default()
        }
    }

    fn until(g: Generator, end: Millis) -> impl Iterator<Item = Event> {
        g.take_while(move |e| e.event_time() < end)
    }

    #[test]
    fn defaults_describe_the_documented_hospital() {
        let cfg = GeneratorConfig::default();
        assert_eq!(format_rfc3339(cfg.start), "2026-01-05T00:00:00Z");
        assert_eq!(arrivals::weekday(cfg.start), 0);
        assert_eq!(cfg.care_units.len(), 10);
        let g = Generator::new(cfg.clone());
        let caps = g.capacities();
        assert_eq!(caps.iter().map(|c| c.2).sum::<u32>(), 314);
        assert!(caps.iter().all(|c| c.0 == "general"));
        // Every routing target names a unit.
        let names: Vec<&str> = cfg.care_units.iter().map(|u| u.name.as_str()).collect();
        for u in &cfg.care_units {
            assert!(
                u.transfer_to
                    .iter()
                    .all(|(t, _)| names.contains(&t.as_str())),
                "{}",
                u.name
            );
            assert!(u.transfer_to.iter().map(|(_, p)| p).sum::<f64>() <= 1.0);
        }
        let shares: f64 = cfg.care_units.iter().map(|u| u.admission_share).sum();
        assert!((shares - 1.0).abs() < 0.01, "{shares}");
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_fields() {
        let cfg = GeneratorConfig::default();
        let json = serde_json::to_string(&cfg).expect("serialises");
        assert!(json.contains("\"start\":\"2026-01-05T00:00:00Z\""));
        let back: GeneratorConfig = serde_json::from_str(&json).expect("parses back");
        assert_eq!(back, cfg);
        let partial: GeneratorConfig =
            serde_json::from_str(r#"{"seed":7,"tenant_id":"north"}"#).expect("partial config");
        assert_eq!((partial.seed, partial.tenant_id.as_str()), (7, "north"));
        assert_eq!(partial.care_units, cfg.care_units);
        assert!(serde_json::from_str::<GeneratorConfig>(r#"{"seeed":7}"#).is_err());
    }

    #[test]
    fn same_seed_same_events_different_seed_different_events() {
        let a: Vec<Event> = Generator::new(GeneratorConfig::default())
            .take(50_000)
            .collect();
        let b: Vec<Event> = Generator::new(GeneratorConfig::default())
            .take(50_000)
            .collect();
        assert_eq!(a, b);
        let c: Vec<Event> = Generator::new(GeneratorConfig {
            seed: 43,
            ..GeneratorConfig::default()
        })
        .take(50_000)
        .collect();
        assert_ne!(a, c);
        assert!(c[0].event_id().starts_with("gen-43-"));
    }

    #[test]
    fn events_are_valid_time_ordered_unique_and_start_at_start() {
        let cfg = GeneratorConfig::default();
        let start = cfg.start;
        let mut ids = std::collections::HashSet::new();
        let mut last = Millis::MIN;
        let mut streams = BTreeMap::new();
        for e in Generator::new(cfg).take(200_000) {
            if let Err(r) = e.validate() {
                panic!("{r:?} in {}", e.to_json());
            }
            assert!(e.event_time() >= last, "out of order: {}", e.to_json());
            assert!(e.event_time() >= start);
            last = e.event_time();
            assert!(
                ids.insert(e.event_id().to_string()),
                "duplicate id {}",
                e.event_id()
            );
            *streams.entry(e.stream()).or_insert(0u32) += 1;
        }
        assert_eq!(streams.len(), 4, "{streams:?}");
    }

    /// Replays ADT events: per-unit occupancy within beds, beds not shared, and every
    /// encounter goes admit, transfer*, discharge with `from_care_unit` = the previous unit; a
    /// decision to admit names the patient's current unit and bed.
    #[derive(Default)]
    struct AdtCheck {
        place: HashMap<String, (String, String)>,
        finished: std::collections::HashSet<String>,
        census: HashMap<String, u32>,
        beds_taken: std::collections::HashSet<(String, String)>,
        admits_after_start: u64,
        decisions: u64,
    }

    impl AdtCheck {
        fn apply(&mut self, e: &Event, beds: &HashMap<String, u32>, start: Millis) {
            let Event::Adt(a) = e else { return };
            let enc = a.encounter_id.clone();
            assert!(
                !self.finished.contains(&enc),
                "event after discharge: {}",
                e.to_json()
            );
            let here = self.place.get(&enc).cloned();
            match a.kind {
                AdtKind::Admit => {
                    assert!(here.is_none(), "second admit: {}", e.to_json());
                    if a.event_time > start {
                        self.admits_after_start += 1;
                    }
                }
                AdtKind::DecisionToAdmit => {
                    let (unit, bed) =
                        here.unwrap_or_else(|| panic!("no admit before {}", e.to_json()));
                    assert_eq!(
                        a.care_unit.as_deref(),
                        Some(unit.as_str()),
                        "{}",
                        e.to_json()
                    );
                    assert_eq!(a.bed.as_deref(), Some(bed.as_str()), "{}", e.to_json());
                    self.decisions += 1;
                    return;
                }
                AdtKind::Transfer | AdtKind::Discharge => {
                    let (unit, bed) =
                        here.unwrap_or_else(|| panic!("no admit before {}", e.to_json()));
                    assert_eq!(
                        a.from_care_unit.as_deref(),
                        Some(unit.as_str()),
                        "{}",
                        e.to_json()
                    );
                    assert_eq!(a.from_bed.as_deref(), Some(bed.as_str()), "{}", e.to_json());
                    *self.census.entry(unit.clone()).or_default() -= 1;
                    self.beds_taken.remove(&(unit, bed));
                    self.place.remove(&enc);
                }
            }
            if a.kind == AdtKind::Discharge {
                assert!(a.care_unit.is_none());
                self.finished.insert(enc);
                return;
            }
            let unit = a.care_unit.clone().unwrap_or_default();
            let bed = a.bed.clone().unwrap_or_default();
            assert!(bed.starts_with(&unit), "{}", e.to_json());
            assert!(
                self.beds_taken.insert((unit.clone(), bed.clone())),
                "bed shared: {}",
                e.to_json()
            );
            let n = self.census.entry(unit.clone()).or_default();
            *n += 1;
            assert!(*n <= beds[&unit], "{unit} over capacity: {n}");
            self.place.insert(enc, (unit, bed));
        }
    }

    #[test]
    fn occupancy_stays_within_beds_and_adt_sequences_are_well_formed() {
        let cfg = quiet(5);
        let start = cfg.start;
        let g = Generator::new(cfg);
        let beds: HashMap<String, u32> =
            g.capacities().into_iter().map(|(_, u, b)| (u, b)).collect();
        let opening: u32 = g.census().iter().map(|(_, n)| n).sum();
        let mut check = AdtCheck::default();
        let mut at_start = 0;
        for e in until(g, start + 30 * DAY_MS) {
            if e.event_time() == start && matches!(&e, Event::Adt(a) if a.kind == AdtKind::Admit) {
                at_start += 1;
            }
            check.apply(&e, &beds, start);
        }
        // The warm start opens near the expected census (about 254 of 314 beds), and announces
        // exactly the simulation's census.
        assert_eq!(at_start, opening);
        assert!((200..=314).contains(&at_start), "{at_start}");
        assert!(!check.finished.is_empty());
        // Some unit was full at some point: the capacity check was exercised.
        let full = beds
            .iter()
            .any(|(u, b)| check.census.get(u).copied().unwrap_or(0) + 3 >= *b);
        assert!(full, "{:?}", check.census);
    }

    #[test]
    fn a_tiny_hospital_boards_diverts_and_still_respects_beds() {
        let mut cfg = quiet(9);
        for u in &mut cfg.care_units {
            u.beds = u.beds.div_ceil(6);
        }
        cfg.warm_start = false;
        let start = cfg.start;
        let mut g = Generator::new(cfg);
        let beds: HashMap<String, u32> =
            g.capacities().into_iter().map(|(_, u, b)| (u, b)).collect();
        let mut check = AdtCheck::default();
        for e in g.by_ref() {
            if e.event_time() >= start + 20 * DAY_MS {
                break;
            }
            check.apply(&e, &beds, start);
        }
        let s = g.stats();
        assert!(
            s.diverted > 0 && s.boarded > 0 && s.boarding_timeouts > 0,
            "{s:?}"
        );
        assert!(
            check.decisions > 0,
            "ED patients routed to wards are admitted"
        );
        assert_eq!(s.arrivals, s.admitted + s.diverted);
    }

    #[test]
    fn a_month_matches_the_configured_rates() {
        let cfg = quiet(21);
        let (start, per_day, no_show) = (cfg.start, cfg.admissions_per_day, cfg.no_show_rate);
        let days = 30;
        let g = Generator::new(cfg);
        let beds: HashMap<String, u32> =
            g.capacities().into_iter().map(|(_, u, b)| (u, b)).collect();
        let mut check = AdtCheck::default();
        let (mut attended, mut missed, mut booked, mut cancelled, mut rescheduled) =
            (0u32, 0u32, 0u32, 0u32, 0u32);
        let mut charges: BTreeMap<ChargeStatus, u32> = BTreeMap::new();
        let mut drg = 0u32;
        let mut lead_days = Vec::new();
        for e in until(g, start + days * DAY_MS) {
            check.apply(&e, &beds, start);
            match &e {
                Event::Appointment(a) => match a.status {
                    AppointmentStatus::Completed => attended += 1,
                    AppointmentStatus::NoShow => missed += 1,
                    AppointmentStatus::Booked => {
                        booked += 1;
                        if a.event_time > start {
                            lead_days.push(a.lead_days());
                        }
                    }
                    AppointmentStatus::Cancelled => cancelled += 1,
                    AppointmentStatus::Rescheduled => rescheduled += 1,
                    AppointmentStatus::CheckedIn => {}
                },
                Event::Charge(c) => {
                    *charges.entry(c.status).or_default() += 1;
                    if c.status == ChargeStatus::Posted && c.code_system == CodeSystem::MsDrg {
                        drg += 1;
                        assert_eq!(c.currency, "USD");
                        assert!(c.care_unit.is_some() && !c.diagnoses.is_empty());
                    }
                }
                _ => {}
            }
        }
        let admits = check.admits_after_start as f64 / days as f64;
        // Diversions (full first unit) may take a few per cent off the arrival rate.
        assert!(
            admits > per_day * 0.88 && admits < per_day * 1.08,
            "{admits} admits/day vs {per_day}"
        );
        let share = f64::from(missed) / f64::from(attended + missed);
        assert!(
            (share - no_show).abs() < 0.02,
            "no-show share {share} vs {no_show}"
        );
        // 22 weekdays of ~400 appointments.
        assert!(
            (7_000..11_000).contains(&(attended + missed)),
            "{attended} + {missed}"
        );
        assert!(
            booked > 7_000 && cancelled > 50 && rescheduled > 30,
            "{booked} {cancelled} {rescheduled}"
        );
        lead_days.sort_unstable();
        let same_day =
            lead_days.iter().filter(|&&d| d == 0).count() as f64 / lead_days.len() as f64;
        assert!(
            (0.30..0.40).contains(&same_day),
            "same-day share {same_day}"
        );
        assert_eq!(
            lead_days[lead_days.len() / 2],
            4,
            "median lead in calendar days"
        );
        let posted = charges.get(&ChargeStatus::Posted).copied().unwrap_or(0);
        assert!(posted as f64 > per_day * days as f64 * 0.8, "{charges:?}");
        assert!(drg > 0);
        assert!(
            charges.get(&ChargeStatus::Voided).copied().unwrap_or(0) > 0,
            "{charges:?}"
        );
        assert!(
            charges.get(&ChargeStatus::Adjusted).copied().unwrap_or(0) > 0,
            "{charges:?}"
        );
    }

    #[test]
    fn vitals_are_complete_sets_and_some_are_abnormal() {
        let cfg = GeneratorConfig::default();
        let start = cfg.start;
        let every = i64::from(cfg.vitals_interval_minutes) * MINUTE_MS;
        let mut per_key: HashMap<(String, Millis), u32> = HashMap::new();
        let (mut rr_high, mut spo2_low, mut confused, mut on_oxygen) = (0u32, 0u32, 0u32, 0u32);
        let mut last_seen: HashMap<String, Millis> = HashMap::new();
        for e in until(Generator::new(cfg), start + 2 * DAY_MS) {
            let Event::VitalSign(v) = e else { continue };
            assert!(
                v.device_id
                    .as_deref()
                    .is_some_and(|d| d.starts_with("mon-"))
            );
            *per_key
                .entry((v.encounter_id.clone(), v.event_time))
                .or_default() += 1;
            if let Some(prev) = last_seen.insert(v.encounter_id.clone(), v.event_time) {
                assert!(
                    prev == v.event_time || v.event_time - prev == every,
                    "cadence"
                );
            }
            match v.quantity() {
                Some((VitalCode::RespiratoryRate, x)) if x.round_whole() >= 25 => rr_high += 1,
                Some((VitalCode::Spo2, x)) if x.round_whole() <= 91 => spo2_low += 1,
                None => {
                    assert!(v.consciousness.is_some() && v.supplemental_oxygen.is_some());
                    confused += u32::from(v.consciousness != Some(wardstream_schemas::Acvpu::A));
                    on_oxygen += u32::from(v.supplemental_oxygen == Some(true));
                }
                _ => {}
            }
        }
        assert!(
            per_key.values().all(|&n| n == 6),
            "incomplete observation sets"
        );
        assert!(per_key.len() > 10_000, "{}", per_key.len());
        assert!(
            rr_high > 0 && spo2_low > 0 && confused > 0 && on_oxygen > 0,
            "{rr_high} {spo2_low} {confused} {on_oxygen}"
        );
    }

    #[test]
    fn without_warm_start_the_hospital_opens_empty() {
        let cfg = GeneratorConfig {
            warm_start: false,
            ..GeneratorConfig::default()
        };
        let start = cfg.start;
        let first: Vec<Event> = Generator::new(cfg).take(50).collect();
        assert!(first.iter().all(|e| e.event_time() > start));
        let first_adt = first.iter().find(|e| matches!(e, Event::Adt(_)));
        assert!(matches!(first_adt, Some(Event::Adt(a)) if a.kind == AdtKind::Admit));
    }

    #[test]
    fn degenerate_configs_do_not_panic() {
        let empty = GeneratorConfig {
            care_units: vec![],
            clinics: vec![],
            warm_start: false,
            ..GeneratorConfig::default()
        };
        assert_eq!(Generator::new(empty).next(), None);
        let full = GeneratorConfig {
            care_units: vec![CareUnitSpec {
                beds: 0,
                ..calibration::care_units()[0].clone()
            }],
            clinics: vec![],
            ..GeneratorConfig::default()
        };
        assert_eq!(Generator::new(full).next(), None);
        let odd = GeneratorConfig {
            admissions_per_day: f64::NAN,
            hourly_arrival_profile: [0.0; 24],
            vitals_interval_minutes: 0,
            care_units: vec![CareUnitSpec {
                name: "ONLY".into(),
                beds: 0,
                los_hours_median: -1.0,
                los_sigma: f64::INFINITY,
                admission_share: 0.0,
                transfer_to: vec![("NOWHERE".into(), 2.0), ("ONLY".into(), 1.0)],
                service_line: ServiceLine::Medical,
            }],
            ..GeneratorConfig::default()
        };
        let events: Vec<Event> = Generator::new(odd).take(2_000).collect();
        assert!(events.iter().all(|e| e.validate().is_ok()));
        assert!(events.iter().all(|e| !matches!(e, Event::Adt(_))));
    }

    #[test]
    fn ids_are_minted_without_fmt() {
        let mut ids = Ids::new(42);
        assert_eq!(ids.event(), "gen-42-1");
        assert_eq!(ids.mint("enc", 0), "enc-42-0");
        assert_eq!(ids.mint("enc", u64::MAX), format!("enc-42-{}", u64::MAX));
    }
}
