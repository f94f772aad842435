//! # wardstream-federated
//!
//! Federated learning across tenants: FedAvg / FedProx / FedAdam, robust aggregation,
//! differential privacy and secure aggregation, on ndarray.
//!
//! Empty on purpose: the federated-learning issue fills it. Nothing here pretends to work yet.
