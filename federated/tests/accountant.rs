//! The RDP accountant against reference values: published figures (TensorFlow Privacy's MNIST
//! tutorial and its accountant's test, Opacus's documented example) and the exact RDP of the
//! sampled Gaussian mechanism.
//!
//! The "exact" values come from Google's `dp_accounting` 0.4.3 (PyPI), whose fractional-order
//! series keeps the binomial coefficients' signs as Mironov et al. 2019 write it (as Opacus and
//! the original TensorFlow Privacy do), and agree to ~1e-9 with direct numerical integration
//! of the Rényi divergence. `dp_accounting` ≥ 0.4.4 adds the terms' magnitudes instead, an
//! upper bound that is up to 30% above the exact RDP at α = 1.5; integer orders are identical.

// Reference values are quoted with every digit their source printed.
#![allow(clippy::excessive_precision)]

use wardstream_federated::accountant::{RdpAccountant, rdp_sampled_gaussian};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

/// The conversion TensorFlow Privacy used until 2020: `min_α RDP(α) − log δ / (α − 1)`
/// (Mironov 2017, Prop. 3).
fn classic_epsilon(acc: &RdpAccountant, delta: f64) -> (f64, f64) {
    acc.rdp_by_order()
        .into_iter()
        .map(|(a, r)| (r - delta.ln() / (a - 1.0), a))
        .fold((f64::INFINITY, f64::NAN), |best, x| {
            if x.0 < best.0 { x } else { best }
        })
}

#[test]
fn single_step_rdp_matches_the_exact_series() {
    // (q, σ, α, exact RDP of one step)
    let cases = [
        (0.01, 1.1, 1.5, 9.5545285576849421e-05),
        (0.01, 1.1, 2.0, 0.00012851008160514807),
        (0.01, 1.1, 3.5, 0.00023114550947582634),
        (0.01, 1.1, 8.0, 0.00058407033552024669),
        (0.01, 1.1, 32.0, 8.4694164336759261),
        (0.1, 2.0, 1.5, 0.0020989345958862746),
        (0.1, 2.0, 2.0, 0.0028362282662637191),
        (0.1, 2.0, 3.5, 0.0051762573660686312),
        (0.1, 2.0, 8.0, 0.013725430103219966),
        (0.1, 2.0, 32.0, 1.6272023010194361),
    ];
    for (q, sigma, alpha, exact) in cases {
        let got = rdp_sampled_gaussian(q, sigma, alpha);
        assert!(
            close(got, exact, 1e-8),
            "q {q} σ {sigma} α {alpha}: {got} vs {exact}"
        );
    }
    // dp_accounting's test vector (q 0.01, σ 2.5, 50 steps), signed series.
    let expected = [
        6.50070897e-04,
        1.08541806e-03,
        2.18075656e-03,
        2.38460375e-02,
        1.67416308e+02,
    ];
    for (alpha, e) in [1.5, 2.5, 5.0, 50.0, 100.0].into_iter().zip(expected) {
        let got = 50.0 * rdp_sampled_gaussian(0.01, 2.5, alpha);
        assert!(close(got, e, 1e-6), "α {alpha}: {got} vs {e}");
    }
}

#[test]
fn epsilon_over_the_default_orders_matches_the_reference() {
    // (q, σ, steps, δ, ε, optimal α): dp_accounting's default orders, Canonne–Kamath–Steinke
    // conversion, exact RDP.
    let cases = [
        (0.01, 1.1, 10_000, 1e-5, 5.63199236854841, 4.7),
        (256.0 / 60_000.0, 1.1, 14_100, 1e-5, 2.6003429386103, 8.1),
        (0.01, 4.0, 10_000, 1e-5, 1.03549006603625, 17.0),
        (1.0, 1.0, 1, 1e-5, 4.72850706721762, 5.4),
        (1.0, 5.0, 50, 1e-5, 7.07739157816664, 4.2),
        (0.05, 0.5, 60, 1e-5, 17.3283272331921, 1.9),
        (0.001, 0.8, 1_000, 1e-6, 1.46187585755689, 8.6),
        (0.1, 2.0, 500, 1e-5, 6.0343224418911, 4.4),
    ];
    for (q, sigma, steps, delta, eps, order) in cases {
        let mut acc = RdpAccountant::default();
        acc.compose(q, sigma, steps).expect("valid");
        let (got, at) = acc.epsilon_and_order(delta).expect("valid δ");
        assert!(
            close(got, eps, 1e-8),
            "q {q} σ {sigma} T {steps}: ε {got} vs {eps}"
        );
        assert!(
            (at - order).abs() < 1e-9,
            "q {q} σ {sigma} T {steps}: α {at} vs {order}"
        );
    }
}

#[test]
fn published_figures_are_reproduced() {
    // TensorFlow Privacy, tutorials/README.md: "DP-SGD run with default parameters
    // [N = 60000, batch 256, σ = 1.1, 60 epochs] satisfies differential privacy with
    // eps = 3.01 and delta = 1e-05" — compute_dp_sgd_privacy's orders, ⌈60·60000/256⌉ steps,
    // the classic conversion.
    let mut tfp_orders = vec![1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5];
    tfp_orders.extend((5..64).map(f64::from));
    tfp_orders.extend([128.0, 256.0, 512.0]);
    let mut acc = RdpAccountant::with_orders(tfp_orders).expect("orders");
    acc.compose(256.0 / 60_000.0, 1.1, 14_063).expect("valid");
    let (eps, _) = classic_epsilon(&acc, 1e-5);
    assert_eq!((eps * 100.0).round() / 100.0, 3.01, "ε = {eps}");

    // TensorFlow Privacy's rdp_accountant_test.py::test_check_composition: two mechanisms
    // composed, ε = 8.509656 (5 places) at order 2.5, classic conversion.
    let orders = vec![
        1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 14.0, 16.0, 20.0,
        24.0, 28.0, 32.0, 64.0, 256.0,
    ];
    let mut acc = RdpAccountant::with_orders(orders).expect("orders");
    acc.compose(1e-4, 0.4, 40_000).expect("valid");
    acc.compose(0.1, 2.0, 100).expect("valid");
    let (eps, order) = classic_epsilon(&acc, 1e-5);
    assert!((eps - 8.509656).abs() < 5e-6, "ε = {eps}");
    assert_eq!(order, 2.5);

    // Opacus, accountants/analysis/rdp.py (get_privacy_spent's example): (q, σ, steps) =
    // (1e-5, 1.0, 10) then (1e-4, 3.0, 4), orders 2..=32, δ = 1e-5 → (0.336, 23).
    let mut acc = RdpAccountant::with_orders((2..=32).map(f64::from).collect()).expect("orders");
    acc.compose(1e-5, 1.0, 10).expect("valid");
    acc.compose(1e-4, 3.0, 4).expect("valid");
    let (eps, order) = acc.epsilon_and_order(1e-5).expect("valid δ");
    assert!((eps - 0.33634406339259565).abs() < 1e-9, "ε = {eps}");
    assert_eq!(order, 23.0);
}
