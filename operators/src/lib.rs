//! # wardstream-operators
//!
//! Pure dataflow operators on timely-dataflow and differential-dataflow: no I/O. Each view is a
//! function from differential collections of events to a collection of view rows, maintained
//! incrementally (arrange / reduce / count / join — never recomputed from scratch), and keyed
//! by tenant.
//!
//! - [`ingest`]: dedup by `event_id`, corrections (retract + insert), watermark and lateness.
//! - [`census`]: `census` (patients and beds per care unit) and `adt_hourly` (movements per hour).
//! - [`news2`]: NEWS2 scoring (RCP 2017) and the `news2` / `alerts` views.
//! - [`no_show`]: `no_show` per clinic and day.
//! - [`revenue`]: `revenue` per day, code and care unit, with voids retracting.
//! - [`length_of_stay`]: `length_of_stay` distribution per care unit.
//! - [`boarding`]: `ed_boarding`, admitted patients waiting in the ED (decision to departure).
//! - [`views`]: all of them from one event collection.
//!
//! Invariants: every view equals a batch recomputation of its definition over the applied
//! events (the `tests` crate checks this against DataFusion SQL on real data and under random
//! batching); views depend on event content, never on arrival order; operators never panic
//! on input (validation happened upstream).
//!
//! Timestamps are `u64` epochs (ingestion batches); event time is data.
//!
//! ```
//! use differential_dataflow::input::Input;
//! use wardstream_operators::news2::{News2Row, Response, news2_view};
//! use wardstream_schemas::{Milli, VitalSign};
//!
//! timely::execute_directly(|worker| {
//!     let (mut input, probe) = worker.dataflow::<u64, _, _>(|scope| {
//!         let (input, vitals) = scope.new_collection::<VitalSign, isize>();
//!         let probe = news2_view(vitals)
//!             .inspect(|(row, _t, _d)| assert_eq!(row.score, 3))
//!             .probe();
//!         (input, probe.0)
//!     });
//!     input.insert(VitalSign {
//!         event_id: "v1".into(), tenant_id: "t".into(), event_time: 0, schema_version: 1,
//!         patient_id: "p".into(), encounter_id: "e".into(), device_id: None,
//!         code: Some("9279-1".into()), value: Milli::from_f64(26.0), unit: Some("/min".into()),
//!         consciousness: None, supplemental_oxygen: None, spo2_scale: None,
//!     });
//!     input.advance_to(1);
//!     input.flush();
//!     while probe.less_than(&1) { worker.step(); }
//! });
//! ```

pub mod boarding;
pub mod census;
pub mod ingest;
pub mod length_of_stay;
pub mod news2;
pub mod no_show;
pub mod revenue;
pub mod views;

pub use boarding::BoardingRow;
pub use census::{AdtHourlyRow, Capacity, CensusRow};
pub use ingest::{IngestConfig, LatePolicy, Outcome};
pub use length_of_stay::LengthOfStayRow;
pub use news2::{AlertRow, News2Row, Response};
pub use no_show::NoShowRow;
pub use revenue::RevenueRow;
pub use views::{Views, build_views};
