//! # wardstream-solver
//!
//! Staffing recommendations: a nurse-rostering model on good_lp + HiGHS, fed by the live
//! `census` view, validated on the Curtois & Qu benchmark instances in `../shared/data`.
//!
//! Empty on purpose: the staffing issue fills it. Nothing here pretends to work yet.
