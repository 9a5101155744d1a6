//! How far a source partition has been processed, as committed to Kafka with the offset: the
//! offset to resume from, plus (in the commit's metadata) how far the committer had read and
//! its watermark, so that the next owner skips what was already accounted for instead of
//! writing partial results for windows that had fired.

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

impl Progress {
    /// The commit metadata: `eddy:1:<read_to>:<watermark>`.
    pub fn metadata(&self) -> String {
        format!("{PREFIX}{}:{}", self.read_to, self.watermark)
    }

    /// Reads commit metadata written by [`Progress::metadata`]; anything else is `None`.
    pub fn parse_metadata(metadata: &str) -> Option<Replay> {
        let (read_to, watermark) = metadata.strip_prefix(PREFIX)?.split_once(':')?;
        Some(Replay {
            read_to: read_to.parse().ok()?,
            watermark: watermark.parse().ok()?,
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
        assert_eq!(
            Progress::parse_metadata(&progress.metadata()),
            Some(Replay {
                read_to: 42,
                watermark: -5
            })
        );
        for foreign in ["", "eddy:1:", "eddy:1:x:3", "other:1:2", "eddy:2:1:2"] {
            assert_eq!(Progress::parse_metadata(foreign), None, "{foreign}");
        }
    }
}
