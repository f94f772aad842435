//! Prices for replayed charges, from two CMS tables beside the data sets.
//!
//! - [`DrgWeights`]: MS-DRG v40 relative weights, CMS FY 2023 IPPS final rule, Table 5
//!   (`cms-ms-drg-weights/ms_drg_v40_fy2023_weights.csv`, 767 DRGs). A facility claim pays
//!   `relative_weight × base rate`; the base rate is [`ReplayOptions::drg_base_rate_minor`]
//!   (one national rate: no wage index, outlier, DSH or IME adjustments).
//! - [`FeeSchedule`]: the CMS 2023 Medicare physician fee schedule, national RVU file (January
//!   release), `cms-pfs-rvu-2023/pfs_rvu_2023_jan_national.csv`: the facility price
//!   `fac_national_amount_derived` (facility total RVU × 33.8872 USD, GPCI 1.0) of the global
//!   row (empty `modifier`) of each HCPCS/CPT code. Replayed HCPCS charges are hospital
//!   (inpatient) services, hence the facility price.
//!
//! Amounts are read as exact decimals and rounded half away from zero to cents, never through
//! a float. A code that is not in a table, or whose price is 0 (weight 0 for DRGs 998/999;
//! bundled, excluded or carrier-priced fee-schedule codes), has no price: the charge becomes an
//! `unpriced_code` dead letter.
//!
//! [`ReplayOptions::drg_base_rate_minor`]: super::ReplayOptions::drg_base_rate_minor

use super::table::{Table, field, text};
use crate::error::Result;
use csv::ByteRecord;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// The MS-DRG weights file under the data directory.
pub const DRG_WEIGHTS_FILE: &str = "cms-ms-drg-weights/ms_drg_v40_fy2023_weights.csv";
/// The physician fee schedule file under the data directory.
pub const FEE_SCHEDULE_FILE: &str = "cms-pfs-rvu-2023/pfs_rvu_2023_jan_national.csv";

/// A decimal number read exactly: `mantissa / 10^scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer, with the sign.
    pub mantissa: i64,
    /// Digits after the decimal point (at most 9).
    pub scale: u32,
}

impl Decimal {
    /// Parses `[-]digits[.digits]` (e.g. `0.8482`, `213.83`); `None` for anything else.
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty())
            || !all_digits(int)
            || !all_digits(frac)
            || frac.len() > 9
            || int.len() > 9
        {
            return None;
        }
        let mut mantissa: i64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa * 10 + i64::from(b - b'0');
        }
        Some(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: frac.len() as u32,
        })
    }

    /// `self × factor`, rounded half away from zero to a whole number.
    pub fn times_rounded(self, factor: i64) -> i64 {
        let num = i128::from(self.mantissa) * i128::from(factor);
        let den = 10i128.pow(self.scale);
        let q = (num.abs() * 2 + den) / (den * 2);
        (q * num.signum()) as i64
    }

    /// Whether the number is 0.
    pub fn is_zero(self) -> bool {
        self.mantissa == 0
    }
}

/// An MS-DRG as the three-digit code CMS writes: `54` -> `054`; other text unchanged.
pub fn ms_drg_code(code: &str) -> Cow<'_, str> {
    let code = code.trim();
    if !code.is_empty() && code.len() < 3 && code.bytes().all(|b| b.is_ascii_digit()) {
        Cow::Owned(format!("{code:0>3}"))
    } else {
        Cow::Borrowed(code)
    }
}

/// MS-DRG v40 relative weights by three-digit DRG.
#[derive(Clone, Debug, Default)]
pub struct DrgWeights {
    weights: HashMap<String, Decimal>,
}

impl DrgWeights {
    /// Reads [`DRG_WEIGHTS_FILE`] under `data_dir` (columns `ms_drg`, `relative_weight`); rows
    /// with an unreadable weight are left out. Errors: [`crate::Error::DataSet`] if the file or a
    /// column is missing.
    pub fn load(data_dir: &Path) -> Result<DrgWeights> {
        let mut table = Table::open(data_dir, DRG_WEIGHTS_FILE)?;
        let [c_drg, c_weight] = table.columns(["ms_drg", "relative_weight"])?;
        let mut rec = ByteRecord::new();
        let mut weights = HashMap::new();
        while table.next(&mut rec)?.is_some() {
            if let Some(w) = field(&rec, c_weight).and_then(Decimal::parse) {
                weights.insert(ms_drg_code(text(&rec, c_drg)).into_owned(), w);
            }
        }
        Ok(DrgWeights { weights })
    }

    /// The relative weight of a DRG (`054` or `54`).
    pub fn weight(&self, drg: &str) -> Option<Decimal> {
        self.weights.get(ms_drg_code(drg).as_ref()).copied()
    }

    /// The DRG's price in minor units: `relative_weight × base_rate_minor`, rounded half away
    /// from zero. `None` when the DRG is not in the table or its weight is 0.
    pub fn price_minor(&self, drg: &str, base_rate_minor: i64) -> Option<i64> {
        self.weight(drg)
            .filter(|w| !w.is_zero())
            .map(|w| w.times_rounded(base_rate_minor))
    }

    /// Number of DRGs with a weight.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether no DRG has a weight.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }
}

/// National facility prices (USD cents) of HCPCS/CPT codes.
#[derive(Clone, Debug, Default)]
pub struct FeeSchedule {
    cents: HashMap<String, i64>,
}

impl FeeSchedule {
    /// Reads [`FEE_SCHEDULE_FILE`] under `data_dir` (columns `hcpcs`, `modifier`,
    /// `fac_national_amount_derived`), keeping the global rows (empty modifier). Errors:
    /// [`crate::Error::DataSet`] if the file or a column is missing.
    pub fn load(data_dir: &Path) -> Result<FeeSchedule> {
        let mut table = Table::open(data_dir, FEE_SCHEDULE_FILE)?;
        let [c_code, c_modifier, c_amount] =
            table.columns(["hcpcs", "modifier", "fac_national_amount_derived"])?;
        let mut rec = ByteRecord::new();
        let mut cents = HashMap::new();
        while table.next(&mut rec)?.is_some() {
            if !text(&rec, c_modifier).is_empty() {
                continue;
            }
            if let Some(amount) = field(&rec, c_amount).and_then(Decimal::parse) {
                cents.insert(text(&rec, c_code).to_owned(), amount.times_rounded(100));
            }
        }
        Ok(FeeSchedule { cents })
    }

    /// The code's national facility price in USD cents; `None` when the code is not in the
    /// schedule or its price is 0.
    pub fn price_minor(&self, code: &str) -> Option<i64> {
        self.cents.get(code.trim()).copied().filter(|&c| c != 0)
    }

    /// Number of codes with a global row.
    pub fn len(&self) -> usize {
        self.cents.len()
    }

    /// Whether the schedule is empty.
    pub fn is_empty(&self) -> bool {
        self.cents.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::test_data_dir;

    #[test]
    fn decimals_round_half_away_from_zero() {
        assert_eq!(
            Decimal::parse("0.8482"),
            Some(Decimal {
                mantissa: 8482,
                scale: 4
            })
        );
        assert_eq!(Decimal::parse("0.0").map(Decimal::is_zero), Some(true));
        assert_eq!(Decimal::parse("1.5").map(|d| d.times_rounded(1)), Some(2));
        assert_eq!(Decimal::parse("-1.5").map(|d| d.times_rounded(1)), Some(-2));
        assert_eq!(Decimal::parse("1.49").map(|d| d.times_rounded(1)), Some(1));
        assert_eq!(
            Decimal::parse("213.83").map(|d| d.times_rounded(100)),
            Some(21_383)
        );
        for bad in ["", ".", "1.2.3", "1e5", "abc", "1.0000000001"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
        assert_eq!(ms_drg_code("54"), "054");
        assert_eq!(ms_drg_code("871"), "871");
        assert_eq!(ms_drg_code("A1"), "A1");
    }

    /// Values checked against the CSV files with grep: DRG 864 weight 0.8482, 018 36.1452,
    /// 998/999 weight 0; 99291 facility 213.83 USD (SOURCE.md's example), G0378 0.00 (status X).
    #[test]
    fn cms_tables() {
        let data = test_data_dir();
        let drg = DrgWeights::load(&data).expect("DRG weights");
        assert_eq!(drg.len(), 767);
        assert_eq!(drg.price_minor("864", 637_574), Some(540_790)); // 0.8482 × 6,375.74 = 5,407.9027
        assert_eq!(drg.price_minor("18", 100_000), Some(3_614_520));
        assert_eq!(drg.price_minor("998", 637_574), None);
        assert_eq!(drg.price_minor("230", 637_574), None); // retired before v40
        let pfs = FeeSchedule::load(&data).expect("fee schedule");
        assert_eq!(pfs.len(), 15_854);
        assert_eq!(pfs.price_minor("99291"), Some(21_383));
        assert_eq!(pfs.price_minor("G0378"), None);
        assert_eq!(pfs.price_minor("99219"), None); // deleted from CPT in 2023
    }
}
