//! Tabula's pure core: DynamoDB attribute values, exact numbers, the order-preserving key
//! encoding, the item codec and the expression engine. No I/O and no RocksDB here: storage
//! and the data plane build on these types.

pub mod admin;
pub mod codec;
pub mod expr;
pub mod keyenc;
pub mod number;
pub mod value;

pub use number::{Number, NumberError};
pub use value::{AttributeValue, Item, ScalarType};
