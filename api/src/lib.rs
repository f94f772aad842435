//! wardstream-api
