//! How far a source partition has been processed, as committed to Kafka with the offset: the
//! offset to resume from, plus (in the commit's metadata) how far the committer had read and
//! its watermark, so that the next owner skips what was already accounted for instead of
//! writing partial results for windows that had fired, and which checkpoint it belongs to.

use crate::operator::Replay;

/// Progress of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The partition.
    pub partition: u32,
    /// Where to resume: the lowest offset an open window holds, or `read_to`.
    pub offset: i64,
    /// The first offset not read yet.
    pub read_to: i64,
    /// The partition's watermark.
    pub watermark: i64,
}

const PREFIX: &str = "eddy:1:";

/// What a commit's metadata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Where the committer had read to, and its watermark.
    pub replay: Replay,
    /// The latest checkpoint the committer had written when it committed.
    pub checkpoint: Option<u64>,
}

impl Progress {
    /// The commit metadata: `eddy:1:<read_to>:<watermark>[:<checkpoint id>]`.
    pub fn metadata(&self, checkpoint: Option<u64>) -> String {
        match checkpoint {
            Some(id) => format!("{PREFIX}{}:{}:{id}", self.read_to, self.watermark),
            None => format!("{PREFIX}{}:{}", self.read_to, self.watermark),
        }
    }

    /// Reads commit metadata written by [`Progress::metadata`]; anything else is `None`.
    pub fn parse_metadata(metadata: &str) -> Option<Committed> {
        let mut fields = metadata.strip_prefix(PREFIX)?.split(':');
        let read_to = fields.next()?.parse().ok()?;
        let watermark = fields.next()?.parse().ok()?;
        let checkpoint = match fields.next() {
            Some(id) => Some(id.parse().ok()?),
            None => None,
        };
        if fields.next().is_some() {
            return None;
        }
        Some(Committed {
            replay: Replay { read_to, watermark },
            checkpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_foreign_metadata_is_ignored() {
        let progress = Progress {
            partition: 3,
            offset: 10,
            read_to: 42,
            watermark: -5,
        };
        let replay = Replay {
            read_to: 42,
            watermark: -5,
        };
        assert_eq!(
            Progress::parse_metadata(&progress.metadata(None)),
            Some(Committed {
                replay,
                checkpoint: None
            })
        );
        assert_eq!(
            Progress::parse_metadata(&progress.metadata(Some(9))),
            Some(Committed {
                replay,
                checkpoint: Some(9)
            })
        );
        for foreign in [
            "",
            "eddy:1:",
            "eddy:1:x:3",
            "other:1:2",
            "eddy:2:1:2",
            "eddy:1:1:2:x",
            "eddy:1:1:2:3:4",
        ] {
            assert_eq!(Progress::parse_metadata(foreign), None, "{foreign}");
        }
    }
}
