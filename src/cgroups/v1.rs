//! cgroup v1: each controller is its own hierarchy under /sys/fs/cgroup, so a container's
//! cgroup is one directory in each. cpuset is the awkward one: a new cpuset cgroup has no CPUs
//! or memory nodes until they are copied down from its parent.

use super::{io_ctx, CgroupError};
use std::path::{Path, PathBuf};

/// The hierarchies berth uses, where they are mounted.
pub const CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio",
];

pub fn hierarchies(mount: &Path) -> Vec<PathBuf> {
    CONTROLLERS
        .iter()
        .map(|c| mount.join(c))
        .filter(|p| p.join("cgroup.procs").exists())
        .collect()
}

fn copy_cpuset(from: &Path, to: &Path) -> Result<(), CgroupError> {
    for knob in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(to.join(knob)).unwrap_or_default();
        if current.trim().is_empty() {
            let value = std::fs::read_to_string(from.join(knob))
                .map_err(io_ctx(format!("reading {knob}")))?;
            std::fs::write(to.join(knob), value.trim())
                .map_err(io_ctx(format!("writing {}", to.join(knob).display())))?;
        }
    }
    Ok(())
}

pub fn create(mount: &Path, _parent: &str, paths: &[PathBuf]) -> Result<(), CgroupError> {
    for p in paths {
        std::fs::create_dir_all(p).map_err(io_ctx(format!("creating {}", p.display())))?;
        if p.starts_with(mount.join("cpuset")) {
            // Walk down from the hierarchy's root so every level has CPUs and memory nodes.
            let root = mount.join("cpuset");
            let rel = p
                .strip_prefix(&root)
                .expect("path is under the cpuset hierarchy");
            let mut dir = root.clone();
            for comp in rel.components() {
                let next = dir.join(comp);
                copy_cpuset(&dir, &next)?;
                dir = next;
            }
        }
    }
    Ok(())
}
