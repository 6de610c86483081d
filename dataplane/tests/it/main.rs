//! Data-plane integration tests: the real server on a loopback port with a temp dir, driven by
//! the official AWS SDK for Rust. One binary (modules below) keeps link time down.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod harness;
mod ports;

mod crash;
mod credentials;
mod encryption;
mod fuzz;
mod indexes;
mod items;
mod queries;
mod replication;
mod streams;
mod tables;
mod tls;
mod transactions;
mod ttl;
