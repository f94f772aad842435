//! The generator's default figures and where each one came from.
//!
//! Every number here was computed once from the public data sets in `../shared/data` (see
//! `docs/generator-calibration.md` for the method and sample sizes) or is a stated
//! assumption. Nothing reads those files at run time: the generator must start without them.

use super::{CareUnitSpec, ServiceLine};
use wardstream_schemas::VitalCode;

/// Hospital arrivals per day (all routes: ED and direct admissions).
///
/// Assumption sized from the data: with the MIMIC-IV demo lengths of stay and routing below,
/// 46 arrivals a day fill the 290 inpatient beds of [`care_units`] to about 85 % (expected
/// census 254 by Little's law; see the calibration doc).
pub const ADMISSIONS_PER_DAY: f64 = 46.0;

/// Relative arrival weight per hour of day (UTC), mean 1.
///
/// Source: MIMIC-IV demo v2.2 `hosp/transfers.csv.gz`, the hour of the first row of each of the
/// 329 encounters (275 admissions + 54 ED-only visits; ED registration when there is one).
/// Raw counts, hours 0–23: 7 7 7 7 11 7 7 4 6 8 7 18 20 12 23 21 26 23 23 20 24 21 10 10,
/// smoothed with a circular 1-2-1 kernel because 329 arrivals are few for 24 bins. MIMIC shifts
/// dates by whole days per patient, so clock time is kept while weekday is not.
pub const HOURLY_ARRIVAL_PROFILE: [f64; 24] = [
    0.565, 0.511, 0.511, 0.584, 0.657, 0.584, 0.456, 0.383, 0.438, 0.529, 0.729, 1.149, 1.277,
    1.222, 1.441, 1.660, 1.751, 1.733, 1.623, 1.587, 1.623, 1.386, 0.930, 0.675,
];

/// Relative arrival weight per weekday, Monday first: flat.
///
/// MIMIC-IV shifts each patient's dates by a random number of days, so weekdays in the demo
/// are not real (`mimic-iv-demo/SOURCE.md`); no weekday figure is taken from it.
pub const WEEKDAY_FACTORS: [f64; 7] = [1.0; 7];

/// Share of stays that deteriorate (their vital signs drift towards NEWS2 medium/high).
///
/// Proxy: in-hospital mortality of PhysioNet 2012 set A, 554 of 4,000 ICU stays
/// (`Outcomes-a.txt`, column `In-hospital_death`).
pub const DETERIORATION_RATE: f64 = 0.1385;

/// Share of appointments that end as a no-show.
///
/// Source: Kaggle no-show data, `No-show == "Yes"` in 22,319 of 110,527 rows.
pub const NO_SHOW_RATE: f64 = 0.2019;

/// Appointments per clinic-open day (Monday–Friday), across all clinics.
///
/// Per-clinic volume from the Kaggle data: 54.9 appointments per neighbourhood per
/// appointment day (mean over 2,012 neighbourhood-days), times 8 clinics (the number of
/// clinics is an assumption), rounded down to 50 each.
pub const APPOINTMENTS_PER_DAY: f64 = 400.0;

/// Outpatient clinics (assumption: names and count; the Kaggle data has neighbourhoods).
pub const CLINICS: [&str; 8] = [
    "Cardiology Clinic",
    "Endocrinology Clinic",
    "Family Medicine",
    "General Surgery Clinic",
    "Obstetrics Clinic",
    "Orthopaedics Clinic",
    "Paediatrics Clinic",
    "Pulmonology Clinic",
];

/// The default hospital: ten care units, 314 beds (290 inpatient + 24 ED bays).
///
/// - Bed counts are an assumption: none of the data sets carries unit bed counts (eICU
///   `hospital.csv` only has bed-size categories). Each unit is sized so that its expected
///   census at [`ADMISSIONS_PER_DAY`] is about 85 % of its beds; the ED has spare bays
///   because boarders wait there.
/// - `los_hours_median` and `los_sigma`: MIMIC-IV demo `hosp/transfers.csv.gz`, hours per stay
///   in each unit after mapping MIMIC care units onto ours and merging consecutive rows in the
///   same unit. Sigma is `sqrt(2 ln(mean / median))`, the lognormal with the observed median
///   and mean (the SD of ln hours is inflated by bookkeeping stays of minutes). Sample sizes are
///   in the comments. PEDS is an assumption (the demo has adults only); PSYCH has 3 stays.
/// - `admission_share`: the first unit of the 329 MIMIC encounters, scaled by 0.825 to leave
///   room for the assumed PEDS (0.13) and PSYCH (0.045) shares that fill 20 beds each.
/// - `transfer_to`: where MIMIC stays in the unit went next (counts in the comments); the rest
///   are discharged. Two moves back to the ED were counted as discharges.
pub fn care_units() -> Vec<CareUnitSpec> {
    let unit = |name: &str, line, beds, median, sigma, share, to: &[(&str, f64)]| CareUnitSpec {
        name: name.to_string(),
        beds,
        los_hours_median: median,
        los_sigma: sigma,
        admission_share: share,
        transfer_to: to.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        service_line: line,
    };
    use ServiceLine as S;
    vec![
        // 237 ED stays, mean 8.2 h; 235 of 329 encounters start here. Next: 50 MEDSURG-MED,
        // 31 MEDSURG-SURG, 30 SICU, 25 MICU, 9 TELEMETRY, 8 STEPDOWN, 6 CCU, 78 discharged.
        unit(
            "ED",
            S::Emergency,
            24,
            5.8,
            0.84,
            0.5947,
            &[
                ("MEDSURG-MED", 0.211),
                ("MEDSURG-SURG", 0.131),
                ("SICU", 0.127),
                ("MICU", 0.105),
                ("TELEMETRY", 0.038),
                ("STEPDOWN", 0.034),
                ("CCU", 0.025),
            ],
        ),
        // MICU + MICU/SICU: 58 stays, mean 98.3 h; first unit of 9. Next: 29 MED, 8 SURG,
        // 3 STEPDOWN, 1 SICU, 1 TELEMETRY, 1 CCU, 15 discharged.
        unit(
            "MICU",
            S::MedicalIcu,
            32,
            68.2,
            0.85,
            0.0228,
            &[
                ("MEDSURG-MED", 0.500),
                ("MEDSURG-SURG", 0.138),
                ("STEPDOWN", 0.052),
                ("SICU", 0.017),
                ("TELEMETRY", 0.017),
                ("CCU", 0.017),
            ],
        ),
        // SICU + TSICU + CVICU + Neuro SICU: 74 stays, mean 66.4 h; first unit of 17. Next:
        // 35 SURG, 25 MED, 4 MICU, 3 STEPDOWN, 2 CCU, 1 TELEMETRY, 4 discharged.
        unit(
            "SICU",
            S::SurgicalIcu,
            28,
            44.5,
            0.89,
            0.0430,
            &[
                ("MEDSURG-SURG", 0.473),
                ("MEDSURG-MED", 0.338),
                ("MICU", 0.054),
                ("STEPDOWN", 0.041),
                ("CCU", 0.027),
                ("TELEMETRY", 0.014),
            ],
        ),
        // CCU: 16 stays, mean 96.0 h; first unit of 2. Next: 8 TELEMETRY, 4 SURG, 2 MICU,
        // 2 discharged.
        unit(
            "CCU",
            S::CoronaryCare,
            10,
            73.8,
            0.72,
            0.0051,
            &[
                ("TELEMETRY", 0.500),
                ("MEDSURG-SURG", 0.250),
                ("MICU", 0.125),
            ],
        ),
        // Intermediate / step-down units: 20 stays, mean 131.6 h; first unit of 5. Next: 2 MED,
        // 2 TELEMETRY, 1 SICU, 1 MICU, 14 discharged.
        unit(
            "STEPDOWN",
            S::Medical,
            16,
            89.4,
            0.88,
            0.0127,
            &[
                ("MEDSURG-MED", 0.100),
                ("TELEMETRY", 0.100),
                ("SICU", 0.050),
                ("MICU", 0.050),
            ],
        ),
        // Medicine/Cardiology + Cardiology: 37 stays, mean 69.1 h; first unit of 15. Next:
        // 6 SICU, 3 CCU, 2 SURG, 1 MICU, 25 discharged.
        unit(
            "TELEMETRY",
            S::Cardiac,
            16,
            48.8,
            0.84,
            0.0380,
            &[
                ("SICU", 0.162),
                ("CCU", 0.081),
                ("MEDSURG-SURG", 0.054),
                ("MICU", 0.027),
            ],
        ),
        // Medicine, Neurology, Hematology/Oncology, Transplant, Observation: 134 stays,
        // mean 123.2 h; first unit of 24. Next: 12 MICU, 9 SICU, 3 SURG, 1 STEPDOWN, 1 CCU,
        // 1 back to ED (counted as discharge), 107 discharged.
        unit(
            "MEDSURG-MED",
            S::Medical,
            92,
            81.2,
            0.91,
            0.0607,
            &[
                ("MICU", 0.090),
                ("SICU", 0.067),
                ("MEDSURG-SURG", 0.022),
                ("STEPDOWN", 0.007),
                ("CCU", 0.007),
            ],
        ),
        // Med/Surg, Med/Surg/Trauma, Med/Surg/GYN, Cardiac Surgery, Vascular, Surgery/Trauma:
        // 102 stays, mean 97.9 h; first unit of 19. Next: 10 SICU, 4 MED, 4 MICU, 1 TELEMETRY,
        // 1 CCU, 1 back to ED (counted as discharge), 81 discharged.
        unit(
            "MEDSURG-SURG",
            S::Surgical,
            56,
            74.3,
            0.74,
            0.0481,
            &[
                ("SICU", 0.098),
                ("MEDSURG-MED", 0.039),
                ("MICU", 0.039),
                ("TELEMETRY", 0.010),
                ("CCU", 0.010),
            ],
        ),
        // No paediatric stays in MIMIC (adults only): LOS and share are assumptions.
        unit("PEDS", S::Pediatric, 20, 48.0, 0.80, 0.1300, &[]),
        // Psychiatry: 3 MIMIC stays (median 160.4 h, mean 195.8 h), all discharged; the share
        // is an assumption (MIMIC's 3 of 329 would leave a 20-bed unit nearly empty).
        unit("PSYCH", S::Psychiatric, 20, 160.4, 0.63, 0.0450, &[]),
    ]
}

/// Longest a patient boards in one unit waiting for a bed in the next before being
/// discharged elsewhere (assumption; keeps the simulation free of deadlock).
pub const MAX_BOARDING_HOURS: f64 = 24.0;

/// Shortest and longest stay in one unit drawn from the lognormal, hours (assumption: clips
/// the tails).
pub const LOS_CLAMP_HOURS: (f64, f64) = (0.25, 90.0 * 24.0);

/// One vital-sign parameter: its code and its per-patient and per-reading spread.
#[derive(Clone, Copy, Debug)]
pub struct VitalCalibration {
    /// The LOINC-coded parameter.
    pub code: VitalCode,
    /// Mean of the per-stay means.
    pub mean: f64,
    /// SD of the per-stay means (drawn once per patient as the baseline).
    pub between_sd: f64,
    /// SD of readings around their stay's mean (the AR(1) noise).
    pub within_sd: f64,
    /// Clamp before rounding (inside `VitalCode::plausible`).
    pub clamp: (f64, f64),
    /// Whole units (0) or tenths (1).
    pub decimals: u8,
    /// Shift at full deterioration (assumption, in the unit of the code).
    pub deterioration_shift: f64,
}

/// The five measured NEWS2 parameters, in emission order: RR, SpO2, HR, SBP, temperature.
///
/// Source: PhysioNet 2012 challenge set A, `set-a_long.csv.gz`, first 48 h of 4,000 ICU stays,
/// after dropping recording errors outside HR 20–250, RR 4–80, SBP 40–280, Temp 30–43,
/// SaO2 50–100. Per stay the mean of its readings; `mean`/`between_sd` over stays,
/// `within_sd` the pooled SD of readings around their stay mean.
/// - RR `RespRate`: 1,101 stays, 54,986 readings.
/// - SpO2: SaO2 (blood gas) as a stand-in, 1,790 stays, 8,177 readings; the set has no
///   pulse oximetry.
/// - HR: 3,937 stays, 228,521 readings.
/// - SBP: cuff `NISysABP` and arterial `SysABP` together, 3,937 stays, 243,084 readings.
/// - Temperature `Temp`: 3,936 stays, 86,272 readings.
///
/// Deterioration shifts are assumptions sized so that a fully deteriorated average patient
/// scores NEWS2 high (RR 32, SpO2 90 on oxygen, HR 122, SBP 90, 38.3 Cel).
pub const VITALS: [VitalCalibration; 5] = [
    VitalCalibration {
        code: VitalCode::RespiratoryRate,
        mean: 19.68,
        between_sd: 3.91,
        within_sd: 3.85,
        clamp: (4.0, 60.0),
        decimals: 0,
        deterioration_shift: 12.0,
    },
    VitalCalibration {
        code: VitalCode::Spo2,
        mean: 96.63,
        between_sd: 2.86,
        within_sd: 2.15,
        clamp: (70.0, 100.0),
        decimals: 0,
        deterioration_shift: -7.0,
    },
    VitalCalibration {
        code: VitalCode::HeartRate,
        mean: 87.16,
        between_sd: 14.60,
        within_sd: 11.26,
        clamp: (30.0, 220.0),
        decimals: 0,
        deterioration_shift: 35.0,
    },
    VitalCalibration {
        code: VitalCode::SystolicBp,
        mean: 119.88,
        between_sd: 16.11,
        within_sd: 16.76,
        clamp: (60.0, 250.0),
        decimals: 0,
        deterioration_shift: -30.0,
    },
    VitalCalibration {
        code: VitalCode::BodyTemperature,
        mean: 37.01,
        between_sd: 0.57,
        within_sd: 0.67,
        clamp: (33.0, 42.0),
        decimals: 1,
        deterioration_shift: 1.3,
    },
];

/// AR(1) coefficient of a parameter's reading noise between readings 15 minutes apart
/// (assumption: readings drift rather than jump; scaled as `0.7^(interval / 15 min)`).
pub const NOISE_AR_15MIN: f64 = 0.7;

/// A patient whose baseline SpO2 is below this is on supplemental oxygen (BTS 2017 guideline:
/// target range 94–98 %, oxygen below it).
pub const OXYGEN_BELOW_SPO2: f64 = 94.0;

/// Outside intensive care, a patient's deviation from the PhysioNet means (baseline and
/// noise alike) is scaled by this factor (assumption). PhysioNet 2012 is an ICU cohort in its
/// first 48 h; with its full spread on every ward, 38 % of generated observation sets scored
/// NEWS2 ≥ 5 (ward data sets report well under 10 %). No ward vital-sign data is available
/// here to calibrate this figure.
pub const WARD_SPREAD: f64 = 0.5;

/// Deterioration timing (assumptions), each uniform in its range, hours: onset after
/// admission...
pub const DETERIORATION_ONSET_HOURS: (f64, f64) = (1.0, 48.0);
/// ...ramp to the full shift...
pub const DETERIORATION_RAMP_HOURS: (f64, f64) = (4.0, 12.0);
/// ...time at the full shift (until the response takes effect)...
pub const DETERIORATION_PLATEAU_HOURS: (f64, f64) = (2.0, 8.0);
/// ...and recovery back to the baseline. A move to another unit ends it at once.
pub const DETERIORATION_RECOVERY_HOURS: (f64, f64) = (6.0, 24.0);
/// Share of deteriorating patients who become newly confused (ACVPU `C`) late in the ramp
/// (assumption).
pub const DETERIORATION_CONFUSION: f64 = 0.5;

/// Lead time in business days (Monday–Friday) from booking to appointment: cumulative share
/// at each knot; between knots the lead is uniform.
///
/// Source: Kaggle no-show data, `AppointmentDay - ScheduledDay` counted in weekdays, 110,522
/// rows (5 rows booked after the appointment dropped). 34.9 % are same-day; median 2 business
/// days (4 calendar days); 99.9 % within 90 business days; maximum 129.
pub const LEAD_BUSINESS_DAYS_CDF: [(u32, f64); 20] = [
    (0, 0.3489),
    (1, 0.4066),
    (2, 0.5097),
    (3, 0.5537),
    (4, 0.5957),
    (5, 0.6401),
    (6, 0.6651),
    (7, 0.6854),
    (8, 0.7042),
    (10, 0.7489),
    (12, 0.7825),
    (15, 0.8292),
    (20, 0.8899),
    (25, 0.9395),
    (30, 0.9600),
    (40, 0.9777),
    (50, 0.9920),
    (65, 0.9985),
    (90, 0.9993),
    (129, 1.0),
];

/// No-show risk relative to the overall rate, by lead time in business days: upper bound of
/// each bucket and the ratio.
///
/// Source: Kaggle no-show data, no-show share per bucket / overall 0.2019: same day 4.65 %
/// (38,564 rows), 1–2 days 22.9 % (17,772), 3–5 25.7 % (14,413), 6–10 30.5 % (12,024),
/// 11–20 32.9 % (15,578), more 32.6 % (12,171).
pub const NO_SHOW_RELATIVE_RISK: [(u32, f64); 6] = [
    (0, 0.230),
    (2, 1.132),
    (5, 1.275),
    (10, 1.509),
    (20, 1.627),
    (u32::MAX, 1.615),
];

/// Relative booking weight per hour of day (the clinic's clock), Monday–Friday.
///
/// Source: Kaggle no-show data, hour of `ScheduledDay` over 110,527 rows (bookings on
/// Saturday: 24 rows, on Sunday: none, so weekends have no bookings).
pub const BOOKING_HOUR_WEIGHTS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1577.0, 19213.0, 15349.0, 12823.0, 11055.0, 8462.0, 5422.0,
    9034.0, 9126.0, 8079.0, 5542.0, 2909.0, 1340.0, 488.0, 100.0, 3.0, 0.0, 0.0,
];

/// Share of bookings made by a patient not seen before (the rest re-book a recent patient).
///
/// Source: Kaggle no-show data, 62,299 distinct `PatientId` over 110,527 appointments.
pub const NEW_OUTPATIENT_SHARE: f64 = 0.5637;

/// Patient age at booking: the 0 %, 5 %, ..., 100 % quantiles, years.
///
/// Source: Kaggle no-show data, `Age` of 110,521 rows with ages 0–115 (one row with age −1
/// and five booked after the appointment dropped).
pub const AGE_QUANTILES: [f64; 21] = [
    0.0, 1.0, 5.0, 9.0, 13.0, 18.0, 21.0, 26.0, 30.0, 33.0, 37.0, 41.0, 45.0, 49.0, 52.0, 55.0,
    59.0, 63.0, 68.0, 75.0, 115.0,
];

/// Share of bookings cancelled before the day, and share moved to a later day
/// (assumptions: the Kaggle data records only attended / missed).
pub const CANCEL_SHARE: f64 = 0.03;
/// See [`CANCEL_SHARE`].
pub const RESCHEDULE_SHARE: f64 = 0.02;

/// Clinic slots: every 15 minutes from 08:00 to 16:45 (assumption; Kaggle appointment days
/// carry no time).
pub const CLINIC_FIRST_SLOT_MINUTES: i64 = 8 * 60;
/// See [`CLINIC_FIRST_SLOT_MINUTES`].
pub const CLINIC_SLOTS: i64 = 36;

/// Base rate of an MS-DRG payment: cents per unit of relative weight, USD 6,375.74 (given in
/// the generator's brief as the FY 2023 IPPS national standardized amount; the data set has
/// weights only, and the figure was not re-checked against the Final Rule offline).
pub const DRG_BASE_RATE_CENTS: f64 = 637_574.0;

/// One MS-DRG the generator posts, with its FY 2023 relative weight and plausible ICD-10-CM
/// diagnoses (principal first).
#[derive(Clone, Copy, Debug)]
pub struct DrgRow {
    /// Three-digit MS-DRG.
    pub code: &'static str,
    /// FY 2023 relative weight.
    pub weight: f64,
    /// ICD-10-CM codes.
    pub diagnoses: &'static [&'static str],
}

const fn drg(code: &'static str, weight: f64, diagnoses: &'static [&'static str]) -> DrgRow {
    DrgRow {
        code,
        weight,
        diagnoses,
    }
}

/// MS-DRGs per service line (the line of the most specific unit a stay visited).
///
/// Weights: CMS MS-DRG v40 (FY 2023) Table 5, `cms-ms-drg-weights/ms_drg_v40_fy2023_weights.csv`
/// column `relative_weight`. The choice of DRGs (common ones, several frequent among the
/// MIMIC-IV demo's 233 MS-DRG rows: 871, 207, 683, 291) and their diagnoses are ours.
pub fn drgs(line: ServiceLine) -> &'static [DrgRow] {
    const MEDICAL_ICU: &[DrgRow] = &[
        drg("871", 1.9572, &["A41.9", "R65.20", "N17.9"]),
        drg("207", 6.5659, &["J96.00", "J18.9"]),
        drg("189", 1.2070, &["J96.01", "J44.1"]),
    ];
    const SURGICAL: &[DrgRow] = &[
        drg("470", 1.9119, &["M17.11"]),
        drg("330", 2.4554, &["K56.609", "C18.7"]),
        drg("329", 4.6233, &["K57.20", "R65.21"]),
        drg("853", 4.9010, &["T81.41XA", "A41.9"]),
    ];
    const CARDIAC: &[DrgRow] = &[
        drg("291", 1.2798, &["I50.23", "N17.9"]),
        drg("280", 1.6064, &["I21.4", "I50.21"]),
        drg("247", 1.9095, &["I25.110"]),
        drg("312", 0.8527, &["R55", "I95.1"]),
    ];
    const MEDICAL: &[DrgRow] = &[
        drg("194", 0.8402, &["J18.9", "E87.1"]),
        drg("690", 0.7956, &["N39.0", "B96.20"]),
        drg("683", 0.8949, &["N17.9", "E86.0"]),
        drg("392", 0.7876, &["K52.9"]),
        drg("603", 0.8818, &["L03.115"]),
        drg("378", 0.9850, &["K92.2", "D62"]),
        drg("872", 1.0280, &["A41.9", "N39.0"]),
    ];
    const PEDIATRIC: &[DrgRow] = &[
        drg("203", 0.6671, &["J45.41", "J20.9"]),
        drg("195", 0.6418, &["J18.9"]),
        drg("392", 0.7876, &["A08.4", "E86.0"]),
    ];
    const PSYCHIATRIC: &[DrgRow] = &[
        drg("885", 1.2955, &["F20.9"]),
        drg("881", 0.8555, &["F34.1"]),
        drg("897", 0.8513, &["F10.239"]),
    ];
    match line {
        ServiceLine::MedicalIcu => MEDICAL_ICU,
        ServiceLine::SurgicalIcu | ServiceLine::Surgical => SURGICAL,
        ServiceLine::CoronaryCare | ServiceLine::Cardiac => CARDIAC,
        ServiceLine::Medical | ServiceLine::Emergency => MEDICAL,
        ServiceLine::Pediatric => PEDIATRIC,
        ServiceLine::Psychiatric => PSYCHIATRIC,
    }
}

/// ED visits that end in the ED are outpatient: a professional E/M charge (CPT 99283–99285)
/// instead of an MS-DRG. Amounts: CMS 2023 physician fee schedule national facility amounts,
/// `cms-pfs-rvu-2023/pfs_rvu_2023_jan_national.csv` column `fac_national_amount_derived`.
/// The level mix (30/40/30 %) is an assumption.
pub const ED_VISIT_CODES: [(&str, i64, f64); 3] = [
    ("99283", 7_218, 0.3),
    ("99284", 12_132, 0.4),
    ("99285", 17_655, 0.3),
];

/// Diagnoses of ED visits that end in the ED (assumption: common ED discharge diagnoses).
pub const ED_DIAGNOSES: [&str; 5] = ["R07.9", "R10.9", "S93.401A", "J06.9", "R51.9"];

/// Share of posted charges later voided, and share later adjusted (assumptions from the brief).
pub const VOID_SHARE: f64 = 0.02;
/// See [`VOID_SHARE`].
pub const ADJUST_SHARE: f64 = 0.05;
