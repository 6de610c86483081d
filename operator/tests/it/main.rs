//! The operator's tests: one binary (link time), one module per area.

mod binary;
mod boot;
mod builders;
mod crd;
mod fake_api;
#[path = "../../../dataplane/tests/it/ports.rs"]
mod ports;
mod reconcile;
mod support;
