//! Evaluation of a binary classifier on held-out data: ROC AUC and mean log-loss.

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (the Mann–Whitney U statistic over `n₁·n₀`).
///
/// `scores` and `labels` (1.0 positive, 0.0 negative) have one entry per example. Returns
/// `None` when either class is absent (AUC is undefined). Cost `O(n log n)`.
pub fn roc_auc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0f64, 0u64);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1..=j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            if labels[k] > 0.5 {
                rank_sum += mean_rank;
                positives += 1;
            }
        }
        i = j;
    }
    let negatives = order.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Mean binary cross-entropy (natural log) of probabilities `p` against `labels`, each `p`
/// clamped to `[1e-7, 1 − 1e-7]`. `NaN` for no examples.
pub fn log_loss(p: &[f32], labels: &[f32]) -> f64 {
    let n = p.len().min(labels.len());
    let total: f64 = p
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = (p as f64).clamp(1e-7, 1.0 - 1e-7);
            -(y as f64 * p.ln() + (1.0 - y as f64) * (1.0 - p).ln())
        })
        .sum();
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_pairs_with_ties_as_half() {
        // Pairs (pos, neg): (0.8,0.1) win, (0.8,0.4) win, (0.4,0.1) win, (0.4,0.4) tie → 3.5/4.
        let auc = roc_auc(&[0.1, 0.4, 0.4, 0.8], &[0.0, 0.0, 1.0, 1.0]).expect("both classes");
        assert!((auc - 0.875).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.2], &[1.0, 1.0]), None);
        let perfect = roc_auc(&[0.1, 0.2, 0.9], &[0.0, 0.0, 1.0]).expect("both");
        assert_eq!(perfect, 1.0);
    }

    #[test]
    fn log_loss_of_coin_flips_is_ln_2() {
        assert!((log_loss(&[0.5, 0.5], &[1.0, 0.0]) - std::f64::consts::LN_2).abs() < 1e-12);
    }
}
