//! Decoding kernels: one vital sign from our NDJSON wire form and from a FHIR R4
//! Observation, including validation. The engine is bound by decoding (STYLE.md), so this is
//! the per-core ceiling of `decode + NEWS2`.
//!
//! Run: `cargo bench -p wardstream-benches --bench decode`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wardstream_schemas::Event;

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

criterion_group!(benches, decode);
criterion_main!(benches);
