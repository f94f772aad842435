//! Vital-sign events from charted values, shared by the PhysioNet and eICU mappings: a LOINC
//! quantity in its UCUM unit, GCS -> ACVPU, and FiO2 -> supplemental oxygen.

use wardstream_schemas::{
    Acvpu, Event, Milli, Millis, Reject, RejectReason, SCHEMA_VERSION, VitalCode, VitalSign,
};

/// What a charted value says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// A LOINC-coded quantity in the code's UCUM unit.
    Quantity(VitalCode, Milli),
    /// Level of consciousness.
    Consciousness(Acvpu),
    /// On supplemental oxygen (`true`) or air (`false`).
    SupplementalOxygen(bool),
}

/// Where an observation belongs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject<'a> {
    pub tenant: &'a str,
    pub patient: &'a str,
    pub encounter: &'a str,
}

/// A vital-sign event (not yet validated).
pub(crate) fn vital(
    event_id: String,
    who: Subject<'_>,
    event_time: Millis,
    what: Observed,
    device: Option<&str>,
) -> Event {
    let mut v = VitalSign {
        event_id,
        tenant_id: who.tenant.to_owned(),
        event_time,
        schema_version: SCHEMA_VERSION,
        patient_id: who.patient.to_owned(),
        encounter_id: who.encounter.to_owned(),
        device_id: device.map(str::to_owned),
        code: None,
        value: None,
        unit: None,
        consciousness: None,
        supplemental_oxygen: None,
        spo2_scale: None,
    };
    match what {
        Observed::Quantity(code, value) => {
            v.code = Some(code.loinc().to_owned());
            v.value = Some(value);
            v.unit = Some(code.ucum().to_owned());
        }
        Observed::Consciousness(level) => v.consciousness = Some(level),
        Observed::SupplementalOxygen(on) => v.supplemental_oxygen = Some(on),
    }
    Event::VitalSign(v)
}

/// A charted number: decimal text (surrounding spaces allowed) to [`Milli`]; `None` when it is
/// not a finite number.
pub(crate) fn number(text: &str) -> Option<Milli> {
    text.trim().parse::<f64>().ok().and_then(Milli::from_f64)
}

/// Glasgow Coma Scale total (3–15) to ACVPU: 15 -> A, 14 -> C, 9–13 -> V, 4–8 -> P, 3 -> U.
///
/// An approximation: GCS and ACVPU measure different things, and no published table maps one
/// onto the other exactly (AVPU-to-GCS studies put V around 13 and P around 8). Only "A" versus
/// "not A" changes the NEWS2 score (RCP 2017, chart 1: any of C/V/P/U scores 3), so the choice
/// of cut-offs below 15 does not change any score. Errors: `value_out_of_range` unless a whole
/// number in 3–15.
pub(crate) fn acvpu_from_gcs(gcs: Milli) -> Result<Acvpu, Reject> {
    let out_of_range = || {
        Reject::new(
            RejectReason::ValueOutOfRange,
            format!("GCS {} is not a whole number in 3..=15", gcs.as_f64()),
        )
    };
    if gcs.0 % 1000 != 0 {
        return Err(out_of_range());
    }
    match gcs.0 / 1000 {
        15 => Ok(Acvpu::A),
        14 => Ok(Acvpu::C),
        9..=13 => Ok(Acvpu::V),
        4..=8 => Ok(Acvpu::P),
        3 => Ok(Acvpu::U),
        _ => Err(out_of_range()),
    }
}

/// Fraction of inspired oxygen to "on supplemental oxygen": a value ≤ 1 is a fraction, a larger
/// one a percentage; on oxygen when FiO2 > 21 % (room air).
///
/// Errors: `value_out_of_range` when FiO2 is below 21 % or above 100 %: inspired oxygen cannot
/// be below room air, and such charting (eICU has `0`, `2`, `3`, `4` …, mostly oxygen flow in
/// L/min typed into the FiO2 field) must not be read as "on air".
pub(crate) fn supplemental_oxygen_from_fio2(fio2: Milli) -> Result<bool, Reject> {
    let percent_milli = if fio2.0 <= 1000 { fio2.0 * 100 } else { fio2.0 };
    if !(21_000..=100_000).contains(&percent_milli) {
        return Err(Reject::new(
            RejectReason::ValueOutOfRange,
            format!(
                "FiO2 {} % outside 21..=100 %",
                Milli(percent_milli).as_f64()
            ),
        ));
    }
    Ok(percent_milli > 21_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: f64) -> Milli {
        Milli::from_f64(v).expect("finite")
    }

    #[test]
    fn gcs_bands() {
        let bands = [
            (15.0, Acvpu::A),
            (14.0, Acvpu::C),
            (13.0, Acvpu::V),
            (9.0, Acvpu::V),
            (8.0, Acvpu::P),
            (4.0, Acvpu::P),
            (3.0, Acvpu::U),
        ];
        for (gcs, level) in bands {
            assert_eq!(acvpu_from_gcs(m(gcs)), Ok(level), "GCS {gcs}");
        }
        for bad in [2.0, 16.0, 14.5, -1.0] {
            assert_eq!(
                acvpu_from_gcs(m(bad)).map_err(|r| r.reason),
                Err(RejectReason::ValueOutOfRange),
                "GCS {bad}"
            );
        }
    }

    #[test]
    fn fio2_fraction_or_percent() {
        assert_eq!(supplemental_oxygen_from_fio2(m(0.21)), Ok(false));
        assert_eq!(supplemental_oxygen_from_fio2(m(21.0)), Ok(false));
        assert_eq!(supplemental_oxygen_from_fio2(m(0.5)), Ok(true));
        assert_eq!(supplemental_oxygen_from_fio2(m(1.0)), Ok(true));
        assert_eq!(supplemental_oxygen_from_fio2(m(40.0)), Ok(true));
        assert_eq!(supplemental_oxygen_from_fio2(m(100.0)), Ok(true));
        for bad in [0.0, 0.2, 2.0, 20.0, 100.5] {
            assert_eq!(
                supplemental_oxygen_from_fio2(m(bad)).map_err(|r| r.reason),
                Err(RejectReason::ValueOutOfRange),
                "FiO2 {bad}"
            );
        }
        assert_eq!(number(" 92.33 "), Some(Milli(92_330)));
        assert_eq!(number("NaN"), None);
        assert_eq!(number("60%"), None);
    }
}
