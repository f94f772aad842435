//! Kernels: decoding one vital sign from our NDJSON wire form and from a FHIR R4 Observation
//! (with validation) — the engine is bound by decoding (STYLE.md), so this is the per-core
//! ceiling of `decode + NEWS2` — and the built-in generator's events per second.
//!
//! Run: `cargo bench -p wardstream-benches --bench kernels`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wardstream_pipelines::generator::{Generator, GeneratorConfig};
use wardstream_schemas::Event;

/// Events generated per iteration of the generator bench.
const GENERATED: u64 = 100_000;

const NDJSON: &str = r#"{"type":"vital_sign","event_id":"physionet-132539-7","tenant_id":"physionet-2012","event_time":"2025-01-01T00:07:00Z","patient_id":"132539","encounter_id":"132539","device_id":"monitor","code":"8867-4","value":73,"unit":"/min"}"#;
const FHIR: &str = r#"{"resourceType":"Observation","id":"obs-1","status":"final","meta":{"tag":[{"system":"urn:wardstream:tenant","code":"general"}]},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"},"effectiveDateTime":"2025-01-01T00:07:00Z","valueQuantity":{"value":73,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}"#;

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("vital_sign_ndjson", |b| {
        b.iter(|| Event::decode(black_box(NDJSON.as_bytes())))
    });
    group.bench_function("vital_sign_fhir", |b| {
        b.iter(|| Event::decode(black_box(FHIR.as_bytes())))
    });
    group.finish();
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generator");
    group.sample_size(10);
    group.throughput(Throughput::Elements(GENERATED));
    group.bench_function("default_hospital", |b| {
        // Construction (including the generator's warm-up) is outside the measurement.
        b.iter_batched(
            || Generator::new(GeneratorConfig::default()),
            |g| g.take(GENERATED as usize).count(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, decode, generate);
criterion_main!(benches);
