//! The on-disk cache of compiled components (`plugins.cache_dir`): a load fills it, and a
//! corrupt entry is compiled afresh rather than trusted or fatal. (That a warm cache makes a
//! second runtime start faster is measured, not tested: see the README's start-up numbers.)

use std::path::{Path, PathBuf};

use eddy::plugin::{Runtime, WasmAggregator};
use eddy_engine::aggregate::AggregatorInstance;
use eddy_engine::config::PluginsConfig;
use eddy_tests::plugin_dir;

fn runtime(cache_dir: Option<&Path>) -> Runtime {
    Runtime::new(&PluginsConfig {
        dir: plugin_dir(),
        cache_dir: cache_dir.map(Path::to_path_buf),
        ..PluginsConfig::default()
    })
    .expect("runtime")
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Loads `sum`, sums 1..=4 in one group and checks the result.
fn sums(runtime: &Runtime) {
    let loaded = runtime.load("sum").expect("sum loads");
    let mut sum = WasmAggregator::new(runtime, &loaded, "{}").expect("sum instance");
    sum.accumulate(&[0; 4], &[1.0, 2.0, 3.0, 4.0])
        .expect("accumulate");
    assert_eq!(sum.finish(&[0]).expect("finish"), vec![10.0]);
}

#[test]
fn a_load_fills_the_cache_dir() {
    let dir = tempfile::tempdir().expect("dir");
    let cache = dir.path().join("nested/cache");
    let runtime = runtime(Some(&cache));
    assert_eq!(
        runtime.cache_dir(),
        Some(cache.canonicalize().expect("made").as_path())
    );
    assert!(files(&cache).is_empty());
    sums(&runtime);
    let entries = files(&cache.join("modules"));
    assert!(
        !entries.is_empty(),
        "no cache entry under {}",
        cache.display()
    );
    // A second runtime on the same folder loads from it (and still computes right).
    sums(&self::runtime(Some(&cache)));
}

#[test]
fn a_corrupt_cache_entry_is_ignored() {
    let dir = tempfile::tempdir().expect("dir");
    sums(&runtime(Some(dir.path())));
    let entries = files(&dir.path().join("modules"));
    assert!(!entries.is_empty());
    for (i, entry) in entries.iter().enumerate() {
        // Garbage, then a valid zstd frame of garbage: neither may be loaded as code.
        let bytes: Vec<u8> = if i % 2 == 0 {
            b"not a cache entry".repeat(100)
        } else {
            zstd_frame_of(b"\x7fELF but not really")
        };
        std::fs::write(entry, bytes).expect("corrupt");
    }
    sums(&runtime(Some(dir.path())));
    // The entry was rewritten with good code: a third runtime loads it.
    sums(&runtime(Some(dir.path())));
}

/// A zstd frame holding `data` raw (uncompressed block), written by hand.
fn zstd_frame_of(data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header: single segment, 1-byte content size.
    frame.push(0x20);
    frame.push(u8::try_from(data.len()).expect("short"));
    // One last raw block: header = last(1) | type raw(0) << 1 | size << 3, 3 bytes LE.
    let header = 1 | (u32::try_from(data.len()).expect("short") << 3);
    frame.extend_from_slice(&header.to_le_bytes()[..3]);
    frame.extend_from_slice(data);
    frame
}

#[test]
fn an_unwritable_cache_dir_turns_the_cache_off() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("file");
    let runtime = runtime(Some(&file.join("cache")));
    assert_eq!(runtime.cache_dir(), None);
    sums(&runtime);
    let off = self::runtime(None);
    assert_eq!(off.cache_dir(), None);
    sums(&off);
}
