//! Native aggregates behind the engine's plugin trait, and a driver that runs JSON events
//! through the window operator: the operator tested without Wasm, Kafka or RocksDB.

use std::collections::HashMap;

use eddy_engine::aggregate::{
    Aggregates, AggregatorInstance, AggregatorLoader, PluginError, PluginInfo, PluginKind,
    SavedColumn,
};
use eddy_engine::config::Config;
use eddy_engine::decode::Decoder;
use eddy_engine::event::RawBatch;
use eddy_engine::operator::{Operator, Output};
use eddy_engine::results::Emit;
use eddy_engine::snapshot::OperatorSnapshot;

/// What a native aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Count,
    Sum,
    Min,
    Max,
}

/// One accumulator per slot, as a Wasm plugin keeps them in its memory.
pub struct Native {
    kind: Kind,
    info: PluginInfo,
    outputs: Vec<String>,
    slots: HashMap<u32, f64>,
}

impl Native {
    pub fn new(kind: Kind, name: &str, state_format: u32) -> Self {
        Self {
            kind,
            info: PluginInfo {
                name: name.to_string(),
                version: "1.0.0".into(),
                kind: PluginKind::Aggregator,
                state_format,
                description: format!("native {name}"),
                config_schema: "{}".into(),
            },
            outputs: vec![String::new()],
            slots: HashMap::new(),
        }
    }

    fn add(&self, acc: Option<f64>, value: f64) -> f64 {
        match (self.kind, acc) {
            (Kind::Count, acc) => acc.unwrap_or(0.0) + 1.0,
            (Kind::Sum, acc) => acc.unwrap_or(0.0) + value,
            (Kind::Min, Some(acc)) => acc.min(value),
            (Kind::Max, Some(acc)) => acc.max(value),
            (Kind::Min | Kind::Max, None) => value,
        }
    }

    fn combine(&self, a: f64, b: f64) -> f64 {
        match self.kind {
            Kind::Count | Kind::Sum => a + b,
            Kind::Min => a.min(b),
            Kind::Max => a.max(b),
        }
    }
}

impl AggregatorInstance for Native {
    fn info(&self) -> &PluginInfo {
        &self.info
    }

    fn outputs(&self) -> &[String] {
        &self.outputs
    }

    fn accumulate(&mut self, slots: &[u32], values: &[f64]) -> Result<(), PluginError> {
        for (&slot, &value) in slots.iter().zip(values) {
            let next = self.add(self.slots.get(&slot).copied(), value);
            self.slots.insert(slot, next);
        }
        Ok(())
    }

    fn merge(&mut self, targets: &[u32], sources: &[u32]) -> Result<(), PluginError> {
        for (&target, &source) in targets.iter().zip(sources) {
            let Some(from) = self.slots.remove(&source) else {
                continue;
            };
            let merged = match self.slots.get(&target) {
                Some(&into) => self.combine(into, from),
                None => from,
            };
            self.slots.insert(target, merged);
        }
        Ok(())
    }

    fn finish(&mut self, slots: &[u32]) -> Result<Vec<f64>, PluginError> {
        Ok(slots
            .iter()
            .map(|s| self.slots.get(s).copied().unwrap_or(f64::NAN))
            .collect())
    }

    fn release(&mut self, slots: &[u32]) -> Result<(), PluginError> {
        for slot in slots {
            self.slots.remove(slot);
        }
        Ok(())
    }

    fn save(&mut self, slots: &[u32]) -> Result<SavedColumn, PluginError> {
        let mut column = SavedColumn {
            data: Vec::new(),
            offsets: vec![0],
        };
        for slot in slots {
            if let Some(value) = self.slots.get(slot) {
                column.data.extend_from_slice(&value.to_le_bytes());
            }
            column.offsets.push(column.data.len() as u32);
        }
        Ok(column)
    }

    fn restore(&mut self, slots: &[u32], states: &SavedColumn) -> Result<(), PluginError> {
        for (i, &slot) in slots.iter().enumerate() {
            let (from, to) = (states.offsets[i] as usize, states.offsets[i + 1] as usize);
            let bytes: [u8; 8] = match states.data[from..to].try_into() {
                Ok(bytes) => bytes,
                Err(_) if from == to => continue,
                Err(_) => {
                    return Err(PluginError::Failed {
                        plugin: self.info.name.clone(),
                        call: "restore",
                        message: format!("{} state bytes", to - from),
                    });
                }
            };
            self.slots.insert(slot, f64::from_le_bytes(bytes));
        }
        Ok(())
    }
}

/// Loads `count`, `sum`, `min` and `max` natively.
pub struct NativeLoader;

impl AggregatorLoader for NativeLoader {
    fn load_aggregator(
        &self,
        source: &str,
        _config: &str,
    ) -> Result<Box<dyn AggregatorInstance>, PluginError> {
        let kind = match source {
            "count" => Kind::Count,
            "sum" => Kind::Sum,
            "min" => Kind::Min,
            "max" => Kind::Max,
            other => {
                return Err(PluginError::Invalid {
                    plugin: other.to_string(),
                    message: "no such native aggregate".into(),
                });
            }
        };
        Ok(Box::new(Native::new(kind, source, 1)))
    }
}

/// A result as the tests compare them: emit kind, key, window start and end, one value per
/// aggregate (the first output of each).
pub type Row = (Emit, String, i64, i64, Vec<f64>);

/// A window operator over native aggregates, fed JSON events.
pub struct Driver {
    pub config: Config,
    pub operator: Operator,
    decoder: Decoder,
    next_offset: i64,
    /// The events of the last batch refused by `state.max_open_groups` (batch indexes).
    pub refused: Vec<usize>,
}

impl Driver {
    /// An operator for the pipeline `yaml` describes (its `source` is irrelevant here).
    pub fn new(yaml: &str) -> Self {
        let config = Config::from_yaml(yaml).expect("a valid config");
        let aggregates = Aggregates::new(&NativeLoader, &config.aggregates).expect("natives load");
        Self {
            operator: Operator::new(&config, aggregates),
            decoder: Decoder::new(&config.decode, &config.aggregates),
            config,
            next_offset: 0,
            refused: Vec::new(),
        }
    }

    /// Feeds one batch of `(key, event time ms, value)` at processing time `now_ms`.
    pub fn feed(&mut self, events: &[(&str, i64, f64)], now_ms: i64) -> (Vec<Row>, Vec<i64>) {
        let mut batch = RawBatch::default();
        for (key, ts, value) in events {
            let json = format!(r#"{{"key":"{key}","ts":{ts},"v":{value}}}"#);
            batch.push_at(json.as_bytes(), *ts, self.next_offset);
            self.next_offset += 1;
        }
        let decoded = self.decoder.decode(&batch);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        let out = self
            .operator
            .process(0, &decoded, &batch.source_offsets, now_ms)
            .expect("the batch is processed");
        let late = out.late.iter().map(|l| l.time).collect();
        self.refused.clone_from(&out.refused);
        (rows(&out), late)
    }

    /// Lets processing time pass.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Row> {
        rows(&self.operator.tick(now_ms).expect("tick"))
    }

    /// Ends the input: every open window fires.
    pub fn close(&mut self) -> Vec<Row> {
        rows(&self.operator.close().expect("close"))
    }
}

/// The rows of an output, sorted by key, window and emit kind.
pub fn rows(out: &Output) -> Vec<Row> {
    let mut rows = Vec::new();
    for emitted in &out.results {
        for (i, group) in emitted.groups.iter().enumerate() {
            let values = emitted
                .finished
                .columns
                .iter()
                .map(|(_, outputs, values)| values[i * outputs.len()])
                .collect();
            rows.push((
                emitted.emit,
                group.key.to_string(),
                group.window.start,
                group.window.end,
                values,
            ));
        }
    }
    rows.sort_by(|a, b| (&a.1, a.2, a.3, a.0).cmp(&(&b.1, b.2, b.3, b.0)));
    rows
}

/// The header of every test pipeline: keys at `/key`, event time at `/ts`, values at `/v`,
/// count and sum over them.
pub const AGGREGATES: &str = "
source: { type: stdin }
decode: { key: /key, time: /ts }
aggregates:
  - { name: n, plugin: count }
  - { name: total, plugin: sum, field: /v }
";

/// A group as compared: key, start, end, fired, pending, each aggregate's state.
pub type Compared = (String, i64, i64, bool, u64, Vec<Vec<u8>>);

/// Groups with their aggregate states, in key and window order (a delta appends new groups
/// after the old ones, so only the set is compared).
pub fn canonical(snapshot: &OperatorSnapshot) -> Vec<Compared> {
    let mut groups: Vec<_> = snapshot
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let states = snapshot
                .states
                .iter()
                .map(|c| c.data[c.offsets[i] as usize..c.offsets[i + 1] as usize].to_vec())
                .collect();
            (g.key.clone(), g.start, g.end, g.fired, g.pending, states)
        })
        .collect();
    groups.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
    groups
}
