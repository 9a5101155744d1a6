//! Results buffered for the next upsert, column by column, one row per window: a later
//! result of a window replaces its row in the buffer (one statement may not update a row
//! twice).

use std::collections::HashMap;
use std::sync::Arc;

use eddy_engine::operator::Emitted;
use postgres::types::ToSql;

/// Buffered results.
#[derive(Default)]
pub struct Rows {
    keys: Vec<String>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    emits: Vec<&'static str>,
    values: Vec<Vec<Option<f64>>>,
    /// Row of each (key, start, end).
    index: HashMap<(Arc<str>, i64, i64), usize>,
}

impl Rows {
    /// An empty buffer for `columns` value columns.
    pub fn with_columns(columns: usize) -> Self {
        Self {
            values: vec![Vec::new(); columns],
            ..Self::default()
        }
    }

    /// Rows buffered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.starts.clear();
        self.ends.clear();
        self.emits.clear();
        self.values.iter_mut().for_each(Vec::clear);
        self.index.clear();
    }

    /// The upsert's parameters: one array per column.
    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> =
            vec![&self.keys, &self.starts, &self.ends, &self.emits];
        params.extend(self.values.iter().map(|v| v as &(dyn ToSql + Sync)));
        params
    }

    /// Buffers the results of `emitted`, whose aggregate columns are those of the table
    /// (checked by the caller).
    pub fn add(&mut self, emitted: &Emitted) {
        let emit = emitted.emit.as_str();
        let finished = &emitted.finished;
        for (i, group) in emitted.groups.iter().enumerate() {
            let id = (group.key.clone(), group.window.start, group.window.end);
            let row = match self.index.get(&id) {
                Some(&row) => {
                    self.emits[row] = emit;
                    row
                }
                None => {
                    let row = self.len();
                    self.index.insert(id, row);
                    self.keys.push(group.key.to_string());
                    self.starts.push(group.window.start);
                    self.ends.push(group.window.end);
                    self.emits.push(emit);
                    self.values.iter_mut().for_each(|column| column.push(None));
                    row
                }
            };
            let mut column = 0;
            for (_, outputs, values) in &finished.columns {
                let n = outputs.len();
                for &v in &values[i * n..(i + 1) * n] {
                    self.values[column][row] = v.is_finite().then_some(v);
                    column += 1;
                }
            }
        }
    }
}
