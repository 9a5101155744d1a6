//! Results, late events and dead letters as JSON lines, and the writers they go to.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Number, Value};

use crate::aggregate::Finished;
use crate::config::{SideOutputConfig, SinkConfig};
use crate::groups::Group;

/// Why a window's result was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Emit {
    /// Before the window's end, by a count or processing-time trigger: a partial result.
    Early,
    /// The watermark passed the window's end.
    OnTime,
    /// Events within the allowed lateness changed a window whose end the watermark had passed.
    LateUpdate,
}

impl Emit {
    /// The name in results: `early`, `on_time` or `late_update`.
    pub fn as_str(self) -> &'static str {
        match self {
            Emit::Early => "early",
            Emit::OnTime => "on_time",
            Emit::LateUpdate => "late_update",
        }
    }
}

/// A JSON number for `v`: an integer when `v` is whole and exact, `null` when not finite.
pub fn number(v: f64) -> Value {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(v as i64))
    } else {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

/// Writes the results of `groups` as JSON lines onto `out`, fields in this order: `key`,
/// `window_start`, `window_end`, `emit`, then one field per aggregate (a number, or an object
/// when it has several named outputs). Returns the number of results written.
pub fn write_results(
    groups: &[Group],
    finished: &Finished,
    emit: Emit,
    out: &mut Vec<u8>,
) -> usize {
    let string = |out: &mut Vec<u8>, s: &str| {
        // Serialising a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    };
    let num = |out: &mut Vec<u8>, v: f64| {
        let _ = serde_json::to_writer(&mut *out, &number(v));
    };
    for (i, group) in groups.iter().enumerate() {
        out.extend_from_slice(b"{\"key\":");
        string(out, &group.key);
        out.extend_from_slice(b",\"window_start\":");
        out.extend_from_slice(group.window.start.to_string().as_bytes());
        out.extend_from_slice(b",\"window_end\":");
        out.extend_from_slice(group.window.end.to_string().as_bytes());
        out.extend_from_slice(b",\"emit\":\"");
        out.extend_from_slice(emit.as_str().as_bytes());
        out.push(b'"');
        for (name, outputs, values) in &finished.columns {
            let row = &values[i * outputs.len()..(i + 1) * outputs.len()];
            out.push(b',');
            string(out, name);
            out.push(b':');
            if outputs.len() == 1 && outputs[0].is_empty() {
                num(out, row[0]);
            } else {
                out.push(b'{');
                for (j, (output, &v)) in outputs.iter().zip(row).enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    string(out, output);
                    out.push(b':');
                    num(out, v);
                }
                out.push(b'}');
            }
        }
        out.extend_from_slice(b"}\n");
    }
    groups.len()
}

/// The side-output record of an event: the reason, extra fields, and the event itself (as JSON
/// when it parses, else as text).
pub fn side_record(reason: &str, extra: &[(&str, Value)], payload: &[u8]) -> Value {
    let mut object = Map::new();
    object.insert("reason".into(), Value::from(reason));
    for (key, value) in extra {
        object.insert((*key).into(), value.clone());
    }
    let event = serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()));
    object.insert("event".into(), event);
    Value::Object(object)
}

/// A shared in-memory buffer a [`JsonLines`] writes to; for tests and embedding.
#[derive(Debug, Clone, Default)]
pub struct MemoryBuffer(Arc<Mutex<Vec<u8>>>);

impl MemoryBuffer {
    /// Takes the bytes written so far.
    pub fn take_bytes(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes the lines written so far, parsed.
    pub fn take(&self) -> Vec<Value> {
        let bytes = self.take_bytes();
        bytes
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect()
    }
}

impl Write for MemoryBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes JSON values, one per line.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
}

impl JsonLines {
    /// Lines to any writer.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out }
    }

    /// Lines kept in memory, readable through the returned buffer.
    pub fn memory() -> (Self, MemoryBuffer) {
        let buffer = MemoryBuffer::default();
        (Self::new(Box::new(buffer.clone())), buffer)
    }

    /// Lines appended to a file.
    pub fn file(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self::new(Box::new(BufWriter::new(file))))
    }

    /// The writer a sink config names.
    pub fn for_sink(config: &SinkConfig) -> io::Result<Self> {
        match config {
            SinkConfig::Stdout => Ok(Self::new(Box::new(io::stdout()))),
            SinkConfig::File { path } => Self::file(path),
            SinkConfig::Kafka { topic } => Err(not_lines(topic)),
        }
    }

    /// The writer a side-output config names.
    pub fn for_side_output(config: &SideOutputConfig) -> io::Result<Self> {
        match config {
            SideOutputConfig::Stderr => Ok(Self::new(Box::new(io::stderr()))),
            SideOutputConfig::Stdout => Ok(Self::new(Box::new(io::stdout()))),
            SideOutputConfig::File { path } => Self::file(path),
            SideOutputConfig::Kafka { topic } => Err(not_lines(topic)),
        }
    }

    /// Writes bytes that already hold whole lines.
    pub fn write_raw(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out.write_all(lines)
    }

    /// Writes values, one per line, in one write to the underlying writer.
    pub fn write(&mut self, values: &[Value]) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(values.len() * 128);
        for value in values {
            serde_json::to_writer(&mut buffer, value)?;
            buffer.push(b'\n');
        }
        self.out.write_all(&buffer)
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn not_lines(topic: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("Kafka topic `{topic}` is written by a producer, not as lines"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::Window;

    #[test]
    fn results_have_fixed_fields_then_aggregates() {
        let groups = vec![Group {
            window: Window { start: 0, end: 10 },
            key: "k".into(),
            fired: true,
            pending: 0,
            first_offset: i64::MAX,
        }];
        let finished = Finished {
            columns: vec![
                ("n".into(), vec![String::new()], vec![2.0]),
                (
                    "lat".into(),
                    vec!["p50".into(), "p99".into()],
                    vec![1.5, f64::NAN],
                ),
            ],
        };
        let mut out = Vec::new();
        assert_eq!(write_results(&groups, &finished, Emit::OnTime, &mut out), 1);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"key\":\"k\",\"window_start\":0,\"window_end\":10,\"emit\":\"on_time\",\"n\":2,\"lat\":{\"p50\":1.5,\"p99\":null}}\n"
        );
    }

    #[test]
    fn side_records_keep_the_event() {
        let r = side_record("late", &[("watermark", Value::from(5))], br#"{"a":1}"#);
        assert_eq!(
            r.to_string(),
            r#"{"event":{"a":1},"reason":"late","watermark":5}"#
        );
        let r = side_record("bad", &[], b"\xffx");
        assert_eq!(r["event"], Value::from("\u{fffd}x"));
    }
}
