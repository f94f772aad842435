//! Arrow forms of the view rows: the tables DataFusion queries.
//!
//! Times are `Timestamp(Millisecond, "UTC")`, money `Int64` minor units, measured values
//! `Float64` in their UCUM unit, enums `Utf8` with their wire names, occupancy and rates
//! `Float64` fractions (0.85 = 85 %).

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::sync::Arc;
use wardstream_operators::{
    AdtHourlyRow, AlertRow, BoardingRow, CensusRow, LengthOfStayRow, News2Row, NoShowRow,
    RevenueRow,
};
use wardstream_schemas::batch::ts_type;

/// A view row type with a name and an Arrow form.
pub trait ViewRow: Clone + Ord + std::hash::Hash + Send + Sync + std::fmt::Debug + 'static {
    /// The table name in SQL.
    const NAME: &'static str;
    /// The Arrow schema.
    fn schema() -> SchemaRef;
    /// Rows to a record batch.
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError>;
}

fn f(name: &str, dt: DataType, nullable: bool) -> Field {
    Field::new(name, dt, nullable)
}

fn strs<'a>(it: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(it))
}

fn opt_strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(it))
}

fn i64s(it: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(it))
}

fn f64s(it: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(it))
}

fn times(it: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(it).with_timezone("UTC"))
}

fn opt_times(it: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter(it).with_timezone("UTC"))
}

impl ViewRow for CensusRow {
    const NAME: &'static str = "census";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            f("tenant_id", DataType::Utf8, false),
            f("care_unit", DataType::Utf8, false),
            f("patients", DataType::Int64, false),
            f("beds", DataType::UInt32, true),
            f("occupancy", DataType::Float64, true),
        ]))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                strs(rows.iter().map(|r| r.tenant_id.as_str())),
                strs(rows.iter().map(|r| r.care_unit.as_str())),
                i64s(rows.iter().map(|r| r.patients)),
                Arc::new(UInt32Array::from_iter(rows.iter().map(|r| r.beds))),
                f64s(rows.iter().map(|r| {
                    r.beds
                        .filter(|b| *b > 0)
                        .map(|b| r.patients as f64 / f64::from(b))
                })),
            ],
        )
    }
}

impl ViewRow for AdtHourlyRow {
    const NAME: &'static str = "adt_hourly";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            f("tenant_id", DataType::Utf8, false),
            f("care_unit", DataType::Utf8, false),
            f("hour", ts_type(), false),
            f("admissions", DataType::Int64, false),
            f("transfers_in", DataType::Int64, false),
            f("transfers_out", DataType::Int64, false),
            f("discharges", DataType::Int64, false),
        ]))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                strs(rows.iter().map(|r| r.tenant_id.as_str())),
                strs(rows.iter().map(|r| r.care_unit.as_str())),
                times(rows.iter().map(|r| r.hour)),
                i64s(rows.iter().map(|r| r.admissions)),
                i64s(rows.iter().map(|r| r.transfers_in)),
                i64s(rows.iter().map(|r| r.transfers_out)),
                i64s(rows.iter().map(|r| r.discharges)),
            ],
        )
    }
}

fn news2_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("tenant_id", DataType::Utf8, false),
        f("patient_id", DataType::Utf8, false),
        f("encounter_id", DataType::Utf8, false),
        f("score", DataType::Int64, false),
        f("red_flag", DataType::Boolean, false),
        f("response", DataType::Utf8, false),
        f("parameters_present", DataType::Int64, false),
        f("respiration_rate", DataType::Float64, true),
        f("spo2", DataType::Float64, true),
        f("spo2_scale", DataType::Int64, false),
        f("supplemental_oxygen", DataType::Boolean, true),
        f("systolic_bp", DataType::Float64, true),
        f("pulse", DataType::Float64, true),
        f("consciousness", DataType::Utf8, true),
        f("temperature", DataType::Float64, true),
        f("last_observed", ts_type(), false),
        f("previous_score", DataType::Int64, true),
    ]))
}

fn news2_batch(schema: SchemaRef, rows: &[&News2Row]) -> Result<RecordBatch, ArrowError> {
    use wardstream_schemas::Spo2Scale;
    let milli = |get: fn(&News2Row) -> Option<wardstream_schemas::Milli>| {
        f64s(rows.iter().map(move |r| get(r).map(|m| m.as_f64())))
    };
    RecordBatch::try_new(
        schema,
        vec![
            strs(rows.iter().map(|r| r.tenant_id.as_str())),
            strs(rows.iter().map(|r| r.patient_id.as_str())),
            strs(rows.iter().map(|r| r.encounter_id.as_str())),
            i64s(rows.iter().map(|r| i64::from(r.score))),
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.red_flag)),
            )),
            strs(rows.iter().map(|r| r.response.as_str())),
            i64s(rows.iter().map(|r| i64::from(r.parameters_present))),
            milli(|r| r.respiration_rate),
            milli(|r| r.spo2),
            i64s(rows.iter().map(|r| {
                if r.spo2_scale == Spo2Scale::Scale2 {
                    2
                } else {
                    1
                }
            })),
            Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| r.supplemental_oxygen),
            )),
            milli(|r| r.systolic_bp),
            milli(|r| r.pulse),
            opt_strs(rows.iter().map(|r| r.consciousness.map(|c| c.as_str()))),
            milli(|r| r.temperature),
            times(rows.iter().map(|r| r.last_observed)),
            Arc::new(Int64Array::from_iter(
                rows.iter().map(|r| r.previous_score.map(i64::from)),
            )),
        ],
    )
}

impl ViewRow for News2Row {
    const NAME: &'static str = "news2";
    fn schema() -> SchemaRef {
        news2_schema()
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        news2_batch(Self::schema(), rows)
    }
}

/// The `alerts` view: the `news2` columns of patients at medium or high risk who are not
/// discharged, then `care_unit` (nullable: encounters without ADT events).
impl ViewRow for AlertRow {
    const NAME: &'static str = "alerts";
    fn schema() -> SchemaRef {
        let mut fields: Vec<Field> = news2_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(f("care_unit", DataType::Utf8, true));
        Arc::new(Schema::new(fields))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        let inner: Vec<&News2Row> = rows.iter().map(|r| &r.news2).collect();
        let news2 = news2_batch(news2_schema(), &inner)?;
        let mut columns = news2.columns().to_vec();
        columns.push(opt_strs(rows.iter().map(|r| r.care_unit.as_deref())));
        RecordBatch::try_new(Self::schema(), columns)
    }
}

impl ViewRow for NoShowRow {
    const NAME: &'static str = "no_show";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            f("tenant_id", DataType::Utf8, false),
            f("clinic", DataType::Utf8, false),
            f("day", ts_type(), false),
            f("booked", DataType::Int64, false),
            f("attended", DataType::Int64, false),
            f("no_shows", DataType::Int64, false),
            f("cancelled", DataType::Int64, false),
            f("no_show_rate", DataType::Float64, true),
            f("median_lead_days", DataType::Float64, true),
        ]))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                strs(rows.iter().map(|r| r.tenant_id.as_str())),
                strs(rows.iter().map(|r| r.clinic.as_str())),
                times(rows.iter().map(|r| r.day)),
                i64s(rows.iter().map(|r| r.booked)),
                i64s(rows.iter().map(|r| r.attended)),
                i64s(rows.iter().map(|r| r.no_shows)),
                i64s(rows.iter().map(|r| r.cancelled)),
                f64s(rows.iter().map(|r| r.rate())),
                f64s(rows.iter().map(|r| r.median_lead_days.map(|m| m.as_f64()))),
            ],
        )
    }
}

impl ViewRow for RevenueRow {
    const NAME: &'static str = "revenue";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            f("tenant_id", DataType::Utf8, false),
            f("day", ts_type(), false),
            f("code_system", DataType::Utf8, false),
            f("code", DataType::Utf8, false),
            f("care_unit", DataType::Utf8, true),
            f("currency", DataType::Utf8, false),
            f("charges", DataType::Int64, false),
            f("posted_minor", DataType::Int64, false),
            f("adjusted_minor", DataType::Int64, false),
            f("voided_minor", DataType::Int64, false),
            f("net_minor", DataType::Int64, false),
        ]))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                strs(rows.iter().map(|r| r.tenant_id.as_str())),
                times(rows.iter().map(|r| r.day)),
                strs(rows.iter().map(|r| r.code_system.as_str())),
                strs(rows.iter().map(|r| r.code.as_str())),
                opt_strs(rows.iter().map(|r| r.care_unit.as_deref())),
                strs(rows.iter().map(|r| r.currency.as_str())),
                i64s(rows.iter().map(|r| r.charges)),
                i64s(rows.iter().map(|r| r.posted)),
                i64s(rows.iter().map(|r| r.adjusted)),
                i64s(rows.iter().map(|r| r.voided)),
                i64s(rows.iter().map(|r| r.net)),
            ],
        )
    }
}

impl ViewRow for LengthOfStayRow {
    const NAME: &'static str = "length_of_stay";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            f("tenant_id", DataType::Utf8, false),
            f("care_unit", DataType::Utf8, false),
            f("stays", DataType::Int64, false),
            f("mean_hours", DataType::Float64, false),
            f("min_hours", DataType::Float64, false),
            f("p50_hours", DataType::Float64, false),
            f("p90_hours", DataType::Float64, false),
            f("max_hours", DataType::Float64, false),
            f("total_minutes", DataType::Int64, false),
        ]))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        let hours = |get: fn(&LengthOfStayRow) -> i64| {
            f64s(rows.iter().map(move |r| Some(get(r) as f64 / 60.0)))
        };
        RecordBatch::try_new(
            Self::schema(),
            vec![
                strs(rows.iter().map(|r| r.tenant_id.as_str())),
                strs(rows.iter().map(|r| r.care_unit.as_str())),
                i64s(rows.iter().map(|r| r.stays)),
                f64s(
                    rows.iter()
                        .map(|r| Some(r.total_minutes as f64 / 60.0 / r.stays.max(1) as f64)),
                ),
                hours(|r| r.min_minutes),
                hours(|r| r.p50_minutes),
                hours(|r| r.p90_minutes),
                hours(|r| r.max_minutes),
                i64s(rows.iter().map(|r| r.total_minutes)),
            ],
        )
    }
}

impl ViewRow for BoardingRow {
    const NAME: &'static str = "ed_boarding";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            f("tenant_id", DataType::Utf8, false),
            f("encounter_id", DataType::Utf8, false),
            f("care_unit", DataType::Utf8, false),
            f("decided_at", ts_type(), false),
            f("departed_at", ts_type(), true),
            f("to_care_unit", DataType::Utf8, true),
            f("boarding_minutes", DataType::Int64, true),
        ]))
    }
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Self::schema(),
            vec![
                strs(rows.iter().map(|r| r.tenant_id.as_str())),
                strs(rows.iter().map(|r| r.encounter_id.as_str())),
                strs(rows.iter().map(|r| r.care_unit.as_str())),
                times(rows.iter().map(|r| r.decided_at)),
                opt_times(rows.iter().map(|r| r.departed_at)),
                opt_strs(rows.iter().map(|r| r.to_care_unit.as_deref())),
                Arc::new(Int64Array::from_iter(
                    rows.iter().map(|r| r.boarding_minutes()),
                )),
            ],
        )
    }
}
