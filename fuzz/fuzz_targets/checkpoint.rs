//! Checkpoint records, as the RocksDB backend stores them (and in the format before incremental
//! checkpoints): random bytes, and valid whole and incremental records with their encoding
//! mutated. Whatever decodes is applied to a valid base (changes), restored into a fresh window
//! operator, which then takes events, fires and saves again. An error is fine; a panic, an
//! abort or a huge allocation is a finding.
#![no_main]

#[allow(dead_code)] // the engine tests' native aggregates; the target uses part of them
#[path = "../../engine/tests/support/mod.rs"]
mod support;

use std::sync::LazyLock;

use eddy_engine::decode::Decoder;
use eddy_engine::delta::SavedState;
use eddy_engine::event::RawBatch;
use eddy_engine::snapshot::OperatorSnapshot;
use eddy_engine::state::{decode_legacy_record, decode_record};
use libfuzzer_sys::fuzz_target;
use support::{AGGREGATES, Driver, NativeLoader};

/// Sessions: restoring them exercises merges as well as windows.
fn config() -> String {
    format!("{AGGREGATES}window: {{ type: session, gap: 5s }}\nallowed_lateness: 5s\n")
}

/// Valid records of one operator: a whole one, then the changes after it.
struct Valid {
    base: OperatorSnapshot,
    full: Vec<u8>,
    delta: Vec<u8>,
}

static VALID: LazyLock<Valid> = LazyLock::new(|| {
    let mut driver = Driver::new(&config());
    driver.feed(
        &[("a", 1_000, 1.0), ("b", 2_000, 2.0), ("a", 12_000, 3.0)],
        0,
    );
    let Ok(SavedState::Full(base)) = driver.operator.checkpoint(true) else {
        panic!("the first checkpoint is whole");
    };
    driver.feed(
        &[("a", 14_000, 4.0), ("c", 25_000, 5.0), ("b", 4_000, 6.0)],
        0,
    );
    let delta = driver.operator.checkpoint(true).expect("a delta");
    assert!(matches!(delta, SavedState::Delta(_)));
    let plain = |saved: &SavedState| postcard::to_allocvec(saved).expect("encodes");
    Valid {
        full: plain(&SavedState::Full(base.clone())),
        delta: plain(&delta),
        base,
    }
});

/// `valid` with `edits` applied, four bytes each: what (overwrite, insert, remove), where
/// (two bytes, modulo the length), which byte.
fn mutate(valid: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    for edit in edits.chunks_exact(4) {
        let at = usize::from(u16::from_le_bytes([edit[1], edit[2]])) % (bytes.len() + 1);
        match edit[0] % 3 {
            0 if at < bytes.len() => bytes[at] = edit[3],
            1 => bytes.insert(at, edit[3]),
            _ => bytes.truncate(at.max(bytes.len().saturating_sub(usize::from(edit[3])))),
        }
    }
    bytes
}

/// Restores `snapshot` into a fresh operator, then feeds events, lets time pass, closes and
/// saves again.
fn exercise(snapshot: &OperatorSnapshot) {
    let mut driver = Driver::new(&config());
    let configs = driver.config.aggregates.clone();
    if driver
        .operator
        .restore(snapshot, 0, &NativeLoader, &configs)
        .is_err()
    {
        return;
    }
    let decoder = Decoder::new(&driver.config.decode, &driver.config.aggregates);
    let mut batch = RawBatch::default();
    for (i, (key, ts)) in [("a", 3_000), ("b", 13_000), ("d", 40_000)]
        .iter()
        .enumerate()
    {
        let json = format!(r#"{{"key":"{key}","ts":{ts},"v":{i}}}"#);
        batch.push_at(json.as_bytes(), *ts, i as i64);
    }
    let decoded = decoder.decode(&batch);
    let _ = driver
        .operator
        .process(0, &decoded, &batch.source_offsets, 1_000);
    let _ = driver.operator.checkpoint(true);
    let _ = driver.operator.tick(60_000);
    let _ = driver.operator.close();
    let _ = driver.operator.checkpoint(true);
}

/// A decoded record as a whole state: changes are applied to the valid base.
fn whole(saved: SavedState) -> Option<OperatorSnapshot> {
    match saved {
        SavedState::Full(snapshot) => Some(snapshot),
        SavedState::Delta(delta) => VALID.base.apply(&delta).ok(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let _ = decode_legacy_record(rest, true);
    let _ = decode_legacy_record(rest, false);
    let plain = match mode % 3 {
        // As stored: LZ4 with its size in front, then postcard.
        0 => {
            if let Some(snapshot) = decode_record(rest).ok().and_then(whole) {
                exercise(&snapshot);
            }
            return;
        }
        1 => mutate(&VALID.full, rest),
        _ => mutate(&VALID.delta, rest),
    };
    let stored = lz4_flex::block::compress_prepend_size(&plain);
    if let Some(snapshot) = decode_record(&stored).ok().and_then(whole) {
        exercise(&snapshot);
    }
});
