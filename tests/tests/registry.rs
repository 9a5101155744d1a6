//! The plugin registry: content-addressed storage that survives reopening, and validation that
//! refuses malformed uploads without changing anything on disk.

use std::collections::BTreeSet;
use std::path::Path;

use eddy::plugin::Runtime;
use eddy::plugin::{Registry, RegistryError};
use eddy_engine::config::PluginsConfig;
use eddy_tests::uploads::malformed_uploads;
use eddy_tests::{example, plugin_dir};

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

    let uploads = malformed_uploads(&good, LIMIT);

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
