//! Eddy's progress table (in the schema of the results table): per pipeline (the Kafka
//! group id) and source partition, where reading continues, written in the results'
//! transactions (exactly-once) and read when partitions are assigned.

use std::collections::BTreeMap;
use std::sync::Mutex;

use eddy_engine::config::PostgresSink;
use eddy_engine::operator::Replay;
use eddy_engine::progress::{Committed, Progress};

use super::connection::{Connection, Session};
use super::{PostgresError, TableName};

/// The progress table's name.
pub const PROGRESS_TABLE: &str = "eddy_progress";

/// `CREATE TABLE IF NOT EXISTS` of the progress table `table` (and its `commit_token`
/// column, added to a table an earlier version made).
pub(super) fn create_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            pipeline text NOT NULL,
            partition integer NOT NULL,
            next_offset bigint NOT NULL,
            read_to bigint NOT NULL,
            watermark bigint NOT NULL,
            checkpoint bigint,
            updated_at timestamptz NOT NULL DEFAULT now(),
            commit_token bigint,
            PRIMARY KEY (pipeline, partition)
        );
        ALTER TABLE {table} ADD COLUMN IF NOT EXISTS commit_token bigint"
    )
}

/// The upsert of every partition's progress into `table`.
pub(super) fn upsert_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} (pipeline, partition, next_offset, read_to, watermark, checkpoint, commit_token)
         SELECT $1::text, u.*, $6::bigint, $7::bigint FROM unnest($2::integer[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u
         ON CONFLICT (pipeline, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,
           read_to = EXCLUDED.read_to, watermark = EXCLUDED.watermark,
           checkpoint = EXCLUDED.checkpoint, commit_token = EXCLUDED.commit_token,
           updated_at = now()"
    )
}

/// The progress to write, as the upsert's arrays.
pub(super) struct Arrays {
    pub partitions: Vec<i32>,
    pub offsets: Vec<i64>,
    pub read_to: Vec<i64>,
    pub watermarks: Vec<i64>,
}

impl Arrays {
    pub fn of(progress: &[Progress]) -> Self {
        Self {
            partitions: progress
                .iter()
                .map(|p| i32::try_from(p.partition).unwrap_or(i32::MAX))
                .collect(),
            offsets: progress.iter().map(|p| p.offset).collect(),
            read_to: progress.iter().map(|p| p.read_to).collect(),
            watermarks: progress.iter().map(|p| p.watermark).collect(),
        }
    }
}

/// Whether the transaction that wrote progress with `token` (random, one per transaction)
/// committed: a commit whose answer was lost went through.
pub(super) fn committed(
    session: &mut Session<'_>,
    table: &str,
    pipeline: &str,
    token: i64,
) -> Result<bool, postgres::Error> {
    let row = session.client.query_one(
        &format!("SELECT count(*) FROM {table} WHERE pipeline = $1 AND commit_token = $2"),
        &[&pipeline, &token],
    )?;
    let n: i64 = row.try_get(0)?;
    Ok(n > 0)
}

/// The progress exactly-once committed with the results, read on its own connection (it sees
/// committed transactions only): where assigned partitions continue.
pub struct PostgresProgress {
    connection: Mutex<Connection>,
    select: String,
    pipeline: String,
}

impl PostgresProgress {
    /// Connects to the sink's server, for the progress of `pipeline` (the Kafka group id).
    /// The progress table is made by [`super::PostgresTable::transactional`], which runs first.
    pub fn connect(sink: &PostgresSink, pipeline: &str) -> Result<Self, PostgresError> {
        let table = TableName::parse(&sink.table)
            .sibling(PROGRESS_TABLE)
            .quoted();
        Ok(Self {
            connection: Mutex::new(Connection::open(&sink.url, sink.retry_timeout)?),
            select: format!(
                "SELECT partition, next_offset, read_to, watermark, checkpoint FROM {table}
                 WHERE pipeline = $1 AND partition = ANY($2)"
            ),
            pipeline: pipeline.to_string(),
        })
    }

    /// Each of `partitions` that has committed progress: its offset and what it says. A
    /// lost connection is made again (retried for `sink.retry_timeout`).
    pub fn positions(
        &self,
        partitions: &[u32],
    ) -> Result<BTreeMap<u32, (i64, Committed)>, PostgresError> {
        let wanted: Vec<i32> = partitions
            .iter()
            .filter_map(|&p| i32::try_from(p).ok())
            .collect();
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let read = |session: &mut Session<'_>| {
            let rows = session
                .client
                .query(&self.select, &[&self.pipeline, &wanted])?;
            let mut positions = BTreeMap::new();
            for row in rows {
                let partition: i32 = row.try_get(0)?;
                let Ok(partition) = u32::try_from(partition) else {
                    continue;
                };
                let checkpoint: Option<i64> = row.try_get(4)?;
                positions.insert(
                    partition,
                    (
                        row.try_get(1)?,
                        Committed {
                            replay: Replay {
                                read_to: row.try_get(2)?,
                                watermark: row.try_get(3)?,
                            },
                            checkpoint: checkpoint.and_then(|id| u64::try_from(id).ok()),
                        },
                    ),
                );
            }
            Ok(positions)
        };
        connection.run("reading progress", read, |_| Ok(None))
    }
}

impl crate::kafka::ProgressSource for PostgresProgress {
    fn positions(&self, partitions: &[u32]) -> Result<BTreeMap<u32, (i64, Committed)>, String> {
        PostgresProgress::positions(self, partitions).map_err(|e| e.to_string())
    }
}
