//! Sources of raw records: JSON lines from a file or standard input, or the generator.

mod streaming;

pub use streaming::Streaming;

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::time::Duration;

use crate::config::SourceConfig;
use crate::event::RawBatch;
use crate::generator::Generator;

/// Something that yields batches of records.
pub trait Source {
    /// The next batch of at most `size` records; `None` at the end of the input.
    fn next_batch(&mut self, size: usize) -> io::Result<Option<RawBatch>>;
}

/// One record per non-empty line. Records have timestamp 0 (lines carry no record time).
pub struct Lines<R> {
    reader: R,
    line: Vec<u8>,
    /// Lines read so far (blank ones included).
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// Lines from `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            line: Vec::new(),
            number: 0,
        }
    }
}

impl<R: BufRead> Source for Lines<R> {
    fn next_batch(&mut self, size: usize) -> io::Result<Option<RawBatch>> {
        let mut batch = RawBatch::with_capacity(size, size * 64);
        while batch.len() < size {
            self.line.clear();
            if self.reader.read_until(b'\n', &mut self.line)? == 0 {
                break;
            }
            self.number += 1;
            let line = self.line.trim_ascii();
            if line.is_empty() {
                batch.blank_lines += 1;
            } else {
                batch.push_line(line, 0, self.number);
            }
        }
        Ok((!batch.is_empty() || batch.blank_lines > 0).then_some(batch))
    }
}

impl Source for Generator {
    fn next_batch(&mut self, size: usize) -> io::Result<Option<RawBatch>> {
        Ok(Generator::next_batch(self, size))
    }
}

/// The source a config names. Standard input and files that are not regular files (pipes,
/// devices) are streams: a batch is also closed `linger` after its first record, so a slow
/// stream gets its results when the watermark says so. A regular file is read as fast as it
/// goes, in full batches.
pub fn open(config: &SourceConfig, linger: Duration) -> io::Result<Box<dyn Source + Send>> {
    Ok(match config {
        SourceConfig::Stdin => Box::new(Streaming::new(io::stdin(), linger)?),
        SourceConfig::File { path } => {
            let file = File::open(path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot open source file {}: {e}", path.display()),
                )
            })?;
            if file.metadata()?.is_file() {
                Box::new(Lines::new(BufReader::new(file)))
            } else {
                Box::new(Streaming::new(file, linger)?)
            }
        }
        SourceConfig::Generator(config) => Box::new(Generator::new(config.clone())),
        SourceConfig::Kafka { topic } => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Kafka topic `{topic}` is read by the Kafka loop (the host's Kafka loop)"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_blanks_and_batch() {
        let mut source = Lines::new(&b"a\n\n  b  \nc"[..]);
        let first = source.next_batch(2).expect("read").expect("batch");
        assert_eq!((first.payload(0), first.payload(1)), (&b"a"[..], &b"b"[..]));
        assert_eq!(
            (first.lines.as_slice(), first.blank_lines),
            (&[1, 3][..], 1)
        );
        let second = source.next_batch(2).expect("read").expect("batch");
        assert_eq!(second.payload(0), b"c");
        assert_eq!(second.line(0), Some(4));
        assert!(source.next_batch(2).expect("read").is_none());
    }
}
