//! Server-side aggregation of site updates: the sample-weighted mean of FedAvg and the robust
//! rules that bound what poisoned updates can do.
//!
//! Every rule takes the updates as one `n × p` row-major matrix (a row per site, `p`
//! parameters) and returns one `p`-vector. All are data-parallel over parameter blocks (rayon)
//! and allocate only the output and one block buffer per thread.
//!
//! - Weighted mean (FedAvg): McMahan et al. 2017, "Communication-Efficient Learning of Deep
//!   Networks from Decentralized Data" (AISTATS), `Σ n_k Δ_k / Σ n_k`.
//! - Coordinate-wise median and β-trimmed mean: Yin et al. 2018, "Byzantine-Robust Distributed
//!   Learning: Towards Optimal Statistical Rates" (ICML). Both are unweighted, as in the paper:
//!   weighting by a site's claimed size would let a liar claim a large one.
//! - Krum / Multi-Krum: Blanchard et al. 2017, "Machine Learning with Adversaries: Byzantine
//!   Tolerant Gradient Descent" (NeurIPS). Needs `n > 2f + 2`.

use ndarray::{Array1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Parameters per parallel block of the mean (fits L1 with its accumulator).
const MEAN_BLOCK: usize = 4096;
/// Parameters per block of the order statistics (the block's `n × B` transpose fits L2).
const ORDER_BLOCK: usize = 512;

/// How the server combines the updates of a round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Aggregator {
    /// Sample-weighted mean (FedAvg).
    Mean,
    /// Coordinate-wise median.
    Median,
    /// Coordinate-wise mean after dropping the `⌊β·n⌋` smallest and largest values.
    TrimmedMean {
        /// Share trimmed from each end, `0 ≤ β < 0.5`.
        beta: f64,
    },
    /// Multi-Krum: the sample-weighted mean of the `select` updates with the lowest Krum score,
    /// assuming at most `byzantine` poisoned sites (`select = 1` is Krum).
    MultiKrum {
        /// Assumed number of poisoned sites `f`.
        byzantine: usize,
        /// Updates kept `m`, `1 ≤ m ≤ n − f`.
        select: usize,
    },
}

impl Aggregator {
    /// Combine `updates` (`n × p`) with per-row `weights` (records per site; used by the
    /// mean and Multi-Krum).
    ///
    /// # Errors
    /// [`Error::Shape`] when there are no rows or `weights` has not one entry per row;
    /// [`Error::Config`] for a trim share outside `[0, 0.5)` that would trim every row, a
    /// negative or all-zero weight, or Krum without `n > 2f + 2`.
    pub fn aggregate(&self, updates: ArrayView2<'_, f32>, weights: &[f64]) -> Result<Array1<f32>> {
        if updates.nrows() == 0 {
            return Err(Error::Shape("no updates to aggregate".into()));
        }
        if weights.len() != updates.nrows() {
            return Err(Error::Shape(format!(
                "{} updates but {} weights",
                updates.nrows(),
                weights.len()
            )));
        }
        match *self {
            Aggregator::Mean => weighted_mean(updates, weights),
            Aggregator::Median => Ok(coordinate_median(updates)),
            Aggregator::TrimmedMean { beta } => trimmed_mean(updates, beta),
            Aggregator::MultiKrum { byzantine, select } => {
                let chosen = multi_krum(updates, byzantine, select)?;
                let rows = updates.select(ndarray::Axis(0), &chosen);
                let w: Vec<f64> = chosen.iter().map(|&i| weights[i]).collect();
                weighted_mean(rows.view(), &w)
            }
        }
    }
}

/// Each row of a standard-layout matrix as a slice.
fn row_slices<'a>(matrix: &'a ndarray::CowArray<'_, f32, ndarray::Ix2>) -> Vec<&'a [f32]> {
    matrix
        .rows()
        .into_iter()
        .map(|r| r.to_slice().unwrap_or(&[]))
        .collect()
}

/// `Σ w_k·u_k / Σ w_k` over the rows of `updates` (`n × p`).
///
/// # Errors
/// [`Error::Config`] for a negative or non-finite weight or all-zero weights.
pub fn weighted_mean(updates: ArrayView2<'_, f32>, weights: &[f64]) -> Result<Array1<f32>> {
    let total: f64 = weights.iter().sum();
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || total <= 0.0 {
        return Err(Error::Config(
            "weights must be finite, ≥ 0 and not all zero".into(),
        ));
    }
    let scale: Vec<f32> = weights.iter().map(|w| (w / total) as f32).collect();
    let p = updates.ncols();
    let mut out = vec![0.0f32; p];
    let contiguous = updates.as_standard_layout();
    let rows = row_slices(&contiguous);
    out.par_chunks_mut(MEAN_BLOCK)
        .enumerate()
        .for_each(|(b, acc)| {
            let start = b * MEAN_BLOCK;
            for (row, &s) in rows.iter().zip(&scale) {
                let src = &row[start..start + acc.len()];
                for (a, &v) in acc.iter_mut().zip(src) {
                    *a += s * v;
                }
            }
        });
    Ok(Array1::from(out))
}

/// Runs `per_column` over each parameter's `n` values (in a scratch buffer it may reorder).
fn by_column(
    updates: ArrayView2<'_, f32>,
    per_column: impl Fn(&mut [f32]) -> f32 + Sync,
) -> Array1<f32> {
    let (n, p) = updates.dim();
    let contiguous = updates.as_standard_layout();
    let rows = row_slices(&contiguous);
    let mut out = vec![0.0f32; p];
    out.par_chunks_mut(ORDER_BLOCK).enumerate().for_each_init(
        || vec![0.0f32; n * ORDER_BLOCK],
        |buf, (b, dst)| {
            let start = b * ORDER_BLOCK;
            let width = dst.len();
            for (r, row) in rows.iter().enumerate() {
                for (c, &v) in row[start..start + width].iter().enumerate() {
                    buf[c * n + r] = v;
                }
            }
            for (c, d) in dst.iter_mut().enumerate() {
                *d = per_column(&mut buf[c * n..(c + 1) * n]);
            }
        },
    );
    Array1::from(out)
}

/// Coordinate-wise median of the rows (`n × p`); the mean of the two middle values for even
/// `n`. `O(n·p)` expected.
pub fn coordinate_median(updates: ArrayView2<'_, f32>) -> Array1<f32> {
    by_column(updates, |v| {
        let n = v.len();
        let mid = n / 2;
        let (lower, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
        let m = *m;
        if n % 2 == 1 {
            m
        } else {
            let below = lower.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            (below + m) / 2.0
        }
    })
}

/// Coordinate-wise β-trimmed mean of the rows (`n × p`): drop the `k = ⌊β·n⌋` smallest and
/// largest values of each coordinate, average the `n − 2k` left. `O(n·p)` expected.
///
/// # Errors
/// [`Error::Config`] when `β ∉ [0, 0.5)`.
pub fn trimmed_mean(updates: ArrayView2<'_, f32>, beta: f64) -> Result<Array1<f32>> {
    if !(0.0..0.5).contains(&beta) {
        return Err(Error::Config(format!(
            "trimmed mean: β must be in [0, 0.5), got {beta}"
        )));
    }
    let n = updates.nrows();
    let k = (beta * n as f64).floor() as usize;
    let kept = n - 2 * k;
    Ok(by_column(updates, move |v| {
        let middle: &[f32] = if k == 0 {
            v
        } else {
            v.select_nth_unstable_by(k - 1, f32::total_cmp);
            let upper = &mut v[k..];
            upper.select_nth_unstable_by(kept - 1, f32::total_cmp);
            &upper[..kept]
        };
        middle.iter().sum::<f32>() / kept as f32
    }))
}

/// Multi-Krum: indices of the `select` rows with the lowest Krum score, the score of row `i`
/// being the sum of its squared distances to its `n − f − 2` nearest other rows. Ascending
/// score order.
///
/// # Errors
/// [`Error::Config`] unless `n > 2f + 2` and `1 ≤ select ≤ n − f`.
pub fn multi_krum(
    updates: ArrayView2<'_, f32>,
    byzantine: usize,
    select: usize,
) -> Result<Vec<usize>> {
    let n = updates.nrows();
    if n <= 2 * byzantine + 2 || select == 0 || select > n - byzantine {
        return Err(Error::Config(format!(
            "Krum needs n > 2f + 2 and 1 ≤ m ≤ n − f; got n = {n}, f = {byzantine}, m = {select}"
        )));
    }
    let contiguous = updates.as_standard_layout();
    let rows = row_slices(&contiguous);
    let pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect();
    let distances: Vec<f64> = pairs
        .par_iter()
        .map(|&(i, j)| {
            rows[i]
                .iter()
                .zip(rows[j])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum()
        })
        .collect();
    let mut d = vec![vec![0.0f64; n]; n];
    for (&(i, j), &v) in pairs.iter().zip(&distances) {
        d[i][j] = v;
        d[j][i] = v;
    }
    let neighbours = n - byzantine - 2;
    let mut scores: Vec<(f64, usize)> = (0..n)
        .map(|i| {
            let mut others: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| d[i][j]).collect();
            others.sort_by(f64::total_cmp);
            (others[..neighbours].iter().sum(), i)
        })
        .collect();
    scores.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(scores[..select].iter().map(|&(_, i)| i).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    use proptest::prelude::*;

    #[test]
    fn fedavg_of_known_updates_is_the_weighted_mean() {
        let u = array![[1.0f32, 2.0, -3.0], [3.0, 6.0, 1.0]];
        let mean = Aggregator::Mean
            .aggregate(u.view(), &[1.0, 3.0])
            .expect("aggregates");
        assert_eq!(mean.to_vec(), vec![2.5, 5.0, 0.0]);
    }

    #[test]
    fn robust_rules_ignore_an_outlier() {
        let u = array![
            [1.0f32, 10.0],
            [2.0, 11.0],
            [3.0, 12.0],
            [4.0, 13.0],
            [1000.0, -1000.0]
        ];
        let w = [1.0; 5];
        assert_eq!(
            Aggregator::Median
                .aggregate(u.view(), &w)
                .expect("ok")
                .to_vec(),
            vec![3.0, 11.0]
        );
        let t = Aggregator::TrimmedMean { beta: 0.2 }
            .aggregate(u.view(), &w)
            .expect("ok");
        assert_eq!(t.to_vec(), vec![3.0, 11.0]);
        let even = array![[1.0f32], [2.0], [4.0], [100.0]];
        assert_eq!(coordinate_median(even.view()).to_vec(), vec![3.0]);
        let chosen = multi_krum(u.view(), 1, 3).expect("n > 2f + 2");
        assert!(!chosen.contains(&4), "{chosen:?}");
        assert!(multi_krum(u.view(), 2, 1).is_err());
        assert!(trimmed_mean(u.view(), 0.5).is_err());
    }

    fn naive_trimmed(column: &mut [f32], k: usize) -> f32 {
        column.sort_by(f32::total_cmp);
        let kept = &column[k..column.len() - k];
        kept.iter().sum::<f32>() / kept.len() as f32
    }

    proptest! {
        #[test]
        fn order_statistics_match_sorting(n in 1usize..12, p in 1usize..1200, seed in any::<u64>(), beta in 0.0f64..0.49) {
            use rand::{RngExt, SeedableRng};
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            let u = Array2::from_shape_fn((n, p), |_| rng.random_range(-5.0f32..5.0));
            let median = coordinate_median(u.view());
            let trimmed = trimmed_mean(u.view(), beta).expect("β < 0.5");
            let k = (beta * n as f64).floor() as usize;
            for c in 0..p {
                let mut col: Vec<f32> = u.column(c).to_vec();
                col.sort_by(f32::total_cmp);
                let m = if n % 2 == 1 { col[n / 2] } else { (col[n / 2 - 1] + col[n / 2]) / 2.0 };
                prop_assert_eq!(median[c], m);
                let t = naive_trimmed(&mut col, k);
                prop_assert!((trimmed[c] - t).abs() <= 1e-5 * t.abs().max(1.0));
            }
            let w: Vec<f64> = (0..n).map(|i| 1.0 + i as f64).collect();
            let mean = weighted_mean(u.view(), &w).expect("weights");
            let total: f64 = w.iter().sum();
            for c in 0..p {
                let exact: f64 = (0..n).map(|r| u[[r, c]] as f64 * w[r]).sum::<f64>() / total;
                prop_assert!((mean[c] as f64 - exact).abs() < 1e-4);
            }
        }
    }
}
