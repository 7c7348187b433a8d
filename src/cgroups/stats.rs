//! What a container's cgroup says about its resource use, as typed values, the same for both
//! versions: CPU time, memory use and limit, PIDs, block I/O bytes. Each version's controller
//! files read their own files into these; turning them into Docker's stats JSON is the
//! daemon's business (`daemon/stats.rs`).

/// One reading of a cgroup. A file that is missing or unreadable counts as zero (or no limit),
/// as Docker shows a controller that is not mounted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub io: IoStats,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// CPU time of all the cgroup's tasks, nanoseconds.
    pub usage_ns: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub usage: u64,
    /// None when the file says `max` (v2) or cannot be read; v1's "unlimited" is a huge number
    /// and comes through as it is.
    pub limit: Option<u64>,
    /// Page cache that can be dropped, which `docker stats` subtracts from the usage.
    pub inactive_file: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidsStats {
    pub current: u64,
    /// None when unlimited (`max`).
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoStats {
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// A whole file, or "" when it cannot be read.
pub(crate) fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A file holding one number.
pub(crate) fn read_u64(p: &std::path::Path) -> Option<u64> {
    read(p).trim().parse().ok()
}

/// The value of `key` (with its trailing space) in a flat keyed file such as memory.stat.
pub(crate) fn key_value(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse().ok()))
}
