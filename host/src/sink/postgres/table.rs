//! The results table: buffered upserts, sent per batch (at-least-once) or with the progress
//! in one transaction per checkpoint (exactly-once), retried as a whole when the connection
//! is lost.

use std::sync::Arc;

use eddy_engine::config::PostgresSink;
use eddy_engine::operator::Emitted;
use eddy_engine::progress::Progress;

use super::connection::Connection;
use super::progress::{self, Arrays, PROGRESS_TABLE};
use super::rows::Rows;
use super::schema::{column_names, results_table};
use super::side::SideTable;
use super::{PostgresError, TableName};
use crate::health::Health;

/// The prepared table: its statement and the order of its value columns.
struct Prepared {
    upsert: String,
    /// Per aggregate, its name and output names, as the table was made for.
    outputs: Vec<(String, Vec<String>)>,
}

/// A PostgreSQL table of results (and the side tables written with it).
pub struct PostgresTable {
    connection: Connection,
    table: TableName,
    create_table: bool,
    /// Exactly-once: the progress table's name and upsert.
    progress: Option<(String, String)>,
    prepared: Option<Prepared>,
    rows: Rows,
    /// Late events' and dead letters' tables, with their insert statements once prepared.
    sides: Vec<(SideTable, Option<String>)>,
}

impl PostgresTable {
    /// Connects to the sink's server; each flush is committed on its own (at-least-once:
    /// a replay upserts the same rows again).
    pub fn connect(sink: &PostgresSink) -> Result<Self, PostgresError> {
        Ok(Self {
            connection: Connection::open(&sink.url, sink.retry_timeout)?,
            table: TableName::parse(&sink.table),
            create_table: sink.create_table,
            progress: None,
            prepared: None,
            rows: Rows::default(),
            sides: Vec::new(),
        })
    }

    /// Connects for exactly-once: rows stay buffered until [`PostgresTable::commit`] writes
    /// them with the progress; the progress table is created when missing.
    pub fn transactional(sink: &PostgresSink) -> Result<Self, PostgresError> {
        let mut table = Self::connect(sink)?;
        let progress = table.table.sibling(PROGRESS_TABLE).quoted();
        let create = progress::create_sql(&progress);
        table
            .connection
            .once("creating the progress table", |session| {
                session.client.batch_execute(&create)
            })?;
        let upsert = progress::upsert_sql(&progress);
        table.progress = Some((progress, upsert));
        Ok(table)
    }

    /// Writes `side`'s rows with the results (in the same transactions).
    pub fn add_side(&mut self, side: SideTable) {
        self.sides.push((side, None));
    }

    /// Reports connection losses to `health` while they are retried.
    pub fn watch(&mut self, health: Arc<Health>) {
        self.connection.watch(health);
    }

    /// The table's name as written in SQL.
    pub fn name(&self) -> String {
        self.table.quoted()
    }

    /// Creates the table for these aggregate outputs when it is missing (and
    /// `create_table` allows), then checks it has every column with its type; the same for
    /// the side tables. An error names the missing or mistyped column.
    pub fn prepare(&mut self, outputs: &[(String, Vec<String>)]) -> Result<(), PostgresError> {
        let upsert = results_table(
            &mut self.connection,
            &self.table,
            self.create_table,
            outputs,
        )?;
        for (side, insert) in &mut self.sides {
            *insert = Some(side.prepare(&mut self.connection, self.create_table)?);
        }
        self.rows = Rows::with_columns(column_names(outputs).len());
        self.prepared = Some(Prepared {
            upsert,
            outputs: outputs.to_vec(),
        });
        Ok(())
    }

    /// Buffers the results of `emitted` (sent by [`PostgresTable::flush`] or
    /// [`PostgresTable::commit`]); returns how many.
    pub fn add(&mut self, emitted: &Emitted) -> Result<usize, PostgresError> {
        let Some(prepared) = &self.prepared else {
            return Err(PostgresError::Query {
                what: "writing results",
                message: "the table was not prepared".into(),
            });
        };
        let finished = &emitted.finished;
        let same = finished.columns.len() == prepared.outputs.len()
            && finished
                .columns
                .iter()
                .zip(&prepared.outputs)
                .all(|((name, outputs, _), (n, o))| name == n && outputs == o);
        if !same {
            let now: Vec<(String, Vec<String>)> = finished
                .columns
                .iter()
                .map(|(name, outputs, _)| (name.clone(), outputs.clone()))
                .collect();
            return Err(PostgresError::Table {
                table: self.table.quoted(),
                message: format!(
                    "the aggregates' outputs changed to columns {:?}, the table has {:?}",
                    column_names(&now),
                    column_names(&prepared.outputs)
                ),
            });
        }
        self.rows.add(emitted);
        Ok(emitted.groups.len())
    }

    /// At-least-once: sends the buffered rows (and side rows) in one transaction, retried
    /// while the connection is lost. Exactly-once: nothing (they are sent with the progress
    /// by [`PostgresTable::commit`]).
    pub fn flush(&mut self) -> Result<(), PostgresError> {
        if self.is_transactional() {
            return Ok(());
        }
        self.send("upserting results", None)
    }

    /// Whether rows are committed with the progress (exactly-once).
    pub fn is_transactional(&self) -> bool {
        self.progress.is_some()
    }

    /// Exactly-once: sends what is buffered and each partition's progress (with the
    /// checkpoint it belongs to) for `pipeline`, in one transaction.
    pub fn commit(
        &mut self,
        pipeline: &str,
        progress: &[Progress],
        checkpoint: Option<u64>,
    ) -> Result<(), PostgresError> {
        if self.progress.is_none() {
            return Err(PostgresError::Query {
                what: "committing progress",
                message: "the sink is not transactional".into(),
            });
        }
        self.send(
            "committing results and progress",
            Some((pipeline, progress, checkpoint)),
        )
    }

    /// Sends the buffered results and side rows, with the progress when given, in one
    /// transaction; empties the buffers once it committed. Done again as a whole when the
    /// connection is lost (upserts and the progress are idempotent; a commit whose answer
    /// was lost is recognised by its progress and not done twice).
    fn send(
        &mut self,
        what: &'static str,
        progress: Option<(&str, &[Progress], Option<u64>)>,
    ) -> Result<(), PostgresError> {
        let pending_sides: usize = self.sides.iter().map(|(side, _)| side.pending()).sum();
        if self.rows.len() == 0 && pending_sides == 0 && progress.is_none() {
            return Ok(());
        }
        let upsert = self.prepared.as_ref().map(|p| p.upsert.clone());
        let rows = &self.rows;
        let sides = &self.sides;
        let progress_sql = self.progress.clone();
        let arrays = progress.map(|(_, p, _)| Arrays::of(p));
        let checkpoint = progress.and_then(|(_, _, c)| c.and_then(|id| i64::try_from(id).ok()));
        let pipeline = progress.map(|(p, _, _)| p.to_string());
        // Names this transaction in the progress table: after a lost answer to COMMIT, a
        // retry finds it there when it committed.
        let token: i64 = rand::random();
        let work = |session: &mut super::connection::Session<'_>| {
            let upsert = match &upsert {
                Some(sql) if rows.len() > 0 => Some(session.prepare(sql)?),
                _ => None,
            };
            let mut inserts = Vec::new();
            for (side, sql) in sides {
                if let Some(sql) = sql
                    && side.pending() > 0
                {
                    inserts.push((side, session.prepare(sql)?));
                }
            }
            let write_progress = match (&progress_sql, &arrays) {
                (Some((_, sql)), Some(_)) => Some(session.prepare(sql)?),
                _ => None,
            };
            if inserts.is_empty() && write_progress.is_none() {
                // Results alone: one statement, committed on its own.
                if let Some(upsert) = &upsert {
                    session.client.execute(upsert, &rows.params())?;
                }
                return Ok(());
            }
            let mut transaction = session.client.transaction()?;
            if let Some(upsert) = &upsert {
                transaction.execute(upsert, &rows.params())?;
            }
            for (side, insert) in &inserts {
                side.send(&mut transaction, insert)?;
            }
            if let (Some(statement), Some(arrays)) = (&write_progress, &arrays) {
                transaction.execute(
                    statement,
                    &[
                        &pipeline,
                        &arrays.partitions,
                        &arrays.offsets,
                        &arrays.read_to,
                        &arrays.watermarks,
                        &checkpoint,
                        &token,
                    ],
                )?;
            }
            transaction.commit()
        };
        // A retry after a lost answer to COMMIT: done already when the progress says so.
        let redo = |session: &mut super::connection::Session<'_>| match (
            &progress_sql,
            &arrays,
            &pipeline,
        ) {
            (Some((table, _)), Some(arrays), Some(pipeline)) if !arrays.partitions.is_empty() => {
                let done = progress::committed(session, table, pipeline, token)?;
                if done {
                    tracing::info!(
                        ?checkpoint,
                        "the transaction whose answer was lost had committed: not done again"
                    );
                }
                Ok(done.then_some(()))
            }
            _ => Ok(None),
        };
        self.connection.run(what, work, redo)?;
        self.rows.clear();
        for (side, _) in &self.sides {
            side.sent();
        }
        Ok(())
    }

    /// Exactly-once: drops what was buffered since the last commit (partitions revoked, a
    /// batch to read again).
    pub fn discard(&mut self) -> Result<(), PostgresError> {
        self.rows.clear();
        for (side, _) in &self.sides {
            side.sent();
        }
        Ok(())
    }

    /// The connection string, password hidden.
    pub fn url(&self) -> String {
        self.connection.url()
    }

    /// Times the connection was made again after a loss.
    pub fn reconnects(&self) -> u64 {
        self.connection.reconnects()
    }
}
