use sha2::{Digest, Sha256};

use super::legacy::{LegacyManifest, manifest_key as legacy_manifest_key, plain_partition_key};
use super::*;
use eddy_engine::aggregate::SavedColumn;
use eddy_engine::delta::{GroupId, OperatorDelta};
use eddy_engine::snapshot::{OperatorSnapshot, SavedGroup};

fn group(key: &str) -> SavedGroup {
    SavedGroup {
        key: key.into(),
        start: 0,
        end: 10,
        fired: false,
        pending: 1,
        first_offset: 0,
    }
}

/// One column holding one byte per group.
fn column(values: &[u8]) -> SavedColumn {
    SavedColumn {
        data: values.to_vec(),
        offsets: (0..=values.len() as u32).collect(),
    }
}

fn snapshot(watermark: i64, groups: &[(&str, u8)]) -> OperatorSnapshot {
    OperatorSnapshot {
        watermark,
        max_seen: vec![(0, watermark + 5)],
        formats: vec!["n/count/1".into()],
        groups: groups.iter().map(|(k, _)| group(k)).collect(),
        states: vec![column(&groups.iter().map(|(_, v)| *v).collect::<Vec<_>>())],
        retiring: Vec::new(),
    }
}

fn checkpoint(id: u64) -> Checkpoint {
    Checkpoint {
        id,
        created_ms: 1_000 + id as i64,
        plugins: vec![format!("sum@{id}")],
        partitions: (0..3)
            .map(|partition| PartitionState {
                partition,
                offset: id as i64 * 100 + i64::from(partition),
                snapshot: snapshot(id as i64, &[("a", id as u8)]),
            })
            .collect(),
    }
}

fn write(state: &mut RocksState, checkpoint: Checkpoint) {
    state.write(&checkpoint.into()).expect("write");
}

/// Checkpoint 1 of partition 0, whole, holding `groups` (key, value).
fn whole(groups: &[(&str, u8)]) -> CheckpointWrite {
    CheckpointWrite::from(Checkpoint {
        id: 1,
        created_ms: 0,
        plugins: Vec::new(),
        partitions: vec![PartitionState {
            partition: 0,
            offset: 1,
            snapshot: snapshot(1, groups),
        }],
    })
}

/// Checkpoint `id` of partition 0 holding `changed` (key, value) set and `removed` keys gone.
fn delta(id: u64, changed: &[(&str, u8)], removed: &[&str]) -> CheckpointWrite {
    CheckpointWrite {
        id,
        created_ms: id as i64,
        plugins: Vec::new(),
        partitions: vec![PartitionChange {
            partition: 0,
            offset: id as i64,
            saved: SavedState::Delta(OperatorDelta {
                watermark: id as i64,
                max_seen: vec![(0, id as i64 + 5)],
                formats: vec!["n/count/1".into()],
                removed: removed
                    .iter()
                    .map(|k| GroupId {
                        key: (*k).into(),
                        start: 0,
                        end: 10,
                    })
                    .collect(),
                groups: changed.iter().map(|(k, _)| group(k)).collect(),
                states: vec![column(&changed.iter().map(|(_, v)| *v).collect::<Vec<_>>())],
            }),
        }],
    }
}

/// Partition 0's groups in checkpoint `id`, sorted.
fn groups_in(state: &mut RocksState, id: u64) -> Vec<(String, u8)> {
    let checkpoint = state.read(id).expect("readable");
    let snapshot = &checkpoint.partitions[0].snapshot;
    let mut groups: Vec<(String, u8)> = snapshot
        .groups
        .iter()
        .zip(&snapshot.states[0].data)
        .map(|(g, v)| (g.key.clone(), *v))
        .collect();
    groups.sort();
    groups
}

fn named(groups: &[(&str, u8)]) -> Vec<(String, u8)> {
    groups.iter().map(|(k, v)| ((*k).to_string(), *v)).collect()
}

#[test]
fn keeps_the_last_n_and_reads_the_latest() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 2).expect("open");
    assert_eq!(state.latest().expect("read"), None);
    for id in 1..=4 {
        write(&mut state, checkpoint(id));
    }
    assert_eq!(state.ids().expect("ids"), vec![3, 4]);
    assert!(matches!(
        state.write(&checkpoint(4).into()),
        Err(StateError::Order { .. })
    ));
    drop(state);
    let mut state = RocksState::open(dir.path(), 2).expect("reopen");
    assert_eq!(state.latest().expect("read"), Some(checkpoint(4)));
}

/// Changes apply to the partition's previous checkpoint; checkpoints they build on are kept
/// beyond `keep` until a whole record no longer needs them; every checkpoint reads whole.
#[test]
fn changes_build_on_the_previous_checkpoint() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 2).expect("open");
    state
        .write(&whole(&[("a", 1), ("b", 2), ("c", 3)]))
        .expect("whole");
    state
        .write(&delta(2, &[("b", 20), ("d", 4)], &["a"]))
        .expect("delta");
    state.write(&delta(3, &[("a", 9)], &["c"])).expect("delta");
    assert_eq!(
        groups_in(&mut state, 2),
        named(&[("b", 20), ("c", 3), ("d", 4)])
    );
    assert_eq!(
        groups_in(&mut state, 3),
        named(&[("a", 9), ("b", 20), ("d", 4)])
    );
    assert_eq!(state.ids().expect("ids"), [1, 2, 3], "3 builds on 2 and 1");
    let latest = state.latest().expect("read").expect("one");
    assert_eq!(latest.partitions[0].offset, 3);
    assert_eq!(latest.partitions[0].snapshot.watermark, 3);
    // A partition with no checkpoint before it cannot take changes.
    let mut orphan = delta(4, &[], &[]);
    orphan.partitions[0].partition = 7;
    assert!(matches!(state.write(&orphan), Err(StateError::NoBase(7))));
}

/// At MAX_DEPTH changes a partition is written whole again in the background (the writer
/// writes only the changes); once no kept checkpoint builds on the ones before, they are
/// removed. The state read is the same before and after.
#[test]
fn long_chains_are_written_whole_in_the_background() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 2).expect("open");
    state.write(&whole(&[("a", 0)])).expect("whole");
    let deep = u64::from(MAX_DEPTH) + 1;
    for id in 2..=deep {
        state
            .write(&delta(id, &[("a", id as u8)], &[]))
            .expect("delta");
    }
    let manifest = state.manifest(deep).expect("read").expect("new format");
    assert_eq!(
        manifest.parts[0].depth, MAX_DEPTH,
        "the writer wrote the changes"
    );
    state.settle();
    let manifest = state.manifest(deep).expect("read").expect("new format");
    assert_eq!(manifest.parts[0].depth, 0, "whole again");
    assert_eq!(manifest.parts[0].parent, None);
    assert_eq!(groups_in(&mut state, deep), named(&[("a", deep as u8)]));
    let next = deep + 1;
    state.write(&delta(next, &[("b", 1)], &[])).expect("delta");
    state.settle();
    assert_eq!(
        state.ids().expect("ids"),
        [deep, next],
        "the old chain is gone"
    );
    assert_eq!(
        groups_in(&mut state, next),
        named(&[("a", deep as u8), ("b", 1)])
    );
    let manifest = state.manifest(next).expect("read").expect("new format");
    assert_eq!(manifest.parts[0].parent, Some(deep));
    drop(state);
    let mut reopened = RocksState::open(dir.path(), 2).expect("reopen");
    assert_eq!(
        groups_in(&mut reopened, next),
        named(&[("a", deep as u8), ("b", 1)])
    );
}

/// With compactions out of the way (dropped), a chain reaching FORCED_DEPTH is written whole
/// by the writer.
#[test]
fn far_too_long_chains_are_written_whole_by_the_writer() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 2).expect("open");
    state.compactor = super::compact::Compactor::stopped();
    state.write(&whole(&[("a", 0)])).expect("whole");
    let last = u64::from(super::compact::FORCED_DEPTH) + 2;
    for id in 2..=last {
        state
            .write(&delta(id, &[("a", id as u8)], &[]))
            .expect("delta");
    }
    let forced = u64::from(super::compact::FORCED_DEPTH) + 2;
    let manifest = state.manifest(forced).expect("read").expect("new format");
    assert_eq!(manifest.parts[0].depth, 0, "whole again");
    assert_eq!(groups_in(&mut state, last), named(&[("a", last as u8)]));
}

#[test]
fn a_corrupt_or_incomplete_latest_falls_back_to_the_one_before() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 3).expect("open");
    for id in 1..=3 {
        write(&mut state, checkpoint(id));
    }
    // Garbage in one partition record of checkpoint 3: the digest no longer matches.
    state.db.put(record_key(3, 1), b"garbage").expect("put");
    assert_eq!(state.latest().expect("read"), Some(checkpoint(2)));
    // A missing partition record of checkpoint 2: incomplete.
    state.db.delete(record_key(2, 0)).expect("delete");
    assert_eq!(state.latest().expect("read"), Some(checkpoint(1)));
}

/// Damage to a record that later checkpoints build on makes them unusable too: the latest
/// usable one is read.
#[test]
fn a_damaged_base_falls_back_past_the_changes_on_it() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 4).expect("open");
    write(&mut state, checkpoint(1));
    write(&mut state, checkpoint(2));
    state.write(&delta(3, &[("b", 1)], &[])).expect("delta");
    state.write(&delta(4, &[("c", 1)], &[])).expect("delta");
    assert_eq!(
        groups_in(&mut state, 4),
        named(&[("a", 2), ("b", 1), ("c", 1)])
    );
    state.db.put(record_key(3, 0), b"garbage").expect("put");
    let latest = state.latest().expect("read").expect("one");
    assert_eq!(latest.id, 2);
}

/// A checkpoint written before compression (plain postcard under `p/`) is still read,
/// and removed like the others once it is old.
#[test]
fn reads_checkpoints_written_before_compression() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = RocksState::open(dir.path(), 2).expect("open");
    let old = checkpoint(1);
    let mut digest = Sha256::new();
    for partition in &old.partitions {
        let bytes = postcard::to_allocvec(partition).expect("encode");
        digest.update(Sha256::digest(&bytes));
        state
            .db
            .put(plain_partition_key(1, partition.partition), bytes)
            .expect("put");
    }
    let manifest = LegacyManifest {
        info: old.info(),
        digest: digest.finalize().to_vec(),
    };
    let manifest = postcard::to_allocvec(&manifest).expect("encode");
    state.db.put(legacy_manifest_key(1), manifest).expect("put");
    assert_eq!(state.latest().expect("read"), Some(old));
    for id in 2..=3 {
        write(&mut state, checkpoint(id));
    }
    assert_eq!(state.ids().expect("ids"), vec![2, 3]);
    let stored = state.db.get(plain_partition_key(1, 0)).expect("get");
    assert_eq!(stored, None, "the old checkpoint's records are removed");
}

#[test]
fn an_unusable_directory_is_named_and_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"precious").expect("file");
    let error = RocksState::open(&file, 2).err().expect("refused");
    assert!(error.to_string().contains("not-a-dir"), "{error}");
    assert_eq!(std::fs::read(&file).expect("still there"), b"precious");
}
