//! The process's memory allocator: jemalloc, for Rust and C code alike.
//!
//! librdkafka's broker threads allocate every fetched record and the loop frees it once
//! processed. With glibc's allocator each such free takes the lock of the arena the broker
//! thread allocates from, and the loop spent most of its off-CPU time waiting for it (a
//! `sched_switch` profile of the Kafka bench: 62 % of the loop's context switches were in
//! `free`). jemalloc frees into per-thread caches and per-size bins instead. Its unprefixed
//! build replaces `malloc` and `free` for the whole binary, so librdkafka and RocksDB use it
//! too, not only Rust's allocations.
//!
//! Set in this library so that every program built on Eddy (the `eddy` binary, benches, tests)
//! runs with the allocator the binary ships with.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
