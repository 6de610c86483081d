//! Unit tests of the expression engine, one behaviour per test, plus the oracle replay.

mod eval;
mod fuzz;
mod key;
mod legacy;
mod oracle;
mod parse;
mod projection;
mod support;
mod update;
