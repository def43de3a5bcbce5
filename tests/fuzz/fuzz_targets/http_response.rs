//! The response decoder, the line splitter and the event decoder in a chain, as the agent runs them
//! on the events stream: the input whole and the input cut by the control bytes (all zeros: byte by
//! byte) must give the same head, body, lines, end and error; the one-shot collector must agree;
//! every line goes through `decode_event`.
//!
//! Control bytes: 0 = body limit (0..=255 bytes, or unlimited when 255), 1-2 = line limit
//! (little-endian u16), 3.. = piece lengths.
#![no_main]

use csflowd_fuzz::{controls, oracle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (control, input) = controls(data);
    let body_limit = match control[0] {
        255 => u64::MAX,
        n => u64::from(n) * 64,
    };
    let line_limit = usize::from(u16::from_le_bytes([control[1], control[2]]));
    let whole = oracle::run_response(&[input], body_limit, line_limit);
    let split = oracle::pieces(input, oracle::lengths_from(&control[3..]));
    let in_pieces = oracle::run_response(&split, body_limit, line_limit);
    assert_eq!(whole, in_pieces, "whole vs in pieces");
    let collector_limit = usize::try_from(body_limit).unwrap_or(usize::MAX);
    oracle::check_collector(&split, collector_limit, &in_pieces);
    for line in &whole.lines {
        if let oracle::Line::Text(line) = line {
            oracle::check_event(line);
        }
    }
});
