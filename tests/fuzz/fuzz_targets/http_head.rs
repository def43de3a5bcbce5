//! `parse_head` on arbitrary bytes: never panics; a complete head lies within the input and the
//! 64 KiB bound, and parses the same from its own bytes alone.
#![no_main]

use csflowd_fuzz::oracle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oracle::check_head(data);
});
