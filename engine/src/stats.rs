//! Counters of what a pipeline did, from reading a record to writing a result.

/// Counters of what the pipeline did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records read from the source.
    pub records_in: u64,
    /// Blank lines of a file or stream source: skipped, and counted here.
    pub blank_lines: u64,
    /// Records removed by filter stages (flat-maps may also add records).
    pub filtered: u64,
    /// Events decoded and assigned to windows or sent to the late output.
    pub events: u64,
    /// Records sent to the dead-letter output.
    pub dead_letters: u64,
    /// Events sent to the late output.
    pub late: u64,
    /// Results written.
    pub results: u64,
    /// Traps of transform plugins (each retried once on a fresh instance).
    pub plugin_traps: u64,
    /// Records skipped because a previous owner of their partition had already accounted for
    /// them (see [`crate::progress`]).
    pub replayed: u64,
    /// Open groups dropped by `state.ttl` (their partition had no events for that long).
    pub expired: u64,
    /// Windows dropped because an aggregator failed to finish them twice (each one dead
    /// letter, also counted in `dead_letters`).
    pub windows_dropped: u64,
    /// Events refused because their partition held `state.max_open_groups` open groups
    /// (each one dead letter, also counted in `dead_letters`).
    pub group_limit_refused: u64,
}
