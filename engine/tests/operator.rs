//! The window operator with native aggregates: tumbling, sliding and session windows,
//! triggers, allowed lateness and snapshot/restore, without Wasm, Kafka or RocksDB.

#[allow(dead_code)] // the snapshot comparison is for the checkpoint tests
mod support;

use eddy_engine::aggregate::Aggregates;
use eddy_engine::operator::Operator;
use eddy_engine::results::Emit::{Early, LateUpdate, OnTime};
use support::{AGGREGATES, Driver, NativeLoader, Row};

fn row(
    emit: eddy_engine::results::Emit,
    key: &str,
    start: i64,
    end: i64,
    n: f64,
    total: f64,
) -> Row {
    (emit, key.to_string(), start, end, vec![n, total])
}

#[test]
fn tumbling_windows_fire_when_the_watermark_passes_their_end() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 10s }}\nwatermark: {{ out_of_orderness: 1s }}\n"
    ));
    let (rows, late) = driver.feed(
        &[("a", 1_000, 1.0), ("b", 2_000, 2.0), ("a", 9_000, 3.0)],
        0,
    );
    assert!(rows.is_empty() && late.is_empty(), "{rows:?}");
    // The watermark (max seen - 1 s) reaches 10 s only with an event at 11 s or later.
    let (rows, _) = driver.feed(&[("a", 10_500, 5.0)], 0);
    assert!(rows.is_empty(), "watermark 9.5 s closes nothing: {rows:?}");
    let (rows, _) = driver.feed(&[("b", 11_000, 7.0)], 0);
    assert_eq!(
        rows,
        [
            row(OnTime, "a", 0, 10_000, 2.0, 4.0),
            row(OnTime, "b", 0, 10_000, 1.0, 2.0)
        ]
    );
    assert_eq!(
        driver.close(),
        [
            row(OnTime, "a", 10_000, 20_000, 1.0, 5.0),
            row(OnTime, "b", 10_000, 20_000, 1.0, 7.0)
        ]
    );
    assert_eq!(driver.operator.open_groups(), 0, "fired windows are freed");
}

#[test]
fn sliding_windows_count_an_event_in_every_window_covering_it() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: sliding, size: 10s, slide: 5s }}\nwatermark: {{ out_of_orderness: 0s }}\n"
    ));
    let (rows, _) = driver.feed(&[("a", 6_000, 1.0), ("a", 12_000, 10.0)], 0);
    // The watermark is 12 s after the batch: [0, 10 s) is complete.
    assert_eq!(rows, [row(OnTime, "a", 0, 10_000, 1.0, 1.0)]);
    assert_eq!(
        driver.close(),
        [
            row(OnTime, "a", 5_000, 15_000, 2.0, 11.0),
            row(OnTime, "a", 10_000, 20_000, 1.0, 10.0),
        ]
    );
}

#[test]
fn a_bridging_event_merges_two_sessions() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: session, gap: 5s }}\nwatermark: {{ out_of_orderness: 30s }}\n"
    ));
    driver.feed(&[("a", 0, 1.0), ("a", 8_000, 2.0), ("b", 100, 5.0)], 0);
    assert_eq!(
        driver.operator.open_groups(),
        3,
        "a has two sessions, b one"
    );
    driver.feed(&[("a", 4_000, 4.0)], 0);
    assert_eq!(driver.operator.open_groups(), 2, "a's sessions merged");
    assert_eq!(
        driver.close(),
        [
            row(OnTime, "a", 0, 13_000, 3.0, 7.0),
            row(OnTime, "b", 100, 5_100, 1.0, 5.0)
        ]
    );
}

#[test]
fn a_count_trigger_emits_early_results_before_the_on_time_one() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 10s }}\ntrigger: {{ type: count, count: 2 }}\n"
    ));
    let (rows, _) = driver.feed(&[("a", 1_000, 1.0)], 0);
    assert!(rows.is_empty());
    let (rows, _) = driver.feed(&[("a", 2_000, 2.0)], 0);
    assert_eq!(rows, [row(Early, "a", 0, 10_000, 2.0, 3.0)]);
    driver.feed(&[("a", 3_000, 3.0)], 0);
    assert_eq!(driver.close(), [row(OnTime, "a", 0, 10_000, 3.0, 6.0)]);
}

#[test]
fn a_processing_time_trigger_fires_on_ticks() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 10s }}\ntrigger: {{ type: processing_time, interval: 1s }}\n"
    ));
    driver.feed(&[("a", 1_000, 1.0)], 0);
    assert!(driver.tick(500).is_empty(), "not due yet");
    assert_eq!(driver.tick(1_000), [row(Early, "a", 0, 10_000, 1.0, 1.0)]);
}

#[test]
fn allowed_lateness_updates_fired_windows_and_later_events_go_to_the_late_output() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 10s }}\nwatermark: {{ out_of_orderness: 0s }}\nallowed_lateness: 5s\n"
    ));
    let (rows, _) = driver.feed(&[("a", 1_000, 1.0), ("a", 12_000, 1.0)], 0);
    assert_eq!(rows, [row(OnTime, "a", 0, 10_000, 1.0, 1.0)]);
    // Watermark 12 s: the window [0, 10 s) is kept until 15 s, so a late event updates it.
    let (rows, late) = driver.feed(&[("a", 2_000, 4.0)], 0);
    assert_eq!(rows, [row(LateUpdate, "a", 0, 10_000, 2.0, 5.0)]);
    assert!(late.is_empty());
    // Past 15 s the window is gone: an event for it is late.
    let (_, late) = driver.feed(&[("a", 16_000, 1.0)], 0);
    assert!(late.is_empty());
    let (rows, late) = driver.feed(&[("a", 3_000, 9.0)], 0);
    assert_eq!(late, [3_000]);
    assert!(rows.is_empty(), "a late event changes no result: {rows:?}");
}

#[test]
fn a_restored_snapshot_continues_as_if_nothing_happened() {
    let config = format!(
        "{AGGREGATES}window: {{ type: session, gap: 5s }}\nwatermark: {{ out_of_orderness: 1s }}\n"
    );
    let first = [("a", 0, 1.0), ("b", 1_000, 2.0), ("a", 3_000, 3.0)];
    let second = [("a", 6_000, 4.0), ("b", 20_000, 5.0)];

    let mut straight = Driver::new(&config);
    let mut expected = straight.feed(&first, 0).0;
    expected.extend(straight.feed(&second, 0).0);
    expected.extend(straight.close());

    let mut before = Driver::new(&config);
    let mut got = before.feed(&first, 0).0;
    let snapshot = before.operator.snapshot().expect("snapshot");
    drop(before);
    let mut after = Driver::new(&config);
    let aggregates = Aggregates::new(&NativeLoader, &after.config.aggregates).expect("load");
    after.operator = Operator::new(&after.config, aggregates);
    after
        .operator
        .restore(&snapshot, 0, &NativeLoader, &after.config.aggregates)
        .expect("restore");
    got.extend(after.feed(&second, 0).0);
    got.extend(after.close());
    assert_eq!(got, expected);
    assert_eq!(
        expected,
        [
            row(OnTime, "a", 0, 11_000, 3.0, 8.0),
            row(OnTime, "b", 1_000, 6_000, 1.0, 2.0),
            row(OnTime, "b", 20_000, 25_000, 1.0, 5.0),
        ]
    );
}

/// Saved state columns that do not fit their groups (offsets past the data, decreasing, or
/// not starting at 0) are refused with a reason before any plugin sees them.
#[test]
fn a_snapshot_whose_state_columns_do_not_fit_is_refused() {
    let config = format!("{AGGREGATES}window: {{ type: tumbling, size: 10s }}\n");
    let mut before = Driver::new(&config);
    before.feed(&[("a", 0, 1.0), ("b", 1_000, 2.0)], 0);
    let snapshot = before.operator.snapshot().expect("snapshot");
    let damaged: [fn(&mut Vec<u32>); 3] = [
        |offsets| *offsets.last_mut().expect("offsets") += 1,
        |offsets| offsets.swap(1, 2),
        |offsets| offsets[0] = 1,
    ];
    for damage in damaged {
        let mut bad = snapshot.clone();
        damage(&mut bad.states[1].offsets);
        let mut after = Driver::new(&config);
        let error = after
            .operator
            .restore(&bad, 0, &NativeLoader, &after.config.aggregates)
            .expect_err("refused");
        assert!(error.to_string().contains("do not fit"), "{error}");
        assert_eq!(after.operator.open_groups(), 0);
    }
}

#[test]
fn events_that_would_open_a_group_beyond_the_limit_are_refused() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: tumbling, size: 10s }}\nwatermark: {{ out_of_orderness: 1s }}\nstate: {{ max_open_groups: 2 }}\n"
    ));
    driver.feed(
        &[
            ("a", 1_000, 1.0),
            ("b", 2_000, 2.0),
            ("c", 3_000, 4.0),
            ("a", 4_000, 8.0),
        ],
        0,
    );
    assert_eq!(
        driver.refused,
        [2],
        "c would open a third group; a joins its own"
    );
    assert_eq!(driver.operator.open_groups(), 2);
    // Groups are freed when they fire, after their batch: c's next event is refused too,
    // the one after finds room.
    let (rows, _) = driver.feed(&[("c", 11_500, 16.0)], 0);
    assert_eq!(driver.refused, [0]);
    assert_eq!(
        rows,
        [
            row(OnTime, "a", 0, 10_000, 2.0, 9.0),
            row(OnTime, "b", 0, 10_000, 1.0, 2.0)
        ]
    );
    driver.feed(&[("c", 12_000, 32.0)], 0);
    assert!(driver.refused.is_empty());
    assert_eq!(
        driver.close(),
        [row(OnTime, "c", 10_000, 20_000, 1.0, 32.0)]
    );
}

#[test]
fn an_event_is_refused_whole_when_one_of_its_windows_would_pass_the_limit() {
    let mut driver = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: sliding, size: 10s, slide: 5s }}\nwatermark: {{ out_of_orderness: 30s }}\nstate: {{ max_open_groups: 3 }}\n"
    ));
    // a at 6 s opens [0, 10) and [5, 15); b at 7 s would open two more: refused whole, and
    // a at 8 s, in a's open windows, is taken.
    driver.feed(
        &[("a", 6_000, 1.0), ("b", 7_000, 2.0), ("a", 8_000, 4.0)],
        0,
    );
    assert_eq!(driver.refused, [1]);
    assert_eq!(driver.operator.open_groups(), 2);
    let mut sessions = Driver::new(&format!(
        "{AGGREGATES}window: {{ type: session, gap: 5s }}\nwatermark: {{ out_of_orderness: 30s }}\nstate: {{ max_open_groups: 1 }}\n"
    ));
    sessions.feed(&[("a", 0, 1.0), ("b", 100, 2.0), ("a", 3_000, 4.0)], 0);
    assert_eq!(
        sessions.refused,
        [1],
        "a new key's session; a's session grows"
    );
    assert_eq!(sessions.close(), [row(OnTime, "a", 0, 8_000, 2.0, 5.0)]);
}
