//! The body decoder (chunked, Content-Length, until close, none): the input whole and the input cut
//! by the control bytes (all zeros: byte by byte) must give the same data, end, leftover and error.
//!
//! Control bytes: 0 = framing, 1-2 = Content-Length (little-endian u16), 3.. = piece lengths.
#![no_main]

use csflowd_fuzz::{controls, oracle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (control, input) = controls(data);
    let length = u64::from(u16::from_le_bytes([control[1], control[2]]));
    let framing = oracle::framing_from(control[0], length);
    let whole = oracle::run_body(framing, &[input]);
    let split = oracle::pieces(input, oracle::lengths_from(&control[3..]));
    assert_eq!(
        whole,
        oracle::run_body(framing, &split),
        "whole vs in pieces"
    );
});
