//! The `spread` aggregator in Python and JavaScript against the Rust one, call by call: the same
//! random sequence of `accumulate`, `merge`, `release`, `save` and `restore` calls on the same
//! slots (reused after release, restored over live groups, and a fresh instance now and then
//! restored from what the old one saved), with every group's `finish` and the saved bytes
//! compared after each call. A plugin whose slot table kept a released group, lost one, or read
//! state bytes differently would show it here, below the pipeline (issue 17: one Python spread
//! result was once wrong in a crash test, with its Rust twins right).
//!
//! Built by `scripts/build-plugins.sh` (Rust) and `scripts/build-polyglot.sh` (Python, JS).

use eddy::plugin::Runtime;
use eddy_engine::aggregate::{AggregatorInstance, AggregatorLoader, SavedColumn};
use eddy_engine::config::PluginsConfig;
use eddy_tests::{example, plugin_dir};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SLOTS: u32 = 48;
const STEPS: usize = 1_500;
const CONFIG: &str = r#"{"scale": 2.5}"#;

/// Up to `most` random slots (repeats allowed).
fn random_slots(rng: &mut StdRng, most: u32) -> Vec<u32> {
    (0..rng.random_range(1..=most))
        .map(|_| rng.random_range(0..SLOTS))
        .collect()
}

fn load(runtime: &Runtime, name: &str) -> Box<dyn AggregatorInstance> {
    let path = example(name);
    runtime
        .load_aggregator(&path.to_string_lossy(), CONFIG)
        .unwrap_or_else(|e| panic!("{name}: {e} (build it with scripts/build-polyglot.sh)"))
}

/// Every slot's result, with NaN (an empty group) as a value of its own.
fn finished(plugin: &mut dyn AggregatorInstance) -> Vec<Option<u64>> {
    let all: Vec<u32> = (0..SLOTS).collect();
    plugin
        .finish(&all)
        .expect("finish")
        .into_iter()
        .map(|v| (!v.is_nan()).then_some(v.to_bits()))
        .collect()
}

fn run(other: &str, seed: u64) {
    let runtime = Runtime::new(&PluginsConfig {
        dir: plugin_dir(),
        ..PluginsConfig::default()
    })
    .expect("runtime");
    let mut rust = load(&runtime, "spread");
    let mut twin = load(&runtime, other);
    let mut rng = StdRng::seed_from_u64(seed);
    for step in 0..STEPS {
        let both: [&mut Box<dyn AggregatorInstance>; 2] = [&mut rust, &mut twin];
        match rng.random_range(0..10) {
            0..=3 => {
                let slots = random_slots(&mut rng, 40);
                let values: Vec<f64> = slots
                    .iter()
                    .map(|_| (rng.random_range(0..2_000) as f64 - 1_000.0) / 8.0)
                    .collect();
                for plugin in both {
                    plugin.accumulate(&slots, &values).expect("accumulate");
                }
            }
            4 => {
                let targets = random_slots(&mut rng, 6);
                let sources: Vec<u32> =
                    targets.iter().map(|_| rng.random_range(0..SLOTS)).collect();
                for plugin in both {
                    plugin.merge(&targets, &sources).expect("merge");
                }
            }
            5 | 6 => {
                let slots = random_slots(&mut rng, 10);
                for plugin in both {
                    plugin.release(&slots).expect("release");
                }
            }
            7 | 8 => {
                // State saved by one restores into both, over live groups or empty slots.
                let from = random_slots(&mut rng, 8);
                let into: Vec<u32> = from.iter().map(|_| rng.random_range(0..SLOTS)).collect();
                let saved = rust.save(&from).expect("save");
                assert_eq!(
                    twin.save(&from).expect("save"),
                    saved,
                    "step {step}: state bytes"
                );
                rust.restore(&into, &saved).expect("restore");
                twin.restore(&into, &saved).expect("restore");
            }
            _ => {
                // A fresh instance of each, restored from what the old one saved.
                let all: Vec<u32> = (0..SLOTS).collect();
                let saved: SavedColumn = rust.save(&all).expect("save");
                assert_eq!(
                    twin.save(&all).expect("save"),
                    saved,
                    "step {step}: state bytes"
                );
                rust = load(&runtime, "spread");
                twin = load(&runtime, other);
                rust.restore(&all, &saved).expect("restore");
                twin.restore(&all, &saved).expect("restore");
            }
        }
        assert_eq!(
            finished(twin.as_mut()),
            finished(rust.as_mut()),
            "step {step}: {other} against spread"
        );
    }
}

#[test]
fn python_spread_answers_every_call_as_rust_does() {
    run("python-spread", 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn js_spread_answers_every_call_as_rust_does() {
    run("js-spread", 0x2545_f491_4f6c_dd1d);
}
