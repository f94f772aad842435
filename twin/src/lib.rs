//! wardstream-twin
