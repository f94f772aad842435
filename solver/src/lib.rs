//! wardstream-solver
