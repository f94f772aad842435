//! Benchmarks for wardstream: shared helpers for the harnesses in `benches/`.
