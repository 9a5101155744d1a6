//! A stream of lines (standard input, a pipe) read on a thread of its own, so that a batch can
//! close after a linger even while no more input comes: the reading thread blocks, not the
//! pipeline.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use super::Source;
use crate::event::RawBatch;

/// Bytes read at a time; a chunk ends at its last newline (the rest waits for more).
const CHUNK: usize = 64 * 1024;
/// Chunks read ahead of the pipeline.
const AHEAD: usize = 16;

/// Lines of a stream, one record per non-empty line, in batches closed by size or linger.
pub struct Streaming {
    chunks: Receiver<io::Result<Vec<u8>>>,
    /// Whole lines received and not yet batched.
    pending: Vec<u8>,
    /// Where in `pending` the next line starts.
    start: usize,
    linger: Duration,
    ended: bool,
    /// Lines taken so far (blank ones included).
    number: u64,
}

impl Streaming {
    /// Reads `input` on a thread of its own.
    pub fn new(input: impl Read + Send + 'static, linger: Duration) -> io::Result<Self> {
        let (sender, chunks) = sync_channel(AHEAD);
        std::thread::Builder::new()
            .name("eddy-source".into())
            .spawn(move || read_chunks(input, &sender))?;
        Ok(Self {
            chunks,
            pending: Vec::new(),
            start: 0,
            linger,
            ended: false,
            number: 0,
        })
    }

    /// Moves whole lines from `pending` into `batch` until it holds `size` records.
    fn take_lines(&mut self, batch: &mut RawBatch, size: usize) {
        while batch.len() < size && self.start < self.pending.len() {
            let rest = &self.pending[self.start..];
            let (line, used) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => (&rest[..end], end + 1),
                None => (rest, rest.len()),
            };
            self.number += 1;
            let line = line.trim_ascii();
            if line.is_empty() {
                batch.blank_lines += 1;
            } else {
                batch.push_line(line, 0, self.number);
            }
            self.start += used;
        }
        if self.start == self.pending.len() {
            self.pending.clear();
            self.start = 0;
        }
    }
}

/// Sends `input` in chunks of whole lines (the last one may lack its newline).
fn read_chunks(mut input: impl Read, sender: &SyncSender<io::Result<Vec<u8>>>) {
    let mut carry = Vec::new();
    let mut buffer = vec![0; CHUNK];
    loop {
        match input.read(&mut buffer) {
            Ok(0) => {
                if !carry.is_empty() {
                    let _ = sender.send(Ok(carry));
                }
                return;
            }
            Ok(n) => {
                carry.extend_from_slice(&buffer[..n]);
                // Only the new bytes can hold a newline (the carry had none): a long line is
                // not searched again on every read.
                let new = carry.len() - n;
                if let Some(end) = carry[new..]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map(|e| e + new)
                {
                    let rest = carry.split_off(end + 1);
                    if sender
                        .send(Ok(std::mem::replace(&mut carry, rest)))
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                let _ = sender.send(Err(error));
                return;
            }
        }
    }
}

impl Source for Streaming {
    fn next_batch(&mut self, size: usize) -> io::Result<Option<RawBatch>> {
        let mut batch = RawBatch::with_capacity(size, 0);
        let mut deadline: Option<Instant> = None;
        loop {
            self.take_lines(&mut batch, size);
            if batch.len() >= size || self.ended {
                break;
            }
            if !batch.is_empty() && deadline.is_none() {
                deadline = Some(Instant::now() + self.linger);
            }
            let received = match deadline {
                None => self
                    .chunks
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(deadline) => self
                    .chunks
                    .recv_timeout(deadline.saturating_duration_since(Instant::now())),
            };
            match received {
                Ok(chunk) => {
                    let chunk = chunk?;
                    if self.pending.is_empty() {
                        // Taken as it is: a long line is not copied once more.
                        self.pending = chunk;
                    } else {
                        self.pending.extend_from_slice(&chunk);
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => self.ended = true,
            }
        }
        Ok((!batch.is_empty() || batch.blank_lines > 0).then_some(batch))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_batch_closes_after_the_linger_while_the_stream_stays_open() {
        let (reader, mut writer) = io::pipe().expect("a pipe");
        let mut source = Streaming::new(reader, Duration::from_millis(50)).expect("source");
        writer.write_all(b"a\n\nb\n").expect("written");
        let started = Instant::now();
        let batch = source.next_batch(1024).expect("read").expect("a batch");
        assert_eq!(batch.len(), 2, "blank lines are skipped");
        assert!(started.elapsed() < Duration::from_secs(5));
        writer.write_all(b"c\nd").expect("written");
        drop(writer);
        let batch = source.next_batch(1024).expect("read").expect("a batch");
        assert_eq!((batch.payload(0), batch.payload(1)), (&b"c"[..], &b"d"[..]));
        assert!(source.next_batch(1024).expect("read").is_none());
    }

    #[test]
    fn full_batches_do_not_wait() {
        let input: Vec<u8> = (0..10)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut source =
            Streaming::new(io::Cursor::new(input), Duration::from_secs(3600)).expect("source");
        let sizes: Vec<usize> = std::iter::from_fn(|| source.next_batch(4).expect("read"))
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [4, 4, 2]);
    }
}
