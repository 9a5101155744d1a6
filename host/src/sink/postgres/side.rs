//! Late events and dead letters as rows of a table of their own, in the results' database:
//!
//! | column | type | |
//! |---|---|---|
//! | `reason` | text | `late`, or why the record could not be processed |
//! | `record` | bytea | the record exactly as read (it may not be UTF-8 or JSON) |
//! | `source_partition`, `source_offset` | integer, bigint | where it was read (Kafka) |
//! | `source_line` | bigint | the line it was read on (a file or standard input) |
//! | `event_time`, `watermark` | bigint | a late event's time and the watermark it missed |
//! | `written_at` | timestamptz | when the row was written (`now()` of its transaction) |
//!
//! The side output's writer only buffers the rows ([`SideRows`], shared with the results'
//! table); the results' table sends them with the results, in the same transaction.

use std::sync::{Arc, Mutex, PoisonError};

use postgres::types::ToSql;

use super::connection::Connection;
use super::schema::make_or_check;
use super::{PostgresError, TableName};
use crate::sink::SideRecord;

/// Side rows waiting for the results' next write.
#[derive(Default)]
pub struct SideRows {
    reasons: Vec<String>,
    records: Vec<Vec<u8>>,
    partitions: Vec<Option<i32>>,
    offsets: Vec<Option<i64>>,
    lines: Vec<Option<i64>>,
    times: Vec<Option<i64>>,
    watermarks: Vec<Option<i64>>,
}

impl SideRows {
    fn len(&self) -> usize {
        self.reasons.len()
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.reasons,
            &self.records,
            &self.partitions,
            &self.offsets,
            &self.lines,
            &self.times,
            &self.watermarks,
        ]
    }
}

/// A side output's table: the writer's end ([`SideTable::add`]) and the results table's
/// end (made or checked, then written with the results).
#[derive(Clone)]
pub struct SideTable {
    table: TableName,
    rows: Arc<Mutex<SideRows>>,
}

const COLUMNS: [(&str, &str, &str); 8] = [
    ("reason", "text", "NOT NULL"),
    ("record", "bytea", "NOT NULL"),
    ("source_partition", "integer", ""),
    ("source_offset", "bigint", ""),
    ("source_line", "bigint", ""),
    ("event_time", "bigint", ""),
    ("watermark", "bigint", ""),
    (
        "written_at",
        "timestamp with time zone",
        "NOT NULL DEFAULT now()",
    ),
];

impl SideTable {
    /// The side output writing `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: TableName::parse(table),
            rows: Arc::default(),
        }
    }

    /// The table's name as written in SQL.
    pub fn name(&self) -> String {
        self.table.quoted()
    }

    /// Buffers `records` (sent with the results' next write).
    pub fn add(&self, records: &[SideRecord<'_>]) {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        for record in records {
            rows.reasons.push(record.reason.to_string());
            rows.records.push(record.payload.to_vec());
            rows.partitions
                .push(record.origin.and_then(|o| i32::try_from(o.partition).ok()));
            rows.offsets.push(record.origin.map(|o| o.offset));
            rows.lines
                .push(record.line.and_then(|line| i64::try_from(line).ok()));
            rows.times.push(record.late.map(|(_, time)| time));
            rows.watermarks
                .push(record.late.map(|(watermark, _)| watermark));
        }
    }

    /// Makes the table when missing (and `create` allows) or checks its columns; returns its
    /// insert statement.
    pub(super) fn prepare(
        &self,
        connection: &mut Connection,
        create: bool,
    ) -> Result<String, PostgresError> {
        let wanted: Vec<(String, &str, &str)> = COLUMNS
            .iter()
            .map(|&(name, kind, suffix)| (name.to_string(), kind, suffix))
            .collect();
        make_or_check(
            connection,
            &self.table,
            create,
            &wanted,
            "",
            "reason text, record bytea, source_partition integer, source_offset bigint, source_line bigint, event_time bigint, watermark bigint, written_at timestamptz",
        )?;
        Ok(format!(
            "INSERT INTO {} (reason, record, source_partition, source_offset, source_line, event_time, watermark)
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])",
            self.table.quoted()
        ))
    }

    /// Inserts the buffered rows with `insert` (in the caller's transaction); returns how
    /// many. The buffer is kept: the caller empties it ([`SideTable::sent`]) once the
    /// transaction committed.
    pub(super) fn send(
        &self,
        client: &mut impl postgres::GenericClient,
        insert: &postgres::Statement,
    ) -> Result<usize, postgres::Error> {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        if rows.len() == 0 {
            return Ok(0);
        }
        client.execute(insert, &rows.params())?;
        Ok(rows.len())
    }

    /// Whether rows are waiting.
    pub(super) fn pending(&self) -> usize {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The buffered rows were committed (or are to be dropped): empties the buffer.
    pub(super) fn sent(&self) {
        self.rows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
