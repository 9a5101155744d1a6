//! Published hand-over state (the files replicas read when a partition moves): any body, with
//! a valid digest so that decompression and decoding are reached, plain and compressed, is an
//! error or a state, never a panic or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use eddy_engine::state::decode_published;
    let _ = decode_published(data, false);
    let _ = decode_published(data, true);
    // The same body with its digest, as a file written by a replica would carry.
    let mut file = data.to_vec();
    file.extend_from_slice(&eddy_engine::state::digest(data));
    let _ = decode_published(&file, false);
    let _ = decode_published(&file, true);
});
