//! A swap to a version with the same state format moves the open groups a few at a time
//! (each before it is next used, the rest between batches): the results are exactly those of
//! moving every group at the swap, for every window type, whether the rest moves in small
//! steps or never; checkpoints taken meanwhile hold the same state.

#[allow(dead_code)] // shared by the engine tests, each using part of it
mod support;

use eddy_engine::aggregate::Takeover;
use eddy_engine::delta::SavedState;
use support::{AGGREGATES, Compared, Driver, Kind, Native, Row, canonical};

/// Puts a new version of `total` (aggregate 1) in place: same name and state format as the
/// native `sum`, but it counts, so every event after the swap shows which code counted it.
fn swap(driver: &mut Driver) {
    let takeover = driver
        .operator
        .swap_aggregate(1, Box::new(Native::new(Kind::Count, "sum", 1)), "v2", "sum")
        .expect("swap");
    assert_eq!(takeover, Takeover::State);
}

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

/// How the groups left in the previous version move after the swap.
#[derive(Clone, Copy)]
enum Moves {
    /// All at the swap (what a swap did before groups moved a few at a time).
    AtOnce,
    /// This many per aggregate between batches.
    Steps(usize),
    /// Only when used.
    WhenUsed,
}

/// Runs `batches` batches over `keys` keys in `window`, swapping `total` halfway; returns
/// every result and the whole state a few batches after the swap.
fn run(window: &str, keys: u64, batches: usize, moves: Option<Moves>) -> (Vec<Row>, Vec<Compared>) {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {window}\nwatermark: {{ out_of_orderness: 2s }}\nallowed_lateness: 5s\n"
    ));
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut clock = 0i64;
    let mut results = Vec::new();
    let mut state = Vec::new();
    for batch in 0..batches {
        let names: Vec<String> = (0..20).map(|_| format!("k{}", rng.next(keys))).collect();
        let events: Vec<(&str, i64, f64)> = names
            .iter()
            .map(|key| {
                clock += rng.next(300) as i64;
                let time = clock - rng.next(4) as i64 * 1_000;
                (key.as_str(), time.max(0), rng.next(100) as f64)
            })
            .collect();
        results.extend(driver.feed(&events, 0).0);
        if batch == batches / 2
            && let Some(moves) = moves
        {
            swap(&mut driver);
            // Every open group (sliding windows' slices were copied into their windows first).
            let open = driver.operator.open_groups();
            assert_eq!(driver.operator.aggregates().migrating(), open);
            if matches!(moves, Moves::AtOnce) {
                driver.operator.migrate(usize::MAX).expect("migrate");
                assert_eq!(driver.operator.aggregates().migrating(), 0);
            }
        }
        if let Some(Moves::Steps(budget)) = moves {
            driver.operator.migrate(budget).expect("migrate");
        }
        if batch == batches / 2 + 3 {
            state = canonical(&driver.operator.snapshot().expect("snapshot"));
        }
    }
    results.extend(driver.close());
    (results, state)
}

fn moves_like_at_once(window: &str, keys: u64, batches: usize) {
    let (plain, _) = run(window, keys, batches, None);
    let (at_once, at_once_state) = run(window, keys, batches, Some(Moves::AtOnce));
    assert_ne!(
        plain, at_once,
        "the new version counted the events after it"
    );
    for moves in [Moves::Steps(1), Moves::Steps(7), Moves::WhenUsed] {
        let (results, state) = run(window, keys, batches, Some(moves));
        assert_eq!(results, at_once);
        assert_eq!(state, at_once_state, "the state saved while groups move");
    }
}

#[test]
fn tumbling_groups_move_as_if_at_once() {
    moves_like_at_once("{ type: tumbling, size: 10s }", 200, 80);
}

#[test]
fn sliding_groups_move_as_if_at_once() {
    moves_like_at_once("{ type: sliding, size: 10s, slide: 5s }", 50, 80);
}

#[test]
fn session_groups_move_as_if_at_once() {
    moves_like_at_once("{ type: session, gap: 3s }", 30, 90);
}

/// A group used after the swap is counted by the new version from its moved state; one not
/// used gives its state as it was; a group that closes while still held is forgotten.
#[test]
fn each_group_moves_before_it_is_used() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 10s }}\nwatermark: {{ out_of_orderness: 0s }}\n"
    ));
    driver.feed(&[("a", 1_000, 5.0), ("b", 1_000, 3.0)], 0);
    swap(&mut driver);
    assert_eq!(driver.operator.aggregates().migrating(), 2);
    driver.feed(&[("a", 2_000, 7.0)], 0);
    assert_eq!(driver.operator.aggregates().migrating(), 1, "a moved");
    let fired = driver.feed(&[("c", 10_000, 1.0)], 0).0;
    let totals: Vec<(String, f64)> = fired.iter().map(|r| (r.1.clone(), r.4[1])).collect();
    assert_eq!(
        totals,
        vec![("a".into(), 6.0), ("b".into(), 3.0)],
        "a: 5 summed, then one event counted; b: as it was"
    );
    assert_eq!(driver.operator.aggregates().migrating(), 0);
}

/// While groups move, checkpoints stay incremental and their changes rebuild the state.
#[test]
fn checkpoints_while_groups_move_stay_incremental() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 1h }}\nwatermark: {{ out_of_orderness: 0s }}\n"
    ));
    let names: Vec<String> = (0..1_000).map(|k| format!("k{k}")).collect();
    let all: Vec<(&str, i64, f64)> = names.iter().map(|k| (k.as_str(), 1_000, 2.0)).collect();
    driver.feed(&all, 0);
    let SavedState::Full(base) = driver.operator.checkpoint(true).expect("checkpoint") else {
        panic!("the first checkpoint is whole");
    };
    swap(&mut driver);
    driver.operator.migrate(100).expect("migrate");
    driver.feed(&all[500..520], 0);
    let SavedState::Delta(delta) = driver.operator.checkpoint(true).expect("checkpoint") else {
        panic!("a same-format swap keeps checkpoints incremental");
    };
    assert_eq!(delta.groups.len(), 20);
    let rebuilt = base.apply(&delta).expect("apply");
    let whole = driver.operator.snapshot().expect("snapshot");
    assert!(driver.operator.aggregates().migrating() > 0);
    assert_eq!(canonical(&rebuilt), canonical(&whole));
}

/// Sessions still held by the previous version move before they merge: the merged session
/// has both sides' state.
#[test]
fn held_sessions_move_before_they_merge() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: session, gap: 3s }}\nwatermark: {{ out_of_orderness: 10s }}\n"
    ));
    driver.feed(&[("a", 1_000, 5.0), ("a", 6_000, 7.0)], 0);
    assert_eq!(driver.operator.open_groups(), 2);
    swap(&mut driver);
    driver.feed(&[("a", 3_500, 100.0)], 0);
    assert_eq!(
        driver.operator.open_groups(),
        1,
        "the event bridged both sessions"
    );
    assert_eq!(driver.operator.aggregates().migrating(), 0);
    let totals: Vec<f64> = driver.close().iter().map(|r| r.4[1]).collect();
    assert_eq!(totals, vec![13.0], "5 + 7 summed, then one event counted");
}
