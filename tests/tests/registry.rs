//! The plugin registry: content-addressed storage that survives reopening, and validation that
//! refuses malformed uploads without changing anything on disk.

use std::collections::BTreeSet;
use std::path::Path;

use eddy::config::PluginsConfig;
use eddy::plugin::Runtime;
use eddy::registry::{Registry, RegistryError};
use eddy_tests::{example, fixture, plugin_dir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const LIMIT: usize = 4 << 20;

fn runtime() -> Runtime {
    Runtime::new(&PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    })
    .expect("runtime")
}

fn files(dir: &Path) -> BTreeSet<(String, u64)> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().expect("meta").len(),
            )
        })
        .collect()
}

#[test]
fn stores_plugins_by_content_and_survives_reopening() {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(dir.path()).expect("open");
    let uploads = [
        (plugin_dir().join("sum.wasm"), "sum", "aggregator"),
        (example("spread"), "spread", "aggregator"),
        (example("threshold-filter"), "threshold", "filter"),
        (example("enrich-map"), "enrich", "map"),
    ];
    for (path, name, kind) in &uploads {
        let bytes = std::fs::read(path).expect("read");
        let entry = registry
            .add(&runtime, &bytes, LIMIT, 1_000)
            .expect("valid upload");
        assert_eq!((entry.name.as_str(), entry.kind.as_str()), (*name, *kind));
        assert_eq!(entry.digest.len(), 64);
        assert_eq!(entry.size, bytes.len() as u64);
        let again = registry
            .add(&runtime, &bytes, LIMIT, 2_000)
            .expect("same bytes");
        assert_eq!(again, entry, "the same bytes are the same version");
        assert_eq!(
            std::fs::read(registry.path(&entry.digest).expect("stored")).expect("read"),
            bytes
        );
    }
    let listed: Vec<_> = registry.list().cloned().collect();
    assert_eq!(listed.len(), uploads.len());
    drop(registry);
    let mut reopened = Registry::open(dir.path()).expect("reopen");
    assert_eq!(reopened.list().cloned().collect::<Vec<_>>(), listed);
    let removed = reopened.remove(&listed[0].digest).expect("remove");
    assert_eq!(removed, listed[0]);
    assert!(matches!(
        reopened.remove(&listed[0].digest),
        Err(RegistryError::NotFound(_))
    ));
    assert_eq!(files(dir.path()).len(), 2 * (uploads.len() - 1));
}

#[test]
fn a_hundred_malformed_uploads_are_refused_and_change_nothing() {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::open(dir.path()).expect("open");
    let good = std::fs::read(plugin_dir().join("count.wasm")).expect("read");
    registry
        .add(&runtime, &good, LIMIT, 0)
        .expect("valid upload");
    let before = files(dir.path());

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
    uploads.push(("too large".into(), vec![0u8; LIMIT + 1]));
    assert_eq!(uploads.len(), 100);

    for (what, bytes) in &uploads {
        match registry.add(&runtime, bytes, LIMIT, 1) {
            Err(RegistryError::Invalid(_) | RegistryError::TooLarge { .. }) => {}
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        files(dir.path()),
        before,
        "the registry folder is unchanged"
    );
    assert_eq!(registry.list().count(), 1);
}

#[test]
fn the_runtime_compiles_a_rewritten_file_afresh() {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plugin.wasm");
    let name = path.to_str().expect("utf-8 path");
    std::fs::copy(example("spread"), &path).expect("copy");
    let first =
        eddy::plugin::describe(&runtime, &runtime.load(name).expect("loads")).expect("describes");
    std::fs::copy(plugin_dir().join("sum.wasm"), &path).expect("copy");
    let second =
        eddy::plugin::describe(&runtime, &runtime.load(name).expect("loads")).expect("describes");
    assert_eq!(
        (first.name.as_str(), second.name.as_str()),
        ("spread", "sum")
    );
}
