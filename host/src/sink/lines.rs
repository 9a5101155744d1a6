//! JSON lines written to standard output, standard error, a file or memory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use eddy_engine::config::{FileMode, SideOutputConfig, SinkConfig};
use serde_json::Value;

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

    /// Lines written to a file: emptied first with [`FileMode::Truncate`], kept with
    /// [`FileMode::Append`]. Writes always append, so outputs sharing a file do not overwrite
    /// each other's lines.
    pub fn file(path: &Path, mode: FileMode) -> io::Result<Self> {
        if mode == FileMode::Truncate {
            File::create(path)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self::new(Box::new(BufWriter::new(file))))
    }

    /// The writer a sink config names.
    pub fn for_sink(config: &SinkConfig) -> io::Result<Self> {
        match config {
            SinkConfig::Stdout => Ok(Self::new(Box::new(io::stdout()))),
            SinkConfig::File { path, mode } => Self::file(path, *mode),
            SinkConfig::Kafka { topic, .. } => Err(not_lines(topic)),
            SinkConfig::Postgres(sink) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("PostgreSQL table `{}` is not written as lines", sink.table),
            )),
        }
    }

    /// The writer a side-output config names.
    pub fn for_side_output(config: &SideOutputConfig) -> io::Result<Self> {
        match config {
            SideOutputConfig::Stderr => Ok(Self::new(Box::new(io::stderr()))),
            SideOutputConfig::Stdout => Ok(Self::new(Box::new(io::stdout()))),
            SideOutputConfig::File { path, mode } => Self::file(path, *mode),
            SideOutputConfig::Kafka { topic } => Err(not_lines(topic)),
            SideOutputConfig::Postgres { table, .. } => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("PostgreSQL table `{table}` is not written as lines"),
            )),
        }
    }

    /// Writes bytes that already hold whole lines.
    pub fn write_raw(&mut self, lines: &[u8]) -> io::Result<()> {
        self.out.write_all(lines)
    }

    /// Writes values, one per line, in one write to the underlying writer.
    pub fn write(&mut self, values: &[Value]) -> io::Result<()> {
        self.out.write_all(&encode(values)?)
    }

    /// Flushes what was written.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Values as JSON lines.
pub(super) fn encode(values: &[Value]) -> io::Result<Vec<u8>> {
    let mut buffer = Vec::with_capacity(values.len() * 128);
    for value in values {
        serde_json::to_writer(&mut buffer, value)?;
        buffer.push(b'\n');
    }
    Ok(buffer)
}

fn not_lines(topic: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("Kafka topic `{topic}` is written by a producer, not as lines"),
    )
}
