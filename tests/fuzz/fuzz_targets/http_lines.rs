//! The line splitter: the input whole and the input cut by the control bytes (all zeros: byte by
//! byte) must give the lines a plain reading gives (over-long lines reported once each), within the
//! buffer bound.
//!
//! Control bytes: 0-1 = line limit (little-endian u16, modulo 4096), 2.. = piece lengths.
#![no_main]

use csflowd_fuzz::{controls, oracle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (control, input) = controls(data);
    let limit = usize::from(u16::from_le_bytes([control[0], control[1]]) % 4096);
    let expected = oracle::reference_lines(input, limit);
    assert_eq!(oracle::run_lines(&[input], limit), expected, "whole");
    let split = oracle::pieces(input, oracle::lengths_from(&control[2..]));
    assert_eq!(oracle::run_lines(&split, limit), expected, "in pieces");
});
