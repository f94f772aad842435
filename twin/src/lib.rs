//! # wardstream-twin
//!
//! The digital twin: a discrete-event simulator of patient flow, calibrated from the views
//! (`length_of_stay`, `adt_hourly`, `census`), with scenarios, replications and confidence
//! intervals.
//!
//! Empty on purpose: the digital-twin issue fills it. Nothing here pretends to work yet.
