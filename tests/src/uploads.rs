//! A hundred uploads that are not usable plugins: random bytes (half with a component header),
//! truncated components, core modules, a component importing a clock the host does not
//! grant, and one over the size limit.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fixture;

/// (what it is, bytes), 100 of them; `good` is a valid component to cut, `limit` the size
/// limit.
pub fn malformed_uploads(good: &[u8], limit: usize) -> Vec<(String, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut uploads: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..40 {
        let len = rng.random_range(0..4096);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if i % 2 == 0 && bytes.len() >= 8 {
            bytes[..8].copy_from_slice(b"\0asm\x0d\0\x01\0"); // a component header, then noise
        }
        uploads.push((format!("random {i}"), bytes));
    }
    for i in 0..40 {
        let cut = rng.random_range(1..good.len());
        uploads.push((format!("truncated at {cut} ({i})"), good[..cut].to_vec()));
    }
    for i in 0..10 {
        let mut module = b"\0asm\x01\0\0\0".to_vec(); // a core module, not a component
        module.extend((0..i).map(|_| 0u8));
        uploads.push((format!("core module {i}"), module));
    }
    let clock = std::fs::read(fixture("clock-reader")).expect("read");
    for i in 0..9 {
        uploads.push((format!("imports the clock {i}"), clock.clone()));
    }
    uploads.push(("too large".into(), vec![0u8; limit + 1]));
    assert_eq!(uploads.len(), 100);
    uploads
}
