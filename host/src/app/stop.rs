//! A flag that asks a running pipeline to stop: set by SIGTERM / SIGINT or by a caller.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set to stop; cheap to clone and check.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag set by SIGTERM or SIGINT.
    pub fn on_signals() -> io::Result<Self> {
        let flag = Self::default();
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&flag.0))?;
        }
        Ok(flag)
    }

    /// Asks to stop.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Once stopping is asked for, gives the process `timeout` to stop by itself; after
    /// that it exits with status 1 (a stop that hangs, e.g. on an unreachable broker).
    pub fn exit_after(&self, timeout: Duration) -> io::Result<()> {
        let flag = self.clone();
        std::thread::Builder::new()
            .name("eddy-shutdown".into())
            .spawn(move || {
                while !flag.is_set() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                std::thread::sleep(timeout);
                tracing::error!(
                    ?timeout,
                    "stopping took longer than state.shutdown_timeout; exiting"
                );
                std::process::exit(1);
            })?;
        Ok(())
    }

    /// The flag itself, for lower layers that stop waiting once it is set.
    pub fn shared(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }

    /// Whether stopping was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
