//! A fault for crash tests: `FAULT_ABORT_AT_DELTA_WRITE=<n>` makes the process abort
//! during its `n`th checkpoint write that holds changes, after the records are encoded and
//! put in the write batch and before the batch is written — a crash in the middle of a delta
//! write, at a moment a kill from outside cannot aim at. Unset (always, outside tests), it
//! does nothing. (Not `EDDY_…`: those are configuration keys, and unknown ones are refused.)

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the write to abort in.
pub const ABORT_AT_DELTA_WRITE: &str = "FAULT_ABORT_AT_DELTA_WRITE";

static AT: OnceLock<Option<u64>> = OnceLock::new();
static DELTA_WRITES: AtomicU64 = AtomicU64::new(0);

/// Counts a write holding changes, and aborts the process if it is the one asked for.
pub(super) fn delta_write() {
    let Some(at) = *AT.get_or_init(|| {
        std::env::var(ABORT_AT_DELTA_WRITE)
            .ok()
            .and_then(|v| v.trim().parse().ok())
    }) else {
        return;
    };
    if DELTA_WRITES.fetch_add(1, Ordering::SeqCst) + 1 == at {
        tracing::error!("{ABORT_AT_DELTA_WRITE}={at}: aborting in the middle of a delta write");
        std::process::abort();
    }
}
