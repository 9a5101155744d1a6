//! Reading and decoding a bounded source ahead of the loop, on threads of their own: the loop
//! then only runs transforms, windows, aggregates and writing, and decoding (the largest part
//! of the work when keys are few) is spread over the cores.

use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use eddy_engine::decode::{DecodedBatch, Decoder};
use eddy_engine::event::RawBatch;
use eddy_engine::source::Source;

/// The next batch and its events, the end of the input, or why reading failed.
pub type Next = io::Result<Option<(RawBatch, DecodedBatch)>>;

/// Batches read and decoded ahead by a few threads, handed out in the order they were read.
pub struct ReadAhead {
    receiver: Receiver<(u64, Next)>,
    /// Batches that came before their turn, by number.
    early: BTreeMap<u64, Next>,
    turn: u64,
}

/// The source and the number of the next batch taken from it.
type Shared = Arc<Mutex<(Box<dyn Source + Send>, u64)>>;

impl ReadAhead {
    /// Starts `threads` (at least one) readers of `source`, each decoding the batches it reads
    /// with `decoder` (none: transforms come first, the loop decodes), at most two waiting
    /// per thread.
    pub fn start(
        source: Box<dyn Source + Send>,
        decoder: Option<Decoder>,
        batch_size: usize,
        threads: usize,
    ) -> io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = sync_channel(2 * threads);
        let shared: Shared = Arc::new(Mutex::new((source, 0)));
        for i in 0..threads {
            let (shared, sender, decoder) = (Arc::clone(&shared), sender.clone(), decoder.clone());
            std::thread::Builder::new()
                .name(format!("eddy-reader-{i}"))
                .spawn(move || read(&shared, decoder.as_ref(), batch_size, &sender))?;
        }
        Ok(Self {
            receiver,
            early: BTreeMap::new(),
            turn: 0,
        })
    }

    /// The next batch in reading order. Every reader sends the end of the input or its error
    /// before it ends: all gone before that, one panicked, and what it had not handed over
    /// must not pass for the end.
    pub fn next(&mut self) -> Next {
        loop {
            if let Some(next) = self.early.remove(&self.turn) {
                self.turn += 1;
                return next;
            }
            let (number, next) = self.receiver.recv().map_err(|_| {
                io::Error::other("the source readers stopped before the end of the input")
            })?;
            self.early.insert(number, next);
        }
    }
}

/// One reader: takes the next batch (and its number) from the source, decodes it and sends it,
/// until the end of the input, an error, or nobody receives.
fn read(
    shared: &Shared,
    decoder: Option<&Decoder>,
    batch_size: usize,
    sender: &SyncSender<(u64, Next)>,
) {
    loop {
        let (number, read) = {
            let mut source = shared.lock().unwrap_or_else(PoisonError::into_inner);
            let number = source.1;
            source.1 += 1;
            (number, source.0.next_batch(batch_size))
        };
        let last = !matches!(read, Ok(Some(_)));
        let next = read.map(|batch| {
            batch.map(|batch| {
                let decoded = decoder.map(|d| d.decode(&batch)).unwrap_or_default();
                (batch, decoded)
            })
        });
        if sender.send((number, next)).is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::config::{AggregateConfig, DecodeConfig, TimeFormat};
    use eddy_engine::source::Lines;

    #[test]
    fn batches_come_in_reading_order_then_the_end() {
        let lines: String = (0..10_000)
            .map(|i| format!("{{\"k\":\"k{i}\",\"t\":{i}}}\n"))
            .collect();
        let source = Box::new(Lines::new(io::Cursor::new(lines.into_bytes())));
        let decode = DecodeConfig {
            key: "/k".into(),
            time: "/t".into(),
            time_format: TimeFormat::EpochMs,
            ..DecodeConfig::default()
        };
        let decoder = Decoder::new(&decode, &Vec::<AggregateConfig>::new());
        let mut ahead = ReadAhead::start(source, Some(decoder), 7, 3).expect("threads");
        let mut times = Vec::new();
        while let Some((batch, decoded)) = ahead.next().expect("read") {
            assert_eq!(batch.len(), decoded.times.len());
            times.extend(decoded.times);
        }
        assert_eq!(times, (0..10_000).collect::<Vec<i64>>());
    }
}
