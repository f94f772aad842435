//! Real-data replay (being written).
