//! Code systems: LOINC vital signs with their UCUM units, ICD-10-CM, CPT/HCPCS, MS-DRG, ISO 4217.
//!
//! Only the shapes of codes are checked here (a code list licence is not needed for that).
//! Whether a code has a price is the pricing tables' business (see `wardstream-pipelines`).

use crate::quantity::Milli;
use serde::{Deserialize, Serialize};

/// The vital-sign parameters we accept, each bound to one LOINC code and one UCUM unit.
///
/// Source: LOINC vital-signs panel 85353-1 members, as used by the FHIR R4 vital-signs profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VitalCode {
    /// 8867-4 Heart rate, `/min`.
    HeartRate,
    /// 9279-1 Respiratory rate, `/min`.
    RespiratoryRate,
    /// 59408-5 Oxygen saturation in arterial blood by pulse oximetry (SpO2), `%`.
    Spo2,
    /// 2708-6 Oxygen saturation in arterial blood (SaO2), `%`.
    Sao2,
    /// 8480-6 Systolic blood pressure, `mm[Hg]`.
    SystolicBp,
    /// 8462-4 Diastolic blood pressure, `mm[Hg]`.
    DiastolicBp,
    /// 8310-5 Body temperature, `Cel`.
    BodyTemperature,
}

impl VitalCode {
    /// Every accepted code.
    pub const ALL: [VitalCode; 7] = [
        VitalCode::HeartRate,
        VitalCode::RespiratoryRate,
        VitalCode::Spo2,
        VitalCode::Sao2,
        VitalCode::SystolicBp,
        VitalCode::DiastolicBp,
        VitalCode::BodyTemperature,
    ];

    /// The LOINC code, e.g. `8867-4`.
    pub fn loinc(self) -> &'static str {
        match self {
            VitalCode::HeartRate => "8867-4",
            VitalCode::RespiratoryRate => "9279-1",
            VitalCode::Spo2 => "59408-5",
            VitalCode::Sao2 => "2708-6",
            VitalCode::SystolicBp => "8480-6",
            VitalCode::DiastolicBp => "8462-4",
            VitalCode::BodyTemperature => "8310-5",
        }
    }

    /// Looks a LOINC code up.
    pub fn from_loinc(code: &str) -> Option<Self> {
        VitalCode::ALL.into_iter().find(|c| c.loinc() == code)
    }

    /// The UCUM unit the value must be in.
    pub fn ucum(self) -> &'static str {
        match self {
            VitalCode::HeartRate | VitalCode::RespiratoryRate => "/min",
            VitalCode::Spo2 | VitalCode::Sao2 => "%",
            VitalCode::SystolicBp | VitalCode::DiastolicBp => "mm[Hg]",
            VitalCode::BodyTemperature => "Cel",
        }
    }

    /// The inclusive range of physiologically possible values, in thousandths of the unit.
    ///
    /// Heart rate 0–350 /min, respiratory rate 0–120 /min, saturations 0–100 %, systolic 0–400
    /// and diastolic 0–300 mm[Hg], temperature 15–46 Cel. Values outside are recording errors.
    pub fn plausible(self) -> (Milli, Milli) {
        let (lo, hi) = match self {
            VitalCode::HeartRate => (0, 350),
            VitalCode::RespiratoryRate => (0, 120),
            VitalCode::Spo2 | VitalCode::Sao2 => (0, 100),
            VitalCode::SystolicBp => (0, 400),
            VitalCode::DiastolicBp => (0, 300),
            VitalCode::BodyTemperature => (15, 46),
        };
        (Milli(lo * 1000), Milli(hi * 1000))
    }
}

/// Whether `code` is shaped like an ICD-10-CM diagnosis code, with or without the dot
/// (`I10`, `E11.9`, `E119`, `S72.001A`): a letter, a digit, a digit or letter, then up to
/// four more alphanumerics.
pub fn is_icd10(code: &str) -> bool {
    let b: Vec<u8> = code.bytes().filter(|&c| c != b'.').collect();
    if !(3..=7).contains(&b.len()) {
        return false;
    }
    if let Some(dot) = code.find('.')
        && (dot != 3 || code.len() == 4)
    {
        return false;
    }
    b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && (b[2].is_ascii_digit() || b[2].is_ascii_uppercase())
        && b[3..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// Whether `code` is shaped like a CPT code (five digits, or four digits and `F`/`T`/`U`) or a
/// HCPCS Level II code (a letter A–V and four digits).
pub fn is_cpt_or_hcpcs(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() != 5 {
        return false;
    }
    let cpt = b[..4].iter().all(u8::is_ascii_digit)
        && (b[4].is_ascii_digit() || matches!(b[4], b'F' | b'T' | b'U'));
    let hcpcs = (b'A'..=b'V').contains(&b[0]) && b[1..].iter().all(u8::is_ascii_digit);
    cpt || hcpcs
}

/// Whether `code` is an MS-DRG: exactly three digits (`001`–`999`).
pub fn is_ms_drg(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|c| c.is_ascii_digit()) && code != "000"
}

/// ISO 4217 codes accepted for amounts, with their minor-unit exponent.
pub const CURRENCIES: [(&str, u32); 12] = [
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("CHF", 2),
    ("BRL", 2),
    ("INR", 2),
    ("CNY", 2),
    ("MXN", 2),
    ("JPY", 0),
    ("KRW", 0),
];

/// The minor-unit exponent of an accepted ISO 4217 currency (`USD` -> 2, `JPY` -> 0).
pub fn currency_exponent(code: &str) -> Option<u32> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_shapes() {
        for ok in ["I10", "E119", "E11.9", "S72001A", "S72.001A", "Z3A"] {
            assert!(is_icd10(ok), "{ok}");
        }
        for bad in ["", "10", "i10", "4019", "I1", "E1.19", "I10.", "S72001AB"] {
            assert!(!is_icd10(bad), "{bad}");
        }
        assert!(!is_icd10("4019"));
    }

    #[test]
    fn cpt_hcpcs_drg_currency_shapes() {
        assert!(is_cpt_or_hcpcs("99291"));
        assert!(is_cpt_or_hcpcs("0001U"));
        assert!(is_cpt_or_hcpcs("G0378"));
        assert!(!is_cpt_or_hcpcs("9929"));
        assert!(!is_cpt_or_hcpcs("Z1234"));
        assert!(is_ms_drg("054"));
        assert!(!is_ms_drg("54"));
        assert_eq!(currency_exponent("JPY"), Some(0));
        assert_eq!(currency_exponent("XYZ"), None);
    }

    #[test]
    fn loinc_round_trip() {
        for c in VitalCode::ALL {
            assert_eq!(VitalCode::from_loinc(c.loinc()), Some(c));
        }
        assert_eq!(VitalCode::from_loinc("1234-5"), None);
    }
}
