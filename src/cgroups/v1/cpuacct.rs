//! v1 `cpuacct`: the CPU time the cgroup's tasks have used (cpuacct.usage, nanoseconds), which
//! `docker stats` reports as `cpu_usage.total_usage` and turns into a CPU percentage. It has
//! no knobs.

use crate::cgroups::stats::{read_u64, CpuStats};
use std::path::Path;

pub(super) const NAME: &str = "cpuacct";

pub(super) fn stats(dir: &Path) -> CpuStats {
    CpuStats {
        usage_ns: read_u64(&dir.join("cpuacct.usage")).unwrap_or(0),
    }
}
