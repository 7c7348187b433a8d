//! v2 `cpu`: `--cpu-shares` as cpu.weight (runc's conversion of v1 shares), the CFS limit of
//! `--cpus`/`--cpu-period`/`--cpu-quota` as one cpu.max line (`quota period`, `max` for none),
//! and the CPU time in cpu.stat that `docker stats` turns into a percentage.

use crate::cgroups::resources::{knob, Knob, Resources};
use crate::cgroups::stats::{key_value, read, CpuStats};
use std::path::Path;

const NAME: &str = "cpu";

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(s) = r.cpu_shares {
        // The conversion runc uses from v1 shares (2..262144) to v2 weight (1..10000).
        let weight = 1 + ((s.clamp(2, 262_144) - 2) * 9999) / 262_142;
        k.push(knob(NAME, "cpu.weight", weight));
    }
    if let Some((period, quota)) = r.cfs() {
        let q = if quota < 0 {
            "max".to_string()
        } else {
            quota.to_string()
        };
        k.push(knob(NAME, "cpu.max", format!("{q} {period}")));
    }
}

/// cpu.stat counts microseconds; Docker reports nanoseconds, as v1's cpuacct does.
pub(super) fn stats(dir: &Path) -> CpuStats {
    CpuStats {
        usage_ns: key_value(&read(&dir.join("cpu.stat")), "usage_usec ").unwrap_or(0) * 1000,
    }
}
