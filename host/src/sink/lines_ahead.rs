//! JSON lines encoded and written on a thread of their own: the loop hands over its results
//! and goes on while they are encoded and written (the largest part of its work when most
//! windows hold a few events). Used for the results of bounded runs (`eddy run` on a file or a
//! stream); errors come back on the next call.

use std::io;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use eddy_engine::operator::Emitted;
use eddy_engine::results;

use super::JsonLines;

/// Results waiting for the writer thread, at most.
const WAITING: usize = 16;

enum Message {
    /// Results to encode and write.
    Results(Emitted),
    /// Lines already encoded.
    Raw(Vec<u8>),
    /// Flush, then tell the sender (when it waits).
    Flush(Option<SyncSender<()>>),
}

/// A [`JsonLines`] written by a thread of its own.
pub struct LinesAhead {
    sender: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<()>>,
    /// The first error of the thread; it writes nothing after it.
    error: Arc<Mutex<Option<io::Error>>>,
}

impl LinesAhead {
    /// Starts the thread that writes `lines`.
    pub fn start(mut lines: JsonLines) -> io::Result<Self> {
        let (sender, receiver) = sync_channel::<Message>(WAITING);
        let error = Arc::new(Mutex::new(None));
        let failed = Arc::clone(&error);
        let thread = std::thread::Builder::new()
            .name("eddy-writer".into())
            .spawn(move || {
                let mut scratch = Vec::new();
                for message in receiver {
                    let done = match message {
                        Message::Results(emitted) => {
                            scratch.clear();
                            results::write_results(
                                &emitted.groups,
                                &emitted.finished,
                                emitted.emit,
                                &mut scratch,
                            );
                            lines.write_raw(&scratch)
                        }
                        Message::Raw(bytes) => lines.write_raw(&bytes),
                        Message::Flush(ack) => {
                            let flushed = lines.flush();
                            if let Some(ack) = ack {
                                // The caller may have given up waiting: nothing to tell.
                                let _ = ack.send(());
                            }
                            flushed
                        }
                    };
                    if let Err(e) = done {
                        *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                        return;
                    }
                }
                let flushed = lines.flush();
                if let Err(e) = flushed {
                    *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                }
            })?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
            error,
        })
    }

    /// The thread's error, if it had one (taken: reported once).
    fn check(&self) -> io::Result<()> {
        match self
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn send(&self, message: Message) -> io::Result<()> {
        self.check()?;
        let sent = self.sender.as_ref().map(|sender| sender.send(message));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread ended: its error says why.
            _ => self
                .check()
                .and(Err(io::Error::other("the results writer thread ended"))),
        }
    }

    /// Hands over results to encode and write; returns how many.
    pub fn results(&self, emitted: Emitted) -> io::Result<usize> {
        let written = emitted.groups.len();
        self.send(Message::Results(emitted))?;
        Ok(written)
    }

    /// Hands over lines already encoded.
    pub fn write_raw(&self, lines: &[u8]) -> io::Result<()> {
        self.send(Message::Raw(lines.to_vec()))
    }

    /// Asks for a flush once what was handed over is written, without waiting for it.
    pub fn flush_soon(&self) -> io::Result<()> {
        self.send(Message::Flush(None))
    }

    /// Waits until everything handed over is written and flushed.
    pub fn flush(&self) -> io::Result<()> {
        let (ack, done) = sync_channel(1);
        self.send(Message::Flush(Some(ack)))?;
        if done.recv().is_err() {
            self.check()?;
            return Err(io::Error::other("the results writer thread ended"));
        }
        self.check()
    }
}

impl Drop for LinesAhead {
    /// Everything handed over is written before the writer goes.
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_engine::aggregate::Finished;
    use eddy_engine::groups::Group;
    use eddy_engine::results::Emit;
    use eddy_engine::window::Window;

    fn emitted(keys: &[&str]) -> Emitted {
        Emitted {
            emit: Emit::OnTime,
            groups: keys
                .iter()
                .map(|key| Group {
                    window: Window { start: 0, end: 10 },
                    key: (*key).into(),
                    fired: true,
                    pending: 0,
                    first_offset: i64::MAX,
                })
                .collect(),
            finished: Finished {
                columns: vec![("n".into(), vec![String::new()], vec![1.0; keys.len()])],
            },
        }
    }

    #[test]
    fn writes_in_order_and_all_by_a_flush() {
        let (lines, buffer) = JsonLines::memory();
        let ahead = LinesAhead::start(lines).expect("thread");
        for i in 0..100 {
            assert_eq!(
                ahead.results(emitted(&[&format!("k{i}")])).expect("sent"),
                1
            );
            ahead.flush_soon().expect("sent");
        }
        ahead.write_raw(b"{\"raw\":1}\n").expect("sent");
        ahead.flush().expect("flushed");
        let written = buffer.take();
        assert_eq!(written.len(), 101);
        assert_eq!(written[7]["key"], "k7");
        assert_eq!(written[100]["raw"], 1);
    }

    #[test]
    fn a_write_error_comes_back_on_a_later_call() {
        struct Full;
        impl io::Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let ahead = LinesAhead::start(JsonLines::new(Box::new(Full))).expect("thread");
        ahead.results(emitted(&["a"])).expect("handed over");
        let error = ahead.flush().expect_err("the write failed");
        assert!(error.to_string().contains("disk full"), "{error}");
        assert!(ahead.results(emitted(&["b"])).is_err());
    }
}
