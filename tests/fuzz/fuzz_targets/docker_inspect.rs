//! `decode_inspect` on arbitrary bytes: never panics; strings are bounded.
#![no_main]

use csflowd_fuzz::oracle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oracle::check_inspect(data);
});
