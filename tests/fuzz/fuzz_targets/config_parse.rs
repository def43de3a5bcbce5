//! `config::parse` on arbitrary text (invalid UTF-8 replaced, as a caller reading a file lossily
//! would see it): never panics; a parse that succeeds gives values within their ranges.
#![no_main]

use csflowd_fuzz::oracle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    oracle::check_config(&String::from_utf8_lossy(data));
});
