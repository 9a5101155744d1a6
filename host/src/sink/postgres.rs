//! Results upserted into a PostgreSQL table, one row per (key, window): `key text`,
//! `window_start bigint`, `window_end bigint`, `emit text`, then one `double precision`
//! column per aggregate output (`<aggregate>` for a single value, `<aggregate>_<output>` for
//! a named output), primary key `(key, window_start, window_end)`.
//!
//! Results are buffered as they are emitted and sent on flush: one
//! `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE` per batch, a single round trip
//! whatever the number of rows. A later result of a window replaces its row, so writing a
//! result again (a replay after a restart) leaves the table as it was.
//!
//! Exactly-once ([`PostgresTable::transactional`]): the rows go into a transaction that stays
//! open until the Kafka loop's checkpoint, which writes the source progress into Eddy's
//! progress table ([`PROGRESS_TABLE`]) in the same transaction and commits it; the progress
//! table is then where partitions continue from ([`PostgresProgress`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use eddy_engine::config::{PostgresSink, SecretUrl};
use eddy_engine::operator::{Emitted, Replay};
use eddy_engine::progress::{Committed, Progress};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};

/// Eddy's progress table (in the schema of the results table): per pipeline (the Kafka
/// group id) and source partition, where reading continues.
pub const PROGRESS_TABLE: &str = "eddy_progress";

/// Why PostgreSQL could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The server could not be reached or refused the connection.
    #[error("connecting to PostgreSQL at {url}: {message}")]
    Connect {
        /// The connection string, password hidden.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The table does not fit the results (a column missing or of another type).
    #[error("PostgreSQL table {table}: {message}")]
    Table {
        /// The table.
        table: String,
        /// What does not fit.
        message: String,
    },
    /// A statement failed.
    #[error("PostgreSQL: {what}: {message}")]
    Query {
        /// What was being done.
        what: &'static str,
        /// The server's or client's message.
        message: String,
    },
}

/// The message of a client error, with the server's message and detail when there are any
/// (`postgres::Error`'s own Display says only "db error").
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => error.to_string(),
    }
}

fn query(what: &'static str) -> impl Fn(postgres::Error) -> PostgresError {
    move |error| PostgresError::Query {
        what,
        message: describe(&error),
    }
}

fn connect(url: &SecretUrl) -> Result<Client, PostgresError> {
    Client::connect(url.expose(), NoTls).map_err(|error| PostgresError::Connect {
        url: url.redacted(),
        message: describe(&error),
    })
}

/// `name` quoted as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name split into its schema (if given) and name.
struct TableName {
    schema: Option<String>,
    name: String,
}

impl TableName {
    fn parse(table: &str) -> Self {
        match table.split_once('.') {
            Some((schema, name)) => Self {
                schema: Some(schema.to_string()),
                name: name.to_string(),
            },
            None => Self {
                schema: None,
                name: table.to_string(),
            },
        }
    }

    /// Another table in the same schema.
    fn sibling(&self, name: &str) -> Self {
        Self {
            schema: self.schema.clone(),
            name: name.to_string(),
        }
    }

    fn quoted(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

/// The column of each aggregate output: `<aggregate>` for a single unnamed output,
/// `<aggregate>_<output>` for named outputs.
pub fn column_names(outputs: &[(String, Vec<String>)]) -> Vec<String> {
    outputs
        .iter()
        .flat_map(|(name, outputs)| {
            outputs.iter().map(move |output| {
                if output.is_empty() {
                    name.clone()
                } else {
                    format!("{name}_{output}")
                }
            })
        })
        .collect()
}

/// The fixed columns and their PostgreSQL types, as `information_schema` names them.
const FIXED: [(&str, &str); 4] = [
    ("key", "text"),
    ("window_start", "bigint"),
    ("window_end", "bigint"),
    ("emit", "text"),
];
const VALUE_TYPE: &str = "double precision";

/// Results buffered for the next statement, column by column.
#[derive(Default)]
struct Rows {
    keys: Vec<String>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    emits: Vec<&'static str>,
    values: Vec<Vec<Option<f64>>>,
    /// Row of each (key, start, end): a later result of the same window replaces it (one
    /// statement may not update a row twice).
    index: HashMap<(String, i64, i64), usize>,
}

impl Rows {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.starts.clear();
        self.ends.clear();
        self.emits.clear();
        self.values.iter_mut().for_each(Vec::clear);
        self.index.clear();
    }
}

/// The prepared table: its statement and the order of its value columns.
struct Prepared {
    upsert: Statement,
    /// Per aggregate, its name and output names, as the table was made for.
    outputs: Vec<(String, Vec<String>)>,
}

/// A PostgreSQL table of results.
pub struct PostgresTable {
    client: Client,
    url: SecretUrl,
    table: TableName,
    create_table: bool,
    transactional: bool,
    in_transaction: bool,
    prepared: Option<Prepared>,
    progress: Option<Statement>,
    rows: Rows,
}

impl PostgresTable {
    /// Connects to the sink's server; each flush is committed on its own (at-least-once:
    /// a replay upserts the same rows again).
    pub fn connect(sink: &PostgresSink) -> Result<Self, PostgresError> {
        Ok(Self {
            client: connect(&sink.url)?,
            url: sink.url.clone(),
            table: TableName::parse(&sink.table),
            create_table: sink.create_table,
            transactional: false,
            in_transaction: false,
            prepared: None,
            progress: None,
            rows: Rows::default(),
        })
    }

    /// Connects for exactly-once: rows stay in an open transaction until
    /// [`PostgresTable::commit`] writes the progress with them; the progress table is
    /// created when missing.
    pub fn transactional(sink: &PostgresSink) -> Result<Self, PostgresError> {
        let mut table = Self::connect(sink)?;
        table.transactional = true;
        let progress = table.table.sibling(PROGRESS_TABLE).quoted();
        table
            .client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {progress} (
                    pipeline text NOT NULL,
                    partition integer NOT NULL,
                    next_offset bigint NOT NULL,
                    read_to bigint NOT NULL,
                    watermark bigint NOT NULL,
                    checkpoint bigint,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (pipeline, partition)
                )"
            ))
            .map_err(query("creating the progress table"))?;
        let statement = table
            .client
            .prepare(&format!(
                "INSERT INTO {progress} (pipeline, partition, next_offset, read_to, watermark, checkpoint)
                 SELECT $1::text, u.*, $6::bigint FROM unnest($2::integer[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u
                 ON CONFLICT (pipeline, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,
                   read_to = EXCLUDED.read_to, watermark = EXCLUDED.watermark,
                   checkpoint = EXCLUDED.checkpoint, updated_at = now()"
            ))
            .map_err(query("preparing the progress upsert"))?;
        table.progress = Some(statement);
        Ok(table)
    }

    /// The table's name as written in SQL.
    pub fn name(&self) -> String {
        self.table.quoted()
    }

    /// Creates the table for these aggregate outputs when it is missing (and
    /// `create_table` allows), then checks it has every column with its type; prepares the
    /// upsert. An error names the missing or mistyped column.
    pub fn prepare(&mut self, outputs: &[(String, Vec<String>)]) -> Result<(), PostgresError> {
        let columns = column_names(outputs);
        let table = self.table.quoted();
        let table_error = |message: String| PostgresError::Table {
            table: table.clone(),
            message,
        };
        for name in &columns {
            if FIXED.iter().any(|(fixed, _)| fixed == name) {
                return Err(table_error(format!(
                    "the aggregate column `{name}` has the name of a fixed column"
                )));
            }
            if name.len() > 63 {
                return Err(table_error(format!(
                    "the column name `{name}` is longer than PostgreSQL's 63 bytes: name the aggregate shorter"
                )));
            }
        }
        let found = self.columns()?;
        if found.is_empty() {
            if !self.create_table {
                return Err(table_error(
                    "does not exist (and sink.create_table is false)".into(),
                ));
            }
            let mut definition: Vec<String> = FIXED
                .iter()
                .map(|(name, kind)| format!("{} {kind} NOT NULL", quote(name)))
                .collect();
            definition.extend(columns.iter().map(|c| format!("{} {VALUE_TYPE}", quote(c))));
            self.client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {table} ({}, PRIMARY KEY (key, window_start, window_end))",
                    definition.join(", ")
                ))
                .map_err(query("creating the results table"))?;
            tracing::info!(table, "created the results table");
        } else {
            let expected = FIXED
                .iter()
                .map(|&(name, kind)| (name, kind))
                .chain(columns.iter().map(|c| (c.as_str(), VALUE_TYPE)));
            for (name, kind) in expected {
                match found.get(name) {
                    None => {
                        return Err(table_error(format!(
                            "has no column `{name}` ({kind}); expected key text, window_start bigint, window_end bigint, emit text and one double precision column per aggregate output: {}",
                            columns.join(", ")
                        )));
                    }
                    Some(actual) if actual != kind => {
                        return Err(table_error(format!(
                            "column `{name}` is {actual}, expected {kind}"
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        let keyed = self
            .client
            .query_one(
                "SELECT count(*) FROM pg_index i
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 3
                   AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                        FROM pg_attribute a
                        WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))
                       = ARRAY['key', 'window_end', 'window_start']",
                &[&table],
            )
            .and_then(|row| row.try_get::<_, i64>(0))
            .map_err(query("reading the table's keys"))?;
        if keyed == 0 {
            return Err(table_error(
                "has no primary key (key, window_start, window_end) to upsert on".into(),
            ));
        }
        let quoted: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let mut arrays = vec![
            "$1::text[]".to_string(),
            "$2::bigint[]".into(),
            "$3::bigint[]".into(),
            "$4::text[]".into(),
        ];
        arrays.extend((0..columns.len()).map(|i| format!("${}::float8[]", i + 5)));
        let mut set = vec!["emit = EXCLUDED.emit".to_string()];
        set.extend(quoted.iter().map(|c| format!("{c} = EXCLUDED.{c}")));
        let mut all = vec![
            "key".to_string(),
            "window_start".into(),
            "window_end".into(),
            "emit".into(),
        ];
        all.extend(quoted);
        let sql = format!(
            "INSERT INTO {table} ({}) SELECT * FROM unnest({}) ON CONFLICT (key, window_start, window_end) DO UPDATE SET {}",
            all.join(", "),
            arrays.join(", "),
            set.join(", ")
        );
        let upsert = self.client.prepare(&sql).map_err(|error| {
            table_error(format!("cannot be upserted into: {}", describe(&error)))
        })?;
        self.rows.values = vec![Vec::new(); columns.len()];
        self.prepared = Some(Prepared {
            upsert,
            outputs: outputs.to_vec(),
        });
        Ok(())
    }

    /// The table's columns and their types; empty when the table does not exist.
    fn columns(&mut self) -> Result<BTreeMap<String, String>, PostgresError> {
        let rows = self
            .client
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2",
                &[&self.table.schema, &self.table.name],
            )
            .map_err(query("reading the table's columns"))?;
        let read = query("reading the table's columns");
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(&read)?,
                    row.try_get(1).map_err(&read)?,
                ))
            })
            .collect()
    }

    /// Buffers the results of `emitted` (sent by [`PostgresTable::flush`]); returns how many.
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
        let rows = &mut self.rows;
        let emit = emitted.emit.as_str();
        for (i, group) in emitted.groups.iter().enumerate() {
            let id = (group.key.clone(), group.window.start, group.window.end);
            let row = match rows.index.get(&id) {
                Some(&row) => {
                    rows.emits[row] = emit;
                    row
                }
                None => {
                    let row = rows.len();
                    rows.index.insert(id, row);
                    rows.keys.push(group.key.clone());
                    rows.starts.push(group.window.start);
                    rows.ends.push(group.window.end);
                    rows.emits.push(emit);
                    rows.values.iter_mut().for_each(|column| column.push(None));
                    row
                }
            };
            let mut column = 0;
            for (_, outputs, values) in &finished.columns {
                let n = outputs.len();
                for &v in &values[i * n..(i + 1) * n] {
                    rows.values[column][row] = v.is_finite().then_some(v);
                    column += 1;
                }
            }
        }
        Ok(emitted.groups.len())
    }

    /// Sends the buffered rows in one statement: committed at once, or (exactly-once) into
    /// the open transaction.
    pub fn flush(&mut self) -> Result<(), PostgresError> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        let Some(prepared) = &self.prepared else {
            return Ok(());
        };
        if self.transactional && !self.in_transaction {
            self.client
                .batch_execute("BEGIN")
                .map_err(query("starting a transaction"))?;
            self.in_transaction = true;
        }
        let rows = &self.rows;
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&rows.keys, &rows.starts, &rows.ends, &rows.emits];
        params.extend(rows.values.iter().map(|v| v as &(dyn ToSql + Sync)));
        self.client
            .execute(&prepared.upsert, &params)
            .map_err(query("upserting results"))?;
        self.rows.clear();
        Ok(())
    }

    /// Whether rows are committed with the progress (exactly-once).
    pub fn is_transactional(&self) -> bool {
        self.transactional
    }

    /// Exactly-once: sends what is buffered, writes each partition's progress (with the
    /// checkpoint it belongs to) for `pipeline` and commits everything in one transaction.
    pub fn commit(
        &mut self,
        pipeline: &str,
        progress: &[Progress],
        checkpoint: Option<u64>,
    ) -> Result<(), PostgresError> {
        self.flush()?;
        let Some(statement) = &self.progress else {
            return Err(PostgresError::Query {
                what: "committing progress",
                message: "the sink is not transactional".into(),
            });
        };
        if !self.in_transaction {
            self.client
                .batch_execute("BEGIN")
                .map_err(query("starting a transaction"))?;
            self.in_transaction = true;
        }
        let partitions: Vec<i32> = progress
            .iter()
            .map(|p| i32::try_from(p.partition).unwrap_or(i32::MAX))
            .collect();
        let offsets: Vec<i64> = progress.iter().map(|p| p.offset).collect();
        let read_to: Vec<i64> = progress.iter().map(|p| p.read_to).collect();
        let watermarks: Vec<i64> = progress.iter().map(|p| p.watermark).collect();
        let checkpoint = checkpoint.and_then(|id| i64::try_from(id).ok());
        self.client
            .execute(
                statement,
                &[
                    &pipeline,
                    &partitions,
                    &offsets,
                    &read_to,
                    &watermarks,
                    &checkpoint,
                ],
            )
            .map_err(query("writing progress"))?;
        self.in_transaction = false;
        self.client
            .batch_execute("COMMIT")
            .map_err(query("committing results and progress"))?;
        Ok(())
    }

    /// Exactly-once: drops what was written since the last commit (partitions revoked, a
    /// batch to read again).
    pub fn discard(&mut self) -> Result<(), PostgresError> {
        self.rows.clear();
        if self.in_transaction {
            self.in_transaction = false;
            self.client
                .batch_execute("ROLLBACK")
                .map_err(query("rolling back"))?;
        }
        Ok(())
    }

    /// The connection string, password hidden.
    pub fn url(&self) -> String {
        self.url.redacted()
    }
}

/// The progress exactly-once committed with the results, read on its own connection (it sees
/// committed transactions only): where assigned partitions continue.
pub struct PostgresProgress {
    client: Mutex<Client>,
    select: String,
    pipeline: String,
}

impl PostgresProgress {
    /// Connects to the sink's server, for the progress of `pipeline` (the Kafka group id).
    /// The progress table is made by [`PostgresTable::transactional`], which runs first.
    pub fn connect(sink: &PostgresSink, pipeline: &str) -> Result<Self, PostgresError> {
        let table = TableName::parse(&sink.table)
            .sibling(PROGRESS_TABLE)
            .quoted();
        Ok(Self {
            client: Mutex::new(connect(&sink.url)?),
            select: format!(
                "SELECT partition, next_offset, read_to, watermark, checkpoint FROM {table}
                 WHERE pipeline = $1 AND partition = ANY($2)"
            ),
            pipeline: pipeline.to_string(),
        })
    }

    /// Each of `partitions` that has committed progress: its offset and what it says.
    pub fn positions(
        &self,
        partitions: &[u32],
    ) -> Result<BTreeMap<u32, (i64, Committed)>, PostgresError> {
        let wanted: Vec<i32> = partitions
            .iter()
            .filter_map(|&p| i32::try_from(p).ok())
            .collect();
        let mut client = self.client.lock().unwrap_or_else(|e| e.into_inner());
        let rows = client
            .query(&self.select, &[&self.pipeline, &wanted])
            .map_err(query("reading progress"))?;
        let mut positions = BTreeMap::new();
        let read = query("reading progress");
        for row in rows {
            let partition: i32 = row.try_get(0).map_err(&read)?;
            let Ok(partition) = u32::try_from(partition) else {
                continue;
            };
            let checkpoint: Option<i64> = row.try_get(4).map_err(&read)?;
            positions.insert(
                partition,
                (
                    row.try_get(1).map_err(&read)?,
                    Committed {
                        replay: Replay {
                            read_to: row.try_get(2).map_err(&read)?,
                            watermark: row.try_get(3).map_err(&read)?,
                        },
                        checkpoint: checkpoint.and_then(|id| u64::try_from(id).ok()),
                    },
                ),
            );
        }
        Ok(positions)
    }
}

impl crate::kafka::ProgressSource for PostgresProgress {
    fn positions(&self, partitions: &[u32]) -> Result<BTreeMap<u32, (i64, Committed)>, String> {
        PostgresProgress::positions(self, partitions).map_err(|e| e.to_string())
    }
}
