//! Configuration parsing and validation on any text: an error naming what is wrong, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = eddy_engine::config::Config::from_yaml(text);
    }
});
