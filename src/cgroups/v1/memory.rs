//! v1 `memory`: `-m` (memory.limit_in_bytes), `--memory-swap` (memory.memsw.limit_in_bytes,
//! twice the memory unless told, as Docker does), `--memory-reservation` (the soft limit) and
//! `--oom-kill-disable`; the usage `docker stats` shows, and the OOM-kill counter behind
//! `State.OOMKilled`.

use crate::cgroups::resources::{knob, Knob, Resources};
use crate::cgroups::stats::{key_value, read, read_u64, MemoryStats};
use std::path::{Path, PathBuf};

pub(super) const NAME: &str = "memory";
pub(super) const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(m) = r.memory {
        k.push(knob(NAME, "memory.limit_in_bytes", m));
    }
    if let Some(s) = r.memsw() {
        k.push(knob(NAME, MEMSW_LIMIT, s));
    }
    if let Some(r) = r.memory_reservation {
        k.push(knob(NAME, "memory.soft_limit_in_bytes", r));
    }
    if r.oom_kill_disable {
        k.push(knob(NAME, "memory.oom_control", 1));
    }
}

/// Swap accounting can be off in the kernel (no memsw files); Docker then ignores
/// `--memory-swap` too.
pub(super) fn swap_accounting_off(dir: Option<&PathBuf>) -> bool {
    dir.is_some_and(|d| !d.join(MEMSW_LIMIT).exists())
}

pub(super) fn stats(dir: &Path) -> MemoryStats {
    MemoryStats {
        usage: read_u64(&dir.join("memory.usage_in_bytes")).unwrap_or(0),
        limit: read_u64(&dir.join("memory.limit_in_bytes")),
        // total_: the cgroup and its descendants, which is what Docker reports on v1.
        inactive_file: key_value(&read(&dir.join("memory.stat")), "total_inactive_file ")
            .unwrap_or(0),
    }
}

pub(super) fn oom_killed(dir: &Path) -> bool {
    key_value(&read(&dir.join("memory.oom_control")), "oom_kill ").is_some_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_control_counts_kills_not_the_disable_switch() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("memory.oom_control");
        std::fs::write(&f, "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n").unwrap();
        assert!(!oom_killed(d.path()));
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert!(oom_killed(d.path()));
    }
}
