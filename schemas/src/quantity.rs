//! Fixed-point measured values.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A measured value in thousandths of its unit (`72.5 /min` is `Milli(72_500)`).
///
/// Fixed point keeps events `Ord + Hash + Eq` (so they can be keys in a dataflow) and makes
/// clinical band boundaries exact. On the wire it is a plain JSON number. Values are rounded to
/// the nearest thousandth when read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Milli(pub i64);

impl Milli {
    /// From a float, rounded to the nearest thousandth; `None` for NaN or infinities.
    pub fn from_f64(v: f64) -> Option<Self> {
        if v.is_finite() && v.abs() < 9.0e15 {
            Some(Milli((v * 1000.0).round() as i64))
        } else {
            None
        }
    }

    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Rounded to the nearest whole unit, halves away from zero (`20.5` -> `21`).
    pub fn round_whole(self) -> i64 {
        let q = self.0.abs().div_euclid(1000) + i64::from(self.0.abs().rem_euclid(1000) >= 500);
        q * self.0.signum()
    }

    /// Rounded to the nearest tenth, in tenths, halves away from zero (`38.05` -> `381`).
    pub fn round_tenths(self) -> i64 {
        let q = self.0.abs().div_euclid(100) + i64::from(self.0.abs().rem_euclid(100) >= 50);
        q * self.0.signum()
    }
}

impl Serialize for Milli {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Milli {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Milli::from_f64(v).ok_or_else(|| serde::de::Error::custom("value is not a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(Milli::from_f64(20.5).map(Milli::round_whole), Some(21));
        assert_eq!(Milli::from_f64(20.499).map(Milli::round_whole), Some(20));
        assert_eq!(Milli::from_f64(38.05).map(Milli::round_tenths), Some(381));
        assert_eq!(Milli::from_f64(-1.5).map(Milli::round_whole), Some(-2));
        assert_eq!(Milli::from_f64(f64::NAN), None);
    }
}
