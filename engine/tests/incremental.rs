//! Incremental checkpoints: the first checkpoint saves every group, the next ones only the
//! groups changed since (and the closed ones); applying each delta to the previous state
//! gives exactly the operator's whole state, for every window type, with late updates,
//! session merges and expiry.

#[allow(dead_code)] // shared by the engine tests, each using part of it
mod support;

use eddy_engine::delta::{OperatorDelta, SavedState};
use eddy_engine::snapshot::OperatorSnapshot;
use support::{AGGREGATES, Driver, canonical};

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// Feeds `batches` batches of events over `keys` keys, checkpointing every third batch and
/// checking each time that the deltas applied give the operator's whole state.
fn deltas_rebuild_the_state(window: &str, keys: u64, batches: usize) {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {window}\nwatermark: {{ out_of_orderness: 2s }}\nallowed_lateness: 5s\n"
    ));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut state: Option<OperatorSnapshot> = None;
    let mut since: (OperatorSnapshot, Vec<OperatorDelta>) =
        (OperatorSnapshot::default(), Vec::new());
    let mut clock = 0i64;
    for batch in 0..batches {
        let names: Vec<String> = (0..20).map(|_| format!("k{}", rng.next(keys))).collect();
        let events: Vec<(&str, i64, f64)> = names
            .iter()
            .map(|key| {
                // Mostly in order, some a few seconds late (late updates, late events).
                clock += rng.next(300) as i64;
                let time = clock - rng.next(4) as i64 * 1_000;
                (key.as_str(), time.max(0), rng.next(100) as f64)
            })
            .collect();
        driver.feed(&events, 0);
        if batch % 3 != 2 {
            continue;
        }
        let checkpoint = driver.operator.checkpoint(true).expect("checkpoint");
        state = Some(match (checkpoint, state) {
            (SavedState::Full(full), _) => {
                since = (full.clone(), Vec::new());
                full
            }
            (SavedState::Delta(delta), Some(base)) => {
                since.1.push(delta.clone());
                base.apply(&delta).expect("apply")
            }
            (SavedState::Delta(_), None) => panic!("the first checkpoint is whole"),
        });
        // Every delta since the last whole state, applied at once, gives the same.
        let at_once = since.0.apply_all(&since.1).expect("apply all");
        let whole = driver.operator.snapshot().expect("snapshot");
        let rebuilt = state.as_ref().expect("state");
        assert_eq!(rebuilt.watermark, whole.watermark);
        assert_eq!(rebuilt.max_seen, whole.max_seen);
        assert_eq!(canonical(rebuilt), canonical(&whole), "after batch {batch}");
        assert_eq!(
            canonical(&at_once),
            canonical(&whole),
            "at once, after batch {batch}"
        );
    }
}

#[test]
fn tumbling_deltas_rebuild_the_state() {
    deltas_rebuild_the_state("{ type: tumbling, size: 10s }", 1_000, 60);
}

#[test]
fn sliding_deltas_rebuild_the_state() {
    deltas_rebuild_the_state("{ type: sliding, size: 10s, slide: 5s }", 50, 60);
}

#[test]
fn session_deltas_rebuild_the_state() {
    deltas_rebuild_the_state("{ type: session, gap: 3s }", 30, 90);
}

/// With many open groups and few changing, a delta holds only the changed ones.
#[test]
fn a_delta_saves_only_the_changed_groups() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 1h }}\nwatermark: {{ out_of_orderness: 0s }}\n"
    ));
    let names: Vec<String> = (0..5_000).map(|k| format!("k{k}")).collect();
    let all: Vec<(&str, i64, f64)> = names.iter().map(|k| (k.as_str(), 1_000, 1.0)).collect();
    driver.feed(&all, 0);
    let first = driver.operator.checkpoint(true).expect("checkpoint");
    assert!(matches!(first, SavedState::Full(_)));
    assert_eq!(first.groups(), 5_000);
    driver.feed(&all[..50], 0);
    let second = driver.operator.checkpoint(true).expect("checkpoint");
    assert!(matches!(second, SavedState::Delta(_)));
    assert_eq!(second.groups(), 50);
    let third = driver.operator.checkpoint(false).expect("checkpoint");
    assert!(
        matches!(third, SavedState::Full(_)),
        "incremental off: whole"
    );
}
