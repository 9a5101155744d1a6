//! Where a partition continues when it is assigned: from a local checkpoint (its open windows
//! restored, reading from the checkpoint's offset), from the progress the group committed
//! (open windows rebuilt by reading again, what was accounted for skipped), or from scratch.
//!
//! At-least-once takes the newest local checkpoint that is not behind the committed progress
//! (another replica may have gone further). Exactly-once takes only the checkpoint the
//! committed transaction names: a newer one belongs to a transaction that never committed.

use crate::config::Delivery;
use crate::operator::Replay;
use crate::progress::Committed;
use crate::state::{CheckpointInfo, PartitionState};

/// How a partition continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// From the position the consumer finds (committed offset, or `kafka.start`), with no
    /// state.
    Fresh,
    /// From the committed offset, skipping what the committer had accounted for.
    Replay(Replay),
    /// From a checkpoint's state and offset.
    Restore(Box<PartitionState>),
}

/// The checkpoints to try for `partition`, best first; when none of them can be read, the
/// partition continues from `fallback(committed)`.
pub fn candidates(
    delivery: Delivery,
    partition: u32,
    committed: Option<&Committed>,
    index: &[CheckpointInfo],
) -> Vec<u64> {
    let holding = index.iter().rev().filter_map(|info| {
        info.offset(partition)
            .map(|offset| (info.id, offset, info.created_ms))
    });
    match delivery {
        Delivery::AtLeastOnce => holding
            .filter(|&(_, offset, _)| committed.is_none_or(|c| offset >= c.replay.read_to))
            .map(|(id, _, _)| id)
            .collect(),
        Delivery::ExactlyOnce => holding
            .filter(|&(id, _, _)| committed.and_then(|c| c.checkpoint) == Some(id))
            .map(|(id, _, _)| id)
            .collect(),
    }
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

    #[test]
    fn at_least_once_takes_the_newest_checkpoint_not_behind_the_group() {
        let index = [info(1, &[(0, 100), (1, 50)]), info(2, &[(0, 200)])];
        let alo = Delivery::AtLeastOnce;
        assert_eq!(candidates(alo, 0, None, &index), vec![2, 1]);
        assert_eq!(candidates(alo, 1, None, &index), vec![1]);
        assert_eq!(
            candidates(alo, 0, Some(&committed(150, None)), &index),
            vec![2]
        );
        assert!(candidates(alo, 0, Some(&committed(250, Some(2))), &index).is_empty());
        assert!(candidates(alo, 2, None, &index).is_empty());
    }

    #[test]
    fn exactly_once_takes_only_the_committed_checkpoint() {
        let index = [info(1, &[(0, 100)]), info(2, &[(0, 200)])];
        let eos = Delivery::ExactlyOnce;
        assert_eq!(
            candidates(eos, 0, Some(&committed(0, Some(1))), &index),
            vec![1]
        );
        assert!(candidates(eos, 0, Some(&committed(0, None)), &index).is_empty());
        assert!(candidates(eos, 0, None, &index).is_empty());
        assert!(candidates(eos, 0, Some(&committed(0, Some(3))), &index).is_empty());
        assert_eq!(fallback(None), Resume::Fresh);
        let c = committed(7, Some(3));
        assert_eq!(fallback(Some(&c)), Resume::Replay(c.replay));
    }
}
