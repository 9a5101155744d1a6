//! Where a partition continues when it is assigned: from a checkpoint (its open windows
//! restored, reading from the checkpoint's offset) — this replica's own, or one another
//! replica published to the shared directory —, from the progress the group committed (open
//! windows rebuilt by reading again, what was accounted for skipped), or from scratch.
//!
//! At-least-once takes the newest checkpoint (highest offset) that is not behind the committed
//! progress. Exactly-once takes only the checkpoint the committed transaction names (its id
//! and offset): a newer one belongs to a transaction that never committed.

use crate::config::Delivery;
use crate::operator::Replay;
use crate::progress::Committed;
use crate::state::{CheckpointInfo, PartitionState, SharedEntry};

/// How a partition continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// From the position the consumer finds (committed offset, or `kafka.start`), with no
    /// state.
    Fresh,
    /// From the committed offset, skipping what the committer had accounted for.
    Replay(Replay),
    /// From a checkpoint's state and offset.
    Restore(Box<PartitionState>, RestoredFrom),
}

/// Where a restored state came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoredFrom {
    /// This replica's own checkpoints.
    Local,
    /// The shared directory: written by this or another replica.
    Shared,
}

/// A checkpoint that may hold a partition's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// A checkpoint of this replica's store, by id.
    Local(u64),
    /// A state in the shared directory.
    Shared(SharedEntry),
}

/// The checkpoints to try for `partition`, best first, among this replica's (`index`) and
/// the shared directory's (`shared`); when none of them can be read, the partition continues
/// from `fallback(committed)`.
pub fn candidates(
    delivery: Delivery,
    partition: u32,
    committed: Option<&Committed>,
    index: &[CheckpointInfo],
    shared: &[SharedEntry],
) -> Vec<Candidate> {
    // (offset, id, local?) for ordering.
    let mut all: Vec<(i64, u64, bool, Candidate)> = index
        .iter()
        .filter_map(|info| {
            info.offset(partition)
                .map(|offset| (offset, info.id, true, Candidate::Local(info.id)))
        })
        .chain(
            shared
                .iter()
                .filter(|e| e.partition == partition)
                .map(|e| (e.offset, e.id, false, Candidate::Shared(e.clone()))),
        )
        .filter(|&(offset, id, _, _)| match delivery {
            Delivery::AtLeastOnce => committed.is_none_or(|c| offset >= c.replay.read_to),
            Delivery::ExactlyOnce => {
                committed.is_some_and(|c| c.checkpoint == Some(id) && c.replay.read_to == offset)
            }
        })
        .collect();
    all.sort_by_key(|&(offset, id, local, _)| std::cmp::Reverse((offset, local, id)));
    all.into_iter().map(|(_, _, _, c)| c).collect()
}

/// How a partition continues without a local checkpoint.
pub fn fallback(committed: Option<&Committed>) -> Resume {
    committed.map_or(Resume::Fresh, |c| Resume::Replay(c.replay))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: u64, offsets: &[(u32, i64)]) -> CheckpointInfo {
        CheckpointInfo {
            id,
            created_ms: 0,
            plugins: Vec::new(),
            offsets: offsets.to_vec(),
        }
    }

    fn committed(read_to: i64, checkpoint: Option<u64>) -> Committed {
        Committed {
            replay: Replay {
                read_to,
                watermark: 0,
            },
            checkpoint,
        }
    }

    fn shared(partition: u32, offset: i64, id: u64) -> SharedEntry {
        SharedEntry {
            partition,
            offset,
            id,
            replica: "other".into(),
            path: format!("{partition}/{offset}.{id}").into(),
        }
    }

    fn local(ids: &[u64]) -> Vec<Candidate> {
        ids.iter().map(|&id| Candidate::Local(id)).collect()
    }

    #[test]
    fn at_least_once_takes_the_newest_checkpoint_not_behind_the_group() {
        let index = [info(1, &[(0, 100), (1, 50)]), info(2, &[(0, 200)])];
        let alo = Delivery::AtLeastOnce;
        assert_eq!(candidates(alo, 0, None, &index, &[]), local(&[2, 1]));
        assert_eq!(candidates(alo, 1, None, &index, &[]), local(&[1]));
        assert_eq!(
            candidates(alo, 0, Some(&committed(150, None)), &index, &[]),
            local(&[2])
        );
        assert!(candidates(alo, 0, Some(&committed(250, Some(2))), &index, &[]).is_empty());
        assert!(candidates(alo, 2, None, &index, &[]).is_empty());
    }

    #[test]
    fn a_newer_state_another_replica_shared_wins_over_an_older_local_one() {
        let index = [info(1, &[(0, 100)]), info(2, &[(0, 200)])];
        let others = [shared(0, 300, 9), shared(0, 200, 1), shared(1, 900, 9)];
        let alo = Delivery::AtLeastOnce;
        assert_eq!(
            candidates(alo, 0, Some(&committed(150, None)), &index, &others),
            vec![
                Candidate::Shared(others[0].clone()),
                Candidate::Local(2),
                Candidate::Shared(others[1].clone()),
            ]
        );
        let eos = Delivery::ExactlyOnce;
        assert_eq!(
            candidates(eos, 0, Some(&committed(300, Some(9))), &index, &others),
            vec![Candidate::Shared(others[0].clone())]
        );
        assert_eq!(
            candidates(eos, 0, Some(&committed(200, Some(1))), &index, &others),
            vec![Candidate::Shared(others[1].clone())],
            "local checkpoint 1 holds another offset: another replica's checkpoint 1 committed"
        );
    }

    #[test]
    fn exactly_once_takes_only_the_committed_checkpoint() {
        let index = [info(1, &[(0, 100)]), info(2, &[(0, 200)])];
        let eos = Delivery::ExactlyOnce;
        assert_eq!(
            candidates(eos, 0, Some(&committed(100, Some(1))), &index, &[]),
            local(&[1])
        );
        assert!(candidates(eos, 0, Some(&committed(0, Some(1))), &index, &[]).is_empty());
        assert!(candidates(eos, 0, Some(&committed(0, None)), &index, &[]).is_empty());
        assert!(candidates(eos, 0, None, &index, &[]).is_empty());
        assert!(candidates(eos, 0, Some(&committed(0, Some(3))), &index, &[]).is_empty());
        assert_eq!(fallback(None), Resume::Fresh);
        let c = committed(7, Some(3));
        assert_eq!(fallback(Some(&c)), Resume::Replay(c.replay));
    }
}
