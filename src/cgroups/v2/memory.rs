//! v2 `memory`: `-m` (memory.max), `--memory-swap` (memory.swap.max, which on v2 counts swap
//! alone, so Docker's memory+swap total minus the memory), `--memory-reservation`
//! (memory.low) and `--oom-kill-disable`; the usage `docker stats` shows, and the OOM-kill
//! counter in memory.events behind `State.OOMKilled`.

use crate::cgroups::resources::{knob, Knob, Resources};
use crate::cgroups::stats::{key_value, read, read_u64, MemoryStats};
use std::path::Path;

const NAME: &str = "memory";

pub(super) fn plan(r: &Resources, k: &mut Vec<Knob>) {
    if let Some(m) = r.memory {
        k.push(knob(NAME, "memory.max", m));
    }
    match (r.memory, r.memsw()) {
        (_, Some(-1)) => k.push(knob(NAME, "memory.swap.max", "max")),
        (Some(m), Some(s)) => k.push(knob(NAME, "memory.swap.max", s - m)),
        _ => {}
    }
    if let Some(r) = r.memory_reservation {
        k.push(knob(NAME, "memory.low", r));
    }
    if r.oom_kill_disable {
        // v2 has no switch to disable the OOM killer; memory.oom.group=0 is the closest (only
        // the offending process is killed), and is the default.
        k.push(knob(NAME, "memory.oom.group", 0));
    }
}

pub(super) fn stats(dir: &Path) -> MemoryStats {
    MemoryStats {
        usage: read_u64(&dir.join("memory.current")).unwrap_or(0),
        limit: read_u64(&dir.join("memory.max")),
        inactive_file: key_value(&read(&dir.join("memory.stat")), "inactive_file ").unwrap_or(0),
    }
}

pub(super) fn oom_killed(dir: &Path) -> bool {
    key_value(&read(&dir.join("memory.events")), "oom_kill ").is_some_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_kills_are_counted_in_memory_events() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("memory.events");
        std::fs::write(&f, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n").unwrap();
        assert!(!oom_killed(d.path()));
        std::fs::write(&f, "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n").unwrap();
        assert!(oom_killed(d.path()));
    }

    #[test]
    fn swap_is_counted_apart_from_memory() {
        let mut k = Vec::new();
        let r = Resources {
            memory: Some(100),
            memory_swap: Some(300),
            ..Default::default()
        };
        plan(&r, &mut k);
        assert_eq!(k[1].file, "memory.swap.max");
        assert_eq!(k[1].value, "200");
    }
}
