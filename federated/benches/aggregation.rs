//! Federated aggregation at the size: 100 sites × 1,000,000 `f32` parameters, FedAvg
//! (weighted mean) next to a pass that only reads the input (the memory floor), coordinate-wise
//! median and trimmed mean (β = 0.1), and one round of
//! secure aggregation's masking at a smaller size (10 sites × 100,000).
//!
//! `cargo bench -p wardstream-federated --bench aggregation [-- FILTER]` (release profile; builds
//! only this crate's dependencies, a few minutes cold).

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use std::hint::black_box;
use wardstream_federated::aggregate::{coordinate_median, trimmed_mean, weighted_mean};
use wardstream_federated::secagg::{SecAggConfig, aggregate_in_process};

fn updates(n: usize, p: usize) -> Array2<f32> {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    Array2::from_shape_fn((n, p), |_| rng.random_range(-1.0f32..1.0))
}

/// Sum of a slice in 16 independent lanes (so that it vectorises).
fn lane_sum(chunk: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    for block in chunk.chunks_exact(16) {
        for (l, &v) in lanes.iter_mut().zip(block) {
            *l += v;
        }
    }
    lanes.iter().sum()
}

fn aggregation(c: &mut Criterion) {
    let (n, p) = (100, 1_000_000);
    let u = updates(n, p);
    let weights: Vec<f64> = (0..n).map(|k| 100.0 + k as f64).collect();
    let mut group = c.benchmark_group("aggregate_100x1M");
    group.sample_size(10);
    group.bench_function("fedavg_weighted_mean", |b| {
        b.iter(|| black_box(weighted_mean(u.view(), &weights).map(|m| m[0])))
    });
    // The floor: one parallel pass that only reads the 400 MB (a vectorised sum). FedAvg reads
    // the same bytes once, so it cannot be faster than this on the machine at hand.
    group.bench_function("memory_floor_read_once", |b| {
        let flat = u.as_slice().unwrap_or(&[]);
        b.iter(|| black_box(flat.par_chunks(1 << 16).map(lane_sum).sum::<f32>()))
    });
    group.bench_function("coordinate_median", |b| {
        b.iter(|| black_box(coordinate_median(u.view())[0]))
    });
    group.bench_function("trimmed_mean_0.1", |b| {
        b.iter(|| black_box(trimmed_mean(u.view(), 0.1).map(|m| m[0])))
    });
    group.finish();
}

fn secure_aggregation(c: &mut Criterion) {
    let (n, p) = (10, 100_000);
    let u = updates(n, p);
    let inputs: Vec<Vec<f32>> = u.rows().into_iter().map(|r| r.to_vec()).collect();
    let config =
        SecAggConfig::for_clients(n, p, 1_048_576.0, 8.0).unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("secagg_10x100k");
    group.sample_size(10);
    group.bench_function("round_no_dropout", |b| {
        b.iter(|| black_box(aggregate_in_process(&inputs, &[], &config, 1).map(|s| s[0])))
    });
    group.bench_function("round_3_dropped", |b| {
        b.iter(|| black_box(aggregate_in_process(&inputs, &[1, 4, 7], &config, 1).map(|s| s[0])))
    });
    group.finish();
}

criterion_group!(benches, aggregation, secure_aggregation);
criterion_main!(benches);
