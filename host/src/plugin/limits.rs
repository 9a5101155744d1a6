//! A plugin store's resource limits, remembering whether a memory growth was refused: a
//! plugin that runs out of its memory limit usually aborts with wasm's `unreachable`, and
//! this is how its trap is told apart from a bug.

use wasmtime::{ResourceLimiter, StoreLimits};

/// [`StoreLimits`] that note a refused memory growth.
pub struct Limits {
    inner: StoreLimits,
    memory_refused: bool,
}

impl Limits {
    /// Limits enforced by `inner`.
    pub fn new(inner: StoreLimits) -> Self {
        Self {
            inner,
            memory_refused: false,
        }
    }

    /// Whether a memory growth was refused since the last call; clears the note.
    pub fn take_memory_refused(&mut self) -> bool {
        std::mem::take(&mut self.memory_refused)
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.memory_refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
