//! Arrow schemas and record batches of the raw events of each stream.
//!
//! These tables let DataFusion recompute any view from scratch (the batch side of the
//! incremental == batch tests) and let users query what was ingested. Times are
//! `Timestamp(Millisecond, "UTC")`; amounts are `Int64` minor units; measured values `Float64`.

use crate::adt::Adt;
use crate::appointment::Appointment;
use crate::charge::Charge;
use crate::vital_sign::{Spo2Scale, VitalSign};
use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// `Timestamp(Millisecond, "UTC")`.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn ts(name: &str) -> Field {
    Field::new(name, ts_type(), false)
}

fn strs<'a>(it: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(it))
}

fn opt_strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(it))
}

fn times(it: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(it).with_timezone("UTC"))
}

/// Schema of the `adt` raw table.
pub fn adt_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("event_id", false),
        utf8("tenant_id", false),
        ts("event_time"),
        utf8("kind", false),
        utf8("patient_id", false),
        utf8("encounter_id", false),
        utf8("care_unit", true),
        utf8("bed", true),
        utf8("from_care_unit", true),
        utf8("from_bed", true),
    ]))
}

/// The `adt` raw table.
pub fn adt_batch(rows: &[Adt]) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(
        adt_schema(),
        vec![
            strs(rows.iter().map(|r| r.event_id.as_str())),
            strs(rows.iter().map(|r| r.tenant_id.as_str())),
            times(rows.iter().map(|r| r.event_time)),
            strs(rows.iter().map(|r| r.kind.as_str())),
            strs(rows.iter().map(|r| r.patient_id.as_str())),
            strs(rows.iter().map(|r| r.encounter_id.as_str())),
            opt_strs(rows.iter().map(|r| r.care_unit.as_deref())),
            opt_strs(rows.iter().map(|r| r.bed.as_deref())),
            opt_strs(rows.iter().map(|r| r.from_care_unit.as_deref())),
            opt_strs(rows.iter().map(|r| r.from_bed.as_deref())),
        ],
    )
}

/// Schema of the `vital_signs` raw table (`spo2_scale` is 1 or 2; `value` in the UCUM `unit`).
pub fn vital_sign_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("event_id", false),
        utf8("tenant_id", false),
        ts("event_time"),
        utf8("patient_id", false),
        utf8("encounter_id", false),
        utf8("device_id", true),
        utf8("code", true),
        Field::new("value", DataType::Float64, true),
        utf8("unit", true),
        utf8("consciousness", true),
        Field::new("supplemental_oxygen", DataType::Boolean, true),
        Field::new("spo2_scale", DataType::Int32, true),
    ]))
}

/// The `vital_signs` raw table.
pub fn vital_sign_batch(rows: &[VitalSign]) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(
        vital_sign_schema(),
        vec![
            strs(rows.iter().map(|r| r.event_id.as_str())),
            strs(rows.iter().map(|r| r.tenant_id.as_str())),
            times(rows.iter().map(|r| r.event_time)),
            strs(rows.iter().map(|r| r.patient_id.as_str())),
            strs(rows.iter().map(|r| r.encounter_id.as_str())),
            opt_strs(rows.iter().map(|r| r.device_id.as_deref())),
            opt_strs(rows.iter().map(|r| r.code.as_deref())),
            Arc::new(Float64Array::from_iter(
                rows.iter().map(|r| r.value.map(|v| v.as_f64())),
            )),
            opt_strs(rows.iter().map(|r| r.unit.as_deref())),
            opt_strs(rows.iter().map(|r| r.consciousness.map(|c| c.as_str()))),
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| r.supplemental_oxygen),
            )),
            Arc::new(Int32Array::from_iter(rows.iter().map(|r| {
                r.spo2_scale
                    .map(|s| if s == Spo2Scale::Scale2 { 2 } else { 1 })
            }))),
        ],
    )
}

/// Schema of the `appointments` raw table.
pub fn appointment_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("event_id", false),
        utf8("tenant_id", false),
        ts("event_time"),
        utf8("status", false),
        utf8("appointment_id", false),
        utf8("patient_id", false),
        utf8("provider_id", true),
        utf8("clinic", false),
        ts("scheduled_start"),
        ts("booked_at"),
        Field::new("patient_age", DataType::Int32, true),
    ]))
}

/// The `appointments` raw table.
pub fn appointment_batch(rows: &[Appointment]) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(
        appointment_schema(),
        vec![
            strs(rows.iter().map(|r| r.event_id.as_str())),
            strs(rows.iter().map(|r| r.tenant_id.as_str())),
            times(rows.iter().map(|r| r.event_time)),
            strs(rows.iter().map(|r| r.status.as_str())),
            strs(rows.iter().map(|r| r.appointment_id.as_str())),
            strs(rows.iter().map(|r| r.patient_id.as_str())),
            opt_strs(rows.iter().map(|r| r.provider_id.as_deref())),
            strs(rows.iter().map(|r| r.clinic.as_str())),
            times(rows.iter().map(|r| r.scheduled_start)),
            times(rows.iter().map(|r| r.booked_at)),
            Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.patient_age))),
        ],
    )
}

/// Schema of the `charges` raw table (`diagnoses` joined with `;`).
pub fn charge_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("event_id", false),
        utf8("tenant_id", false),
        ts("event_time"),
        utf8("charge_id", false),
        utf8("encounter_id", false),
        utf8("patient_id", true),
        utf8("care_unit", true),
        utf8("code_system", false),
        utf8("code", false),
        utf8("diagnoses", false),
        Field::new("amount_minor", DataType::Int64, false),
        utf8("currency", false),
        utf8("status", false),
    ]))
}

/// The `charges` raw table.
pub fn charge_batch(rows: &[Charge]) -> Result<RecordBatch, ArrowError> {
    let diagnoses: Vec<String> = rows.iter().map(|r| r.diagnoses.join(";")).collect();
    RecordBatch::try_new(
        charge_schema(),
        vec![
            strs(rows.iter().map(|r| r.event_id.as_str())),
            strs(rows.iter().map(|r| r.tenant_id.as_str())),
            times(rows.iter().map(|r| r.event_time)),
            strs(rows.iter().map(|r| r.charge_id.as_str())),
            strs(rows.iter().map(|r| r.encounter_id.as_str())),
            opt_strs(rows.iter().map(|r| r.patient_id.as_deref())),
            opt_strs(rows.iter().map(|r| r.care_unit.as_deref())),
            strs(rows.iter().map(|r| r.code_system.as_str())),
            strs(rows.iter().map(|r| r.code.as_str())),
            strs(diagnoses.iter().map(String::as_str)),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.amount_minor),
            )),
            strs(rows.iter().map(|r| r.currency.as_str())),
            strs(rows.iter().map(|r| r.status.as_str())),
        ],
    )
}
