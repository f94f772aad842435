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

/// Parameters per parallel block of the mean (a 64 KiB accumulator: L2-resident, and long
/// enough runs of each row for the prefetcher).
const MEAN_BLOCK: usize = 16384;

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
            let end = start + acc.len();
            // Eight rows per pass over the accumulator: an eighth of its loads and stores, and
            // eight read streams in flight for the prefetcher.
            let mut octs = rows.chunks_exact(8).zip(scale.chunks_exact(8));
            for (r, s) in &mut octs {
                let width = acc.len();
                // Slices of exactly `width` so that the indexing below needs no bounds checks.
                let r: [&[f32]; 8] = std::array::from_fn(|i| &r[i][start..start + width]);
                for (j, a) in acc.iter_mut().enumerate().take(width) {
                    *a += (s[0] * r[0][j] + s[1] * r[1][j])
                        + (s[2] * r[2][j] + s[3] * r[3][j])
                        + ((s[4] * r[4][j] + s[5] * r[5][j]) + (s[6] * r[6][j] + s[7] * r[7][j]));
                }
            }
            let tail = rows.len() - rows.len() % 8;
            for (row, &s) in rows[tail..].iter().zip(&scale[tail..]) {
                for (a, &v) in acc.iter_mut().zip(&row[start..end]) {
                    *a += s * v;
                }
            }
        });
    Ok(Array1::from(out))
}

/// Comparators `(i, j)`, `i < j`, of Batcher's odd–even merge sort on `n` inputs (Knuth, TAOCP
/// vol. 3, §5.3.4, algorithm M): the network for the next power of two with every comparator
/// that touches a position `≥ n` dropped. Those positions would hold +∞ padding, which no
/// comparator moves (the larger value always goes to the higher position), so what is left
/// sorts any `n` inputs. `O(n log² n)` comparators.
fn sorting_network(n: usize) -> Vec<(usize, usize)> {
    let size = n.next_power_of_two();
    let mut comparators = Vec::new();
    let mut p = 1;
    while p < size {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < size {
                for i in 0..k.min(size - j - k) {
                    let (a, b) = (i + j, i + j + k);
                    if a / (2 * p) == b / (2 * p) && b < n {
                        comparators.push((a, b));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    comparators
}

/// Sorts each of a block's `width` columns, stored as `n` rows of `width` lanes
/// (`block[r·width + c]`), with one sorting network applied to all lanes at once: a
/// comparator is a lane-wise min/max of two rows, branch-free and vectorised. Entries must
/// not be NaN (the order of a NaN is unspecified).
fn sort_lanes(block: &mut [f32], width: usize, network: &[(usize, usize)]) {
    for &(i, j) in network {
        let (low, high) = block.split_at_mut(j * width);
        let a = &mut low[i * width..(i + 1) * width];
        let b = &mut high[..width];
        for (x, y) in a.iter_mut().zip(b.iter_mut()) {
            let (p, q) = (*x, *y);
            *x = p.min(q);
            *y = p.max(q);
        }
    }
}

/// Floats per block buffer of the order statistics (`n × width`, 32 KiB: one L1 cache).
const ORDER_BLOCK_FLOATS: usize = 8192;

/// Sorts every parameter's `n` values (block by block, in parallel) and hands each sorted
/// block to `reduce(sorted, width, out)`, `sorted[r·width + c]` being the `r`-th smallest
/// value of the block's column `c`.
fn by_sorted_columns(
    updates: ArrayView2<'_, f32>,
    reduce: impl Fn(&[f32], usize, &mut [f32]) + Sync,
) -> Array1<f32> {
    let (n, p) = updates.dim();
    let contiguous = updates.as_standard_layout();
    let rows = row_slices(&contiguous);
    let network = sorting_network(n);
    let lanes = (ORDER_BLOCK_FLOATS / n.max(1)).clamp(8, 256) / 8 * 8;
    let mut out = vec![0.0f32; p];
    out.par_chunks_mut(lanes).enumerate().for_each_init(
        || vec![0.0f32; n * lanes],
        |buf, (b, dst)| {
            let start = b * lanes;
            let width = dst.len();
            let block = &mut buf[..n * width];
            for (chunk, row) in block.chunks_exact_mut(width).zip(&rows) {
                chunk.copy_from_slice(&row[start..start + width]);
            }
            sort_lanes(block, width, &network);
            reduce(block, width, dst);
        },
    );
    Array1::from(out)
}

/// Coordinate-wise median of the rows (`n × p`); the mean of the two middle values for even
/// `n`; NaN for no rows. Entries must be finite (the server refuses others). `O(n log² n · p)` branch-free
/// comparisons (a sorting network per block of parameters, vectorised across parameters).
pub fn coordinate_median(updates: ArrayView2<'_, f32>) -> Array1<f32> {
    let n = updates.nrows();
    if n == 0 {
        // No values: no median (NaN), rather than a panic.
        return Array1::from_elem(updates.ncols(), f32::NAN);
    }
    by_sorted_columns(updates, move |sorted, width, out| {
        let mid = &sorted[(n / 2) * width..(n / 2 + 1) * width];
        if n % 2 == 1 {
            out.copy_from_slice(mid);
        } else {
            let below = &sorted[(n / 2 - 1) * width..(n / 2) * width];
            for ((o, &a), &b) in out.iter_mut().zip(below).zip(mid) {
                *o = (a + b) / 2.0;
            }
        }
    })
}

/// Coordinate-wise β-trimmed mean of the rows (`n × p`): drop the `k = ⌊β·n⌋` smallest and
/// largest values of each coordinate, average the `n − 2k` left. Entries must be finite (the
/// server refuses others). Cost as [`coordinate_median`].
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
    if n == 0 {
        return Ok(Array1::from_elem(updates.ncols(), f32::NAN));
    }
    let k = (beta * n as f64).floor() as usize;
    let kept = n - 2 * k;
    Ok(by_sorted_columns(updates, move |sorted, width, out| {
        out.fill(0.0);
        for row in sorted.chunks_exact(width).skip(k).take(kept) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
        for o in out.iter_mut() {
            *o /= kept as f32;
        }
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

    #[test]
    fn network_sorts_every_zero_one_input() {
        // The 0–1 principle (Knuth, TAOCP 5.3.4, theorem Z): a comparator network that sorts
        // all 2ⁿ inputs of zeros and ones sorts every input. Exhaustive for n ≤ 17: powers of
        // two, one above (17 pads to 32) and everything between.
        for n in 1..=17usize {
            let network = sorting_network(n);
            for bits in 0u32..(1 << n) {
                let mut v: Vec<f32> = (0..n).map(|i| ((bits >> i) & 1) as f32).collect();
                sort_lanes(&mut v, 1, &network);
                assert!(v.windows(2).all(|w| w[0] <= w[1]), "n {n} input {bits:b}");
            }
        }
    }

    fn naive_trimmed(column: &mut [f32], k: usize) -> f32 {
        column.sort_by(f32::total_cmp);
        let kept = &column[k..column.len() - k];
        kept.iter().sum::<f32>() / kept.len() as f32
    }

    proptest! {
        #[test]
        fn order_statistics_match_sorting(n in 1usize..140, p in 1usize..700, seed in any::<u64>(), beta in 0.0f64..0.49) {
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
