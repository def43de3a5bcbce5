//! `decode_list` on arbitrary bytes with a cap from the first byte: never panics; the cap holds and
//! names are bounded.
#![no_main]

use csflowd_fuzz::oracle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, body)) = data.split_first() else {
        return;
    };
    oracle::check_list(body, usize::from(cap % 16));
    oracle::check_list(body, usize::MAX);
});
