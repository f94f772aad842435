//! wardstream-federated
