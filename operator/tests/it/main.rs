//! The operator's tests: one binary (link time), one module per area.

mod binary;
mod boot;
mod builders;
mod crd;
mod fake_api;
mod reconcile;
mod support;
