//! v1 `cpu`: `--cpu-shares` (cpu.shares) and the CFS bandwidth limit that `--cpus`,
//! `--cpu-period` and `--cpu-quota` become (cpu.cfs_period_us, cpu.cfs_quota_us; -1 is no
//! quota). CPU time for `docker stats` is cpuacct's, not this controller's.

use crate::cgroups::resources::{knob, Knob, Resources};

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(s) = r.cpu_shares {
        k.push(knob("cpu", "cpu.shares", s));
    }
    if let Some((period, quota)) = r.cfs() {
        k.push(knob("cpu", "cpu.cfs_period_us", period));
        k.push(knob("cpu", "cpu.cfs_quota_us", quota));
    }
}
