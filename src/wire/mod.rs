//! sFlow version 5 wire format: counter records, counter samples and datagram headers.
//!
//! (skeleton: the encoder is being written)

mod records;
pub use records::*;
